"""Events the notifications service publishes (version 1).

Two topics, both keyed by the register contract id, so everything about one contract's renewal is read
in order whichever topic it is on:

* ``estate.notifications.alerts``: what happened to an alert. An alert is one rung of a contract's
  alert ladder (e.g. 90 days before act-by). It is sent to the contract owner; unacknowledged, it is
  escalated to the budget holder and then the TDA (each escalation is followed by an ``alert.sent`` to
  the new recipient); it stops when someone acknowledges it.
* ``estate.notifications.renewals``: time-based facts about a contract's renewal, computed from
  ``act_by = current_term_end - notice_period_days - internal_lead_time_days`` (deadlines that fall on a
  weekend or bank holiday having moved to the previous working day): the renewal window opened, act-by
  is approaching, act-by passed without a renewal decision.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, ClassVar, Literal, Self

from pydantic import AwareDatetime, Field, model_validator

from estate_contracts.common import ContractModel, Email, LongText, Person, PersonId, ShortText
from estate_contracts.envelope import EventPayload
from estate_contracts.registry import event
from estate_contracts.topics import NOTIFICATIONS_ALERTS, NOTIFICATIONS_RENEWALS

SOURCE = "/estate/notifications"
"""The envelope ``source`` of every event in this module."""

__all__ = [
    "SOURCE",
    "ActByApproaching",
    "AlertAcknowledged",
    "AlertChannel",
    "AlertEscalated",
    "AlertSent",
    "EscalationReason",
    "NoticeWindowOpened",
    "Recipient",
    "RecipientRole",
    "RenewalDecisionSubmitted",
    "RenewalOutcome",
    "RenewalOverdue",
]

RecipientRole = Literal[
    "contract_owner",
    "system_owner",
    "budget_holder",
    "contract_signatory",
    "ict_contract_management",
    "tda",
]
"""The roles an alert can go to; the default escalation chain is contract_owner, budget_holder, tda."""

AlertChannel = Literal["email", "teams", "portal"]
"""How an alert was delivered: e-mail, a Microsoft Teams message, or the portal's own notice list."""

RenewalOutcome = Literal["renew", "extend", "reprocure", "terminate"]
"""What a contract owner decided for the end of the term: renew (a new term), extend (use an extension
option), re-procure (run a new procurement; the contract ends at the term end), terminate (give notice)."""

EscalationReason = Literal["not_acknowledged", "recipient_missing"]
"""Why an alert moved up the chain: nobody acknowledged it in time, or the role had nobody in it (the
owner left, or was never recorded)."""

ContractId = Annotated[
    uuid.UUID, Field(description="Register id of the contract; also the Kafka key and envelope subject.")
]
ContractReference = Annotated[ShortText, Field(description="The contract's reference in the register.")]
AlertId = Annotated[uuid.UUID, Field(description="Id of the alert (one rung of one contract's ladder).")]
RungDays = Annotated[
    int,
    Field(
        description="The ladder rung: days before act-by the alert is for; 0 on the act-by date, "
        "negative for reminders after act-by has passed."
    ),
]


class Recipient(ContractModel):
    """Whom an alert went to: a person, or a role's shared mailbox (then ``person_id`` is absent)."""

    person_id: PersonId | None = Field(default=None, description="Identity-provider subject, for a person.")
    name: ShortText | None = Field(default=None, description="Display name, when known.")
    email: Email = Field(description="Address the alert was sent to (or the portal user's address).")


@event
class AlertSent(EventPayload):
    """An alert was delivered to one recipient on one channel.

    Sent once per (alert, recipient, channel); a repeat of an unacknowledged alert is a new AlertSent with
    the same alert id and a later ``sent_at``.
    """

    event_type: ClassVar[str] = "estate.notifications.alert.sent"
    event_version: ClassVar[int] = 1
    topic: ClassVar[str] = NOTIFICATIONS_ALERTS
    key_field: ClassVar[str] = "contract_id"

    alert_id: AlertId
    contract_id: ContractId
    contract_reference: ContractReference
    recipient_role: RecipientRole = Field(description="The role the recipient was sent the alert as.")
    recipient: Recipient
    rung_days: RungDays
    act_by: date = Field(description="The date by which the renewal decision must be made.")
    channel: AlertChannel
    sent_at: AwareDatetime = Field(description="When the alert was handed to the channel.")


@event
class AlertEscalated(EventPayload):
    """An alert moved up the escalation chain to another role; the roles differ."""

    event_type: ClassVar[str] = "estate.notifications.alert.escalated"
    event_version: ClassVar[int] = 1
    topic: ClassVar[str] = NOTIFICATIONS_ALERTS
    key_field: ClassVar[str] = "contract_id"

    alert_id: AlertId
    contract_id: ContractId
    contract_reference: ContractReference
    from_role: RecipientRole = Field(description="The role that did not act.")
    to_role: RecipientRole = Field(description="The role the alert now goes to.")
    reason: EscalationReason
    rung_days: RungDays
    act_by: date = Field(description="The date by which the renewal decision must be made.")
    escalated_at: AwareDatetime = Field(description="When the alert was escalated.")

    @model_validator(mode="after")
    def _moves_to_another_role(self) -> Self:
        if self.from_role == self.to_role:
            raise ValueError("an escalation moves the alert to a different role")
        return self


@event
class AlertAcknowledged(EventPayload):
    """Someone acknowledged an alert; it is not repeated or escalated further.

    Acknowledging is not deciding: the ladder's later rungs still fire until the renewal decision is
    recorded in the register.
    """

    event_type: ClassVar[str] = "estate.notifications.alert.acknowledged"
    event_version: ClassVar[int] = 1
    topic: ClassVar[str] = NOTIFICATIONS_ALERTS
    key_field: ClassVar[str] = "contract_id"

    alert_id: AlertId
    contract_id: ContractId
    contract_reference: ContractReference
    acknowledged_by: Person = Field(description="Who acknowledged the alert.")
    acknowledged_at: AwareDatetime = Field(description="When it was acknowledged.")
    note: LongText | None = Field(default=None, description="What they said they will do, if anything.")


class _RenewalFact(EventPayload):
    """Fields every renewal fact carries: the contract and the arithmetic that gave its act-by date.

    Not an event by itself (it has no type); ``act_by`` is never after ``current_term_end``.
    """

    contract_id: ContractId
    contract_reference: ContractReference
    act_by: date = Field(description="The date by which the renewal decision must be made.")
    current_term_end: date = Field(description="Last day of the contract's current term.")
    notice_period_days: int = Field(ge=0, description="Notice the supplier must be given, in days.")
    internal_lead_time_days: int = Field(
        ge=0, description="Time the council needs before giving notice, in days."
    )
    as_of: date = Field(description="The (Europe/London) calendar day on which the fact became true.")

    @model_validator(mode="after")
    def _act_by_not_after_term_end(self) -> Self:
        if self.act_by > self.current_term_end:
            raise ValueError("act_by cannot be after current_term_end")
        return self


@event
class NoticeWindowOpened(_RenewalFact):
    """A contract entered its renewal window: its first alert rung was reached and, from ``as_of`` until
    ``act_by``, the owner is expected to decide (renew, extend, re-procure or terminate). Published once
    per contract term."""

    event_type: ClassVar[str] = "estate.notifications.renewal.notice_window_opened"
    event_version: ClassVar[int] = 1
    topic: ClassVar[str] = NOTIFICATIONS_RENEWALS
    key_field: ClassVar[str] = "contract_id"


@event
class ActByApproaching(_RenewalFact):
    """A contract with no renewal decision reached a rung of its alert ladder; ``days_left`` is the number
    of days from ``as_of`` to ``act_by`` (0 on the act-by date itself)."""

    event_type: ClassVar[str] = "estate.notifications.renewal.act_by_approaching"
    event_version: ClassVar[int] = 1
    topic: ClassVar[str] = NOTIFICATIONS_RENEWALS
    key_field: ClassVar[str] = "contract_id"

    days_left: int = Field(ge=0, description="Days from as_of to act_by.")

    @model_validator(mode="after")
    def _days_left_matches_dates(self) -> Self:
        if self.days_left != (self.act_by - self.as_of).days:
            raise ValueError("days_left must be the number of days from as_of to act_by")
        return self


@event
class RenewalOverdue(_RenewalFact):
    """The act-by date passed and no renewal decision was recorded; ``days_overdue`` counts days from
    ``act_by`` to ``as_of`` (at least 1). Repeated on each overdue reminder until a decision is made."""

    event_type: ClassVar[str] = "estate.notifications.renewal.overdue"
    event_version: ClassVar[int] = 1
    topic: ClassVar[str] = NOTIFICATIONS_RENEWALS
    key_field: ClassVar[str] = "contract_id"

    days_overdue: int = Field(ge=1, description="Days from act_by to as_of.")

    @model_validator(mode="after")
    def _days_overdue_matches_dates(self) -> Self:
        if self.days_overdue != (self.as_of - self.act_by).days:
            raise ValueError("days_overdue must be the number of days from act_by to as_of")
        return self


@event
class RenewalDecisionSubmitted(EventPayload):
    """A contract owner (or someone acting for the owner) recorded a renewal decision through an alert's
    link or the notifications API. The register records it on the contract, which then publishes
    ``estate.register.contract.renewal_decision_recorded``; the ladder for ``term_end`` stops.

    ``decision_id`` is the decision's id in the register too, so a duplicate delivery records it once.
    ``new_term_end`` is given for renew and extend (after ``term_end``) and absent otherwise.
    """

    event_type: ClassVar[str] = "estate.notifications.renewal.decision_submitted"
    event_version: ClassVar[int] = 1
    topic: ClassVar[str] = NOTIFICATIONS_RENEWALS
    key_field: ClassVar[str] = "contract_id"

    decision_id: uuid.UUID = Field(description="Id of the decision, kept by the register.")
    contract_id: ContractId
    contract_reference: ContractReference
    term_end: date = Field(description="The term the decision is for: its last day, as the alert gave it.")
    outcome: RenewalOutcome
    rationale: LongText = Field(description="Why: value for money, fit, the options considered.")
    new_term_end: date | None = Field(default=None, description="Last day of the new term (renew, extend).")
    decided_by: Person = Field(description="Who recorded the decision.")
    decided_at: AwareDatetime = Field(description="When it was recorded.")
    alert_id: AlertId | None = Field(default=None, description="The alert whose link was used, if any.")

    @model_validator(mode="after")
    def _new_term_end_matches_outcome(self) -> Self:
        if self.outcome in ("renew", "extend"):
            if self.new_term_end is None or self.new_term_end <= self.term_end:
                raise ValueError("renew and extend need a new_term_end after term_end")
        elif self.new_term_end is not None:
            raise ValueError("new_term_end is only for renew or extend")
        return self
