"""Request and response bodies of the register's HTTP API.

Request bodies forbid unknown fields, so that a misspelt field is an error that names it rather than a
silent no-op. Each kind has one ``...Fields`` model listing what a client may set; the create, patch and
response models are derived from it so the three can never drift apart.
"""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, Generic, TypeVar, get_args

from pydantic import AwareDatetime, BaseModel, ConfigDict, EmailStr, Field, StringConstraints, create_model

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
    RenewalOutcome,
    RenewalType,
    RiskRag,
    UsageStatus,
)

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Text = Annotated[str, StringConstraints(max_length=4000)]
Short = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
CouncilCode = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20)]
Pounds = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)]
Days = Annotated[int, Field(ge=0, le=3650)]


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class Output(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class ApiEntryIn(Input):
    name: Short
    docs_url: Annotated[str, StringConstraints(max_length=500)] | None = None
    open_api: bool = False
    real_time: bool = False
    time_based_extracts: bool = False
    test_environment: bool = False


class ServiceLevelIn(Input):
    name: Short
    target: Short
    actual: Short | None = None
    period: Short | None = None


class LifecycleEntryOut(Output):
    stage: LifecycleStage
    on: date
    at: AwareDatetime
    by: str
    note: str
    decided_at: AwareDatetime | None = None


class RenewalDecisionOut(Output):
    id: uuid.UUID
    outcome: RenewalOutcome
    rationale: str
    decided_by: str
    decided_at: AwareDatetime
    new_term_end: date | None


# --- systems ---------------------------------------------------------------------------------------


class SystemFields(Input):
    """What a system records (REQUIREMENTS.md §1.1)."""

    name: Name
    description: Text = ""
    lead_council: CouncilCode = "CCC"
    councils: list[CouncilCode] = Field(default_factory=list, description="Other councils that share it")
    service_area_ids: list[uuid.UUID] = Field(default_factory=list)
    capabilities: list[Short] = Field(
        default_factory=list, description="What it does, for duplication review"
    )
    supplier_id: uuid.UUID | None = None
    product_family: Short | None = None
    lifecycle_stage: LifecycleStage = LifecycleStage.LIVE
    rationalisation_decision: RationalisationDecision = RationalisationDecision.UNDECIDED
    rationalisation_rationale: Text = ""
    disposition: Disposition | None = None
    hosting: Hosting | None = None
    cloud_feasibility: CloudFeasibility = CloudFeasibility.UNKNOWN
    cloud_alternative: Short | None = None
    holds_personal_data: bool | None = None
    personal_data_categories: list[Short] = Field(default_factory=list)
    special_category_data: bool = False
    data_location: Short | None = None
    dpia_status: ComplianceStatus = ComplianceStatus.UNKNOWN
    dpia_date: date | None = None
    ropa_status: ComplianceStatus = ComplianceStatus.UNKNOWN
    ropa_date: date | None = None
    integration_capabilities: list[IntegrationCapability] = Field(default_factory=list)
    api_register: list[ApiEntryIn] = Field(default_factory=list)
    business_criticality: Criticality | None = None
    risk_rag: RiskRag | None = None
    accessibility_level: AccessibilityLevel = AccessibilityLevel.NOT_ASSESSED
    usage_status: UsageStatus = UsageStatus.IN_USE
    resident_facing: bool = False
    procured_outside_ict: bool = False
    system_owner_id: uuid.UUID | None = None
    data_owner_id: uuid.UUID | None = None
    source_request_id: Short | None = None


class SystemIn(SystemFields):
    reference: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)] | None
    ) = Field(default=None, description="Leave out to have one given (SYS-00042)")


class OwnerOut(Output):
    id: uuid.UUID
    name: str
    email: str


class SystemOut(SystemFields):
    model_config = ConfigDict(from_attributes=True, extra="ignore")
    id: uuid.UUID
    reference: str
    version: int
    lifecycle_history: list[LifecycleEntryOut]
    last_validated_at: AwareDatetime | None
    last_validated_by: str | None
    created_at: AwareDatetime
    updated_at: AwareDatetime


class LifecycleChangeIn(Input):
    to: LifecycleStage
    on: date | None = Field(default=None, description="When it happened; today if left out")
    note: Text = ""


# --- contracts -------------------------------------------------------------------------------------


class ContractFields(Input):
    """What a contract records (REQUIREMENTS.md §2)."""

    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
    supplier_id: uuid.UUID
    system_ids: list[uuid.UUID] = Field(default_factory=list)
    proactis_reference: Short | None = None
    contract_type: ContractType
    procurement_route: ProcurementRoute | None = None
    start_date: date
    initial_term_end: date
    current_term_end: date | None = Field(default=None, description="Defaults to initial_term_end")
    renewal_type: RenewalType = RenewalType.NONE
    renewal_period_months: Annotated[int, Field(ge=1, le=120)] | None = None
    extension_options_left: Annotated[int, Field(ge=0, le=20)] = 0
    notice_period_days: Days = 0
    internal_lead_time_days: Days = 0
    annual_value: Pounds | None = None
    total_value: Pounds | None = None
    cost_centre: Short | None = None
    below_register_threshold: bool = False
    councils: list[CouncilCode] = Field(default_factory=list)
    kpis: list[ServiceLevelIn] = Field(default_factory=list)
    slas: list[ServiceLevelIn] = Field(default_factory=list)
    status: ContractStatus = ContractStatus.ACTIVE
    signatory_id: uuid.UUID | None = None
    owner_id: uuid.UUID | None = None
    budget_holder_id: uuid.UUID | None = None
    source_request_id: Short | None = None


class ContractIn(ContractFields):
    reference: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)]


class ContractOut(ContractFields):
    model_config = ConfigDict(from_attributes=True, extra="ignore")
    id: uuid.UUID
    reference: str
    version: int
    current_term_end: date  # type: ignore[assignment]
    act_by: date | None = Field(description="The last working day to act: term end - notice - lead time")
    currency: str = "GBP"
    renewal_decisions: list[RenewalDecisionOut]
    created_at: AwareDatetime
    updated_at: AwareDatetime


class RenewalDecisionIn(Input):
    outcome: RenewalOutcome
    rationale: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]
    new_term_end: date | None = Field(default=None, description="Needed for renew and extend")


# --- suppliers, people, reference data -------------------------------------------------------------


class SupplierFields(Input):
    name: Name
    products: list[Short] = Field(default_factory=list)
    website: Annotated[str, StringConstraints(max_length=500)] | None = None
    notes: Text = ""


class SupplierOut(SupplierFields):
    model_config = ConfigDict(from_attributes=True, extra="ignore")
    id: uuid.UUID
    version: int
    retired: bool
    created_at: AwareDatetime
    updated_at: AwareDatetime


class PersonFields(Input):
    name: Name
    email: EmailStr
    role_titles: list[Short] = Field(default_factory=list)


class PersonOut(PersonFields):
    model_config = ConfigDict(from_attributes=True, extra="ignore")
    id: uuid.UUID
    version: int
    created_at: AwareDatetime
    updated_at: AwareDatetime


class CouncilIn(Input):
    code: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=2, max_length=20, pattern=r"^[A-Z0-9]+$")
    ]
    name: Name


class CouncilOut(Output):
    code: str
    name: str


class ServiceAreaIn(Input):
    name: Name
    council_code: CouncilCode = "CCC"


class ServiceAreaOut(Output):
    id: uuid.UUID
    name: str
    council_code: str


class AuditEntryOut(Output):
    id: int
    record_kind: str
    record_id: str
    action: str
    actor: str
    at: AwareDatetime
    correlation_id: str | None
    changed_fields: list[str]
    before: dict[str, Any] | None
    after: dict[str, Any] | None


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(description="Pass as ?cursor= to get the next page; null on the last")
    total: int | None = Field(
        default=None, description="How many match the filters, when asked for with ?count=true"
    )


def patch_model(fields: type[Input], name: str, **extra: Any) -> type[Input]:
    """A model whose every field is optional, for PATCH: only the fields sent are changed."""
    definitions: dict[str, Any] = dict(extra)
    for field_name, info in fields.model_fields.items():
        definitions[field_name] = (info.annotation | None, Field(default=None, description=info.description))  # type: ignore[operator]
    return create_model(name, __base__=Input, **definitions)


if TYPE_CHECKING:  # to type checkers the PATCH bodies are plain input models
    SystemPatch = Input
    ContractPatch = Input
    SupplierPatch = Input
    PersonPatch = Input
else:
    SystemPatch = patch_model(
        SystemFields,
        "SystemPatch",
        lifecycle_note=(Text, Field(default="", description="Why the lifecycle stage changed, if it did")),
    )
    ContractPatch = patch_model(ContractFields, "ContractPatch")
    SupplierPatch = patch_model(SupplierFields, "SupplierPatch")
    PersonPatch = patch_model(PersonFields, "PersonPatch")


def nullable(fields: type[Input], field_name: str) -> bool:
    info = fields.model_fields.get(field_name)
    if info is None:
        return True
    # Look for None among the union's members: the text of the annotation is no guide, because
    # StringConstraints(pattern=None, ...) prints "None" inside fields that may never be null.
    return info.default is None or type(None) in get_args(info.annotation)
