"""An idempotent subscriber on FastStream against the real broker and the real PostgreSQL."""

from __future__ import annotations

import uuid

from aiokafka import AIOKafkaProducer
from eventing_support import (
    ThingNoted,
    ThingRecorded,
    ThingRenamedV1,
    ThingRenamedV2,
    envelope,
    eventually,
    things,
)
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from estate_contracts.envelope import Envelope
from estate_eventing.consumer import subscribe_idempotent
from estate_eventing.embedded import ensure_topics
from estate_eventing.outbox import add_event
from estate_eventing.settings import BrokerSettings, make_broker
from estate_eventing.tables import outbox_table
from estate_eventing.testing import collect


async def test_poison_and_unknown_versions_go_to_the_dead_letter_topic_and_good_events_apply_once(
    pg_engine: AsyncEngine, kafka_settings: BrokerSettings
):
    sessionmaker = async_sessionmaker(pg_engine, expire_on_commit=False)
    suffix = uuid.uuid4().hex[:8]
    topic, group = f"estate.tests.consume.{suffix}", f"tests-{suffix}"
    dlq = f"estate.dlq.{group}"
    await ensure_topics(kafka_settings.bootstrap_servers, [topic, dlq])

    handled: list[uuid.UUID] = []
    failures = {"left": 1}

    async def on_recorded(session: AsyncSession, payload: ThingRecorded, env: Envelope) -> None:
        handled.append(env.id)
        await session.execute(insert(things).values(id=payload.name))
        if payload.name == "flaky" and failures["left"]:
            failures["left"] -= 1
            raise ConnectionError("database blinked")  # transient: redelivered, applied once
        await add_event(session, ThingNoted(), source="/estate/tests", subject=env.subject, time=env.time)

    async def on_renamed(session: AsyncSession, payload: ThingRenamedV1, env: Envelope) -> None:
        raise AssertionError("version 2 must not reach the version 1 handler")

    broker = make_broker(kafka_settings)
    subscription = subscribe_idempotent(
        broker,
        topics=[topic],
        group_id=group,
        consumer_name="tests.things",
        sessionmaker=sessionmaker,
        handlers={ThingRecorded: on_recorded, ThingRenamedV1: on_renamed},
        settings=kafka_settings,
        retry_delay_s=0.05,
    )
    good = envelope("k", "good", correlation="corr-http-1")
    unknown_version = envelope("k", "x").model_copy(update={"dataversion": 7})
    other_version = envelope("k", payload=ThingRenamedV2(name="r", reason="s"))
    flaky = envelope("k", "flaky")
    last = envelope("k", "last")
    # One key, so one partition: the order below is the order of consumption.
    messages = [
        (b"{{ not json", [("origin", b"test")]),
        (unknown_version.to_bytes(), unknown_version.kafka_headers()),
        (good.to_bytes(), good.kafka_headers()),
        (good.to_bytes(), good.kafka_headers()),  # a duplicate delivery
        (other_version.to_bytes(), other_version.kafka_headers()),
        (flaky.to_bytes(), flaky.kafka_headers()),
        (last.to_bytes(), last.kafka_headers()),
    ]
    producer = AIOKafkaProducer(**kafka_settings.producer_options())
    await producer.start()
    try:
        sent = [
            await producer.send_and_wait(topic, value, key=b"k", headers=headers)
            for value, headers in messages
        ]
    finally:
        await producer.stop()

    await broker.start()
    try:

        async def last_applied() -> bool:
            async with sessionmaker() as session:
                return (
                    await session.execute(select(things.c.id).where(things.c.id == "last"))
                ).first() is not None

        await eventually(last_applied)
    finally:
        await broker.stop()
        await subscription.close()

    async with sessionmaker() as session:
        applied = sorted((await session.execute(select(things.c.id))).scalars())
        emitted = [
            Envelope.model_validate_json(p)
            for p in (await session.execute(select(outbox_table.c.payload))).scalars()
        ]
    assert applied == ["flaky", "good", "last"]
    assert handled.count(good.id) == 1
    assert handled.count(flaky.id) == 2  # once rolled back, once committed

    from_good = [e for e in emitted if e.causationid == str(good.id)]
    assert len(from_good) == 1
    assert from_good[0].correlationid == "corr-http-1"

    letters = await collect(kafka_settings.bootstrap_servers, dlq, until_count=3)
    assert [dict(r.headers)["dlq_reason"] for r in letters] == [
        b"malformed",
        b"unknown_event_type",
        b"unhandled_version",
    ]
    poison = letters[0]
    assert poison.value == b"{{ not json"
    assert poison.key == b"k"
    headers = dict(poison.headers)
    assert headers["origin"] == b"test"
    assert headers["dlq_original_topic"] == topic.encode()
    assert headers["dlq_original_partition"] == str(sent[0].partition).encode()
    assert headers["dlq_original_offset"] == str(sent[0].offset).encode()
    assert headers["dlq_consumer"] == b"tests.things"
    assert letters[1].value == unknown_version.to_bytes()


async def test_a_restarted_consumer_resumes_after_the_last_committed_event(
    pg_engine: AsyncEngine, kafka_settings: BrokerSettings
):
    sessionmaker = async_sessionmaker(pg_engine, expire_on_commit=False)
    suffix = uuid.uuid4().hex[:8]
    topic, group = f"estate.tests.resume.{suffix}", f"tests-{suffix}"
    await ensure_topics(kafka_settings.bootstrap_servers, [topic, f"estate.dlq.{group}"])
    handled: list[str] = []

    async def on_recorded(session: AsyncSession, payload: ThingRecorded, env: Envelope) -> None:
        handled.append(payload.name)

    async def run_until(count: int) -> None:
        broker = make_broker(kafka_settings)
        subscription = subscribe_idempotent(
            broker,
            topics=[topic],
            group_id=group,
            consumer_name="tests.resume",
            sessionmaker=sessionmaker,
            handlers={ThingRecorded: on_recorded},
            settings=kafka_settings,
        )
        await broker.start()
        try:

            async def done() -> bool:
                return len(handled) >= count

            await eventually(done)
        finally:
            await broker.stop()
            await subscription.close()

    producer = AIOKafkaProducer(**kafka_settings.producer_options())
    await producer.start()
    try:
        await producer.send_and_wait(topic, envelope("k", "one").to_bytes(), key=b"k")
        await run_until(1)
        await producer.send_and_wait(topic, envelope("k", "two").to_bytes(), key=b"k")
        await run_until(2)
    finally:
        await producer.stop()
    assert handled == ["one", "two"], "the restarted consumer neither skipped nor repeated an event"
