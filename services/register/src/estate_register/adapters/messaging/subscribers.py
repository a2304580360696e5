"""The register's consumers, one consumer group (``estate-register-worker``) over three topics:

* ``estate.procurement.requests``: procurement decisions become planned systems with draft contracts (and
  a non-approval on re-decision retires the plan; see :mod:`estate_register.application.decisions`).
  Every request event (submitted, review started, information requested, resubmitted, decided,
  withdrawn, reopened, condition met) also keeps the estate view's copy of the request
  (:mod:`estate_register.application.estate`).
* ``estate.notifications.renewals``: a renewal decision a contract owner submitted through the
  notifications service is recorded on the contract (:mod:`estate_register.application.renewals`). The
  other events on that topic (notice window opened, act-by approaching, renewal overdue) and the decision
  itself keep the estate view's record of the contract's renewal alerts.
* ``estate.notifications.alerts``: alerts sent, escalated and acknowledged, for the estate view.

Translation happens here, at the edge: the subscriber hands the typed payload to the application handler
inside the inbox transaction that the eventing runtime opens, so an event delivered twice has one
effect, and a failure leaves neither the claim nor the half-made records behind. A renewal decision the
register can never record (unknown contract, refused by the contract's rules) is a poison message and
is dead-lettered with the reason; a stale version (the contract changed under us) stays transient and
is retried.

Every effect is idempotent by itself (a plan per request, a decision per decision id, a projection that
never lets an older event overwrite a newer one), so the estate view can be rebuilt by replaying the
topics: reset the group's offsets to the earliest and delete this consumer's inbox rows.
"""

from __future__ import annotations

from faststream.kafka import KafkaBroker
from sqlalchemy.ext.asyncio import AsyncSession

from estate_contracts.envelope import Envelope
from estate_contracts.notification_events import RenewalDecisionSubmitted
from estate_contracts.procurement_events import RequestDecided
from estate_contracts.topics import NOTIFICATIONS_ALERTS, NOTIFICATIONS_RENEWALS, PROCUREMENT_REQUESTS
from estate_eventing.consumer import Handler, HandlerKey, PoisonMessage, Subscription, subscribe_idempotent
from estate_eventing.publisher import Publisher
from estate_eventing.settings import BrokerSettings
from estate_register.adapters.db.estate_store import SqlEstateProjections
from estate_register.adapters.db.repositories import JoinedUnitOfWork
from estate_register.application import estate
from estate_register.application.decisions import plan_from_decision
from estate_register.application.renewals import record_submitted_decision
from estate_register.bootstrap import Container
from estate_register.domain.errors import InvalidTransition, InvalidValue, NotFound

GROUP_ID = "estate-register-worker"
TOPICS = (PROCUREMENT_REQUESTS, NOTIFICATIONS_RENEWALS, NOTIFICATIONS_ALERTS)
# The inbox is keyed by (consumer name, event id); the name predates the other topics and is kept so
# that events already claimed stay claimed. Event ids are unique across topics, so one name serves all.
CONSUMER_NAME = "register.procurement-decisions"


def subscribe(
    broker: KafkaBroker,
    container: Container,
    settings: BrokerSettings,
    *,
    dead_letters: Publisher | None = None,
) -> Subscription:
    """Subscribe the register's handlers; ``dead_letters`` replaces the Kafka producer of dead letters
    (tests), which the subscription otherwise owns."""

    async def on_decided(session: AsyncSession, payload: RequestDecided, envelope: Envelope) -> None:
        uow = JoinedUnitOfWork(session, clock=container.clock, calendar=container.calendar)
        await plan_from_decision(uow, payload)
        await estate.project_request(SqlEstateProjections(session), payload, at=container.clock())

    async def on_request_event(
        session: AsyncSession, payload: estate.RequestEvent, envelope: Envelope
    ) -> None:
        await estate.project_request(SqlEstateProjections(session), payload, at=container.clock())

    async def on_alert_event(
        session: AsyncSession, payload: estate.AlertEvent | estate.RenewalFact, envelope: Envelope
    ) -> None:
        await estate.project_alerts(SqlEstateProjections(session), payload, at=container.clock())

    async def on_renewal_decision(
        session: AsyncSession, payload: RenewalDecisionSubmitted, envelope: Envelope
    ) -> None:
        uow = JoinedUnitOfWork(session, clock=container.clock, calendar=container.calendar)
        try:
            await record_submitted_decision(uow, payload)
        except (NotFound, InvalidValue, InvalidTransition) as exc:
            raise PoisonMessage(
                f"renewal decision {payload.decision_id} on contract {payload.contract_reference} "
                f"({payload.contract_id}) cannot be recorded: {exc.detail}"
            ) from exc
        await estate.project_alerts(SqlEstateProjections(session), payload, at=container.clock())

    handlers: dict[HandlerKey, Handler] = {
        RequestDecided: on_decided,
        RenewalDecisionSubmitted: on_renewal_decision,
    }
    for request_event in estate.REQUEST_EVENTS:
        handlers.setdefault(request_event, on_request_event)
    for alert_event in (*estate.ALERT_EVENTS, *estate.RENEWAL_FACTS):
        handlers.setdefault(alert_event, on_alert_event)

    return subscribe_idempotent(
        broker,
        topics=TOPICS,
        group_id=GROUP_ID,
        consumer_name=CONSUMER_NAME,
        sessionmaker=container.sessions,
        handlers=handlers,
        settings=settings,
        dead_letters=dead_letters,
    )
