"""The register's records and the rules that keep them true.

Aggregates record what happened to them as :class:`Happened` facts instead of publishing anything; the
application layer turns each fact into an audit entry and an outbox event in the same commit as the
change. Nothing here knows about HTTP, SQL or Kafka.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any, ClassVar, Literal

from estate_register.domain.errors import InvalidTransition, InvalidValue
from estate_register.domain.values import (
    CONTRACT_TRANSITIONS,
    LIFECYCLE_TRANSITIONS,
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
    RenewalOutcome,
    RenewalType,
    RiskRag,
    UsageStatus,
)
from estate_runtime.workdays import WorkingCalendar, previous_working_day

Kind = Literal["system", "contract", "supplier", "person", "service_area", "council"]
Action = Literal["recorded", "changed", "lifecycle_changed", "retired", "renewal_decision_recorded"]


@dataclass(frozen=True, kw_only=True)
class Happened:
    """A fact an aggregate records about itself; ``before`` is None when the record is new."""

    kind: Kind
    action: Action
    record_id: uuid.UUID | str
    actor: str
    at: datetime
    before: dict[str, Any] | None
    after: dict[str, Any]
    detail: dict[str, Any] = field(default_factory=dict)


_AS_IS = frozenset({str, int, float, bool, type(None)})
_AS_TEXT = frozenset({Decimal, uuid.UUID})
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _field_names(cls: type) -> tuple[str, ...]:
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = tuple(f.name for f in dataclasses.fields(cls) if f.name != "events")
        _FIELD_NAMES[cls] = names
    return names


def to_plain(value: Any) -> Any:
    """JSON-friendly form of a domain value: enums by value, dates ISO, money as a string.

    Dispatches on the exact type first: snapshots are taken for every record a survey import writes."""
    kind = type(value)
    if kind in _AS_IS:
        return value
    if isinstance(value, Enum):
        return value.value
    if kind in _AS_TEXT or isinstance(value, Decimal | uuid.UUID):  # database drivers subclass UUID
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [to_plain(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {name: to_plain(getattr(value, name)) for name in _field_names(type(value))}
    if isinstance(value, set | frozenset):
        return sorted((to_plain(v) for v in value), key=str)
    if isinstance(value, Mapping):
        return {str(k): to_plain(v) for k, v in value.items()}
    return value


@dataclass(kw_only=True, frozen=True)
class ApiEntry:
    """One API in the system's API register (App M 1.5: "A complete register of all the system's APIs")."""

    name: str
    docs_url: str | None = None
    open_api: bool = False
    real_time: bool = False
    time_based_extracts: bool = False
    test_environment: bool = False


@dataclass(kw_only=True, frozen=True)
class ServiceLevel:
    """A KPI or SLA the supplier is measured against (S0:2881, 4289)."""

    name: str
    target: str
    actual: str | None = None
    period: str | None = None


@dataclass(kw_only=True, frozen=True)
class LifecycleEntry:
    """One step of a system's life: the stage, the day it took effect, when and by whom it was recorded.

    ``decided_at`` is set when the step carries out a decision taken elsewhere (a TDA decision on a
    technology request), so that a late, older decision can be told from a newer one.
    """

    stage: LifecycleStage
    on: date
    at: datetime
    by: str
    note: str = ""
    decided_at: datetime | None = None


@dataclass(kw_only=True, frozen=True)
class RenewalDecision:
    """What the contract owner decided before the act-by date, and why (the rationale is mandatory)."""

    id: uuid.UUID
    outcome: RenewalOutcome
    rationale: str
    decided_by: str
    decided_at: datetime
    new_term_end: date | None = None


# Fields that are bookkeeping, not content: never part of "what changed".
_BOOKKEEPING = frozenset({"version", "created_at", "updated_at", "events"})


@dataclass(kw_only=True)
class Aggregate:
    id: uuid.UUID
    version: int = 1
    created_at: datetime
    updated_at: datetime
    events: list[Happened] = field(default_factory=list, repr=False, compare=False)

    KIND: ClassVar[Kind]
    READ_ONLY: ClassVar[frozenset[str]] = frozenset({"id", "version", "created_at", "updated_at"})

    def snapshot(self) -> dict[str, Any]:
        return {name: to_plain(getattr(self, name)) for name in _field_names(type(self))}

    def validate(self) -> None:
        """Check every invariant of the record; raise InvalidValue naming the field."""

    def _record(
        self, action: Action, *, actor: str, at: datetime, before: dict[str, Any] | None, **detail: Any
    ) -> None:
        self.events.append(
            Happened(
                kind=self.KIND,
                action=action,
                record_id=self.id,
                actor=actor,
                at=at,
                before=before,
                after=self.snapshot(),
                detail=detail,
            )
        )

    def recorded(self, *, actor: str, at: datetime) -> None:
        """Mark a new record: validated, then announced."""
        self.validate()
        self._record("recorded", actor=actor, at=at, before=None)

    def apply_changes(self, changes: Mapping[str, Any], *, actor: str, at: datetime) -> list[str]:
        """Apply a partial update; all or nothing. Returns the names of the fields that really changed."""
        editable = {f.name for f in dataclasses.fields(self)} - self.READ_ONLY - _BOOKKEEPING
        unknown = set(changes) - editable
        if unknown:
            name = sorted(unknown)[0]
            raise InvalidValue(f"{name} cannot be changed here", field=name)
        before = self.snapshot()
        saved = {name: getattr(self, name) for name in changes}
        changed = [name for name, value in changes.items() if getattr(self, name) != value]
        for name in changed:
            setattr(self, name, changes[name])
        try:
            self.validate()
        except Exception:
            for name, value in saved.items():
                setattr(self, name, value)
            raise
        if changed:
            self.updated_at = at
            self._record("changed", actor=actor, at=at, before=before, changed=sorted(changed))
        return sorted(changed)


def _text(value: str | None, name: str, *, required: bool = False, limit: int = 500) -> None:
    if value is None or not value.strip():
        if required:
            raise InvalidValue(f"{name} is required", field=name)
        return
    if len(value) > limit:
        raise InvalidValue(f"{name} must be at most {limit} characters", field=name)


@dataclass(kw_only=True)
class Council:
    """A council that shares systems or contracts (Cambridge City, South Cambridgeshire, Huntingdonshire)."""

    code: str
    name: str


@dataclass(kw_only=True)
class ServiceArea:
    id: uuid.UUID
    name: str
    council_code: str


@dataclass(kw_only=True)
class Person(Aggregate):
    """Someone who can hold an owner role. Only work contact details are kept (S0:5170)."""

    name: str
    email: str
    role_titles: tuple[str, ...] = ()

    KIND = "person"

    def validate(self) -> None:
        _text(self.name, "name", required=True, limit=200)
        if "@" not in self.email or self.email.strip() != self.email:
            raise InvalidValue("email must be an email address", field="email")


@dataclass(kw_only=True)
class Supplier(Aggregate):
    name: str
    products: tuple[str, ...] = ()
    website: str | None = None
    notes: str = ""
    retired: bool = False

    KIND = "supplier"

    def validate(self) -> None:
        _text(self.name, "name", required=True, limit=200)
        _text(self.notes, "notes", limit=4000)

    def retire(self, *, actor: str, at: datetime) -> None:
        if self.retired:
            raise InvalidTransition("supplier is already retired", field="retired")
        before = self.snapshot()
        self.retired = True
        self.updated_at = at
        self._record("retired", actor=actor, at=at, before=before)


@dataclass(kw_only=True)
class System(Aggregate):
    """One system or application in the Systems and Data Register (REQUIREMENTS.md §1.1)."""

    reference: str
    name: str
    description: str = ""
    lead_council: str
    councils: tuple[str, ...] = ()
    service_area_ids: tuple[uuid.UUID, ...] = ()
    capabilities: tuple[str, ...] = ()
    supplier_id: uuid.UUID | None = None
    product_family: str | None = None
    lifecycle_stage: LifecycleStage = LifecycleStage.LIVE
    lifecycle_history: tuple[LifecycleEntry, ...] = ()
    rationalisation_decision: RationalisationDecision = RationalisationDecision.UNDECIDED
    rationalisation_rationale: str = ""
    disposition: Disposition | None = None
    hosting: Hosting | None = None
    cloud_feasibility: CloudFeasibility = CloudFeasibility.UNKNOWN
    cloud_alternative: str | None = None
    holds_personal_data: bool | None = None
    personal_data_categories: tuple[str, ...] = ()
    special_category_data: bool = False
    data_location: str | None = None
    dpia_status: ComplianceStatus = ComplianceStatus.UNKNOWN
    dpia_date: date | None = None
    ropa_status: ComplianceStatus = ComplianceStatus.UNKNOWN
    ropa_date: date | None = None
    integration_capabilities: tuple[IntegrationCapability, ...] = ()
    api_register: tuple[ApiEntry, ...] = ()
    business_criticality: Criticality | None = None
    risk_rag: RiskRag | None = None
    accessibility_level: AccessibilityLevel = AccessibilityLevel.NOT_ASSESSED
    usage_status: UsageStatus = UsageStatus.IN_USE
    resident_facing: bool = False
    procured_outside_ict: bool = False
    system_owner_id: uuid.UUID | None = None
    data_owner_id: uuid.UUID | None = None
    last_validated_at: datetime | None = None
    last_validated_by: str | None = None
    source_request_id: str | None = None

    KIND = "system"
    READ_ONLY = frozenset({"id", "version", "created_at", "updated_at", "lifecycle_history", "reference"})

    def validate(self) -> None:
        _text(self.name, "name", required=True, limit=200)
        _text(self.reference, "reference", required=True, limit=40)
        _text(self.description, "description", limit=4000)
        _text(self.lead_council, "lead_council", required=True, limit=20)
        if self.holds_personal_data is False and self.personal_data_categories:
            raise InvalidValue(
                "personal_data_categories must be empty when holds_personal_data is false",
                field="personal_data_categories",
            )
        if self.special_category_data and self.holds_personal_data is False:
            raise InvalidValue(
                "special_category_data needs holds_personal_data to be true", field="special_category_data"
            )
        if (
            IntegrationCapability.NONE in self.integration_capabilities
            and len(self.integration_capabilities) > 1
        ):
            raise InvalidValue(
                "integration_capabilities cannot be 'none' together with another capability",
                field="integration_capabilities",
            )
        if self.api_register and IntegrationCapability.API not in self.integration_capabilities:
            raise InvalidValue(
                "api_register lists APIs, so integration_capabilities must include 'api'",
                field="integration_capabilities",
            )
        for name in ("dpia_date", "ropa_date"):
            status = getattr(self, name.replace("date", "status"))
            if getattr(self, name) is not None and status is not ComplianceStatus.COMPLETED:
                raise InvalidValue(f"{name} is given only when the status is completed", field=name)
        if len({c.casefold() for c in self.capabilities}) != len(self.capabilities):
            raise InvalidValue("capabilities must not repeat", field="capabilities")

    def recorded(self, *, actor: str, at: datetime) -> None:
        if not self.lifecycle_history:
            self.lifecycle_history = (
                LifecycleEntry(stage=self.lifecycle_stage, on=at.date(), at=at, by=actor, note="recorded"),
            )
        super().recorded(actor=actor, at=at)

    def apply_changes(self, changes: Mapping[str, Any], *, actor: str, at: datetime) -> list[str]:
        """A change of lifecycle stage goes through :meth:`change_lifecycle` so its rules and history hold."""
        changes = dict(changes)
        stage = changes.pop("lifecycle_stage", None)
        note = str(changes.pop("lifecycle_note", "") or "")
        if stage is not None and stage != self.lifecycle_stage:
            self.check_transition(stage)
        changed = super().apply_changes(changes, actor=actor, at=at)
        if stage is not None and stage != self.lifecycle_stage:
            self.change_lifecycle(stage, actor=actor, at=at, on=at.date(), note=note)
            changed.append("lifecycle_stage")
        return sorted(changed)

    def check_transition(self, to: LifecycleStage) -> None:
        allowed = LIFECYCLE_TRANSITIONS[self.lifecycle_stage]
        if to not in allowed:
            options = ", ".join(sorted(allowed)) or "none: retired is final"
            raise InvalidTransition(
                f"a {self.lifecycle_stage} system cannot become {to} (allowed: {options})",
                field="lifecycle_stage",
            )

    def change_lifecycle(
        self,
        to: LifecycleStage,
        *,
        actor: str,
        at: datetime,
        on: date,
        note: str = "",
        decided_at: datetime | None = None,
    ) -> None:
        """Move along an allowed lifecycle edge, keeping the dated history."""
        self.check_transition(to)
        before = self.snapshot()
        previous = self.lifecycle_stage
        self.lifecycle_stage = to
        self.lifecycle_history = (
            *self.lifecycle_history,
            LifecycleEntry(stage=to, on=on, at=at, by=actor, note=note, decided_at=decided_at),
        )
        self.updated_at = at
        action: Action = "retired" if to is LifecycleStage.RETIRED else "lifecycle_changed"
        self._record(action, actor=actor, at=at, before=before, from_stage=previous.value, to_stage=to.value)

    @property
    def is_retired(self) -> bool:
        return self.lifecycle_stage is LifecycleStage.RETIRED

    def mark_validated(self, *, actor: str, at: datetime) -> None:
        """The owner confirms the record is current (S0:2680: "when data has been validated ... and by whom")."""
        before = self.snapshot()
        self.last_validated_at = at
        self.last_validated_by = actor
        self.updated_at = at
        self._record("changed", actor=actor, at=at, before=before, changed=["last_validated_at"])


@dataclass(kw_only=True)
class Contract(Aggregate):
    """A contract in the central contract register (REQUIREMENTS.md §2)."""

    reference: str
    title: str
    supplier_id: uuid.UUID
    system_ids: tuple[uuid.UUID, ...] = ()
    proactis_reference: str | None = None
    contract_type: ContractType
    procurement_route: ProcurementRoute | None = None
    start_date: date
    initial_term_end: date
    current_term_end: date
    renewal_type: RenewalType = RenewalType.NONE
    renewal_period_months: int | None = None
    extension_options_left: int = 0
    notice_period_days: int = 0
    internal_lead_time_days: int = 0
    act_by: date | None = None
    annual_value: Decimal | None = None
    total_value: Decimal | None = None
    cost_centre: str | None = None
    below_register_threshold: bool = False
    councils: tuple[str, ...] = ()
    kpis: tuple[ServiceLevel, ...] = ()
    slas: tuple[ServiceLevel, ...] = ()
    status: ContractStatus = ContractStatus.ACTIVE
    signatory_id: uuid.UUID | None = None
    owner_id: uuid.UUID | None = None
    budget_holder_id: uuid.UUID | None = None
    source_request_id: str | None = None
    renewal_decisions: tuple[RenewalDecision, ...] = ()

    KIND = "contract"
    READ_ONLY = frozenset(
        {"id", "version", "created_at", "updated_at", "act_by", "renewal_decisions", "reference"}
    )

    def validate(self) -> None:
        _text(self.reference, "reference", required=True, limit=60)
        _text(self.title, "title", required=True, limit=300)
        for name in ("start_date", "initial_term_end", "current_term_end"):
            if getattr(self, name) is None:
                raise InvalidValue(f"{name} is required", field=name)
        if self.initial_term_end < self.start_date:
            raise InvalidValue("initial_term_end must not be before start_date", field="initial_term_end")
        if self.current_term_end < self.initial_term_end:
            raise InvalidValue(
                "current_term_end must not be before initial_term_end", field="current_term_end"
            )
        for name in ("annual_value", "total_value"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise InvalidValue(f"{name} must not be negative", field=name)
            if value is not None and value.as_tuple().exponent < -2:  # type: ignore[operator]
                raise InvalidValue(f"{name} has more than two decimal places (pence)", field=name)
        for name in ("notice_period_days", "internal_lead_time_days", "extension_options_left"):
            if getattr(self, name) < 0:
                raise InvalidValue(f"{name} must not be negative", field=name)
        if self.renewal_type is RenewalType.TACIT and not self.renewal_period_months:
            raise InvalidValue(
                "renewal_period_months is needed for a tacit (automatic) renewal",
                field="renewal_period_months",
            )
        if self.renewal_period_months is not None and self.renewal_period_months < 1:
            raise InvalidValue("renewal_period_months must be at least 1", field="renewal_period_months")
        if (
            self.annual_value is not None
            and self.total_value is not None
            and self.total_value < self.annual_value
            and (self.current_term_end - self.start_date).days >= 365
        ):
            raise InvalidValue(
                "total_value is less than one year's annual_value for a term of a year or more",
                field="total_value",
            )

    def compute_act_by(self, calendar: WorkingCalendar) -> None:
        """act_by = current term end - supplier notice - internal lead time, moved back to a working day."""
        raw = self.current_term_end - timedelta(days=self.notice_period_days + self.internal_lead_time_days)
        self.act_by = previous_working_day(raw, calendar)

    def check_systems_accept(self, systems: Iterable[System]) -> None:
        """A retired system gets no new active contract."""
        if self.status not in (ContractStatus.ACTIVE, ContractStatus.PENDING):
            return
        for system in systems:
            if system.is_retired:
                raise InvalidTransition(
                    f"system {system.name} ({system.reference}) is retired and cannot be covered by a "
                    f"{self.status} contract",
                    field="system_ids",
                )

    def apply_changes(self, changes: Mapping[str, Any], *, actor: str, at: datetime) -> list[str]:
        changes = dict(changes)
        status = changes.pop("status", None)
        if status is not None and status != self.status:
            self.check_status(status)
        changed = super().apply_changes(changes, actor=actor, at=at)
        if status is not None and status != self.status:
            self.change_status(status, actor=actor, at=at)
            changed.append("status")
        return sorted(changed)

    def check_status(self, to: ContractStatus) -> None:
        allowed = CONTRACT_TRANSITIONS[self.status]
        if to not in allowed:
            options = ", ".join(sorted(allowed)) or f"none: {self.status} is final"
            raise InvalidTransition(
                f"a {self.status} contract cannot become {to} (allowed: {options})", field="status"
            )

    def change_status(self, to: ContractStatus, *, actor: str, at: datetime) -> None:
        self.check_status(to)
        before = self.snapshot()
        previous = self.status
        self.status = to
        self.updated_at = at
        self._record(
            "lifecycle_changed",
            actor=actor,
            at=at,
            before=before,
            from_status=previous.value,
            to_status=to.value,
        )

    def record_renewal_decision(self, decision: RenewalDecision, *, calendar: WorkingCalendar) -> None:
        """Renew and extend move the term end on (extend uses up an extension option); terminate and
        re-procure leave the term as it is. Either way the decision and its rationale are kept."""
        if self.status not in (ContractStatus.ACTIVE, ContractStatus.EXPIRED):
            raise InvalidTransition(
                f"a renewal decision needs an active or expired contract, not a {self.status} one",
                field="status",
            )
        _text(decision.rationale, "rationale", required=True, limit=4000)
        before = self.snapshot()
        if decision.outcome in (RenewalOutcome.RENEW, RenewalOutcome.EXTEND):
            if decision.new_term_end is None or decision.new_term_end <= self.current_term_end:
                raise InvalidValue(
                    f"new_term_end must be after the current term end ({self.current_term_end.isoformat()})",
                    field="new_term_end",
                )
            if decision.outcome is RenewalOutcome.EXTEND:
                if self.extension_options_left < 1:
                    raise InvalidTransition(
                        "no extension options are left on this contract", field="extension_options_left"
                    )
                self.extension_options_left -= 1
            self.current_term_end = decision.new_term_end
            if self.status is ContractStatus.EXPIRED:
                self.status = ContractStatus.ACTIVE
        elif decision.new_term_end is not None:
            raise InvalidValue(
                f"new_term_end is only for renew or extend, not {decision.outcome}", field="new_term_end"
            )
        self.renewal_decisions = (*self.renewal_decisions, decision)
        self.compute_act_by(calendar)
        self.updated_at = decision.decided_at
        self._record(
            "renewal_decision_recorded",
            actor=decision.decided_by,
            at=decision.decided_at,
            before=before,
            decision=to_plain(decision),
        )
