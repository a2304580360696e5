"""The relay against the real (embedded or configured) broker and the real PostgreSQL."""

from __future__ import annotations

import uuid

import pytest_asyncio
from eventing_support import FakeClock, envelope
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from estate_contracts.envelope import Envelope
from estate_eventing.embedded import ensure_topics, free_port
from estate_eventing.outbox import outbox_rows
from estate_eventing.publisher import KafkaPublisher
from estate_eventing.relay import OutboxRelay
from estate_eventing.settings import BrokerSettings, RelaySettings
from estate_eventing.tables import outbox_table
from estate_eventing.testing import collect


@pytest_asyncio.fixture(loop_scope="session")
async def topic(kafka_bootstrap: str) -> str:
    name = f"estate.tests.relay.{uuid.uuid4().hex[:8]}"
    assert await ensure_topics(kafka_bootstrap, [name], partitions=4) == [name]
    return name


async def store(sessionmaker, topic: str, subjects: list[str], clock: FakeClock) -> list[Envelope]:
    envelopes = [
        envelope(s, f"{s}#{i}", time=clock(), correlation=f"corr-{i}") for i, s in enumerate(subjects)
    ]
    async with sessionmaker() as session, session.begin():
        await session.execute(insert(outbox_table), outbox_rows((e, topic) for e in envelopes))
    return envelopes


async def test_relay_publishes_envelopes_with_key_and_headers_in_per_key_order(
    pg_engine: AsyncEngine, kafka_settings: BrokerSettings, topic: str
):
    sessionmaker = async_sessionmaker(pg_engine, expire_on_commit=False)
    clock = FakeClock()
    subjects = [f"system-{i % 7}" for i in range(60)]
    envelopes = await store(sessionmaker, topic, subjects, clock)

    async with KafkaPublisher(kafka_settings) as publisher:
        relay = OutboxRelay(sessionmaker, publisher, settings=RelaySettings(batch_size=25), clock=clock)
        published = 0
        while batch := await relay.relay_once():
            published += batch
    assert published == 60

    records = await collect(kafka_settings.bootstrap_servers, topic, until_count=60)
    assert len(records) == 60
    by_id = {e.id: e for e in envelopes}
    for record in records:
        sent = Envelope.model_validate_json(record.value)
        assert sent == by_id[sent.id]
        assert record.key == sent.subject.encode()
        headers = dict(record.headers)
        assert headers["ce_id"] == str(sent.id).encode()
        assert headers["ce_type"] == sent.type.encode()
        assert headers["ce_correlationid"] == sent.correlationid.encode()
    for subject in set(subjects):
        received = [Envelope.model_validate_json(r.value).id for r in records if r.key == subject.encode()]
        assert received == [e.id for e in envelopes if e.subject == subject]
        assert len({r.partition for r in records if r.key == subject.encode()}) == 1


async def test_a_broker_outage_only_delays_publication(
    pg_engine: AsyncEngine, kafka_settings: BrokerSettings, topic: str
):
    sessionmaker: async_sessionmaker[AsyncSession] = async_sessionmaker(pg_engine, expire_on_commit=False)
    clock = FakeClock()
    envelopes = await store(sessionmaker, topic, ["a", "b", "a"], clock)
    settings = RelaySettings(min_backoff_ms=2000)

    nowhere = BrokerSettings(bootstrap_servers=f"127.0.0.1:{free_port()}", request_timeout_ms=2000)
    async with KafkaPublisher(nowhere) as down:
        relay = OutboxRelay(sessionmaker, down, settings=settings, clock=clock)
        assert await relay.relay_once() == 0
        assert await relay.relay_once() == 0  # nothing is due yet: the rows back off

    async with sessionmaker() as session:
        stored = (await session.execute(select(outbox_table).order_by(outbox_table.c.id))).all()
    assert [row.attempts for row in stored] == [1, 1, 0]  # the second "a" waits behind the first
    assert all(row.published_at is None for row in stored)
    assert all(row.next_attempt_at > clock() for row in stored[:2])
    assert "KafkaConnectionError" in stored[0].last_error

    clock.advance(seconds=2)
    async with KafkaPublisher(kafka_settings) as up:
        assert await OutboxRelay(sessionmaker, up, settings=settings, clock=clock).relay_once() == 3

    records = await collect(kafka_settings.bootstrap_servers, topic, until_count=3)
    received = [Envelope.model_validate_json(r.value).id for r in records if r.key == b"a"]
    assert received == [envelopes[0].id, envelopes[2].id]
