"""The Systems and Data Register Survey (S0:3725-3739): import and export of systems and contracts.

The council re-runs the survey twice a year, so a survey is *re-imported*, not just imported once:

* **Match keys.** A system row matches the stored system with the same Reference; with no Reference, the
  system of the same Lead council and Name (case and runs of spaces ignored, as ``services.name_key``).
  A contract row matches the contract with the same Reference (required). Anything unmatched is new.
* **No-ops stay no-ops.** A row equal to the stored record writes nothing: no audit entry, no event. A
  changed row goes through the domain (``apply_changes``: validation, lifecycle and status transition
  rules, the same facts as an API PATCH); a new row through ``recorded()`` like ``services.new_system``.
* **Blank cells.** Blank means "none" where the field may be empty (text, lists, Hosting, dates, owners).
  Where the field always has a value (Lifecycle stage, DPIA status, yes/no flags, day counts, Status,
  Current term end), blank keeps the stored value, and a new record gets the default.
* **Suppliers are discovered, people are not.** An unknown supplier name creates the supplier (reported
  as created); an unknown service area, council, person email or system reference is a row error.
* **Formulas are refused.** A text cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
  return that is not a plain number is refused, never evaluated. Exports escape such text with one
  leading apostrophe, which the import removes again, so export -> import is lossless and a no-op.
* **One transaction.** Rows are checked in chunks against dictionaries preloaded in a few queries, then
  written with multi-row statements (records, links, audit rows, outbox rows) inside one transaction
  that ends with :func:`services.commit`. ``all_or_nothing`` (the default) writes nothing at all if any
  row is bad; ``valid_rows_only`` writes the good rows and reports the bad ones; ``dry_run`` writes
  nothing and reports what would happen. Small and large surveys take this one path.

Audit entries and events are built from the domain's :class:`Happened` facts with the same functions
the per-record commands use (``envelopes_for``, ``Names``), so a surveyed change is published exactly as
the same change made through the API.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import dataclasses
import functools
import re
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, Literal

from estate_contracts.envelope import Envelope
from estate_eventing.correlation import current_causation_id, current_correlation_id
from estate_register.application import services
from estate_register.application.events import Names, envelopes_for
from estate_register.application.ports import UnitOfWork
from estate_register.domain.errors import DomainError
from estate_register.domain.model import Contract, Happened, Person, ServiceArea, Supplier, System
from estate_register.domain.values import (
    AccessibilityLevel,
    CloudFeasibility,
    ComplianceStatus,
    ContractStatus,
    ContractType,
    Criticality,
    Disposition,
    Hosting,
    IntegrationCapability,
    LifecycleStage,
    ProcurementRoute,
    RationalisationDecision,
    RenewalType,
    RiskRag,
    UsageStatus,
)
from estate_runtime.memory import cyclic_gc_paused

SurveyKind = Literal["systems", "contracts"]
Mode = Literal["all_or_nothing", "valid_rows_only"]
KINDS: tuple[SurveyKind, ...] = ("systems", "contracts")
SHEETS: dict[SurveyKind, str] = {"systems": "Systems", "contracts": "Contracts"}
README_SHEET = "Read me"
LIST_SEPARATOR = ";"

# A cell value as a file reader hands it over: CSV gives text, XLSX typed values.
Cell = str | int | float | Decimal | bool | date | datetime | None

CellKind = Literal[
    "text",  # one line, stripped
    "free_text",  # kept as typed (descriptions, rationales)
    "list",  # ";"-separated text
    "choice",  # one enumerated value
    "choices",  # ";"-separated enumerated values
    "yes_no",
    "date",
    "whole",  # a whole number >= 0
    "money",  # GBP, >= 0, pence at most
    "council",  # a council code
    "councils",
    "areas",  # service area names
    "supplier",  # supplier name, created if unknown
    "person",  # a recorded person's email
    "systems",  # system references or names
]
Blank = Literal["empty", "keep", "required"]


@dataclass(frozen=True)
class Column:
    """One survey column: the header people see, the domain field it fills, and how a blank cell reads.

    ``blank``: "empty" clears the field (to ``empty``); "keep" leaves a stored value alone and gives a new
    record the field's default; "required" makes a blank cell an error.
    """

    header: str
    field: str
    kind: CellKind
    blank: Blank = "empty"
    empty: Any = None
    values: type[StrEnum] | None = None
    example: str = ""
    note: str = ""

    @property
    def required(self) -> bool:
        return self.blank == "required"

    def allowed(self) -> str:
        """What the Read me says may go in the column."""
        if self.values is not None:
            joined = ", ".join(v.value for v in self.values)
            return f"one of: {joined}" if self.kind == "choice" else f"any of (separate with ;): {joined}"
        return {
            "text": "text",
            "free_text": "text (several lines allowed)",
            "list": "text items separated by ;",
            "yes_no": "yes, no or blank",
            "date": "a date: YYYY-MM-DD or DD/MM/YYYY (or an Excel date cell)",
            "whole": "a whole number, 0 or more",
            "money": "an amount in pounds, 0 or more, at most 2 decimal places (£ and , allowed)",
            "council": "a council code recorded in the register",
            "councils": "council codes separated by ;",
            "areas": "service area names separated by ; (another council's area: CODE: Name)",
            "supplier": "a supplier name; an unknown name creates the supplier",
            "person": "the email of a person recorded in the register",
            "systems": "system references (or names) separated by ;",
        }[self.kind]


def _choice(header: str, name: str, values: type[StrEnum], example: str, *, keep: bool = True) -> Column:
    return Column(header, name, "choice", "keep" if keep else "empty", None, values, example)


SYSTEM_COLUMNS: tuple[Column, ...] = (
    Column(
        "Reference",
        "reference",
        "text",
        example="SYS-00012",
        note="Match key. Leave blank for a new system: one is given (SYS-nnnnn). Cannot be changed.",
    ),
    Column(
        "Name",
        "name",
        "text",
        "required",
        example="Orchard",
        note="With Lead council, the match key when Reference is blank.",
    ),
    Column("Description", "description", "free_text", empty="", example="Housing management"),
    Column("Lead council", "lead_council", "council", "required", example="CCC"),
    Column("Other councils", "councils", "councils", empty=(), example="SCDC; HDC"),
    Column("Service areas", "service_area_ids", "areas", empty=(), example="Housing Advice; Finance"),
    Column("Capabilities", "capabilities", "list", empty=(), example="housing management; rent accounting"),
    Column("Supplier", "supplier_id", "supplier", example="MRI Software"),
    Column("Product family", "product_family", "text", example="MRI housing suite"),
    _choice(
        "Lifecycle stage", "lifecycle_stage", LifecycleStage, "live"
    ),  # changes follow the lifecycle rules
    _choice("Rationalisation decision", "rationalisation_decision", RationalisationDecision, "retain"),
    Column("Rationalisation rationale", "rationalisation_rationale", "free_text", empty="", example=""),
    _choice("Disposition", "disposition", Disposition, "invest", keep=False),
    _choice("Hosting", "hosting", Hosting, "saas", keep=False),
    _choice("Cloud feasibility", "cloud_feasibility", CloudFeasibility, "already_cloud"),
    Column("Cloud alternative", "cloud_alternative", "text", example=""),
    Column(
        "Holds personal data",
        "holds_personal_data",
        "yes_no",
        example="yes",
        note="Blank means not known yet.",
    ),
    Column(
        "Personal data categories",
        "personal_data_categories",
        "list",
        empty=(),
        example="tenant contact details; financial",
    ),
    Column("Special category data", "special_category_data", "yes_no", "keep", example="no"),
    Column("Data location", "data_location", "text", example="UK data centre"),
    _choice("DPIA status", "dpia_status", ComplianceStatus, "completed"),
    Column(
        "DPIA date", "dpia_date", "date", example="2024-03-31", note="Only when DPIA status is completed."
    ),
    _choice("RoPA status", "ropa_status", ComplianceStatus, "completed"),
    Column(
        "RoPA date", "ropa_date", "date", example="31/03/2024", note="Only when RoPA status is completed."
    ),
    Column(
        "Integration capabilities",
        "integration_capabilities",
        "choices",
        empty=(),
        values=IntegrationCapability,
        example="api; bulk_csv",
    ),
    _choice("Business criticality", "business_criticality", Criticality, "high", keep=False),
    _choice("Risk RAG", "risk_rag", RiskRag, "amber", keep=False),
    _choice("Accessibility level", "accessibility_level", AccessibilityLevel, "wcag22_aa"),
    _choice("Usage status", "usage_status", UsageStatus, "in_use"),
    Column("Resident facing", "resident_facing", "yes_no", "keep", example="no"),
    Column("Procured outside ICT", "procured_outside_ict", "yes_no", "keep", example="no"),
    Column("System owner email", "system_owner_id", "person", example="sam.whitfield@cambridge.gov.uk"),
    Column("Data owner email", "data_owner_id", "person", example="sam.whitfield@cambridge.gov.uk"),
)

CONTRACT_COLUMNS: tuple[Column, ...] = (
    Column("Reference", "reference", "text", "required", example="CCC-ICT-0003", note="Match key."),
    Column("Title", "title", "text", "required", example="Orchard licence and support"),
    Column("Supplier", "supplier_id", "supplier", "required", example="MRI Software"),
    Column("Systems", "system_ids", "systems", empty=(), example="SYS-00001; SYS-00005"),
    Column("Proactis reference", "proactis_reference", "text", example="PRO-2291"),
    Column(
        "Contract type",
        "contract_type",
        "choice",
        "required",
        values=ContractType,
        example="saas_subscription",
    ),
    _choice("Procurement route", "procurement_route", ProcurementRoute, "via_3c_ict", keep=False),
    Column("Start date", "start_date", "date", "required", example="2024-04-01"),
    Column("Initial term end", "initial_term_end", "date", "required", example="2027-03-31"),
    Column(
        "Current term end",
        "current_term_end",
        "date",
        "keep",
        example="2027-03-31",
        note="Blank on a new contract: the initial term end.",
    ),
    _choice("Renewal type", "renewal_type", RenewalType, "express"),
    Column(
        "Renewal period (months)",
        "renewal_period_months",
        "whole",
        example="12",
        note="Needed for tacit renewal.",
    ),
    Column("Extension options left", "extension_options_left", "whole", "keep", example="1"),
    Column("Notice period (days)", "notice_period_days", "whole", "keep", example="90"),
    Column("Internal lead time (days)", "internal_lead_time_days", "whole", "keep", example="60"),
    Column("Annual value (GBP)", "annual_value", "money", example="100000.00"),
    Column("Total value (GBP)", "total_value", "money", example="300000.00"),
    Column("Cost centre", "cost_centre", "text", example="ICT-4410"),
    Column("Below register threshold", "below_register_threshold", "yes_no", "keep", example="no"),
    Column("Councils", "councils", "councils", empty=(), example="CCC; SCDC"),
    _choice("Status", "status", ContractStatus, "active"),
    Column("Contract owner email", "owner_id", "person", example="ravi.patel@cambridge.gov.uk"),
    Column("Budget holder email", "budget_holder_id", "person", example="tom.ellis@cambridge.gov.uk"),
    Column("Signatory email", "signatory_id", "person", example="alex.morgan@cambridge.gov.uk"),
)

COLUMNS: dict[SurveyKind, tuple[Column, ...]] = {"systems": SYSTEM_COLUMNS, "contracts": CONTRACT_COLUMNS}
REQUIRED = {kind: tuple(c for c in columns if c.required) for kind, columns in COLUMNS.items()}
# Columns whose cells name other records, looked up the same way for both kinds.
REFERRING = {
    kind: tuple(c for c in columns if c.kind in ("person", "councils", "supplier"))
    for kind, columns in COLUMNS.items()
}

LEFT_OUT = (
    "Left out of the survey (edit them in the register itself): a system's API register and lifecycle "
    "history, last validated at/by; a contract's KPIs, SLAs, renewal decisions and act-by date (worked "
    "out from the term end, notice period and lead time)."
)

RULES = (
    "Headers are row 1; keep every column of the template (order does not matter).",
    "Systems match on Reference, or on Lead council + Name when Reference is blank (case and extra spaces "
    "ignored). Contracts match on Reference. Re-importing the same survey changes nothing.",
    "A blank cell clears a field that may be empty; where a field always has a value (stages, statuses, "
    "yes/no flags, day counts), blank keeps what is stored, and a new record gets the default.",
    "Lists are separated by ;. Dates are YYYY-MM-DD or DD/MM/YYYY. Money is in pounds.",
    "A cell starting with =, +, -, @, a tab or a carriage return is refused unless it is a plain number: "
    "spreadsheet programs would run it as a formula. Exports put an apostrophe (') before such text; the "
    "import removes it again.",
    "An unknown supplier name creates the supplier; an unknown service area, council, person email or "
    "system is an error.",
    "mode=all_or_nothing (default) imports nothing if any row has a problem; mode=valid_rows_only imports "
    "the good rows and lists the others; dry_run=true only reports what would happen.",
    LEFT_OUT,
)


# --- cell text: escaping formulas ----------------------------------------------------------------

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d[\d,]*)?(?:\.\d+)?(?:[eE][+-]?\d+)?")


def needs_escape(text: str) -> bool:
    """True for text a spreadsheet might run as a formula, also behind apostrophes we would remove."""
    bare = text.lstrip("'")
    return bool(bare) and bare.startswith(FORMULA_STARTS)


def escape_cell(text: str) -> str:
    """Text as an export writes it: one apostrophe before anything a spreadsheet could run."""
    return "'" + text if needs_escape(text) else text


def _is_plain_number(text: str) -> bool:
    stripped = text.strip()
    return any(ch.isdigit() for ch in stripped) and _PLAIN_NUMBER.fullmatch(stripped) is not None


class CellProblem(Exception):
    """A cell cannot be read; the message says what to write instead."""


def unescape_cell(text: str) -> str:
    """The text a cell stands for. Removes exactly the one apostrophe an export added; refuses text that
    starts like a formula and is not a plain number (it is never evaluated)."""
    if text.startswith("'") and needs_escape(text[1:]):
        return text[1:]
    if text.startswith(FORMULA_STARTS) and not _is_plain_number(text):
        shown = repr(text[0]) if text[0] in "\t\r" else text[0]
        raise CellProblem(
            f"starts with {shown}, so a spreadsheet could run it as a formula; it was not imported. "
            "Remove that first character, or put an apostrophe (') before it to keep it as text"
        )
    return text


# --- reading cells -------------------------------------------------------------------------------

_DMY = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")
_ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_ALNUM = re.compile(r"[^0-9a-z]+")


def _fold(text: str) -> str:
    return _ALNUM.sub("", text.casefold())


def header_key(text: str) -> str:
    return " ".join(text.split()).casefold()


def _number_text(value: float | int | Decimal) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _as_text(value: Cell) -> str | None:
    """The text of a cell, unescaped; None when blank."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int | float | Decimal):
        return _number_text(value)
    if not value.strip():
        return None
    return unescape_cell(value)


def _items(text: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in text.split(LIST_SEPARATOR) if item.strip())


@functools.cache
def _members(values: type[StrEnum]) -> dict[str, StrEnum]:
    """Each member by its value and by its value's letters and digits alone ("On premises" finds
    on_premises, "WCAG 2.2 AA" finds wcag22_aa)."""
    members: dict[str, StrEnum] = {}
    for member in values:
        members[_fold(member.value)] = member
    for member in values:
        members[member.value] = member
    return members


def _enum(column: Column, text: str) -> StrEnum:
    assert column.values is not None
    members = _members(column.values)
    member = members.get(text) or members.get(_fold(text))
    if member is None:
        allowed = ", ".join(m.value for m in column.values)
        raise CellProblem(f"{text!r} is not allowed here; use one of: {allowed}")
    return member


def _date(value: Cell, text: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = text.strip()
    try:
        if len(text) == 10 and text[4] == "-":
            return date.fromisoformat(text)
        if match := _ISO.fullmatch(text):
            return date(int(match[1]), int(match[2]), int(match[3]))
        if match := _DMY.fullmatch(text):
            return date(int(match[3]), int(match[2]), int(match[1]))
    except ValueError:
        pass
    raise CellProblem(
        f"{text!r} is not a date; write it as YYYY-MM-DD (2024-03-31) or DD/MM/YYYY (31/03/2024)"
    )


def _whole(value: Cell, text: str) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        cleaned = text.strip().replace(",", "")
        if not re.fullmatch(r"[+-]?\d+", cleaned):
            raise CellProblem(f"{text!r} is not a whole number")
        number = int(cleaned)
    if number < 0:
        raise CellProblem(f"{number} is negative; it must be 0 or more")
    return number


def _money(value: Cell, text: str) -> Decimal:
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        amount = Decimal(str(value))
    else:
        cleaned = text.strip().replace("£", "").replace(",", "").strip()
        try:
            amount = Decimal(cleaned)
        except InvalidOperation:
            raise CellProblem(f"{text!r} is not an amount of money; write pounds like 1234.50") from None
        if not amount.is_finite():
            raise CellProblem(f"{text!r} is not an amount of money; write pounds like 1234.50")
    if amount < 0:
        raise CellProblem(f"{text} is negative; an amount of money must be 0 or more")
    if amount.as_tuple().exponent < -2:  # type: ignore[operator]
        raise CellProblem(f"{text} has more than two decimal places (pence)")
    return amount


_YES = {"yes", "y", "true", "1"}
_NO = {"no", "n", "false", "0"}


def _yes_no(value: Cell, text: str) -> bool:
    if isinstance(value, bool):
        return value
    folded = text.strip().casefold()
    if folded in _YES:
        return True
    if folded in _NO:
        return False
    raise CellProblem(f"{text!r} is not yes or no; write yes, no, or leave it blank")


_SPECIAL_FIRST = frozenset((*FORMULA_STARTS, "'"))


def read_cell(column: Column, value: Cell) -> Any:
    """The typed value of one cell, before references are looked up; None when blank."""
    if type(value) is str:
        # Most cells are plain text: skip the general path unless the first character needs a look.
        if value and value[0] in _SPECIAL_FIRST:
            raw_text = unescape_cell(value) if value.strip() else None
        else:
            raw_text = value
    else:
        raw_text = _as_text(value)
    if raw_text is None:
        return None
    kind = column.kind
    if kind == "free_text":
        return raw_text if raw_text.strip() else None
    text = raw_text.strip()
    if not text:
        return None
    match kind:
        case "text" | "council" | "supplier" | "person":
            return text
        case "list" | "councils" | "areas" | "systems":
            return _items(text) or None
        case "choice":
            return _enum(column, text)
        case "choices":
            return tuple(dict.fromkeys(_enum(column, item) for item in _items(text))) or None
        case "yes_no":
            return _yes_no(value, text)
        case "date":
            return _date(value, text)
        case "whole":
            return _whole(value, text)
        case "money":
            return _money(value, text)
    raise AssertionError(kind)  # pragma: no cover


# --- tables, problems, reports -------------------------------------------------------------------


@dataclass
class Table:
    """One sheet of a workbook or one CSV file: a header row and numbered data rows.

    ``rows`` yields (row number as a spreadsheet shows it, cells); the header is row 1.
    """

    kind: SurveyKind
    header: Sequence[Cell]
    rows: Iterable[tuple[int, Sequence[Cell]]]
    source: Literal["csv", "xlsx"]
    sheet: str | None = None
    total: int | None = None


@dataclass(frozen=True)
class RowError:
    row: int
    column: str | None
    detail: str
    sheet: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"row": self.row}
        if self.sheet:
            out["sheet"] = self.sheet
        out["column"] = self.column
        out["detail"] = self.detail
        return out

    def __str__(self) -> str:
        where = f"{self.sheet} " if self.sheet else ""
        column = f", {self.column}" if self.column else ""
        return f"{where}row {self.row}{column}: {self.detail}"


class SurveyFileError(Exception):
    """The file as a whole cannot be read (encoding, format, headers): nothing was imported."""

    def __init__(self, detail: str, errors: Sequence[RowError] = ()) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = list(errors)


def template_hint(kind: SurveyKind, source: Literal["csv", "xlsx"]) -> str:
    if source == "xlsx":
        return "download the template: GET /api/v1/survey/template.xlsx (or `estate-register template survey.xlsx`)"
    return (
        f"download the template: GET /api/v1/survey/template.csv?kind={kind} "
        f"(or `estate-register template {kind}.csv --kind {kind}`)"
    )


def map_header(table: Table) -> tuple[list[Column | None], list[RowError]]:
    """Which column each header cell is; every template column must be there, and nothing else."""
    known = {header_key(c.header): c for c in COLUMNS[table.kind]}
    found: list[Column | None] = []
    unknown: list[str] = []
    seen: set[str] = set()
    errors: list[RowError] = []
    for cell in table.header:
        text = "" if cell is None else str(cell)
        key = header_key(text.lstrip("\ufeff"))
        column = known.get(key)
        if column is None:
            if key:
                unknown.append(text.strip())
            found.append(None)
            continue
        if key in seen:
            errors.append(RowError(1, column.header, "this header appears twice", table.sheet))
        seen.add(key)
        found.append(column)
    missing = [c.header for c in COLUMNS[table.kind] if header_key(c.header) not in seen]
    if missing or unknown:
        parts = []
        if missing:
            parts.append("missing columns: " + ", ".join(missing))
        if unknown:
            parts.append("columns the survey does not know: " + ", ".join(unknown))
        other: SurveyKind = "contracts" if table.kind == "systems" else "systems"
        other_keys = {header_key(c.header) for c in COLUMNS[other]}
        looks_other = sum(header_key(str(h or "")) in other_keys for h in table.header) > len(seen)
        hint = (
            f"; this looks like a {other} file (send kind={other})"
            if looks_other and table.source == "csv"
            else ""
        )
        errors.append(
            RowError(
                1,
                None,
                f"the {table.kind} header row has {'; '.join(parts)}{hint}; "
                + template_hint(table.kind, table.source),
                table.sheet,
            )
        )
    return found, errors


@dataclass
class KindCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0


@dataclass
class ImportReport:
    mode: Mode
    dry_run: bool
    systems: KindCounts = field(default_factory=KindCounts)
    contracts: KindCounts = field(default_factory=KindCounts)
    suppliers_created: list[str] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0
    written: bool = False

    @property
    def records(self) -> int:
        return sum(c.created + c.updated + c.unchanged for c in (self.systems, self.contracts)) + len(
            self.suppliers_created
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "dry_run": self.dry_run,
            "written": self.written,
            "systems": dataclasses.asdict(self.systems),
            "contracts": dataclasses.asdict(self.contracts),
            "suppliers_created": self.suppliers_created,
            "error_count": self.error_count,
            "errors": [e.as_dict() for e in self.errors],
        }


Progress = Callable[[int, int], None]
"""Called with (rows read so far, records written so far)."""


# --- the port ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SystemKey:
    """The little the import needs to know about every stored system to match rows and name systems."""

    id: uuid.UUID
    reference: str
    name: str
    lead_council: str
    stage: LifecycleStage


@dataclass
class Catalogue:
    """Everything a survey refers to, loaded in a few queries before the first row is read."""

    councils: list[str]
    areas: list[ServiceArea]
    people: list[Person]
    suppliers: list[Supplier]
    systems: list[SystemKey]
    contracts: dict[str, uuid.UUID]


@dataclass
class WriteBatch:
    """One chunk of checked records, with the audit facts and outbox events they produce."""

    correlation_id: str
    new_suppliers: list[Supplier] = field(default_factory=list)
    new_systems: list[System] = field(default_factory=list)
    changed_systems: list[tuple[System, int]] = field(default_factory=list)
    new_contracts: list[Contract] = field(default_factory=list)
    changed_contracts: list[tuple[Contract, int]] = field(default_factory=list)
    facts: list[Happened] = field(default_factory=list)
    events: list[tuple[Envelope, str]] = field(default_factory=list)

    @property
    def size(self) -> int:
        return (
            len(self.new_suppliers)
            + len(self.new_systems)
            + len(self.changed_systems)
            + len(self.new_contracts)
            + len(self.changed_contracts)
        )


class SurveyStore(abc.ABC):
    """Bulk reads and writes for surveys, inside the unit of work ``uow`` (one transaction)."""

    uow: UnitOfWork

    @abc.abstractmethod
    async def catalogue(self) -> Catalogue: ...

    @abc.abstractmethod
    async def systems_for_update(self, ids: Sequence[uuid.UUID]) -> list[System]:
        """The stored systems, locked against other writers until the transaction ends."""

    @abc.abstractmethod
    async def contracts_for_update(self, ids: Sequence[uuid.UUID]) -> list[Contract]: ...

    @abc.abstractmethod
    async def write(self, batch: WriteBatch) -> None:
        """Insert and update the batch's records, their links, audit rows and outbox rows. A changed record
        is written only if its stored version is still the expected one, else StaleVersion."""

    @abc.abstractmethod
    def all_systems(self) -> AsyncIterator[System]:
        """Every system, by reference, without holding them all in memory."""

    @abc.abstractmethod
    def all_contracts(self) -> AsyncIterator[Contract]: ...


# --- import --------------------------------------------------------------------------------------


@dataclass
class _Pending:
    number: int
    sheet: str | None
    fields: dict[str, Any]
    existing: uuid.UUID | None
    reference: str | None
    new_id: uuid.UUID = field(default_factory=uuid.uuid4)


_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def _name_only(key: SystemKey) -> System:
    """A stand-in carrying what contract checks and event snapshots read of a covered system (its name,
    reference and stage), so that covering 100,000 contracts does not load 50,000 full systems."""
    return System(
        id=key.id,
        reference=key.reference,
        name=key.name,
        lead_council=key.lead_council,
        lifecycle_stage=key.stage,
        created_at=_EPOCH,
        updated_at=_EPOCH,
    )


class _Importer:
    def __init__(
        self,
        store: SurveyStore,
        catalogue: Catalogue,
        *,
        mode: Mode,
        dry_run: bool,
        actor: str,
        chunk_size: int,
        max_errors: int,
        progress: Progress | None,
    ) -> None:
        self.store = store
        self.mode = mode
        self.dry_run = dry_run
        self.actor = actor
        self.chunk_size = chunk_size
        self.max_errors = max_errors
        self.progress = progress
        self.report = ImportReport(mode=mode, dry_run=dry_run)
        self.now = store.uow.clock()
        self.calendar = store.uow.calendar
        self.correlation = current_correlation_id() or str(uuid.uuid4())
        self.causation = current_causation_id()
        self.rows_read = 0
        self.records_written = 0

        self.councils = {c.casefold(): c for c in catalogue.councils}
        self.areas_by_key = {(a.council_code, services.name_key(a.name)): a for a in catalogue.areas}
        self.area_names = {a.id: a.name for a in catalogue.areas}
        self.people_by_email = {p.email.casefold(): p for p in catalogue.people}
        self.people = {p.id: p for p in catalogue.people}
        self.suppliers_by_key = {services.name_key(s.name): s for s in catalogue.suppliers}
        self.suppliers = {s.id: s for s in catalogue.suppliers}
        self.new_suppliers: dict[uuid.UUID, Supplier] = {}  # created by this survey, not written yet
        self.systems: dict[uuid.UUID, SystemKey] = {k.id: k for k in catalogue.systems}
        self.system_by_ref = {k.reference: k.id for k in catalogue.systems}
        self.system_by_name = {(k.lead_council, services.name_key(k.name)): k.id for k in catalogue.systems}
        self.contract_by_ref = dict(catalogue.contracts)
        self.next_number = 1 + max(
            (int(k.reference[4:]) for k in catalogue.systems if _is_sys_ref(k.reference)), default=0
        )
        self.seen_refs: dict[tuple[SurveyKind, str], int] = {}
        self.seen_names: dict[tuple[str, str], int] = {}
        self.pending: list[_Pending] = []
        # Systems by any reference spelling and by name alone, for a contract's Systems cell; built when
        # the first contract row needs it (after every systems row is in).
        self.names_any: dict[str, list[uuid.UUID]] | None = None
        self.refs_folded: dict[str, uuid.UUID] = {}
        self.write_task: asyncio.Task[int] | None = None
        self.stand_in_cache: dict[uuid.UUID, System] = {}

    # -- bookkeeping --

    @property
    def writing(self) -> bool:
        return not self.dry_run and (self.mode == "valid_rows_only" or self.report.error_count == 0)

    def error(self, number: int, sheet: str | None, column: str | None, detail: str) -> None:
        self.report.error_count += 1
        if len(self.report.errors) < self.max_errors:
            self.report.errors.append(RowError(number, column, detail, sheet))

    def counts(self, kind: SurveyKind) -> KindCounts:
        return self.report.systems if kind == "systems" else self.report.contracts

    def tick(self) -> None:
        if self.progress is not None:
            self.progress(self.rows_read, self.records_written)

    # -- rows --

    async def run(self, tables: Sequence[Table]) -> ImportReport:
        mapped = []
        header_errors: list[RowError] = []
        for table in tables:
            columns, errors = map_header(table)
            header_errors.extend(errors)
            mapped.append((table, columns))
        if header_errors:
            raise SurveyFileError(
                " ".join(e.detail for e in header_errors if e.column is None) or str(header_errors[0]),
                header_errors,
            )
        for kind in KINDS:
            for table, columns in mapped:
                if table.kind != kind:
                    continue
                for number, cells in table.rows:
                    self.rows_read += 1
                    self.read_row(table, columns, number, cells)
                    if len(self.pending) >= self.chunk_size:
                        await self.flush(kind)
                    elif self.rows_read % 100 == 0 and self.write_task is not None:
                        await asyncio.sleep(0)  # let the chunk being written move on meanwhile
                await self.flush(kind)
        await self.settle()
        return self.report

    async def settle(self) -> None:
        """Wait for the chunk being written: the session does one thing at a time."""
        if self.write_task is not None:
            task, self.write_task = self.write_task, None
            self.records_written += await task
            self.tick()

    async def write(self, batch: WriteBatch, changed: list[tuple[Any, int]]) -> int:
        await self.store.write(batch)
        for record, version in changed:
            record.version = version + 1
        return batch.size

    def read_row(
        self, table: Table, columns: list[Column | None], number: int, cells: Sequence[Cell]
    ) -> None:
        values: dict[str, Any] = {}
        problems: list[tuple[str | None, str]] = []
        for index, value in enumerate(cells):
            column = columns[index] if index < len(columns) else None
            if column is None:
                if value is not None and str(value).strip():
                    problems.append((None, f"cell {index + 1} is beyond the last column of the header row"))
                continue
            try:
                values[column.field] = read_cell(column, value)
            except CellProblem as exc:
                problems.append((column.header, str(exc)))
        for column in REQUIRED[table.kind]:
            if values.get(column.field) is None and not any(p[0] == column.header for p in problems):
                problems.append((column.header, f"{column.header} is required"))
        if not problems:
            if table.kind == "systems":
                self.system_row(table, number, values, problems)
            else:
                self.contract_row(table, number, values, problems)
        if problems:
            for header, detail in problems:
                self.error(number, table.sheet, header, detail)
            self.counts(table.kind).failed += 1

    def fields_of(self, kind: SurveyKind, values: dict[str, Any]) -> dict[str, Any]:
        """Domain fields of a row: blank "empty" columns clear the field, blank "keep" columns are left out."""
        fields: dict[str, Any] = {}
        for column in COLUMNS[kind]:
            if column.field == "reference":
                continue
            value = values.get(column.field)
            if value is None:
                if column.blank == "keep":
                    continue
                value = column.empty
            fields[column.field] = value
        return fields

    def council(self, text: str, header: str, problems: list[tuple[str | None, str]]) -> str | None:
        code = self.councils.get(text.casefold())
        if code is None:
            known = ", ".join(sorted(self.councils.values())) or "none yet"
            problems.append((header, f"unknown council {text!r} (known: {known})"))
        return code

    def person(self, email: str, header: str, problems: list[tuple[str | None, str]]) -> uuid.UUID | None:
        person = self.people_by_email.get(email.casefold())
        if person is None:
            problems.append(
                (header, f"no person with email {email} is recorded; add them under People first")
            )
            return None
        return person.id

    def supplier(self, name: str) -> uuid.UUID:
        """The supplier of that name; an unknown name is a supplier the survey discovered."""
        key = services.name_key(name)
        supplier = self.suppliers_by_key.get(key)
        if supplier is None:
            supplier = Supplier(
                id=uuid.uuid4(), name=" ".join(name.split()), created_at=self.now, updated_at=self.now
            )
            self.suppliers_by_key[key] = supplier
            self.suppliers[supplier.id] = supplier
            self.new_suppliers[supplier.id] = supplier
        return supplier.id

    def resolve_common(
        self, values: dict[str, Any], problems: list[tuple[str | None, str]], kind: SurveyKind
    ) -> None:
        for column in REFERRING[kind]:
            value = values.get(column.field)
            if value is None:
                continue
            if column.kind == "person":
                values[column.field] = self.person(value, column.header, problems)
            elif column.kind == "councils":
                codes = [self.council(v, column.header, problems) for v in value]
                values[column.field] = tuple(dict.fromkeys(c for c in codes if c))
            elif column.kind == "supplier":
                values[column.field] = self.supplier(value)

    def system_row(
        self, table: Table, number: int, values: dict[str, Any], problems: list[tuple[str | None, str]]
    ) -> None:
        lead = self.council(values["lead_council"], "Lead council", problems)
        self.resolve_common(values, problems, "systems")
        if lead is None:
            return
        values["lead_council"] = lead
        areas = values.get("service_area_ids")
        if areas:
            values["service_area_ids"] = self.areas(areas, lead, values.get("councils") or (), problems)
        if problems:
            return
        reference: str | None = values.get("reference")
        name_key = (lead, services.name_key(values["name"]))
        if reference is not None:
            earlier = self.seen_refs.get(("systems", reference))
            if earlier is not None:
                problems.append(("Reference", f"row {earlier} has the same Reference"))
                return
        earlier = self.seen_names.get(name_key)
        if earlier is not None:
            problems.append(("Name", f"row {earlier} has the same Lead council and Name"))
            return
        by_name = self.system_by_name.get(name_key)
        if reference is not None:
            existing = self.system_by_ref.get(reference)
            if by_name is not None and by_name != existing:
                other = self.systems[by_name]
                problems.append(
                    (
                        "Name",
                        f"{lead} already has a system called {other.name!r} ({other.reference}); "
                        "give that Reference to update it, or another name",
                    )
                )
                return
        else:
            existing = by_name
        if reference is not None:
            self.seen_refs[("systems", reference)] = number
        self.seen_names[name_key] = number
        if existing is None and reference is None:
            reference = f"SYS-{self.next_number:05d}"
            self.next_number += 1
        self.pending.append(
            _Pending(number, table.sheet, self.fields_of("systems", values), existing, reference)
        )

    def areas(
        self,
        names: tuple[str, ...],
        lead: str,
        others: tuple[str, ...],
        problems: list[tuple[str | None, str]],
    ) -> tuple[uuid.UUID, ...]:
        """Service areas by name: the lead council's first, then the other councils'; "CODE: Name" picks a
        council's area explicitly."""
        found: list[uuid.UUID] = []
        for text in names:
            prefix, colon, rest = text.partition(":")
            councils: Sequence[str] = (lead, *others)
            wanted = text
            if colon and prefix.strip().casefold() in self.councils:
                councils = (self.councils[prefix.strip().casefold()],)
                wanted = rest.strip()
            area = next(
                (
                    self.areas_by_key[(c, services.name_key(wanted))]
                    for c in councils
                    if (c, services.name_key(wanted)) in self.areas_by_key
                ),
                None,
            )
            if area is None:
                problems.append(
                    (
                        "Service areas",
                        f"no service area {wanted!r} in {', '.join(councils)}; check the spelling against "
                        "GET /api/v1/service-areas",
                    )
                )
                continue
            found.append(area.id)
        return tuple(dict.fromkeys(found))

    def contract_row(
        self, table: Table, number: int, values: dict[str, Any], problems: list[tuple[str | None, str]]
    ) -> None:
        self.resolve_common(values, problems, "contracts")
        systems = values.get("system_ids")
        if systems:
            values["system_ids"] = self.covered(systems, problems)
        if problems:
            return
        reference: str = values["reference"]
        earlier = self.seen_refs.get(("contracts", reference))
        if earlier is not None:
            problems.append(("Reference", f"row {earlier} has the same Reference"))
            return
        self.seen_refs[("contracts", reference)] = number
        fields = self.fields_of("contracts", values)
        existing = self.contract_by_ref.get(reference)
        if existing is None:
            fields["reference"] = reference
            fields.setdefault("current_term_end", fields.get("initial_term_end"))
        self.pending.append(_Pending(number, table.sheet, fields, existing, reference))

    def covered(
        self, entries: tuple[str, ...], problems: list[tuple[str | None, str]]
    ) -> tuple[uuid.UUID, ...]:
        if self.names_any is None:
            self.names_any = {}
            for key in self.systems.values():
                self.names_any.setdefault(services.name_key(key.name), []).append(key.id)
                self.refs_folded.setdefault(key.reference.casefold(), key.id)
        found: list[uuid.UUID] = []
        for entry in entries:
            system_id = self.system_by_ref.get(entry) or self.refs_folded.get(entry.casefold())
            if system_id is None:
                matches = self.names_any.get(services.name_key(entry), [])
                if len(matches) > 1:
                    refs = ", ".join(sorted(self.systems[m].reference for m in matches))
                    problems.append(
                        ("Systems", f"{entry!r} names several systems ({refs}); give the reference")
                    )
                    continue
                system_id = matches[0] if matches else None
            if system_id is None:
                problems.append(
                    (
                        "Systems",
                        f"no system with reference or name {entry!r} (systems rows of this survey count)",
                    )
                )
                continue
            found.append(system_id)
        return tuple(dict.fromkeys(found))

    # -- chunks --

    def domain_problem(self, kind: SurveyKind, pending: _Pending, exc: DomainError) -> None:
        headers = {c.field: c.header for c in COLUMNS[kind]}
        detail = exc.detail
        for name in sorted(headers, key=len, reverse=True):
            detail = re.sub(rf"\b{name}\b", headers[name], detail)
        self.error(pending.number, pending.sheet, headers.get(exc.field or ""), detail)
        self.counts(kind).failed += 1

    async def flush(self, kind: SurveyKind) -> None:
        """Check a chunk of rows through the domain and hand the result to the store. The write runs while
        the next chunk is read; the session is never used by two at once (:meth:`settle`)."""
        pending, self.pending = self.pending, []
        if not pending:
            return
        await self.settle()
        self.stand_in_cache = {}
        batch = WriteBatch(correlation_id=self.correlation)
        changed: list[tuple[Any, int]] = []
        records: list[System | Contract] = []
        ids = [p.existing for p in pending if p.existing is not None]
        if kind == "systems":
            stored_systems = {s.id: s for s in await self.store.systems_for_update(ids)} if ids else {}
            for p in pending:
                try:
                    system = self.build_system(p, stored_systems, changed)
                except DomainError as exc:
                    self.domain_problem(kind, p, exc)
                    continue
                if system is not None:
                    records.append(system)
            batch.new_systems = [r for r in records if isinstance(r, System) and r.id not in stored_systems]
            batch.changed_systems = [(r, v) for r, v in changed]
        else:
            stored_contracts = {c.id: c for c in await self.store.contracts_for_update(ids)} if ids else {}
            for p in pending:
                try:
                    contract = self.build_contract(p, stored_contracts, changed)
                except DomainError as exc:
                    self.domain_problem(kind, p, exc)
                    continue
                if contract is not None:
                    records.append(contract)
            batch.new_contracts = [
                r for r in records if isinstance(r, Contract) and r.id not in stored_contracts
            ]
            batch.changed_contracts = [(r, v) for r, v in changed]
        supplier_ids = {getattr(r, "supplier_id", None) for r in records}
        batch.new_suppliers = [
            self.new_suppliers.pop(i) for i in list(self.new_suppliers) if i in supplier_ids
        ]
        for supplier in batch.new_suppliers:
            supplier.recorded(actor=self.actor, at=self.now)
            self.report.suppliers_created.append(supplier.name)
        facts: list[Happened] = []
        for record in (*batch.new_suppliers, *records):
            facts.extend(record.events)
            record.events.clear()
        for record in records:
            if isinstance(record, System):
                self.systems[record.id] = SystemKey(
                    record.id, record.reference, record.name, record.lead_council, record.lifecycle_stage
                )
                self.names_any = None
        if self.writing and batch.size:
            batch.facts = facts
            batch.events = self.envelopes(facts, kind, records)
            self.write_task = asyncio.create_task(self.write(batch, changed))
            self.report.written = True
        self.tick()

    def build_system(
        self, p: _Pending, stored: dict[uuid.UUID, System], changed: list[tuple[Any, int]]
    ) -> System | None:
        """Same rules as services.new_system / services.change_system, against the preloaded catalogue."""
        counts = self.report.systems
        if p.existing is None:
            assert p.reference is not None
            system = System(
                id=p.new_id, reference=p.reference, created_at=self.now, updated_at=self.now, **p.fields
            )
            system.recorded(actor=self.actor, at=self.now)
            counts.created += 1
            self.system_by_ref[system.reference] = system.id
        else:
            system = stored[p.existing]
            version = system.version
            old_key = (system.lead_council, services.name_key(system.name))
            if not system.apply_changes(p.fields, actor=self.actor, at=self.now):
                counts.unchanged += 1
                return None
            counts.updated += 1
            changed.append((system, version))
            if self.system_by_name.get(old_key) == system.id:
                del self.system_by_name[old_key]
        self.system_by_name[(system.lead_council, services.name_key(system.name))] = system.id
        return system

    def build_contract(
        self, p: _Pending, stored: dict[uuid.UUID, Contract], changed: list[tuple[Any, int]]
    ) -> Contract | None:
        """Same rules as services.new_contract / services.change_contract (act-by, covered systems)."""
        counts = self.report.contracts
        if p.existing is None:
            contract = Contract(id=p.new_id, created_at=self.now, updated_at=self.now, **p.fields)
            contract.compute_act_by(self.calendar)
            contract.check_systems_accept(self.stand_ins(contract.system_ids))
            contract.recorded(actor=self.actor, at=self.now)
            counts.created += 1
            self.contract_by_ref[contract.reference] = contract.id
            return contract
        contract = stored[p.existing]
        version = contract.version
        if not contract.apply_changes(p.fields, actor=self.actor, at=self.now):
            counts.unchanged += 1
            return None
        contract.compute_act_by(self.calendar)
        contract.check_systems_accept(self.stand_ins(contract.system_ids))
        counts.updated += 1
        changed.append((contract, version))
        return contract

    def stand_in(self, system_id: uuid.UUID) -> System:
        system = self.stand_in_cache.get(system_id)
        if system is None:
            system = self.stand_in_cache[system_id] = _name_only(self.systems[system_id])
        return system

    def stand_ins(self, ids: Iterable[uuid.UUID]) -> list[System]:
        return [self.stand_in(i) for i in ids if i in self.systems]

    def envelopes(
        self, facts: list[Happened], kind: SurveyKind, records: Sequence[System | Contract]
    ) -> list[tuple[Envelope, str]]:
        covered: set[uuid.UUID] = set()
        if kind == "contracts":
            for record in records:
                covered.update(getattr(record, "system_ids", ()))
        names = Names(
            suppliers=self.suppliers,
            people=self.people,
            systems={i: self.stand_in(i) for i in covered if i in self.systems},
            areas=self.area_names,
        )
        return envelopes_for(facts, names, correlation=self.correlation, causation=self.causation)


def _is_sys_ref(reference: str) -> bool:
    return reference.startswith("SYS-") and reference[4:].isdigit()


async def import_survey(
    store: SurveyStore,
    tables: Sequence[Table],
    *,
    actor: str,
    mode: Mode = "all_or_nothing",
    dry_run: bool = False,
    chunk_size: int = 2000,
    max_errors: int = 1000,
    progress: Progress | None = None,
) -> ImportReport:
    """Import survey tables in one transaction; the report says what was (or, dry run, would be) done.

    Systems are imported before contracts whatever the order of the tables, so contracts can cover
    systems the same survey adds. Commits only when something may be kept: not on a dry run, and in
    ``all_or_nothing`` mode only if no row had a problem. Raises SurveyFileError for header problems.
    """
    with cyclic_gc_paused():
        return await _import(
            store,
            tables,
            actor=actor,
            mode=mode,
            dry_run=dry_run,
            chunk_size=chunk_size,
            max_errors=max_errors,
            progress=progress,
        )


async def _import(
    store: SurveyStore,
    tables: Sequence[Table],
    *,
    actor: str,
    mode: Mode,
    dry_run: bool,
    chunk_size: int,
    max_errors: int,
    progress: Progress | None,
) -> ImportReport:
    catalogue = await store.catalogue()
    importer = _Importer(
        store,
        catalogue,
        mode=mode,
        dry_run=dry_run,
        actor=actor,
        chunk_size=chunk_size,
        max_errors=max_errors,
        progress=progress,
    )
    try:
        report = await importer.run(tables)
    finally:
        if importer.write_task is not None:
            importer.write_task.cancel()
            with contextlib.suppress(BaseException):
                await importer.write_task
    if importer.writing and report.written:
        await services.commit(store.uow)
    else:
        await store.uow.rollback()
        report.written = False
    return report


# --- export --------------------------------------------------------------------------------------


class ExportNames:
    """How an export names what records refer to: suppliers by name, people by email, systems by
    reference, service areas by name (qualified "CODE: Name" when not the lead council's)."""

    def __init__(self, catalogue: Catalogue) -> None:
        self.suppliers = {s.id: s.name for s in catalogue.suppliers}
        self.emails = {p.id: p.email for p in catalogue.people}
        self.areas = {a.id: a for a in catalogue.areas}
        self.references = {k.id: k.reference for k in catalogue.systems}

    def area(self, area_id: uuid.UUID, lead: str) -> str:
        area = self.areas.get(area_id)
        if area is None:
            return str(area_id)
        return area.name if area.council_code == lead else f"{area.council_code}: {area.name}"


def _join(items: Iterable[str]) -> str | None:
    text = f"{LIST_SEPARATOR} ".join(items)
    return text or None


def _export_value(column: Column, record: System | Contract, names: ExportNames) -> Cell:
    value = getattr(record, column.field)
    if value is None:
        return None
    match column.kind:
        case "list" | "councils":
            return _join(value)
        case "choice":
            return str(value.value)
        case "choices":
            return _join(v.value for v in value)
        case "yes_no":
            return "yes" if value else "no"
        case "areas":
            lead = record.lead_council if isinstance(record, System) else ""
            return _join(names.area(a, lead) for a in value)
        case "supplier":
            return names.suppliers.get(value, str(value))
        case "person":
            return names.emails.get(value, str(value))
        case "systems":
            return _join(names.references.get(s, str(s)) for s in value)
        case "text" | "free_text" | "council":
            return str(value) if value != "" else None
    return value  # type: ignore[no-any-return]  # dates, whole numbers, money as they are


def export_row(kind: SurveyKind, record: System | Contract, names: ExportNames) -> list[Cell]:
    """One record as a survey row, in template column order; text is not yet escaped (writers do it)."""
    return [_export_value(column, record, names) for column in COLUMNS[kind]]


async def export_rows(store: SurveyStore, kind: SurveyKind, names: ExportNames) -> AsyncIterator[list[Cell]]:
    records: AsyncIterator[System] | AsyncIterator[Contract] = (
        store.all_systems() if kind == "systems" else store.all_contracts()
    )
    async for record in records:
        yield export_row(kind, record, names)


def readme_rows() -> Iterator[list[str]]:
    """The Read me sheet: the rules, then one row per column of each sheet."""
    yield ["Systems and Data Register Survey"]
    yield []
    for rule in RULES:
        yield [rule]
    yield []
    yield ["Sheet", "Column", "Required", "Allowed values", "Example", "Notes"]
    for kind in KINDS:
        for column in COLUMNS[kind]:
            yield [
                SHEETS[kind],
                column.header,
                "yes" if column.required else "no",
                column.allowed(),
                column.example,
                column.note,
            ]
