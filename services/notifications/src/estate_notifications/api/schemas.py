"""Request and response bodies of the notifications API.

Request bodies forbid unknown fields, so a misspelt field is a 422 that names it rather than a silent
no-op. Dates are ``YYYY-MM-DD`` (Europe/London calendar days), instants ISO 8601 in UTC, money a decimal
string in pounds (``"1250.00"``). Shapes are checked here; the rules (what a decision needs, what a
ladder may hold) are the application's, and come back as 409 or 422 problems naming the field.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, StrictInt, StringConstraints

from estate_notifications.application.actions import MAX_NOTE, MAX_RATIONALE

T = TypeVar("T")

Pounds = Annotated[Decimal, PlainSerializer(lambda v: f"{v:.2f}", return_type=str, when_used="json")]
Outcome = Literal["renew", "extend", "reprocure", "terminate"]
Frequency = Literal["immediate", "daily", "weekly"]
LadderSource = Literal["contract", "type", "default"]
Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Output(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Page(Output, Generic[T]):
    """One page of a list. ``next_cursor`` (when there is more) fetches the next page; ``total`` is
    given when asked for with ``count=true``."""

    items: list[T]
    next_cursor: str | None = None
    total: int | None = None


# --- commands ---------------------------------------------------------------------------------------


class LadderIn(Input):
    """Days before act-by on which alerts go out: 1 to 730 each, all different, at most 20."""

    rungs: list[StrictInt] = Field(
        min_length=1, max_length=20, examples=[[180, 90, 30, 7]], description="Days before act-by"
    )


class AcknowledgeIn(Input):
    note: str | None = Field(
        default=None, max_length=MAX_NOTE, description="What you will do, if you want to say (optional)"
    )


class DecisionIn(Input):
    """The renewal decision for the contract's running term."""

    outcome: Outcome = Field(
        description="renew (a new term), extend (use an extension option), reprocure (run a new "
        "procurement; the contract ends at the term end) or terminate (give notice)"
    )
    rationale: str = Field(
        max_length=MAX_RATIONALE, description="Why: value for money, fit, the options considered (needed)"
    )
    new_term_end: date | None = Field(
        default=None, description="Last day of the new term: for renew and extend only, after the current one"
    )
    alert_id: uuid.UUID | None = Field(default=None, description="The alert that prompted it, if any")


class PreferenceIn(Input):
    frequency: Frequency = Field(
        description="immediate, or a daily or weekly digest of alerts that are not urgent (urgent ones "
        "always come at once)"
    )


class FeedIn(Input):
    scope: Literal["person", "tda"] = Field(
        default="person",
        description="person: the contracts you own, hold the budget for or whose systems you own; "
        "tda: every contract that gets alerts (TDA members, the chair, contract managers, administrators)",
    )
    label: Label = Field(default="Estate renewals", description="How you will recognise it in your list")


# --- people and alerts ---------------------------------------------------------------------------


class PersonOut(Output):
    name: str | None
    email: str


class PersonRefOut(Output):
    id: str
    name: str
    email: str


class OpenAlertOut(Output):
    """The contract's alert that is open now: the latest step raised for it and not yet closed."""

    id: uuid.UUID
    kind: str
    rung_days: int
    due_on: date
    level: int = Field(description="0 the contract owner, 1 the budget holder, 2 the TDA")
    role: str
    raised_at: datetime
    escalate_at: datetime | None
    acknowledged: bool
    acknowledged_at: datetime | None
    acknowledged_by: str | None


class DeliveryOut(Output):
    id: uuid.UUID
    kind: str
    alert_id: uuid.UUID | None
    contract_id: uuid.UUID | None
    role: str
    recipient_email: str
    recipient_name: str | None
    channel: str
    subject: str
    status: str
    attempts: int
    last_error: str | None
    next_attempt_at: datetime
    sent_at: datetime | None
    created_at: datetime


class AlertOut(Output):
    id: uuid.UUID
    contract_id: uuid.UUID
    contract_reference: str
    term_end: date
    kind: str
    rung_days: int
    due_on: date
    act_by: date
    level: int
    role: str
    raised_at: datetime
    escalate_at: datetime | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    acknowledgement_note: str | None
    closed_at: datetime | None
    close_reason: str | None
    open: bool


class AlertDetailOut(AlertOut):
    deliveries: list[DeliveryOut]


# --- the renewal watch ----------------------------------------------------------------------------


class RenewalOut(Output):
    """A contract on the renewal watch."""

    contract_id: uuid.UUID
    reference: str
    title: str
    supplier: str | None
    contract_type: str
    status: str
    term_end: date = Field(description="Last day of the running term")
    act_by: date | None = Field(description="The last day to decide, with time left to give notice")
    days_to_act_by: int | None = Field(description="Days from today to act-by; negative once it has passed")
    notice_unknown: bool = Field(description="No notice period is recorded: the default is assumed")
    problems: list[str] = Field(description="What is wrong with the contract's dates, to fix in the register")
    next_due_on: date | None = Field(description="The next day the watch looks at the contract")
    decided: bool = Field(description="A renewal decision is recorded for the running term")
    owner: PersonOut | None
    budget_holder: PersonOut | None
    ladder: list[int] = Field(description="The alert ladder in force (days before act-by)")
    ladder_source: LadderSource = Field(
        description="Whose ladder it is: the contract's, its type's or the default"
    )
    open_alert: OpenAlertOut | None


class PositionOut(Output):
    term_end: date
    act_by: date
    unadjusted_act_by: date = Field(description="Before moving back off a weekend or bank holiday")
    notice_days: int
    notice_unknown: bool
    tacit_renewals: int = Field(description="Terms rolled over tacitly since the term end the register holds")


class StepOut(Output):
    due_on: date
    rung_days: int = Field(description="Days before act-by; negative after it")
    kind: str = Field(description="ladder, overdue or term_end")
    raised: bool
    status: Literal["raised", "due", "skipped", "upcoming"] = Field(
        description="raised; due (the sweep raises it next); skipped (a later step was raised instead: "
        "people hear the most urgent one); upcoming"
    )
    alert_id: uuid.UUID | None


class RenewalDetailOut(RenewalOut):
    start_date: date
    current_term_end: date = Field(description="The term end the register holds")
    renewal_type: str
    renewal_period_months: int | None
    extension_options_left: int
    notice_period_days: int | None
    internal_lead_time_days: int
    annual_value: Pounds | None
    decided_term_end: date | None
    position: PositionOut | None = Field(
        description="Where the contract stands today; none if it gets no alerts"
    )
    schedule: list[StepOut]
    alerts: list[AlertDetailOut] = Field(description="Every alert raised for the contract, newest first")


class TypeLadderOut(Output):
    contract_type: str
    rungs: list[int]
    updated_by: str
    updated_at: datetime


class PolicyOut(Output):
    default_ladder: list[int]
    overdue_every_days: int
    default_notice_days: int
    escalate_after_working_days: int
    urgent_within_days: int
    contract_types: list[TypeLadderOut]


class DecisionOut(Output):
    decision_id: uuid.UUID
    contract_id: uuid.UUID
    contract_reference: str
    term_end: date = Field(description="The term the decision is for")
    outcome: str
    rationale: str
    new_term_end: date | None
    decided_by: PersonRefOut
    decided_at: datetime
    alert_id: uuid.UUID | None
    alerts_closed: int


# --- people's own settings ---------------------------------------------------------------------------


class PreferenceOut(Output):
    email: str
    frequency: Frequency
    updated_at: datetime | None


class FeedOut(Output):
    id: uuid.UUID
    scope: str
    label: str
    owner_email: str | None
    created_by: str
    created_at: datetime
    revoked_at: datetime | None
    revoked_by: str | None
    last_used_at: datetime | None


class FeedCreatedOut(FeedOut):
    url: str = Field(
        description="The subscription URL: shown this once and never again. Anyone with it reads the feed"
    )


# --- operations ------------------------------------------------------------------------------------------


class SinkMessageOut(Output):
    id: str
    message_id: str | None
    from_address: str
    to: list[str]
    subject: str
    date: datetime | None
    received_at: datetime | None
    text: str
    html: str | None
    headers: dict[str, str]


class AuditEntryOut(Output):
    id: int
    at: datetime
    actor: str
    action: str
    entity: str
    entity_id: str
    detail: dict[str, Any]


# --- links ---------------------------------------------------------------------------------------------


class LinkContractOut(Output):
    contract_id: uuid.UUID
    reference: str
    title: str
    supplier: str | None
    status: str
    term_end: date
    act_by: date | None
    days_to_act_by: int | None
    notice_unknown: bool
    renewal_type: str
    extension_options_left: int
    decided: bool


class LinkOut(Output):
    """What an alert's link lets its holder see and do."""

    recipient_email: str
    recipient_role: str
    expires_at: datetime
    contract: LinkContractOut
    alert: AlertOut
    can_acknowledge: bool
    can_decide: bool
    outcomes: list[Outcome] = Field(description="The outcomes the contract allows now")


class LinkAcknowledgeIn(AcknowledgeIn):
    """An acknowledgement through an alert's link: the link names the alert and who acknowledges it."""


class LinkDecisionIn(Input):
    """A renewal decision through an alert's link: the link names the contract, the alert and who
    decides; the decision is for the contract's running term."""

    outcome: Outcome = Field(description="renew, extend, reprocure or terminate")
    rationale: str = Field(
        max_length=MAX_RATIONALE, description="Why: value for money, fit, the options considered (needed)"
    )
    new_term_end: date | None = Field(
        default=None, description="Last day of the new term: for renew and extend only, after the current one"
    )
