"""The procurement service's consumers: the register's system and supplier events keep the read model
that duplicate and re-use detection searches.

Translation happens here, at the edge: the subscriber hands the typed payload to the projection inside
the inbox transaction that the eventing runtime opens, so an event delivered twice changes the read model
once, and an older snapshot arriving late never overwrites a newer one (the snapshot's version decides).
An event of a version this service does not know goes to the dead-letter topic.
"""

from __future__ import annotations

from faststream.kafka import KafkaBroker
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from estate_contracts.envelope import Envelope
from estate_contracts.register_events import (
    SupplierChanged,
    SystemChanged,
    SystemLifecycleChanged,
    SystemRecorded,
    SystemRetired,
)
from estate_contracts.topics import REGISTER_SUPPLIERS, REGISTER_SYSTEMS
from estate_eventing.consumer import Subscription, subscribe_idempotent
from estate_eventing.settings import BrokerSettings
from estate_procurement.adapters.db.reuse_store import SqlReuseStore
from estate_procurement.application.reuse import project_supplier, project_system

GROUP_ID = "estate-procurement-worker"
CONSUMER_NAME = "procurement.register-catalogue"

SystemEvent = SystemRecorded | SystemChanged | SystemLifecycleChanged | SystemRetired


async def on_system(session: AsyncSession, payload: SystemEvent, envelope: Envelope) -> None:
    await project_system(SqlReuseStore(session), payload)


async def on_supplier(session: AsyncSession, payload: SupplierChanged, envelope: Envelope) -> None:
    await project_supplier(SqlReuseStore(session), payload)


def subscribe(
    broker: KafkaBroker, sessions: async_sessionmaker[AsyncSession], settings: BrokerSettings
) -> Subscription:
    """Consume the register's system and supplier topics as ``estate-procurement-worker``."""
    return subscribe_idempotent(
        broker,
        topics=[REGISTER_SYSTEMS, REGISTER_SUPPLIERS],
        group_id=GROUP_ID,
        consumer_name=CONSUMER_NAME,
        sessionmaker=sessions,
        handlers={
            SystemRecorded: on_system,
            SystemChanged: on_system,
            SystemLifecycleChanged: on_system,
            SystemRetired: on_system,
            SupplierChanged: on_supplier,
        },
        settings=settings,
    )
