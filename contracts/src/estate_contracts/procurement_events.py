"""Events the procurement service publishes about technology requests (version 1).

All go to the ``estate.procurement.requests`` topic keyed by the request id, so one request's events are
read in the order they happened: submitted, review started, any information requests each followed by a
resubmission, then a decision or a withdrawal, then conditions met one by one after a conditional
approval. Only the TDA chair can reopen a decided or withdrawn request (with a reason); the review then
starts again and ends in a new decision, so a consumer must expect a later decision to supersede an
earlier one for the same request.

Every event after ``submitted`` repeats the request's human-readable ``reference`` so that a consumer can
tell a person which request it is about without keeping a projection; the events that concern the
requester (information requested, decided) also carry the requester, so the notifications service can
write to them directly.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, ClassVar, Literal, Self

from pydantic import AwareDatetime, Field, model_validator

from estate_contracts.common import (
    ContractModel,
    CouncilCode,
    Hosting,
    LongText,
    Money,
    Person,
    ReferenceCode,
    RequestCategory,
    ShortText,
)
from estate_contracts.envelope import EventPayload
from estate_contracts.registry import event
from estate_contracts.topics import PROCUREMENT_REQUESTS

SOURCE = "/estate/procurement"
"""The envelope ``source`` of every event in this module."""

__all__ = [
    "SOURCE",
    "DecisionCondition",
    "DecisionOutcome",
    "ProposedSystem",
    "RequestConditionMet",
    "RequestDecided",
    "RequestInformationRequested",
    "RequestReopened",
    "RequestResubmitted",
    "RequestReviewStarted",
    "RequestSubmitted",
    "RequestWithdrawn",
]

DecisionOutcome = Literal["approved", "approved_with_conditions", "not_approved"]
"""The three outcomes a TDA decision can have (approval, conditional approval, non-approval)."""

RequestId = Annotated[
    uuid.UUID, Field(description="Id of the technology request; also the Kafka key and envelope subject.")
]
RequestReference = Annotated[
    ShortText, Field(description="Human-readable request reference, e.g. TR-2025-0042.")
]


@event
class RequestSubmitted(EventPayload):
    """A service manager submitted a technology request for TDA review.

    Every system or licence request is submitted, whatever its value; a renewal or replacement names the
    register contract it concerns. Estimated costs are absent when the requester could not yet give one.
    """

    event_type: ClassVar[str] = "estate.procurement.request.submitted"
    event_version: ClassVar[int] = 1
    topic: ClassVar[str] = PROCUREMENT_REQUESTS
    key_field: ClassVar[str] = "request_id"

    request_id: RequestId
    reference: RequestReference
    title: ShortText = Field(description="Short title given by the requester.")
    requester: Person = Field(description="The service manager who submitted the request.")
    service_area: ReferenceCode = Field(description="Register code of the requesting service area.")
    category: RequestCategory = Field(description="Traditional IT, or IoT / pro-tech.")
    problem_summary: LongText = Field(description="The problem to solve and the users who have it.")
    proposed_product: ShortText | None = Field(default=None, description="Product the requester has in mind.")
    proposed_supplier: ShortText | None = Field(
        default=None, description="Supplier the requester has in mind."
    )
    capabilities_needed: list[ReferenceCode] = Field(
        default_factory=list, description="Register capability codes the solution must provide."
    )
    estimated_initial_cost: Money | None = Field(
        default=None, description="One-off cost estimate (GBP): implementation, migration, first licences."
    )
    estimated_annual_cost: Money | None = Field(
        default=None, description="Recurring cost estimate per year (GBP): licences, support, hosting."
    )
    councils_in_scope: list[CouncilCode] = Field(
        min_length=1, description="Councils the request is for (1, 2 or 3 in a shared ICT service)."
    )
    renews_or_replaces_contract_id: uuid.UUID | None = Field(
        default=None, description="Register contract this request renews or replaces, if any."
    )
    submitted_at: AwareDatetime = Field(description="When the request was submitted.")


@event
class RequestInformationRequested(EventPayload):
    """A TDA member asked the requester for more information; the request waits for the answers.

    There is at least one question; the due date, when given, is the date the TDA needs the answers by.
    """

    event_type: ClassVar[str] = "estate.procurement.request.information_requested"
    event_version: ClassVar[int] = 1
    topic: ClassVar[str] = PROCUREMENT_REQUESTS
    key_field: ClassVar[str] = "request_id"

    request_id: RequestId
    reference: RequestReference
    requester: Person = Field(description="The requester, who is asked to answer.")
    asked_by: Person = Field(description="The TDA member who asked.")
    questions: list[LongText] = Field(min_length=1, description="The questions, in the order asked.")
    due_date: date | None = Field(default=None, description="Date the answers are needed by, if any.")
    requested_at: AwareDatetime = Field(description="When the information was requested.")


class DecisionCondition(ContractModel):
    """A condition of a conditional approval: an action with one owner and a due date."""

    condition_id: uuid.UUID = Field(
        description="Stable id of the condition; RequestConditionMet refers to it."
    )
    text: LongText = Field(description="What must be done.")
    owner: Person = Field(description="Who must do it.")
    due_date: date = Field(description="Date it must be done by.")


class ProposedSystem(ContractModel):
    """The system an approval lets the council acquire, as the register should record it.

    The register creates a *planned* system with a draft contract from these fields; values are the TDA's
    best estimates at decision time, to be replaced by the signed contract's.
    """

    name: ShortText = Field(description="Name of the system.")
    description: LongText = Field(description="What the system does and for whom.")
    service_areas: list[ReferenceCode] = Field(
        min_length=1, description="Register codes of the service areas."
    )
    capabilities: list[ReferenceCode] = Field(
        default_factory=list, description="Register capability codes it provides."
    )
    supplier_name: ShortText = Field(description="Supplier's name as it should appear in the register.")
    supplier_id: uuid.UUID | None = Field(
        default=None, description="Register supplier id, when the supplier is already registered."
    )
    product_family: ShortText | None = Field(
        default=None, description="Supplier's product or product family."
    )
    hosting: Hosting = Field(description="Where the system will run.")
    holds_personal_data: bool = Field(
        description="Whether it will hold personal data (a DPIA is then needed)."
    )
    councils_in_scope: list[CouncilCode] = Field(min_length=1, description="Councils the system will serve.")
    estimated_annual_value: Money = Field(description="Estimated recurring cost per year (GBP).")
    estimated_initial_cost: Money = Field(description="Estimated one-off cost (GBP).")
    expected_start_date: date | None = Field(default=None, description="Expected contract start, if known.")
    term_months: int | None = Field(
        default=None, ge=1, description="Expected initial term in months, if known."
    )
    linked_contract_id: uuid.UUID | None = Field(
        default=None, description="Existing register contract this system renews or replaces, if any."
    )
    system_owner: Person | None = Field(
        default=None,
        description="Who will own the system once in use (REQUIREMENTS R22); the register matches them to "
        "its people by e-mail.",
    )
    contract_owner: Person | None = Field(
        default=None,
        description="Who will own and manage the contract (R22); matched to the register's people by e-mail.",
    )
    budget_holder: Person | None = Field(
        default=None,
        description="Whose budget pays for the system and who is told of renewals (R22); matched by e-mail.",
    )
    signatory: Person | None = Field(
        default=None,
        description="Who will sign the contract for the council (R22); matched by e-mail.",
    )


@event
class RequestDecided(EventPayload):
    """The TDA decided a request, with a rationale; a request is decided once per review round (the chair
    may reopen it, and the next decision supersedes this one).

    Invariants: an approval (with or without conditions) carries the proposed system and a non-approval
    carries none; ``approved_with_conditions`` has at least one condition and the other outcomes have
    none; condition ids are unique within the decision.
    """

    event_type: ClassVar[str] = "estate.procurement.request.decided"
    event_version: ClassVar[int] = 1
    topic: ClassVar[str] = PROCUREMENT_REQUESTS
    key_field: ClassVar[str] = "request_id"

    request_id: RequestId
    reference: RequestReference
    requester: Person = Field(description="The requester, who is told of the decision.")
    outcome: DecisionOutcome = Field(description="Approval, conditional approval or non-approval.")
    rationale: LongText = Field(description="Why the TDA decided so; published in the decision log.")
    decided_by: Person = Field(description="The TDA chair (or delegate) who recorded the decision.")
    decided_at: AwareDatetime = Field(description="When the decision was recorded.")
    conditions: list[DecisionCondition] = Field(
        default_factory=list, description="Conditions of a conditional approval; empty otherwise."
    )
    proposed_system: ProposedSystem | None = Field(
        default=None, description="The system to register as planned; present exactly when approved."
    )

    @model_validator(mode="after")
    def _outcome_matches_contents(self) -> Self:
        approved = self.outcome != "not_approved"
        if approved and self.proposed_system is None:
            raise ValueError(f"an {self.outcome} decision must carry the proposed system")
        if not approved and self.proposed_system is not None:
            raise ValueError("a not_approved decision carries no proposed system")
        if (self.outcome == "approved_with_conditions") != bool(self.conditions):
            raise ValueError("conditions are given exactly when the outcome is approved_with_conditions")
        ids = [c.condition_id for c in self.conditions]
        if len(ids) != len(set(ids)):
            raise ValueError("condition ids must be unique within a decision")
        return self


@event
class RequestWithdrawn(EventPayload):
    """The requester (or the TDA on their behalf) withdrew an undecided request; it will not be decided."""

    event_type: ClassVar[str] = "estate.procurement.request.withdrawn"
    event_version: ClassVar[int] = 1
    topic: ClassVar[str] = PROCUREMENT_REQUESTS
    key_field: ClassVar[str] = "request_id"

    request_id: RequestId
    reference: RequestReference
    withdrawn_by: Person = Field(description="Who withdrew the request.")
    reason: LongText = Field(description="Why it was withdrawn.")
    withdrawn_at: AwareDatetime = Field(description="When it was withdrawn.")


@event
class RequestConditionMet(EventPayload):
    """One condition of a conditional approval was met, with evidence; each condition is met at most once."""

    event_type: ClassVar[str] = "estate.procurement.request.condition_met"
    event_version: ClassVar[int] = 1
    topic: ClassVar[str] = PROCUREMENT_REQUESTS
    key_field: ClassVar[str] = "request_id"

    request_id: RequestId
    reference: RequestReference
    condition_id: uuid.UUID = Field(description="The condition met, as given in RequestDecided.")
    met_by: Person = Field(description="Who recorded the condition as met.")
    met_at: AwareDatetime = Field(description="When it was recorded as met.")
    evidence: LongText = Field(description="What shows the condition is met (text, or a link to a document).")


@event
class RequestReviewStarted(EventPayload):
    """A TDA member took a submitted (or resubmitted, or reopened) request into review against a checklist
    version; from now on reviewers rate it and the chair may decide it."""

    event_type: ClassVar[str] = "estate.procurement.request.review_started"
    event_version: ClassVar[int] = 1
    topic: ClassVar[str] = PROCUREMENT_REQUESTS
    key_field: ClassVar[str] = "request_id"

    request_id: RequestId
    reference: RequestReference
    started_by: Person = Field(description="The TDA member who started the review.")
    checklist_version: ShortText = Field(
        description="Checklist definition the review uses, e.g. appendix-k@1."
    )
    started_at: AwareDatetime = Field(description="When the review started.")


@event
class RequestResubmitted(EventPayload):
    """The requester answered the TDA's questions and resubmitted the request; it waits for review again."""

    event_type: ClassVar[str] = "estate.procurement.request.resubmitted"
    event_version: ClassVar[int] = 1
    topic: ClassVar[str] = PROCUREMENT_REQUESTS
    key_field: ClassVar[str] = "request_id"

    request_id: RequestId
    reference: RequestReference
    requester: Person = Field(description="The requester who resubmitted.")
    answers: LongText = Field(description="The requester's answers to the questions asked.")
    resubmitted_at: AwareDatetime = Field(description="When the request was resubmitted.")


@event
class RequestReopened(EventPayload):
    """The TDA chair reopened a decided or withdrawn request, with a reason; the earlier decision stays on
    record unchanged and a new review round begins."""

    event_type: ClassVar[str] = "estate.procurement.request.reopened"
    event_version: ClassVar[int] = 1
    topic: ClassVar[str] = PROCUREMENT_REQUESTS
    key_field: ClassVar[str] = "request_id"

    request_id: RequestId
    reference: RequestReference
    reopened_by: Person = Field(description="The TDA chair who reopened the request.")
    reason: LongText = Field(description="Why the request was reopened.")
    reopened_at: AwareDatetime = Field(description="When it was reopened.")
