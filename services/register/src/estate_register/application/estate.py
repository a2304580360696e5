"""The estate view (the TDA's single view): what it projects from other services' events, and the lists
and risk rules it answers with.

Two read models are kept from events the register does not own, each row written in the inbox
transaction of the event that changed it (so a redelivered event changes nothing):

* **Technology requests** (``estate.procurement.requests``): reference, title, requester, service area,
  councils, state, when submitted and decided, the outcome. Events of one request arrive in order (the
  topic is keyed by request), but a replay, a reset consumer group or a retried partition can bring an
  older event after a newer one, so every event carries its own time and **an event no newer than the
  one that set the state leaves the state alone**. The facts only a submission carries (title,
  requester, service area, ...) are taken whenever the submission arrives; the submission time is the
  earliest time seen. A decision supersedes an earlier one only when it is newer (the chair may reopen
  and re-decide). A request is *pending* until it is decided or withdrawn; reopening makes it pending
  again.
* **Renewal alerts** (``estate.notifications.alerts`` and ``.renewals``, keyed by contract): the last
  alert sent (to whom, when, which rung), the last escalation (from and to which role, why, when), the
  last acknowledgement, the last renewal decision submitted through notifications, and the latest
  renewal fact (notice window opened, act-by approaching, overdue). Each part moves only to a newer
  instant (or, for facts, a later day). An escalation is *open* while nothing newer has answered it:
  no acknowledgement and no renewal decision since.

The lists and risks the API serves are named in :data:`LISTS`; their rules are written in plain words
in services/register/README.md and enforced by ``adapters/db/estate_queries.py``.
"""

from __future__ import annotations

import abc
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Final, get_args
from zoneinfo import ZoneInfo

from estate_contracts.common import Person
from estate_contracts.notification_events import (
    ActByApproaching,
    AlertAcknowledged,
    AlertEscalated,
    AlertSent,
    NoticeWindowOpened,
    RenewalDecisionSubmitted,
    RenewalOverdue,
)
from estate_contracts.procurement_events import (
    RequestConditionMet,
    RequestDecided,
    RequestInformationRequested,
    RequestReopened,
    RequestResubmitted,
    RequestReviewStarted,
    RequestSubmitted,
    RequestWithdrawn,
)
from estate_register.domain.values import Disposition, LifecycleStage

LONDON: Final = ZoneInfo("Europe/London")

RequestEvent = (
    RequestSubmitted
    | RequestResubmitted
    | RequestReviewStarted
    | RequestInformationRequested
    | RequestDecided
    | RequestWithdrawn
    | RequestReopened
    | RequestConditionMet
)
AlertEvent = AlertSent | AlertEscalated | AlertAcknowledged | RenewalDecisionSubmitted
RenewalFact = NoticeWindowOpened | ActByApproaching | RenewalOverdue

REQUEST_EVENTS: Final = get_args(RequestEvent)
ALERT_EVENTS: Final = (AlertSent, AlertEscalated, AlertAcknowledged)
RENEWAL_FACTS: Final = get_args(RenewalFact)

# --- words for people ----------------------------------------------------------------------------------

LIVE_STAGES: Final = (LifecycleStage.LIVE.value, LifecycleStage.UNDER_REVIEW.value)
"""A *live* system is in service and not being wound down: live, or live and under review."""

CURRENT_CONTRACT_STATUSES: Final = ("active", "pending")
"""Contracts that are, or are about to be, in force: the ones that must have an owner and a notice period."""

COMPLIANCE_DONE: Final = ("completed", "not_required")
"""A DPIA or RoPA in one of these states is no gap."""

STAGE_LABELS: Final = {
    LifecycleStage.PROPOSED.value: "Proposed",
    LifecycleStage.PLANNED.value: "Planned",
    LifecycleStage.IN_PROCUREMENT.value: "In procurement",
    LifecycleStage.IMPLEMENTING.value: "Implementing",
    LifecycleStage.LIVE.value: "Live",
    LifecycleStage.UNDER_REVIEW.value: "Under review",
    LifecycleStage.DECOMMISSIONING.value: "Decommissioning",
    LifecycleStage.RETIRED.value: "Retired",
}
NOT_SET: Final = "not_set"
DISPOSITION_LABELS: Final = {
    Disposition.TOLERATE.value: "Tolerate",
    Disposition.INVEST.value: "Invest",
    Disposition.MIGRATE.value: "Migrate",
    Disposition.ELIMINATE.value: "Eliminate",
    NOT_SET: "Not yet decided",
}
ROUTE_LABELS: Final = {
    "via_3c_ict": "Through 3C ICT",
    "council_procurement": "Council procurement",
    "framework_call_off": "Framework call-off",
    "direct_by_service_area": "Bought directly by a service area",
    "shared_service": "Shared-service agreement",
    "tda_request": "Technology request reviewed by the TDA",
}
CONTRACT_TYPE_LABELS: Final = {
    "software_licence": "Software licence",
    "saas_subscription": "SaaS subscription",
    "it_service": "IT service",
    "support_and_maintenance": "Support and maintenance",
    "shared_service_agreement": "Shared-service agreement",
    "iot_protech": "IoT / pro-tech",
    "hardware": "Hardware",
}

RISKS: Final = {
    "personal-data-without-dpia-or-ropa": "Systems holding personal data without a completed DPIA or RoPA",
    "no-owner": "Systems or contracts with no owner recorded",
    "on-premises-cloud-feasible": "On-premises systems that could move to the cloud",
    "expired-contract-live-system": "Contracts that have expired while a system they cover is live",
    "notice-unknown": "Contracts with no notice period recorded",
    "alerts-escalated": "Renewal alerts escalated and not yet acknowledged",
}
"""The risk lists, in the order the summary gives them, with the words a person reads."""

LISTS: Final = {
    "systems": "Every system in the register",
    "contracts": "Every contract in the register",
    "pipeline": "Contracts to act on in the next 24 months, soonest first",
    "renewals-overdue": "Active contracts whose act-by date has passed with no decision to end them",
    "requests-pending": "Technology requests waiting for a TDA decision, oldest first",
    "duplication-clusters": "Capabilities that two or more live systems provide",
    **RISKS,
    "spend-by-supplier": "Annual value of active contracts by supplier",
    "spend-by-service-area": "Annual value of active contracts by the service areas their systems serve",
    "spend-by-council": "Annual value of active contracts by council",
}
"""Every list ``GET /api/v1/estate/lists/{name}`` serves, with its title."""

PIPELINE_MONTHS: Final = 24
TOP: Final = 10
"""How many groups of spend and duplication clusters the summary shows (the rest are totalled)."""
REQUESTS_SHOWN: Final = 20
TRANSPARENCY_THRESHOLD: Final = Decimal("5000.00")
"""The Local Government Transparency Code 2015 publishes contracts with a value that *exceeds* £5,000."""


def council_day(instant: datetime) -> date:
    """The calendar day in Europe/London at ``instant`` (the council's day, whatever the server's zone)."""
    return instant.astimezone(LONDON).date()


# --- the request read model --------------------------------------------------------------------------

PENDING_STATES: Final = frozenset(
    {"submitted", "under_review", "information_requested", "resubmitted", "reopened"}
)


@dataclass(frozen=True, kw_only=True)
class TrackedRequest:
    """A technology request as far as the estate view knows it."""

    request_id: uuid.UUID
    reference: str
    title: str | None = None
    state: str
    state_at: datetime
    requester_name: str | None = None
    requester_email: str | None = None
    service_area: str | None = None
    councils: tuple[str, ...] = ()
    category: str | None = None
    estimated_annual_cost: Decimal | None = None
    submitted_at: datetime
    decided_at: datetime | None = None
    outcome: str | None = None
    conditions: tuple[uuid.UUID, ...] = ()
    conditions_met: tuple[uuid.UUID, ...] = ()

    @property
    def pending(self) -> bool:
        return self.state in PENDING_STATES


def _event_time(event: RequestEvent) -> datetime:
    match event:
        case RequestSubmitted():
            return event.submitted_at
        case RequestResubmitted():
            return event.resubmitted_at
        case RequestReviewStarted():
            return event.started_at
        case RequestInformationRequested():
            return event.requested_at
        case RequestDecided():
            return event.decided_at
        case RequestWithdrawn():
            return event.withdrawn_at
        case RequestReopened():
            return event.reopened_at
        case RequestConditionMet():
            return event.met_at
    raise TypeError(f"not a request event: {type(event).__name__}")  # pragma: no cover


_STATE_OF: Final[dict[type, str]] = {
    RequestSubmitted: "submitted",
    RequestResubmitted: "resubmitted",
    RequestReviewStarted: "under_review",
    RequestInformationRequested: "information_requested",
    RequestDecided: "decided",
    RequestWithdrawn: "withdrawn",
    RequestReopened: "reopened",
}


def _requester(event: RequestEvent) -> Person | None:
    return getattr(event, "requester", None)


def apply_request_event(current: TrackedRequest | None, event: RequestEvent) -> TrackedRequest:
    """The request after ``event``, by the rules in the module docstring. Pure: the same request and
    event always give the same result, and applying an event twice is applying it once."""
    at = _event_time(event)
    state = _STATE_OF.get(type(event))
    if current is None:
        # A request first seen through a later event (its submission is older than the topic's
        # retention, or arrives late): known by its reference until the submission says more.
        current = TrackedRequest(
            request_id=event.request_id,
            reference=event.reference,
            state=state or "decided",  # a condition is met only on an approved request
            state_at=at,
            submitted_at=at,
        )
    elif state is not None and at > current.state_at:
        current = replace(current, state=state, state_at=at)
    current = replace(current, reference=event.reference, submitted_at=min(current.submitted_at, at))
    requester = _requester(event)
    if requester is not None and current.requester_email is None:
        current = replace(current, requester_name=requester.name, requester_email=requester.email)
    match event:
        case RequestSubmitted():
            current = replace(
                current,
                title=event.title,
                requester_name=event.requester.name,
                requester_email=event.requester.email,
                service_area=event.service_area,
                councils=tuple(event.councils_in_scope),
                category=event.category,
                estimated_annual_cost=event.estimated_annual_cost,
            )
        case RequestDecided() if current.decided_at is None or event.decided_at > current.decided_at:
            current = replace(
                current,
                decided_at=event.decided_at,
                outcome=event.outcome,
                conditions=tuple(c.condition_id for c in event.conditions),
            )
        case RequestConditionMet() if event.condition_id not in current.conditions_met:
            current = replace(current, conditions_met=(*current.conditions_met, event.condition_id))
        case _:
            pass
    return current


# --- the renewal-alert read model ------------------------------------------------------------------------

FACT_NAMES: Final[dict[type, str]] = {
    NoticeWindowOpened: "notice_window_opened",
    ActByApproaching: "act_by_approaching",
    RenewalOverdue: "overdue",
}
# On one day a later step of the ladder wins: overdue over approaching over the window opening.
_FACT_RANK: Final = {"notice_window_opened": 0, "act_by_approaching": 1, "overdue": 2}


@dataclass(frozen=True, kw_only=True)
class ContractAlerts:
    """A contract's renewal alerts and facts as the notifications service reported them."""

    contract_id: uuid.UUID
    contract_reference: str
    last_alert_id: uuid.UUID | None = None
    last_alert_at: datetime | None = None
    last_alert_role: str | None = None
    last_alert_email: str | None = None
    last_alert_rung_days: int | None = None
    last_alert_act_by: date | None = None
    escalated_at: datetime | None = None
    escalated_from: str | None = None
    escalated_to: str | None = None
    escalation_reason: str | None = None
    escalated_rung_days: int | None = None
    escalated_act_by: date | None = None
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    decided_at: datetime | None = None
    fact: str | None = None
    fact_as_of: date | None = None
    fact_act_by: date | None = None
    fact_term_end: date | None = None
    days_left: int | None = None
    days_overdue: int | None = None
    window_opened_on: date | None = None

    @property
    def escalation_open(self) -> bool:
        """Escalated, and neither acknowledged nor decided since."""
        if self.escalated_at is None:
            return False
        answered = [t for t in (self.acknowledged_at, self.decided_at) if t is not None]
        return not answered or max(answered) < self.escalated_at


def _newer(at: datetime, than: datetime | None) -> bool:
    return than is None or at > than


def apply_alert_event(current: ContractAlerts | None, event: AlertEvent | RenewalFact) -> ContractAlerts:
    """The contract's alert state after ``event``, by the rules in the module docstring. Pure and
    idempotent, like :func:`apply_request_event`."""
    if current is None:
        current = ContractAlerts(contract_id=event.contract_id, contract_reference=event.contract_reference)
    current = replace(current, contract_reference=event.contract_reference)
    match event:
        case AlertSent() if _newer(event.sent_at, current.last_alert_at):
            return replace(
                current,
                last_alert_id=event.alert_id,
                last_alert_at=event.sent_at,
                last_alert_role=event.recipient_role,
                last_alert_email=event.recipient.email,
                last_alert_rung_days=event.rung_days,
                last_alert_act_by=event.act_by,
            )
        case AlertEscalated() if _newer(event.escalated_at, current.escalated_at):
            return replace(
                current,
                escalated_at=event.escalated_at,
                escalated_from=event.from_role,
                escalated_to=event.to_role,
                escalation_reason=event.reason,
                escalated_rung_days=event.rung_days,
                escalated_act_by=event.act_by,
            )
        case AlertAcknowledged() if _newer(event.acknowledged_at, current.acknowledged_at):
            return replace(
                current, acknowledged_at=event.acknowledged_at, acknowledged_by=event.acknowledged_by.email
            )
        case RenewalDecisionSubmitted() if _newer(event.decided_at, current.decided_at):
            return replace(current, decided_at=event.decided_at)
        case NoticeWindowOpened() | ActByApproaching() | RenewalOverdue():
            return _apply_fact(current, event)
        case _:
            return current


def _apply_fact(current: ContractAlerts, event: RenewalFact) -> ContractAlerts:
    name = FACT_NAMES[type(event)]
    if isinstance(event, NoticeWindowOpened) and (
        current.window_opened_on is None or event.as_of > current.window_opened_on
    ):
        current = replace(current, window_opened_on=event.as_of)
    if (
        current.fact_as_of is not None
        and current.fact is not None
        and (event.as_of, _FACT_RANK[name]) <= (current.fact_as_of, _FACT_RANK[current.fact])
    ):
        return current
    return replace(
        current,
        fact=name,
        fact_as_of=event.as_of,
        fact_act_by=event.act_by,
        fact_term_end=event.current_term_end,
        days_left=event.days_left if isinstance(event, ActByApproaching) else None,
        days_overdue=event.days_overdue if isinstance(event, RenewalOverdue) else None,
    )


# --- the port and the handlers ---------------------------------------------------------------------------


class EstateProjections(abc.ABC):
    """Where the estate view's read models live; reads and writes join the caller's transaction."""

    @abc.abstractmethod
    async def request(self, request_id: uuid.UUID) -> TrackedRequest | None: ...

    @abc.abstractmethod
    async def save_request(self, request: TrackedRequest, *, at: datetime) -> None:
        """Insert or replace the request's row; ``at`` is when (the worker's clock) it was written."""

    @abc.abstractmethod
    async def contract_alerts(self, contract_id: uuid.UUID) -> ContractAlerts | None: ...

    @abc.abstractmethod
    async def save_contract_alerts(self, alerts: ContractAlerts, *, at: datetime) -> None: ...


async def project_request(store: EstateProjections, event: RequestEvent, *, at: datetime) -> TrackedRequest:
    """Fold one procurement request event into the estate view (in the caller's transaction)."""
    before = await store.request(event.request_id)
    after = apply_request_event(before, event)
    if after != before:
        await store.save_request(after, at=at)
    return after


async def project_alerts(
    store: EstateProjections, event: AlertEvent | RenewalFact, *, at: datetime
) -> ContractAlerts:
    """Fold one alert event or renewal fact into the estate view (in the caller's transaction)."""
    before = await store.contract_alerts(event.contract_id)
    after = apply_alert_event(before, event)
    if after != before:
        await store.save_contract_alerts(after, at=at)
    return after


def pipeline_months(as_of: date, months: int = PIPELINE_MONTHS) -> list[str]:
    """The ``YYYY-MM`` of ``as_of``'s month and the ``months - 1`` months after it."""
    index = as_of.year * 12 + as_of.month - 1
    return [f"{(index + k) // 12:04d}-{(index + k) % 12 + 1:02d}" for k in range(months)]


def month_after_window(as_of: date, months: int = PIPELINE_MONTHS) -> date:
    """The first day after the pipeline's last month."""
    index = as_of.year * 12 + as_of.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def money(value: Decimal | int | None) -> str:
    """GBP as the API writes it: a string with two decimal places ("1250.00"); none is "0.00"."""
    return f"{Decimal(value or 0):.2f}"


def known_lists() -> str:
    return ", ".join(LISTS)


def chunks(items: Iterable[uuid.UUID], size: int = 500) -> Iterable[list[uuid.UUID]]:
    batch: list[uuid.UUID] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


__all__ = [
    "ALERT_EVENTS",
    "LISTS",
    "RENEWAL_FACTS",
    "REQUEST_EVENTS",
    "RISKS",
    "ContractAlerts",
    "EstateProjections",
    "TrackedRequest",
    "apply_alert_event",
    "apply_request_event",
    "council_day",
    "project_alerts",
    "project_request",
]
