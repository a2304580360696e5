"""Checklist definitions the TDA reviews a request against: versioned data, not code.

A checklist (``tda-review@1``) has sections, sections have rules, rules have items. Every item has a
stable id (``R1.1`` ... ``R10.2`` for Appendix K, ``S...`` for the supplementary checks), the text a
reviewer reads, an optional weight and a ``red_line`` flag: a red-line item rated not_met by any reviewer
means the recommendation is non-approval whatever the score. A review pins the version it started with, so
changing the data later never changes how an open review is scored; a new version is a new file.

Some items must be rated before the recommendation is final (:meth:`Checklist.must_rate`): every item of
the Appendix K section (the TDA's own rules) and every red-line item, wherever it is.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from estate_procurement.domain.errors import InvalidValue

APPENDIX_K = "appendix-k"
"""The id of the section holding Appendix K's rules: each of its items must be rated before the
recommendation is final."""


@dataclass(frozen=True, kw_only=True)
class ChecklistItem:
    """One thing a reviewer rates; ``source`` says where the wording comes from (e.g. "S0:5085")."""

    id: str
    text: str
    weight: Decimal = Decimal(1)
    red_line: bool = False
    source: str = ""


@dataclass(frozen=True, kw_only=True)
class ChecklistRule:
    id: str
    title: str
    items: tuple[ChecklistItem, ...]


@dataclass(frozen=True, kw_only=True)
class ChecklistSection:
    id: str
    title: str
    rules: tuple[ChecklistRule, ...]


@dataclass(frozen=True, kw_only=True)
class Checklist:
    """A versioned checklist with its recommendation thresholds (overall score in 0..1).

    Invariants: item and rule ids are unique; weights are positive; 0 <= threshold_conditional <=
    threshold_approve <= 1.
    """

    id: str
    version: int
    title: str
    threshold_approve: Decimal
    threshold_conditional: Decimal
    sections: tuple[ChecklistSection, ...]
    notes: str = ""

    def __post_init__(self) -> None:
        finite = self.threshold_conditional.is_finite() and self.threshold_approve.is_finite()
        if not finite or not 0 <= self.threshold_conditional <= self.threshold_approve <= 1:
            raise InvalidValue(
                f"{self.key}: thresholds must satisfy 0 <= conditional <= approve <= 1", field="thresholds"
            )
        seen_items: set[str] = set()
        seen_rules: set[str] = set()
        for rule in self.rules():
            if rule.id in seen_rules:
                raise InvalidValue(f"{self.key}: rule id {rule.id} appears twice", field="rules")
            seen_rules.add(rule.id)
            if not rule.items:
                raise InvalidValue(f"{self.key}: rule {rule.id} has no items", field="rules")
            for item in rule.items:
                if item.id in seen_items:
                    raise InvalidValue(f"{self.key}: item id {item.id} appears twice", field="items")
                if not item.weight.is_finite() or item.weight <= 0:
                    raise InvalidValue(f"{self.key}: item {item.id} needs a positive weight", field="items")
                seen_items.add(item.id)

    @property
    def key(self) -> str:
        """The pinned name of this version, e.g. ``tda-review@1``."""
        return f"{self.id}@{self.version}"

    def rules(self) -> Iterator[ChecklistRule]:
        for section in self.sections:
            yield from section.rules

    def items(self) -> Iterator[ChecklistItem]:
        for rule in self.rules():
            yield from rule.items

    def red_lines(self) -> list[ChecklistItem]:
        return [item for item in self.items() if item.red_line]

    def must_rate(self) -> list[ChecklistItem]:
        """The items that need at least one rating before the recommendation is final: every item of
        the Appendix K section and every red-line item, in checklist order."""
        return [
            item
            for section in self.sections
            for rule in section.rules
            for item in rule.items
            if section.id == APPENDIX_K or item.red_line
        ]

    def section(self, section_id: str) -> ChecklistSection:
        for section in self.sections:
            if section.id == section_id:
                return section
        raise InvalidValue(f"{self.key} has no section {section_id}", field="section")

    def item(self, item_id: str) -> ChecklistItem:
        """The item with that id; InvalidValue naming the item and the version when there is none."""
        for item in self.items():
            if item.id == item_id:
                return item
        raise InvalidValue(f"checklist {self.key} has no item {item_id!r}", field="item_id")

    def rule_of(self, item_id: str) -> ChecklistRule:
        for rule in self.rules():
            if any(item.id == item_id for item in rule.items):
                return rule
        raise InvalidValue(f"checklist {self.key} has no item {item_id!r}", field="item_id")
