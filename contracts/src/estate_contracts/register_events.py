"""Events the register publishes (v1).

Register events carry the whole record as it stands after the change (event-carried state transfer), so a
consumer can keep its own read model from the events alone, without calling the register back. Names of
the supplier, service areas and owners travel with the ids, so alerts and duplicate checks can speak to
people in words. Enumerated values travel as plain strings: a consumer must tolerate a value it does not
know yet (the register may add a lifecycle stage without a new event version).
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from estate_contracts.common import Money
from estate_contracts.envelope import EventPayload
from estate_contracts.registry import event
from estate_contracts.topics import REGISTER_CONTRACTS, REGISTER_SUPPLIERS, REGISTER_SYSTEMS

SOURCE = "/estate/register"


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class Ref(_Part):
    """A record referred to by id, with the name a person would recognise."""

    id: uuid.UUID
    name: str


class PersonRef(_Part):
    id: uuid.UUID
    name: str
    email: str


class ApiEntry(_Part):
    name: str
    docs_url: str | None = None
    open_api: bool = False
    real_time: bool = False
    time_based_extracts: bool = False
    test_environment: bool = False


class ServiceLevel(_Part):
    name: str
    target: str
    actual: str | None = None
    period: str | None = None


class LifecycleEntry(_Part):
    stage: str
    on: date
    at: AwareDatetime
    by: str
    note: str = ""


class RenewalDecision(_Part):
    id: uuid.UUID
    outcome: str = Field(description="renew | extend | reprocure | terminate")
    rationale: str
    decided_by: str
    decided_at: AwareDatetime
    new_term_end: date | None = None


class SystemSnapshot(_Part):
    """A system as the register holds it after the change."""

    id: uuid.UUID
    version: int
    reference: str
    name: str
    description: str = ""
    lead_council: str
    councils: list[str] = Field(default_factory=list)
    service_areas: list[Ref] = Field(default_factory=list)
    capabilities: list[str] = Field(default_factory=list)
    supplier: Ref | None = None
    product_family: str | None = None
    lifecycle_stage: str = Field(
        description="proposed | planned | in_procurement | implementing | live | under_review | "
        "decommissioning | retired"
    )
    lifecycle_history: list[LifecycleEntry] = Field(default_factory=list)
    rationalisation_decision: str = "undecided"
    disposition: str | None = None
    hosting: str | None = None
    cloud_feasibility: str = "unknown"
    holds_personal_data: bool | None = None
    personal_data_categories: list[str] = Field(default_factory=list)
    special_category_data: bool = False
    dpia_status: str = "unknown"
    ropa_status: str = "unknown"
    integration_capabilities: list[str] = Field(default_factory=list)
    api_register: list[ApiEntry] = Field(default_factory=list)
    business_criticality: str | None = None
    risk_rag: str | None = None
    accessibility_level: str = "not_assessed"
    usage_status: str = "in_use"
    resident_facing: bool = False
    procured_outside_ict: bool = False
    system_owner: PersonRef | None = None
    data_owner: PersonRef | None = None
    last_validated_at: AwareDatetime | None = None
    source_request_id: str | None = None
    updated_at: AwareDatetime


class ContractSnapshot(_Part):
    """A contract as the register holds it after the change, with its derived act-by date."""

    id: uuid.UUID
    version: int
    reference: str
    title: str
    supplier: Ref
    systems: list[Ref] = Field(default_factory=list)
    proactis_reference: str | None = None
    contract_type: str
    procurement_route: str | None = None
    start_date: date
    initial_term_end: date
    current_term_end: date
    renewal_type: str = Field(description="tacit | express | none")
    renewal_period_months: int | None = None
    extension_options_left: int = 0
    notice_period_days: int = 0
    internal_lead_time_days: int = 0
    act_by: date | None = Field(
        default=None,
        description="current_term_end - notice_period_days - internal_lead_time_days, moved back to the "
        "previous working day in England and Wales",
    )
    annual_value: Money | None = None
    total_value: Money | None = None
    currency: Literal["GBP"] = "GBP"
    cost_centre: str | None = None
    below_register_threshold: bool = False
    councils: list[str] = Field(default_factory=list)
    status: str = Field(description="pending | active | cancelled | terminated | expired")
    signatory: PersonRef | None = None
    owner: PersonRef | None = None
    budget_holder: PersonRef | None = None
    source_request_id: str | None = None
    latest_renewal_decision: RenewalDecision | None = None
    updated_at: AwareDatetime


class SupplierSnapshot(_Part):
    id: uuid.UUID
    version: int
    name: str
    products: list[str] = Field(default_factory=list)
    website: str | None = None
    retired: bool = False
    updated_at: AwareDatetime


class _SystemEvent(EventPayload):
    topic: ClassVar[str] = REGISTER_SYSTEMS
    key_field: ClassVar[str] = "system.id"
    system: SystemSnapshot


@event
class SystemRecorded(_SystemEvent):
    """A system was added to the register (by hand, by survey import or from an approved request)."""

    event_type: ClassVar[str] = "estate.register.system.recorded"


@event
class SystemChanged(_SystemEvent):
    """Fields of a system changed; ``changed_fields`` names them."""

    event_type: ClassVar[str] = "estate.register.system.changed"
    changed_fields: list[str]


@event
class SystemLifecycleChanged(_SystemEvent):
    """A system moved to another lifecycle stage (not to retired: that is SystemRetired)."""

    event_type: ClassVar[str] = "estate.register.system.lifecycle_changed"
    from_stage: str
    to_stage: str


@event
class SystemRetired(_SystemEvent):
    """A system reached the end of its life; it can get no new active contract."""

    event_type: ClassVar[str] = "estate.register.system.retired"
    from_stage: str


class _ContractEvent(EventPayload):
    topic: ClassVar[str] = REGISTER_CONTRACTS
    key_field: ClassVar[str] = "contract.id"
    contract: ContractSnapshot


@event
class ContractRecorded(_ContractEvent):
    event_type: ClassVar[str] = "estate.register.contract.recorded"


@event
class ContractChanged(_ContractEvent):
    event_type: ClassVar[str] = "estate.register.contract.changed"
    changed_fields: list[str]


@event
class ContractLifecycleChanged(_ContractEvent):
    """The contract's status changed (pending → active, active → expired, expired → active)."""

    event_type: ClassVar[str] = "estate.register.contract.lifecycle_changed"
    from_status: str
    to_status: str


@event
class ContractRetired(_ContractEvent):
    """The contract was terminated or cancelled: a final status, no renewal alerts are due."""

    event_type: ClassVar[str] = "estate.register.contract.retired"
    from_status: str
    to_status: str


@event
class RenewalDecisionRecorded(_ContractEvent):
    """The owner decided what happens at the end of the term; alerts for this term stop."""

    event_type: ClassVar[str] = "estate.register.contract.renewal_decision_recorded"
    decision: RenewalDecision


class _SupplierEvent(EventPayload):
    topic: ClassVar[str] = REGISTER_SUPPLIERS
    key_field: ClassVar[str] = "supplier.id"
    supplier: SupplierSnapshot


@event
class SupplierRecorded(_SupplierEvent):
    event_type: ClassVar[str] = "estate.register.supplier.recorded"


@event
class SupplierChanged(_SupplierEvent):
    event_type: ClassVar[str] = "estate.register.supplier.changed"
    changed_fields: list[str]


@event
class SupplierRetired(_SupplierEvent):
    """The supplier is no longer used; its records stay for history."""

    event_type: ClassVar[str] = "estate.register.supplier.retired"
