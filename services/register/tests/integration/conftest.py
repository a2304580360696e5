"""The register against the real PostgreSQL and the real (embedded or Kafka) broker.

Every test here runs on a PostgreSQL database of its own holding the demo estate (the root conftest's
``db_url``, parametrized to ``postgresql``). The worker fixture runs the register's real subscriber on a
FastStream broker connected to the session's broker (``kafka_settings`` chooses the embedded profile
exactly when the broker is the embedded Tansu, whose group and fetch timings need it; see BROKER.md).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from estate_contracts.topics import dead_letter_topic
from estate_eventing.embedded import ensure_topics
from estate_eventing.settings import BrokerSettings, make_broker
from estate_register.adapters.messaging.subscribers import GROUP_ID, TOPICS, subscribe
from estate_register.bootstrap import Container


@pytest_asyncio.fixture(loop_scope="session")
async def worker(container: Container, kafka_settings: BrokerSettings) -> AsyncIterator[BrokerSettings]:
    """The register's worker, subscribed and running; yields the broker settings it uses."""
    await ensure_topics(kafka_settings.bootstrap_servers, [*TOPICS, dead_letter_topic(GROUP_ID)])
    broker = make_broker(kafka_settings)
    subscription = subscribe(broker, container, kafka_settings)
    await broker.start()
    try:
        yield kafka_settings
    finally:
        await broker.stop()
        await subscription.close()
