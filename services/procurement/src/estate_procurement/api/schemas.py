"""Request and response bodies of the procurement service's HTTP API.

Request bodies forbid unknown fields, so that a misspelt field is an error (422) that names it rather than
a silent no-op. Money is a decimal amount in pounds, sent and returned as a string (``"1250.00"``); dates
are ``YYYY-MM-DD`` (Europe/London days); instants are ISO 8601 in UTC. The field descriptions below are
the API's documentation: the staff portal shows them next to the form fields.

Shapes are checked here; the rules that need the whole request (what a submission still lacks, which
transitions the state allows, what a decision needs) are the domain's, and come back as 409 or 422
problems naming the field.
"""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from estate_procurement.domain.values import (
    ChargingOption,
    Hosting,
    IntegrationApproach,
    OptionKind,
    Outcome,
    Priority,
    Rag,
    Rating,
    RequestCategory,
    RequestState,
    WcagLevel,
)

Short = Annotated[str, StringConstraints(max_length=300)]
Long = Annotated[str, StringConstraints(max_length=20_000)]
Code = Annotated[str, StringConstraints(min_length=1, max_length=100)]
Said = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20_000)]
CouncilCode = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9]{1,19}$")]
Pounds = Annotated[
    Decimal,
    Field(ge=0, lt=Decimal(10) ** 13, decimal_places=2, examples=["1250.00"]),
]


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Output(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# --- people -----------------------------------------------------------------------------------------


class PersonIn(Input):
    """A member of staff: the identity provider's subject id, display name and e-mail."""

    id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] = Field(
        description="Their identity-provider subject (the `sub` of their token)"
    )
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
    email: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]


class PersonOut(Output):
    id: str
    name: str
    email: str


# --- the content of a request (REQUIREMENTS §3.4, R1-R27) ---------------------------------------------


class UserStoryIn(Input):
    text: Said = Field(description='"As a ... I need ... so that ..."')
    priority: Priority = Field(description="MoSCoW priority (R27): must, should, could, wont")


class OptionIn(Input):
    kind: OptionKind = Field(description="build, buy or reuse")
    description: Said = Field(description="The option, e.g. the product or the existing system to extend")
    reason: Long = Field(default="", description="Why it was chosen or rejected")
    chosen: bool = Field(default=False, description="True for the one option the request proposes")


class RiskIn(Input):
    risk: Said = Field(description="A security, compliance or operational risk")
    mitigation: Long = Field(default="", description="How it will be mitigated (needed to submit)")
    rag: Rag = Field(default=Rag.AMBER, description="red, amber or green")


class RequestFields(Input):
    """What a requester fills in. A draft may leave anything out; submitting needs the request to be
    complete (the answer then lists every missing part at once). In a PATCH, only the fields sent change,
    and null empties a field."""

    title: Short | None = Field(default=None, description="A short title (R1)")
    service_area: Code | None = Field(default=None, description="The service area that is asking (R22)")
    problem_statement: Long | None = Field(default=None, description="The problem and why it is one (R1)")
    user_need: Long | None = Field(default=None, description="Who has the problem and what they need (R1)")
    business_requirements: Long | None = Field(default=None, description="What the solution must do (R2)")
    user_stories: list[UserStoryIn] | None = Field(
        default=None, description="User stories with MoSCoW priorities; at least one must (R3, R27)"
    )
    technical_specification: Long | None = Field(default=None, description="What is known of it (R4)")
    strategic_alignment: Long | None = Field(
        default=None, description="How it supports the council's objectives and operating model (R7)"
    )
    legal_considerations: Long | None = Field(default=None, description="Legal and regulatory points (R6)")
    options_considered: list[OptionIn] | None = Field(
        default=None, description="The options appraisal: at least two of build, buy, re-use (R8)"
    )
    single_option_justification: Long | None = Field(
        default=None, description="Why only one option was considered, if so"
    )
    proposed_product: Short | None = Field(default=None, description="The product proposed")
    proposed_supplier: Short | None = Field(default=None, description="Its supplier")
    capabilities: list[Code] | None = Field(
        default=None, description="What the solution must do, as capabilities (e.g. asset management)"
    )
    initial_cost: Pounds | None = Field(default=None, description="One-off cost in pounds (R14)")
    annual_cost: Pounds | None = Field(
        default=None, description="Yearly total in pounds: licences, support, hosting (R14)"
    )
    annual_licence_cost: Pounds | None = Field(default=None, description="Of which licences")
    annual_maintenance_cost: Pounds | None = Field(default=None, description="Of which maintenance")
    expected_annual_savings: Pounds | None = Field(default=None, description="Cashable savings a year (R14)")
    non_monetary_benefits: Long | None = Field(default=None, description="Benefits that are not money (R14)")
    budget_source: Long | None = Field(default=None, description="Which budget pays (R23)")
    holds_personal_data: bool | None = Field(default=None, description="Will it hold personal data (R11)")
    personal_data_categories: list[Short] | None = Field(
        default=None, description="The kinds of personal data it will hold"
    )
    dpia_needed: bool | None = Field(default=None, description="Is a DPIA needed (R11)")
    hosting: Hosting | None = Field(default=None, description="on_premises, saas, cloud or hybrid")
    integration_approach: IntegrationApproach | None = Field(
        default=None, description="restful_api, middleware, bulk_file or none (R9)"
    )
    integration_detail: Long | None = Field(default=None, description="What data flows to and from what")
    integration_justification: Long | None = Field(
        default=None, description="Why not a RESTful API, when another approach is proposed"
    )
    accessibility_assessment: Long | None = Field(default=None, description="WCAG and inclusion (R13)")
    wcag_level: WcagLevel | None = Field(default=None, description="A, AA, AAA or not_met")
    scalability: Long | None = Field(
        default=None, description="Scalability and flexibility, of the system and of the contract (R16)"
    )
    performance_reliability: Long | None = Field(
        default=None, description="Uptime, response times, fault tolerance, supplier targets (R17)"
    )
    knowledge_transfer: Long | None = Field(default=None, description="Knowledge transfer and training (R18)")
    risks: list[RiskIn] | None = Field(default=None, description="Risks with mitigations and RAG (R10)")
    stakeholders_engaged: list[Short] | None = Field(
        default=None, description="Who has been engaged: service areas, ICT, end users, the market (R15)"
    )
    success_criteria: Long | None = Field(default=None, description="How you will know it worked (R19)")
    pilot_plan: Long | None = Field(
        default=None, description="How it will be piloted before full-scale implementation (R24)"
    )
    existing_contracts_and_legacy: Long | None = Field(
        default=None, description="Contracts affecting the service, legacy technology, existing systems (R20)"
    )
    councils_in_scope: list[CouncilCode] | None = Field(
        default=None, description="Council codes it is for, e.g. CCC, SCDC, HDC (R26)"
    )
    category: RequestCategory | None = Field(default=None, description="it or iot_protech (R25)")
    renews_or_replaces_contract_id: uuid.UUID | None = Field(
        default=None, description="The register contract this renews or replaces, if any"
    )
    data_extraction_clauses: bool | None = Field(
        default=None, description="Does the tender include the App M data extraction clauses (R21)"
    )
    api_clauses: bool | None = Field(default=None, description="Does it include the App M API clauses (R21)")
    clause_charging: ChargingOption | None = Field(
        default=None, description="Are the data and API features free, or their charges itemised (R21)"
    )
    expected_start_date: date | None = Field(default=None, description="When it should start")
    term_months: Annotated[int, Field(ge=1, le=600)] | None = Field(
        default=None, description="Contract term in months"
    )
    system_owner: PersonIn | None = Field(
        default=None,
        description="Who will own the system once in use (R22); needed to submit. The register links it by "
        "e-mail to the system's owner",
    )
    contract_owner: PersonIn | None = Field(
        default=None, description="Who will own and manage the contract (R22); optional"
    )
    budget_holder: PersonIn | None = Field(
        default=None,
        description="Whose budget pays for it (R22); needed to submit. The register tells them of renewals",
    )
    signatory: PersonIn | None = Field(
        default=None, description="Who will sign the contract for the council (R22); optional"
    )


def content_of(body: BaseModel, *, only_sent: bool) -> dict[str, Any]:
    """The domain's field values from a body: every field, or only those the client sent (PATCH)."""
    return body.model_dump(mode="python", exclude_unset=only_sent)


# --- transitions --------------------------------------------------------------------------------------


class InformationRequestIn(Input):
    questions: list[Said] = Field(min_length=1, max_length=50, description="At least one question")
    due_date: date | None = Field(default=None, description="When the answers are wanted by (not past)")


class ResubmitIn(Input):
    answers: Said = Field(description="The answers to the TDA's questions")
    changes: RequestFields | None = Field(
        default=None, description="Changes to the request made at the same time (only the fields sent)"
    )


class ReasonIn(Input):
    reason: Said = Field(description="Why; kept on the request's history and in the audit trail")


class ConditionIn(Input):
    """A condition of a conditional approval: who must do what by when."""

    text: Said = Field(description="What must be done")
    owner: PersonIn = Field(description="Who must do it (they may record it as met)")
    due_date: date | None = Field(default=None, description="Due by this date; or give due_in_working_days")
    due_in_working_days: Annotated[int, Field(ge=1, le=1000)] | None = Field(
        default=None, description="Due this many working days after the decision; or give due_date"
    )


class ProposedSystemIn(Input):
    """The chair's corrections to the system an approval proposes to the register (taken from the
    request where left out)."""

    name: Short | None = None
    description: Long | None = None
    service_areas: list[Code] | None = None
    capabilities: list[Code] | None = None
    supplier_name: Short | None = None
    supplier_id: uuid.UUID | None = Field(default=None, description="The register's supplier, if known")
    product_family: Short | None = None
    hosting: Hosting | None = None
    holds_personal_data: bool | None = None
    councils_in_scope: list[CouncilCode] | None = None
    estimated_annual_value: Pounds | None = None
    estimated_initial_cost: Pounds | None = None
    expected_start_date: date | None = None
    term_months: Annotated[int, Field(ge=1, le=600)] | None = None
    linked_contract_id: uuid.UUID | None = None
    system_owner: PersonIn | None = Field(default=None, description="The system owner (R22)")
    contract_owner: PersonIn | None = Field(default=None, description="The contract owner (R22)")
    budget_holder: PersonIn | None = Field(default=None, description="The budget holder (R22)")
    signatory: PersonIn | None = Field(default=None, description="The contract signatory (R22)")


class DecisionIn(Input):
    outcome: Outcome = Field(description="approved, approved_with_conditions or not_approved")
    rationale: Said = Field(description="Why the TDA decided so (published with the decision)")
    conditions: list[ConditionIn] = Field(
        default_factory=list, max_length=100, description="Exactly when approved_with_conditions: one or more"
    )
    proposed_system: ProposedSystemIn | None = Field(
        default=None, description="Corrections to the system proposed to the register (approvals only)"
    )
    override_red_lines: bool = Field(
        default=False,
        description="Approving against a red line rated not met must be deliberate: set this (and say why in "
        "the rationale); the decision records which red lines were overridden. An approval is refused "
        "while a red line is unrated, whatever this says",
    )


class RatingIn(Input):
    rating: Rating = Field(description="met, partly_met, not_met or not_applicable")
    comment: Long | None = Field(default=None, description="Needed for partly_met and not_met")
    evidence_url: Annotated[str, StringConstraints(max_length=2000)] | None = Field(
        default=None, description="An http(s) link to the evidence"
    )


class ConditionMetIn(Input):
    evidence: Said = Field(description="What shows the condition is met (or a link to it)")


class CandidateQueryIn(Input):
    """An unsaved request form, to see existing systems and past decisions while typing."""

    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
    text: Long = Field(default="", description="Problem, need, requirements: any words that describe it")
    capabilities: list[Code] = Field(default_factory=list)
    product: Short | None = None
    supplier: Short | None = None
    service_area: Code | None = None


# --- responses ----------------------------------------------------------------------------------------


class UserStoryOut(Output):
    text: str
    priority: Priority


class OptionOut(Output):
    kind: OptionKind
    description: str
    reason: str
    chosen: bool


class RiskOut(Output):
    risk: str
    mitigation: str
    rag: Rag


class MissingOut(Output):
    field: str = Field(description="The field to fill in (e.g. risks[0].mitigation)")
    message: str = Field(description="What to do, in words a requester can act on")


class StateEntryOut(Output):
    state: RequestState
    entered_at: AwareDatetime
    by: PersonOut
    note: str


class InformationRequestOut(Output):
    number: int
    questions: list[str]
    due_date: date | None
    asked_by: PersonOut
    asked_at: AwareDatetime
    answers: str | None
    answered_by: PersonOut | None
    answered_at: AwareDatetime | None


class TimeInStateOut(Output):
    state: RequestState
    visits: int
    working_days: int
    hours: Decimal


class AgeingOut(Output):
    state: RequestState
    since: AwareDatetime = Field(description="When the request entered its current state")
    working_days_in_state: int
    hours_in_state: Decimal
    threshold_working_days: int
    waiting: bool = Field(description="True when it has waited longer than the threshold (flagged)")
    waiting_on: Literal["tda", "requester"] | None = Field(description="Who owes the next step")
    message: str
    time_in_states: list[TimeInStateOut]


class ConditionMetOut(Output):
    evidence: str
    met_by: PersonOut
    met_at: AwareDatetime


ConditionProgress = Literal["open", "met", "superseded"]
OverrodeRedLines = Annotated[
    list[str], Field(description="The red lines rated not met that the chair approved against (override)")
]


class ConditionOut(Output):
    id: uuid.UUID
    text: str
    owner: PersonOut
    due_date: date
    status: ConditionProgress = Field(
        description="open, met, or superseded: still open when a later decision replaced the one it is of"
    )
    overdue: bool = Field(
        description="Still open after its due date, on the latest decision of a request that stands decided"
    )
    met: ConditionMetOut | None


class ProposedSystemOut(Output):
    name: str
    description: str
    service_areas: list[str]
    capabilities: list[str]
    supplier_name: str
    supplier_id: uuid.UUID | None
    product_family: str | None
    hosting: Hosting
    holds_personal_data: bool
    councils_in_scope: list[str]
    estimated_annual_value: Decimal
    estimated_initial_cost: Decimal
    expected_start_date: date | None
    term_months: int | None
    linked_contract_id: uuid.UUID | None
    system_owner: PersonOut | None = Field(default=None, description="The system owner (R22)")
    contract_owner: PersonOut | None = Field(default=None, description="The contract owner (R22)")
    budget_holder: PersonOut | None = Field(default=None, description="The budget holder (R22)")
    signatory: PersonOut | None = Field(default=None, description="The contract signatory (R22)")


class DecisionOut(Output):
    round: int
    outcome: Outcome
    rationale: str
    decided_by: PersonOut
    decided_at: AwareDatetime
    recommended_outcome: Outcome = Field(description="What the checklist scores recommended")
    recommendation_reasons: list[str]
    differs_from_recommendation: bool
    overall_score: Decimal | None
    coverage: Decimal
    checklist_version: str
    conditions: list[ConditionOut]
    proposed_system: ProposedSystemOut | None
    overrode_red_lines: OverrodeRedLines


class RoundOut(Output):
    number: int
    checklist_version: str = Field(description="The checklist version this round is pinned to")
    started_at: AwareDatetime
    started_by: PersonOut
    ratings: int = Field(description="How many ratings have been given in this round")
    decided: bool


class RequestOut(RequestFields):
    """A technology request as the caller may see it. ``actions`` lists what the caller may do next."""

    model_config = ConfigDict(extra="ignore", from_attributes=True)

    id: uuid.UUID
    reference: str = Field(description="e.g. TR-2026-0042")
    version: int = Field(description="Goes up with every change; the ETag carries it")
    state: RequestState
    requester: PersonOut
    created_at: AwareDatetime
    updated_at: AwareDatetime
    submitted_at: AwareDatetime | None
    missing: list[MissingOut] = Field(description="What still stops submission (drafts only)")
    actions: list[str] = Field(description="What the caller may do next, e.g. submit, decide, rate")
    ageing: AgeingOut
    history: list[StateEntryOut]
    information_requests: list[InformationRequestOut]
    rounds: list[RoundOut]
    latest_decision: DecisionOut | None
    decisions: list[DecisionOut] = Field(description="Every decision, oldest first (reopening adds one)")
    conditions: list[ConditionOut] = Field(description="The latest decision's conditions, with progress")
    user_stories: list[UserStoryOut] | None = None  # type: ignore[assignment]
    options_considered: list[OptionOut] | None = None  # type: ignore[assignment]
    risks: list[RiskOut] | None = None  # type: ignore[assignment]
    system_owner: PersonOut | None = Field(  # type: ignore[assignment]
        default=None, description="Who will own the system once in use (R22)"
    )
    contract_owner: PersonOut | None = Field(  # type: ignore[assignment]
        default=None, description="Who will own and manage the contract (R22)"
    )
    budget_holder: PersonOut | None = Field(  # type: ignore[assignment]
        default=None, description="Whose budget pays for it (R22)"
    )
    signatory: PersonOut | None = Field(  # type: ignore[assignment]
        default=None, description="Who will sign the contract for the council (R22)"
    )


class RequestSummaryOut(Output):
    """One row of a list of requests."""

    id: uuid.UUID
    reference: str
    version: int
    title: str | None
    state: RequestState
    state_since: AwareDatetime = Field(description="When it entered its current state")
    requester: PersonOut
    service_area: str | None
    category: RequestCategory | None
    created_at: AwareDatetime
    updated_at: AwareDatetime
    submitted_at: AwareDatetime | None
    waiting: bool = Field(description="Flagged: waited longer than the threshold in its state")
    waiting_working_days: int = Field(description="Working days in its current state")
    waiting_on: Literal["tda", "requester"] | None = Field(description="Who owes the next step")
    latest_outcome: Outcome | None
    decided_at: AwareDatetime | None


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(description="Pass as ?cursor= to get the next page; null on the last")
    total: int | None = Field(
        default=None, description="How many match the filters, when asked for with ?count=true"
    )


class RatingOut(Output):
    item_id: str
    reviewer: PersonOut
    rating: Rating
    comment: str | None
    evidence_url: str | None
    rated_at: AwareDatetime


class RatingsOut(Output):
    round: int
    checklist_version: str
    ratings: list[RatingOut]


class ItemScoreOut(Output):
    item_id: str
    score: Decimal | None = Field(description="Mean of the reviewers' counted ratings (met 1, partly 0.5)")
    ratings: int
    not_met_by: list[str]
    red_line: bool


class RuleScoreOut(Output):
    rule_id: str
    title: str
    score: Decimal | None
    items_rated: int
    items: int


class ScoresOut(Output):
    round: int
    checklist_version: str
    overall: Decimal | None = Field(description="Weighted mean over rated items, 0..1; null before any")
    coverage: Decimal = Field(description="Share of the checklist's items rated by at least one reviewer")
    items_rated: int
    items: int
    reviewers: list[str]
    rules: list[RuleScoreOut]
    item_scores: list[ItemScoreOut]


class RecommendationOut(Output):
    round: int
    outcome: Outcome
    reasons: list[str] = Field(description="Why, in words: red lines hit, thresholds, weak rules, coverage")
    red_lines_hit: list[str] = Field(description="Red-line items rated not_met by a reviewer")
    complete: bool = Field(
        description="False while a required item (every Appendix K item and every red line) is unrated: "
        "the recommendation is then 'not yet', and outcome only says what the ratings so far point to"
    )
    unrated: list[str] = Field(description="The required items nobody has rated yet")
    scores: ScoresOut


class ChecklistItemOut(Output):
    id: str
    text: str
    weight: Decimal
    red_line: bool
    source: str


class ChecklistRuleOut(Output):
    id: str
    title: str
    items: list[ChecklistItemOut]


class ChecklistSectionOut(Output):
    id: str
    title: str
    rules: list[ChecklistRuleOut]


class ChecklistSummaryOut(Output):
    key: str = Field(description="e.g. tda-review@1: the id and version a review pins")
    id: str
    version: int
    title: str
    current: bool = Field(description="True for the version new reviews use")


class ChecklistOut(ChecklistSummaryOut):
    notes: str
    threshold_approve: Decimal
    threshold_conditional: Decimal
    red_lines: list[str] = Field(description="Items that force not_approved when rated not_met")
    sections: list[ChecklistSectionOut]


class CandidateOut(Output):
    kind: Literal["system", "decision"] = Field(description="A register system or a past TDA decision")
    id: uuid.UUID = Field(description="The system's id, or the decided request's id")
    reference: str
    name: str
    score: float = Field(description="0..1, higher is closer")
    reasons: list[str] = Field(description="Why it is shown, in words")


class ConditionEntryOut(ConditionOut):
    """A condition with the request it belongs to."""

    request_id: uuid.UUID
    reference: str
    title: str | None


class DecisionLogEntryOut(Output):
    request_id: uuid.UUID
    reference: str
    title: str | None
    round: int
    outcome: Outcome
    rationale: str
    decided_by: PersonOut
    decided_at: AwareDatetime
    recommended_outcome: Outcome
    checklist_version: str
    conditions: list[ConditionOut]
    overrode_red_lines: OverrodeRedLines


class AuditEntryOut(Output):
    """One audited fact: who did what when, the state before and after, and what it changed."""

    id: int = Field(description="Grows in the order the facts were written")
    action: str = Field(description="created, content_changed, submitted, item_rated, decided, ...")
    actor: PersonOut
    at: AwareDatetime
    from_state: RequestState | None
    to_state: RequestState
    correlation_id: str | None
    changed_fields: list[str] = Field(description="The fields a draft edit changed")
    detail: dict[str, Any] = Field(description="What the action carried: reason, questions, rating...")
    before: dict[str, Any] | None = Field(description="The request before an edit (with snapshots=true)")
    after: dict[str, Any] | None = Field(description="The request after the fact (with snapshots=true)")


class MeOut(Output):
    id: str = Field(description="The token's subject")
    name: str
    email: str | None
    roles: list[str]
    can: list[str] = Field(
        description="raise_requests, review, decide, read_all_requests, read_audit: what the roles allow"
    )
