"""Is a new JSON Schema of an event compatible with the one consumers already rely on?

Within one (event type, version) every change must be safe in *both* directions, because an old consumer
reads what a new producer writes, and a new consumer reads old events again when an outbox is replayed.

Compatible (*additive*) changes, which only need the snapshots regenerated:

* a new optional property (consumers ignore unknown keys; new readers of old events get the default);
* a new event type, or a new version of an existing type;
* a changed annotation: ``title``, ``description``, ``examples``, ``default``, ``$comment``,
  ``deprecated``.

Breaking changes, which need a new version (and an upcaster) instead:

* a removed property, event type or version;
* a new *required* property, or a property that became required (old events lack it);
* a property that stopped being required (old consumers require it);
* a changed type, format, ``$ref`` target, union shape or any validation keyword (``pattern``,
  ``maxLength``, ``minimum``...): tightening rejects old events, loosening lets new events fail in old
  consumers;
* a removed enumeration value (old events carry it), and also an *added* one: our consumers read unknown
  keys leniently, but validate ``Literal`` values strictly, so an old consumer would dead-letter an event
  carrying the new value;
* a changed topic or key field of an event.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

Schema = Mapping[str, Any]

ANNOTATIONS = frozenset({"title", "description", "examples", "default", "$comment", "deprecated"})
"""Keywords that do not change which documents are valid."""

STRUCTURE = frozenset(
    {"type", "properties", "required", "items", "anyOf", "oneOf", "allOf", "enum", "const", "$ref", "$defs"}
)
"""Keywords compared by walking the schema rather than by value."""

METADATA = ("x-estate-topic", "x-estate-key")
"""Top-level extension keywords whose change moves the event (a consumer would stop seeing it)."""


@dataclass(frozen=True, slots=True)
class Change:
    """One difference between a committed schema and the live one."""

    where: str
    message: str
    breaking: bool

    def __str__(self) -> str:
        kind = "BREAKING" if self.breaking else "additive"
        return f"{kind}: {self.where}: {self.message}"


def diff_catalogues(old: Mapping[str, Schema], new: Mapping[str, Schema]) -> list[Change]:
    """The changes from one set of named schemas (file name -> schema) to another."""
    changes: list[Change] = []
    for name in sorted(old.keys() - new.keys()):
        changes.append(Change(name, "schema removed (event type or version no longer exists)", breaking=True))
    for name in sorted(new.keys() - old.keys()):
        changes.append(Change(name, "schema added", breaking=False))
    for name in sorted(old.keys() & new.keys()):
        changes.extend(
            Change(f"{name}: {change.where}", change.message, change.breaking)
            for change in diff_schemas(old[name], new[name])
        )
    return changes


def diff_schemas(old: Schema, new: Schema, *, where: str = "$") -> list[Change]:
    """The changes from one root schema to another, with the root's ``$defs`` used to resolve ``$ref``."""
    changes = [
        Change(where, f"{key} changed from {old.get(key)!r} to {new.get(key)!r}", breaking=True)
        for key in METADATA
        if old.get(key) != new.get(key)
    ]
    walker = _Walker(old_root=old, new_root=new)
    changes.extend(walker.compare(old, new, where))
    return changes


def breaking(changes: list[Change]) -> list[Change]:
    return [change for change in changes if change.breaking]


class _Walker:
    """Walks two schemas in step; remembers the ``$ref`` pairs already compared, so recursion ends."""

    def __init__(self, *, old_root: Schema, new_root: Schema) -> None:
        self.old_root = old_root
        self.new_root = new_root
        self.seen: set[tuple[str, str]] = set()

    def compare(self, old: Schema, new: Schema, where: str) -> Iterator[Change]:
        old_ref, new_ref = old.get("$ref"), new.get("$ref")
        if old_ref is not None or new_ref is not None:
            if old_ref is None or new_ref is None or _def_name(old_ref) != _def_name(new_ref):
                yield Change(where, f"changed type from {_describe(old)} to {_describe(new)}", breaking=True)
                return
            if (old_ref, new_ref) in self.seen:
                return
            self.seen.add((old_ref, new_ref))
            yield from self.compare(
                _resolve(self.old_root, old_ref, old), _resolve(self.new_root, new_ref, new), where
            )
            return

        if _type_of(old) != _type_of(new):
            yield Change(where, f"changed type from {_describe(old)} to {_describe(new)}", breaking=True)
            return

        yield from self._enumeration(old, new, where)
        for keyword in ("anyOf", "oneOf", "allOf"):
            yield from self._union(keyword, old, new, where)
        if "properties" in old or "properties" in new:
            yield from self._object(old, new, where)
        for keyword in ("items", "additionalProperties"):
            old_sub, new_sub = old.get(keyword), new.get(keyword)
            if isinstance(old_sub, Mapping) and isinstance(new_sub, Mapping):
                yield from self.compare(
                    old_sub, new_sub, f"{where}[]" if keyword == "items" else f"{where}{{}}"
                )
            elif old_sub != new_sub:
                yield Change(where, f"{keyword} changed from {old_sub!r} to {new_sub!r}", breaking=True)

        for keyword in sorted((old.keys() | new.keys()) - ANNOTATIONS - STRUCTURE - {"additionalProperties"}):
            if keyword.startswith("x-"):
                continue
            if old.get(keyword) != new.get(keyword):
                yield Change(
                    where,
                    f"{keyword} changed from {old.get(keyword)!r} to {new.get(keyword)!r}",
                    breaking=True,
                )

    def _enumeration(self, old: Schema, new: Schema, where: str) -> Iterator[Change]:
        old_values, new_values = _enum_values(old), _enum_values(new)
        if old_values is None and new_values is None:
            return
        if old_values is None or new_values is None:
            yield Change(where, f"changed from {_describe(old)} to {_describe(new)}", breaking=True)
            return
        for value in sorted(old_values - new_values, key=repr):
            yield Change(where, f"enumeration value {value!r} removed", breaking=True)
        for value in sorted(new_values - old_values, key=repr):
            yield Change(
                where,
                f"enumeration value {value!r} added (consumers validate enumerations strictly: "
                "publish a new version)",
                breaking=True,
            )

    def _union(self, keyword: str, old: Schema, new: Schema, where: str) -> Iterator[Change]:
        old_branches, new_branches = old.get(keyword), new.get(keyword)
        if old_branches is None and new_branches is None:
            return
        if old_branches is None or new_branches is None or len(old_branches) != len(new_branches):
            yield Change(where, f"changed type from {_describe(old)} to {_describe(new)}", breaking=True)
            return
        for old_branch, new_branch in zip(old_branches, new_branches, strict=True):
            yield from self.compare(old_branch, new_branch, where)

    def _object(self, old: Schema, new: Schema, where: str) -> Iterator[Change]:
        old_props: Mapping[str, Schema] = old.get("properties", {})
        new_props: Mapping[str, Schema] = new.get("properties", {})
        old_required, new_required = set(old.get("required", ())), set(new.get("required", ()))
        prefix = "" if where == "$" else f"{where}."
        for name in sorted(old_props.keys() - new_props.keys()):
            yield Change(f"{prefix}{name}", "property removed", breaking=True)
        for name in sorted(new_props.keys() - old_props.keys()):
            if name in new_required:
                yield Change(f"{prefix}{name}", "required property added", breaking=True)
            else:
                yield Change(f"{prefix}{name}", "optional property added", breaking=False)
        for name in sorted(old_props.keys() & new_props.keys()):
            path = f"{prefix}{name}"
            if name in new_required and name not in old_required:
                yield Change(path, "property became required (old events may lack it)", breaking=True)
            if name in old_required and name not in new_required:
                yield Change(path, "property is no longer required (old consumers need it)", breaking=True)
            yield from self.compare(old_props[name], new_props[name], path)


def _def_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _resolve(root: Schema, ref: str, referrer: Schema) -> Schema:
    """The referenced definition, merged with any keywords written beside the ``$ref``."""
    prefix = "#/$defs/"
    if not ref.startswith(prefix):
        raise ValueError(f"only local $defs references are supported, not {ref!r}")
    target: Schema = root.get("$defs", {})[ref.removeprefix(prefix)]
    siblings = {key: value for key, value in referrer.items() if key != "$ref"}
    return {**target, **siblings}


def _type_of(schema: Schema) -> tuple[str, ...]:
    declared = schema.get("type")
    if declared is None:
        return ()
    return (declared,) if isinstance(declared, str) else tuple(sorted(declared))


def _enum_values(schema: Schema) -> set[Any] | None:
    if "enum" in schema:
        return {_hashable(value) for value in schema["enum"]}
    if "const" in schema:
        return {_hashable(schema["const"])}
    return None


def _hashable(value: Any) -> Any:
    return repr(value) if isinstance(value, dict | list) else value


def _describe(schema: Schema) -> str:
    if "$ref" in schema:
        return _def_name(schema["$ref"])
    for keyword in ("anyOf", "oneOf", "allOf"):
        if keyword in schema:
            return f"{keyword}[{', '.join(_describe(branch) for branch in schema[keyword])}]"
    described = "|".join(_type_of(schema)) or "any"
    if "format" in schema:
        described += f"({schema['format']})"
    if "const" in schema:
        described += f" const {schema['const']!r}"
    return described
