"""Loading checklist definitions (JSON data in ``estate_procurement/checklists/``) into domain types.

Each file holds one version of one checklist::

    {"id": "tda-review", "version": 1, "title": ..., "notes": ...,
     "threshold_approve": "0.8", "threshold_conditional": "0.5",
     "sections": [{"id", "title", "rules": [{"id", "title", "items": [
         {"id": "R1.1", "text": ..., "source": "S0:5085", "weight": "1", "red_line": false}]}]}]}

Numbers are read as decimals (write them as strings to keep them exact) and must be finite; a weight must
be positive. ``red_line`` must be a JSON boolean (``true``/``false``, never the string ``"false"``). A published version is never
edited: a review pins the version it started with (``tda-review@1``), so a change is a new file with the
next version number, and the catalogue's ``current`` is the newest version of the default checklist.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Any

from estate_procurement.domain.checklist import Checklist, ChecklistItem, ChecklistRule, ChecklistSection
from estate_procurement.domain.errors import InvalidValue, NotFound

DEFAULT_CHECKLIST = "tda-review"


def _decimal(value: Any, where: str) -> Decimal:
    """A finite decimal from a JSON number or numeric string (``true`` is not a number)."""
    if isinstance(value, bool):
        raise InvalidValue(f"{where} must be a number, not {value!r}", field=where)
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise InvalidValue(f"{where} must be a number, not {value!r}", field=where) from None
    if not number.is_finite():
        raise InvalidValue(f"{where} must be a finite number, not {value!r}", field=where)
    return number


def _weight(item: Mapping[str, Any], where: str) -> Decimal:
    weight = _decimal(item.get("weight", 1), f"{where} weight")
    if weight <= 0:
        raise InvalidValue(f"{where} needs a positive weight, not {item.get('weight')!r}", field="weight")
    return weight


def _red_line(item: Mapping[str, Any], where: str) -> bool:
    flag = item.get("red_line", False)
    if not isinstance(flag, bool):
        raise InvalidValue(
            f"{where} red_line must be true or false (a JSON boolean, not {flag!r})", field="red_line"
        )
    return flag


def _text(data: Mapping[str, Any], key: str, where: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise InvalidValue(f"{where}: {key} must be non-blank text", field=key)
    return value.strip()


def parse_checklist(data: Mapping[str, Any]) -> Checklist:
    """A checklist from its JSON form; InvalidValue saying where the data is wrong."""
    name = f"{data.get('id')}@{data.get('version')}"
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise InvalidValue(f"{name}: version must be a whole number from 1", field="version")
    sections = []
    for section in data.get("sections", []):
        rules = []
        for rule in section.get("rules", []):
            items = tuple(
                ChecklistItem(
                    id=_text(item, "id", f"{name} rule {rule.get('id')}"),
                    text=_text(item, "text", f"{name} item {item.get('id')}"),
                    source=str(item.get("source", "")),
                    weight=_weight(item, f"{name} item {item.get('id')}"),
                    red_line=_red_line(item, f"{name} item {item.get('id')}"),
                )
                for item in rule.get("items", [])
            )
            rules.append(
                ChecklistRule(
                    id=_text(rule, "id", name), title=_text(rule, "title", f"{name} rule"), items=items
                )
            )
        sections.append(
            ChecklistSection(
                id=_text(section, "id", name), title=_text(section, "title", name), rules=tuple(rules)
            )
        )
    if not sections:
        raise InvalidValue(f"{name} has no sections", field="sections")
    return Checklist(
        id=_text(data, "id", "checklist"),
        version=version,
        title=_text(data, "title", name),
        notes=str(data.get("notes", "")),
        threshold_approve=_decimal(data.get("threshold_approve"), f"{name} threshold_approve"),
        threshold_conditional=_decimal(data.get("threshold_conditional"), f"{name} threshold_conditional"),
        sections=tuple(sections),
    )


class ChecklistCatalogue:
    """Every checklist version the service knows, by key (``tda-review@1``)."""

    def __init__(
        self, checklists: Iterable[Checklist], *, default: str = DEFAULT_CHECKLIST, pinned: str | None = None
    ) -> None:
        self._by_key: dict[str, Checklist] = {}
        for checklist in checklists:
            if checklist.key in self._by_key:
                raise InvalidValue(f"checklist {checklist.key} is defined twice", field="version")
            self._by_key[checklist.key] = checklist
        self.default = default
        if not any(c.id == default for c in self._by_key.values()):
            raise InvalidValue(f"no version of the default checklist {default!r}", field="checklist")
        if pinned is not None and pinned not in self._by_key:
            known = ", ".join(sorted(self._by_key))
            raise InvalidValue(
                f"checklist version {pinned!r} is not shipped (known: {known})", field="checklist_version"
            )
        self.pinned = pinned

    @classmethod
    def from_directory(cls, directory: Path, *, default: str = DEFAULT_CHECKLIST) -> ChecklistCatalogue:
        return cls(
            (
                parse_checklist(json.loads(path.read_text("utf-8")))
                for path in sorted(directory.glob("*.json"))
            ),
            default=default,
        )

    @classmethod
    def builtin(cls, *, pinned: str | None = None) -> ChecklistCatalogue:
        """The versions shipped in the package (``estate_procurement/checklists/*.json``); ``pinned``
        names the version new rounds use instead of the newest."""
        folder = resources.files("estate_procurement").joinpath("checklists")
        found = [
            parse_checklist(json.loads(entry.read_text("utf-8")))
            for entry in sorted(folder.iterdir(), key=lambda e: e.name)
            if entry.name.endswith(".json")
        ]
        return cls(found, pinned=pinned)

    @property
    def current(self) -> Checklist:
        """What a new review round pins: the version the operator pinned, else the newest version of the
        default checklist."""
        if self.pinned is not None:
            return self._by_key[self.pinned]
        return max((c for c in self._by_key.values() if c.id == self.default), key=lambda c: c.version)

    def get(self, key: str) -> Checklist:
        """The checklist version ``key`` (e.g. ``tda-review@1``); NotFound when there is none."""
        checklist = self._by_key.get(key)
        if checklist is None:
            known = ", ".join(sorted(self._by_key))
            raise NotFound(f"no checklist {key!r} (known: {known})")
        return checklist

    def keys(self) -> list[str]:
        return sorted(self._by_key)
