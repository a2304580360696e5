"""Shared test doubles and builders for the eventing tests (imported by name: test dirs are not packages)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import Column, MetaData, String, Table

from estate_contracts.envelope import Envelope, EventPayload, new_envelope
from estate_eventing.publisher import OutboundMessage

# A state table standing in for a service's own records, to show the outbox shares its transaction.
state_metadata = MetaData()
things = Table("things", state_metadata, Column("id", String(64), primary_key=True))

TOPIC = "estate.tests.things"


class ThingRecorded(EventPayload):
    event_type = "estate.tests.thing.recorded"
    event_version = 1
    topic = TOPIC
    key_field = "name"

    name: str


class ThingRenamedV1(EventPayload):
    event_type = "estate.tests.thing.renamed"
    event_version = 1
    topic = TOPIC
    key_field = "name"

    name: str


class ThingRenamedV2(EventPayload):
    event_type = "estate.tests.thing.renamed"
    event_version = 2
    topic = TOPIC
    key_field = "name"

    name: str
    reason: str


class ThingNoted(EventPayload):
    """Catalogued, but handled by no test consumer."""

    event_type = "estate.tests.thing.noted"
    event_version = 1
    topic = TOPIC
    key_field = "name"


T0 = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def envelope(
    subject: str = "thing-1",
    name: str = "a",
    *,
    time: datetime = T0,
    correlation: str = "corr-1",
    payload: EventPayload | None = None,
) -> Envelope:
    return new_envelope(
        event=payload or ThingRecorded(name=name),
        source="/estate/tests",
        subject=subject,
        correlationid=correlation,
        time=time,
        event_id=uuid.uuid4(),
    )


class RecordingPublisher:
    """A Publisher fake: records what it sent, and fails the messages ``fail`` says to fail."""

    def __init__(self) -> None:
        self.sent: list[OutboundMessage] = []
        self.calls = 0
        self.fail: set[bytes] = set()  # values to fail
        self.down = False

    async def send_batch(self, messages: Sequence[OutboundMessage]) -> list[Exception | None]:
        self.calls += 1
        outcomes: list[Exception | None] = []
        for message in messages:
            if self.down or message.value in self.fail:
                outcomes.append(ConnectionError("broker unavailable"))
            else:
                self.sent.append(message)
                outcomes.append(None)
        return outcomes


#: Registered in the event catalogue only while an eventing test runs (see conftest), so that the
#: contracts' own catalogue tests never see them.
TEST_EVENTS: tuple[type[EventPayload], ...] = (ThingRecorded, ThingRenamedV1, ThingRenamedV2, ThingNoted)


async def eventually(check: Callable[[], Awaitable[bool]], timeout_s: float = 20.0) -> None:
    """Poll ``check`` until it holds; fail after ``timeout_s``. Never a sleep standing in for an assertion."""
    async with asyncio.timeout(timeout_s):
        while not await check():
            await asyncio.sleep(0.02)
