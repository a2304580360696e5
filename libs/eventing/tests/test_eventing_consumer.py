"""Idempotent consumers: each event's effect once, poison set aside, the chain of ids kept."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from eventing_support import (
    TOPIC,
    RecordingPublisher,
    ThingNoted,
    ThingRecorded,
    ThingRenamedV1,
    ThingRenamedV2,
    envelope,
    things,
)
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from estate_contracts.envelope import Envelope
from estate_eventing.consumer import (
    IdempotentConsumer,
    IncomingRecord,
    Outcome,
    PoisonMessage,
)
from estate_eventing.correlation import current_causation_id, current_correlation_id
from estate_eventing.outbox import add_event
from estate_eventing.tables import inbox_table, outbox_table


class Handlers:
    def __init__(self) -> None:
        self.seen: list[tuple[uuid.UUID, str | None, str | None]] = []
        self.raise_next: Exception | None = None

    async def recorded(self, session: AsyncSession, payload: ThingRecorded, env: Envelope) -> None:
        self.seen.append((env.id, current_correlation_id(), current_causation_id()))
        await session.execute(insert(things).values(id=payload.name))
        if self.raise_next is not None:
            error, self.raise_next = self.raise_next, None
            raise error

    async def renamed(self, session: AsyncSession, payload: ThingRenamedV1, env: Envelope) -> None:
        self.seen.append((env.id, current_correlation_id(), current_causation_id()))


def record(value: bytes | None, offset: int = 0, headers: Any = ()) -> IncomingRecord:
    return IncomingRecord(
        topic=TOPIC, partition=2, offset=offset, key=b"k", value=value, headers=list(headers)
    )


@pytest.fixture
def handlers() -> Handlers:
    return Handlers()


@pytest.fixture
def dead_letters() -> RecordingPublisher:
    return RecordingPublisher()


@pytest.fixture
def consumer(sessionmaker, handlers, dead_letters) -> IdempotentConsumer:
    return IdempotentConsumer(
        consumer_name="tests.things",
        group_id="tests-things",
        sessionmaker=sessionmaker,
        handlers={ThingRecorded: handlers.recorded, ("estate.tests.thing.renamed", 1): handlers.renamed},
        dead_letters=dead_letters,
    )


async def count(sessionmaker, table) -> int:
    async with sessionmaker() as session:
        return int((await session.execute(select(func.count()).select_from(table))).scalar_one())


async def test_an_event_delivered_twice_takes_effect_once(consumer, sessionmaker, handlers):
    env = envelope(name="x", correlation="corr-9")
    assert await consumer.process(record(env.to_bytes())) is Outcome.HANDLED
    assert await consumer.process(record(env.to_bytes(), offset=1)) is Outcome.DUPLICATE
    assert await count(sessionmaker, things) == 1
    assert handlers.seen == [(env.id, "corr-9", str(env.id))]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"\xff not json", "malformed"),
        (b'{"id": "not a uuid"}', "malformed"),
        (None, "malformed"),
        (envelope(payload=ThingRenamedV2(name="a", reason="b")).to_bytes(), "unhandled_version"),
        (
            envelope(payload=ThingRecorded(name="x")).model_copy(update={"dataversion": 9}).to_bytes(),
            "unknown_event_type",
        ),
        (
            envelope(payload=ThingRecorded(name="x")).model_copy(update={"data": {}}).to_bytes(),
            "invalid_payload",
        ),
    ],
    ids=["not-json", "not-an-envelope", "tombstone", "other-version", "unknown-version", "invalid-payload"],
)
async def test_a_message_that_can_never_be_handled_is_dead_lettered_with_its_reason(
    consumer, dead_letters, sessionmaker, value, reason
):
    original_headers = [("ce_type", b"x"), ("binary", b"\x00\xff")]
    assert await consumer.process(record(value, offset=41, headers=original_headers)) is Outcome.DEAD_LETTERED

    (letter,) = dead_letters.sent
    assert letter.topic == "estate.dlq.tests-things"
    assert letter.key == b"k"
    assert letter.value == (value or b"")
    headers = dict(letter.headers)
    assert headers["dlq_reason"] == reason.encode()
    assert headers["dlq_error"]
    assert headers["dlq_original_topic"] == TOPIC.encode()
    assert headers["dlq_original_partition"] == b"2"
    assert headers["dlq_original_offset"] == b"41"
    assert headers["dlq_consumer"] == b"tests.things"
    assert headers["binary"] == b"\x00\xff"  # original headers travel unchanged
    assert await count(sessionmaker, inbox_table) == 0


async def test_a_handler_declaring_poison_rolls_back_and_dead_letters(
    consumer, handlers, dead_letters, sessionmaker
):
    handlers.raise_next = PoisonMessage("this system id can never exist")
    env = envelope(name="x")
    assert await consumer.process(record(env.to_bytes())) is Outcome.DEAD_LETTERED
    assert dict(dead_letters.sent[0].headers)["dlq_reason"] == b"poison"
    assert await count(sessionmaker, things) == 0
    assert await count(sessionmaker, inbox_table) == 0


async def test_a_transient_failure_commits_nothing_and_raises_for_redelivery(
    consumer, handlers, sessionmaker
):
    handlers.raise_next = ConnectionError("database went away")
    env = envelope(name="x")
    with pytest.raises(ConnectionError):
        await consumer.process(record(env.to_bytes()))
    assert await count(sessionmaker, inbox_table) == 0
    assert await consumer.process(record(env.to_bytes())) is Outcome.HANDLED
    assert await count(sessionmaker, things) == 1


async def test_a_dead_letter_the_broker_refuses_is_not_acknowledged(consumer, dead_letters):
    dead_letters.down = True
    with pytest.raises(RuntimeError, match="could not dead-letter"):
        await consumer.process(record(b"junk"))


async def test_an_event_type_the_consumer_does_not_handle_is_ignored_unclaimed(
    consumer, sessionmaker, dead_letters
):
    assert await consumer.process(record(envelope(payload=ThingNoted()).to_bytes())) is Outcome.IGNORED
    assert dead_letters.sent == []
    assert await count(sessionmaker, inbox_table) == 0


async def test_events_a_handler_records_carry_its_correlation_and_cause(sessionmaker, dead_letters):
    async def handler(session: AsyncSession, payload: ThingRecorded, env: Envelope) -> None:
        await add_event(session, ThingNoted(), source="/estate/tests", subject=env.subject, time=env.time)

    consumer = IdempotentConsumer(
        consumer_name="c",
        group_id="g",
        sessionmaker=sessionmaker,
        handlers={ThingRecorded: handler},
        dead_letters=dead_letters,
    )
    incoming = envelope(correlation="corr-from-http")
    await consumer.process(record(incoming.to_bytes()))
    async with sessionmaker() as session:
        payload = (await session.execute(select(outbox_table.c.payload))).scalar_one()
    emitted = Envelope.model_validate_json(payload)
    assert emitted.correlationid == "corr-from-http"
    assert emitted.causationid == str(incoming.id)
    assert current_correlation_id() is None  # the scope ended with the message
