"""The register's consumers, one consumer group (``estate-register-worker``) over two topics:

* ``estate.procurement.requests``: procurement decisions become planned systems with draft contracts (and
  a non-approval on re-decision retires the plan; see :mod:`estate_register.application.decisions`).
* ``estate.notifications.renewals``: a renewal decision a contract owner submitted through the
  notifications service is recorded on the contract (:mod:`estate_register.application.renewals`). The
  other events on that topic (notice window opened, act-by approaching, renewal overdue) are not handled,
  so the runtime acknowledges and ignores them.

Translation happens here, at the edge: the subscriber hands the typed payload to the application handler
inside the inbox transaction that the eventing runtime opens, so an event delivered twice has one
effect, and a failure leaves neither the claim nor the half-made records behind. A renewal decision the
register can never record (unknown contract, refused by the contract's rules) is a poison message and
is dead-lettered with the reason; a stale version (the contract changed under us) stays transient and
is retried.
"""

from __future__ import annotations

from faststream.kafka import KafkaBroker
from sqlalchemy.ext.asyncio import AsyncSession

from estate_contracts.envelope import Envelope
from estate_contracts.notification_events import RenewalDecisionSubmitted
from estate_contracts.procurement_events import RequestDecided
from estate_contracts.topics import NOTIFICATIONS_RENEWALS, PROCUREMENT_REQUESTS
from estate_eventing.consumer import PoisonMessage, Subscription, subscribe_idempotent
from estate_eventing.publisher import Publisher
from estate_eventing.settings import BrokerSettings
from estate_register.adapters.db.repositories import JoinedUnitOfWork
from estate_register.application.decisions import plan_from_decision
from estate_register.application.renewals import record_submitted_decision
from estate_register.bootstrap import Container
from estate_register.domain.errors import InvalidTransition, InvalidValue, NotFound

GROUP_ID = "estate-register-worker"
TOPICS = (PROCUREMENT_REQUESTS, NOTIFICATIONS_RENEWALS)
# The inbox is keyed by (consumer name, event id); the name predates the second topic and is kept so
# that events already claimed stay claimed. Event ids are unique across topics, so one name serves both.
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

    return subscribe_idempotent(
        broker,
        topics=TOPICS,
        group_id=GROUP_ID,
        consumer_name=CONSUMER_NAME,
        sessionmaker=container.sessions,
        handlers={RequestDecided: on_decided, RenewalDecisionSubmitted: on_renewal_decision},
        settings=settings,
        dead_letters=dead_letters,
    )
