"""The register's consumers: procurement decisions become planned systems with draft contracts (and a
non-approval on re-decision retires the plan; see :mod:`estate_register.application.decisions`).

Translation happens here, at the edge: the subscriber hands the typed payload to the application handler
inside the inbox transaction that the eventing runtime opens, so a decision delivered twice plans one
system, and a failure leaves neither the claim nor the half-made records behind.
"""

from __future__ import annotations

from faststream.kafka import KafkaBroker
from sqlalchemy.ext.asyncio import AsyncSession

from estate_contracts.envelope import Envelope
from estate_contracts.procurement_events import RequestDecided
from estate_contracts.topics import PROCUREMENT_REQUESTS
from estate_eventing.consumer import Subscription, subscribe_idempotent
from estate_eventing.settings import BrokerSettings
from estate_register.adapters.db.repositories import JoinedUnitOfWork
from estate_register.application.decisions import plan_from_decision
from estate_register.bootstrap import Container

GROUP_ID = "estate-register-worker"
CONSUMER_NAME = "register.procurement-decisions"


def subscribe(broker: KafkaBroker, container: Container, settings: BrokerSettings) -> Subscription:
    async def on_decided(session: AsyncSession, payload: RequestDecided, envelope: Envelope) -> None:
        uow = JoinedUnitOfWork(session, clock=container.clock, calendar=container.calendar)
        await plan_from_decision(uow, payload)

    return subscribe_idempotent(
        broker,
        topics=[PROCUREMENT_REQUESTS],
        group_id=GROUP_ID,
        consumer_name=CONSUMER_NAME,
        sessionmaker=container.sessions,
        handlers={RequestDecided: on_decided},
        settings=settings,
    )
