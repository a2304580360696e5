"""The relay publishes stored events at least once, in order per key, and waits out outages."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta

import pytest
from eventing_support import TOPIC, FakeClock, RecordingPublisher, envelope, eventually
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from estate_eventing.outbox import outbox_rows
from estate_eventing.publisher import OutboundMessage
from estate_eventing.relay import OutboxRelay, outbox_status
from estate_eventing.settings import RelaySettings
from estate_eventing.tables import outbox_table

SETTINGS = RelaySettings(batch_size=100, min_backoff_ms=1000, max_backoff_s=60)


async def store(
    sessionmaker: async_sessionmaker[AsyncSession], *subjects: str, clock: FakeClock
) -> list[bytes]:
    """Store one event per subject, in order; the values the relay will send."""
    envelopes = [envelope(subject, f"{subject}#{i}", time=clock()) for i, subject in enumerate(subjects)]
    async with sessionmaker() as session, session.begin():
        await session.execute(insert(outbox_table), outbox_rows((e, TOPIC) for e in envelopes))
    return [e.to_bytes() for e in envelopes]


async def rows(sessionmaker: async_sessionmaker[AsyncSession]) -> list[dict[str, object]]:
    async with sessionmaker() as session:
        result = await session.execute(select(outbox_table).order_by(outbox_table.c.id))
        return [dict(row._mapping) for row in result]


def relay_for(sessionmaker, publisher, clock, settings=SETTINGS, jitter=lambda: 1.0) -> OutboxRelay:
    return OutboxRelay(sessionmaker, publisher, settings=settings, clock=clock, jitter=jitter)


async def test_relay_publishes_due_rows_in_write_order_and_marks_them(sessionmaker):
    clock, publisher = FakeClock(), RecordingPublisher()
    values = await store(sessionmaker, "a", "b", "a", "c", "a", clock=clock)
    relay = relay_for(sessionmaker, publisher, clock)

    assert await relay.relay_once() == 5
    assert await relay.relay_once() == 0

    sent_a = [m.value for m in publisher.sent if m.key == b"a"]
    assert sent_a == [values[0], values[2], values[4]]
    assert sorted(m.value for m in publisher.sent) == sorted(values)
    assert all(row["published_at"] is not None for row in await rows(sessionmaker))


async def test_a_failed_row_holds_back_the_later_rows_of_its_key_only(sessionmaker):
    clock, publisher = FakeClock(), RecordingPublisher()
    values = await store(sessionmaker, "k", "other", "k", "k", clock=clock)
    publisher.fail = {values[0]}
    relay = relay_for(sessionmaker, publisher, clock)

    assert await relay.relay_once() == 1

    assert [m.value for m in publisher.sent] == [values[1]]
    first, _other, second, third = await rows(sessionmaker)
    assert first["attempts"] == 1
    assert "broker unavailable" in str(first["last_error"])
    assert first["published_at"] is None
    # The held-back rows were never attempted: no attempt is charged to them.
    assert (second["attempts"], third["attempts"]) == (0, 0)
    assert (second["published_at"], third["published_at"]) == (None, None)


async def test_a_row_backing_off_keeps_later_rows_of_its_key_waiting_across_passes(sessionmaker):
    clock, publisher = FakeClock(), RecordingPublisher()
    (first,) = await store(sessionmaker, "k", clock=clock)
    publisher.fail = {first}
    relay = relay_for(sessionmaker, publisher, clock)
    assert await relay.relay_once() == 0

    (later,) = await store(sessionmaker, "k", clock=clock)  # written while the first backs off
    publisher.fail = set()
    assert await relay.relay_once() == 0, "the later row must not overtake the failed one"

    clock.advance(seconds=SETTINGS.min_backoff_ms / 1000)
    assert await relay.relay_once() == 2
    assert [m.value for m in publisher.sent] == [first, later]


async def test_backoff_grows_exponentially_up_to_the_cap(sessionmaker):
    clock, publisher = FakeClock(), RecordingPublisher()
    await store(sessionmaker, "k", clock=clock)
    publisher.down = True
    relay = relay_for(sessionmaker, publisher, clock)
    delays = []
    for _ in range(10):
        assert await relay.relay_once() == 0
        (row,) = await rows(sessionmaker)
        delay = row["next_attempt_at"].replace(tzinfo=clock().tzinfo) - clock()
        delays.append(delay.total_seconds())
        clock.now = row["next_attempt_at"].replace(tzinfo=clock().tzinfo)
    assert delays[:4] == [1, 2, 4, 8]
    assert delays[-1] == SETTINGS.max_backoff_s
    (row,) = await rows(sessionmaker)
    assert row["attempts"] == 10


def test_jitter_keeps_at_least_half_of_each_backoff_step():
    relay = OutboxRelay.__new__(OutboxRelay)
    relay.settings, relay._jitter = SETTINGS, lambda: 0.0
    assert relay.backoff(1) == timedelta(seconds=0.5)
    assert relay.backoff(3) == timedelta(seconds=2)
    assert relay.backoff(60) == timedelta(seconds=30)


async def test_replay_resends_retained_rows_of_the_window_and_topic(sessionmaker):
    clock, publisher = FakeClock(), RecordingPublisher()
    old = await store(sessionmaker, "a", clock=clock)
    clock.advance(hours=1)
    recent = await store(sessionmaker, "b", "c", clock=clock)
    relay = relay_for(sessionmaker, publisher, clock)
    assert await relay.relay_once() == 3
    publisher.sent.clear()

    assert await relay.replay(since=clock() - timedelta(minutes=1), topic="estate.tests.other") == 0
    assert await relay.replay(since=clock() - timedelta(minutes=1)) == 2
    assert await relay.relay_once() == 2
    assert sorted(m.value for m in publisher.sent) == sorted(recent)
    assert old[0] not in [m.value for m in publisher.sent]


async def test_replay_refuses_a_naive_instant(sessionmaker):
    relay = relay_for(sessionmaker, RecordingPublisher(), FakeClock())
    with pytest.raises(ValueError, match="timezone-aware"):
        await relay.replay(since=FakeClock()().replace(tzinfo=None))


async def test_purge_deletes_only_rows_published_before_the_retention_window(sessionmaker):
    clock, publisher = FakeClock(), RecordingPublisher()
    settings = RelaySettings(retention_days=7)
    relay = relay_for(sessionmaker, publisher, clock, settings=settings)
    await store(sessionmaker, "old", clock=clock)
    await relay.relay_once()
    # Never published (the broker refuses it every time): must never be purged.
    publisher.fail = set(await store(sessionmaker, "stuck", clock=clock))
    await relay.relay_once()
    clock.advance(days=6)
    await store(sessionmaker, "recent", clock=clock)
    await relay.relay_once()

    clock.advance(days=1, seconds=1)
    assert await relay.purge() == 1
    remaining = {row["key"] for row in await rows(sessionmaker)}
    assert remaining == {"stuck", "recent"}
    status = await outbox_status(sessionmaker)
    assert (status.pending, status.failing, status.published) == (1, 1, 1)


class RaisingOncePublisher(RecordingPublisher):
    """Breaks the Publisher contract once (raises): the loop must survive even that."""

    async def send_batch(self, messages: Sequence[OutboundMessage]) -> list[Exception | None]:
        if self.calls == 0:
            self.calls += 1
            raise RuntimeError("unexpected")
        return await super().send_batch(messages)


async def test_run_forever_survives_failures_and_stops_when_asked(sessionmaker):
    clock, publisher = FakeClock(), RaisingOncePublisher()
    values = await store(sessionmaker, "a", "b", clock=clock)
    settings = RelaySettings(poll_interval_ms=5, min_backoff_ms=5)
    relay = relay_for(sessionmaker, publisher, clock, settings=settings)
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run_forever(stop))

    async def both_sent() -> bool:
        return len(publisher.sent) >= 2

    await eventually(both_sent)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert sorted(m.value for m in publisher.sent) == sorted(values)


class GatedPublisher(RecordingPublisher):
    """Holds its first batch until released, so a second relay runs while the first is mid-batch."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def send_batch(self, messages: Sequence[OutboundMessage]) -> list[Exception | None]:
        self.entered.set()
        await self.release.wait()
        return await super().send_batch(messages)


async def test_two_relays_on_postgresql_share_the_work_without_sending_a_row_twice(pg_engine):
    sessionmaker = async_sessionmaker(pg_engine, expire_on_commit=False)
    clock = FakeClock()
    values = await store(sessionmaker, *(f"key-{i}" for i in range(30)), clock=clock)
    settings = RelaySettings(batch_size=10)
    first, second = GatedPublisher(), RecordingPublisher()
    relay_1 = relay_for(sessionmaker, first, clock, settings=settings)
    relay_2 = relay_for(sessionmaker, second, clock, settings=settings)

    pass_1 = asyncio.create_task(relay_1.relay_once())
    await asyncio.wait_for(first.entered.wait(), 5)
    assert await relay_2.relay_once() == 10  # skips the 10 rows relay 1 holds
    first.release.set()
    assert await pass_1 == 10

    sent = [m.value for m in first.sent + second.sent]
    assert len(sent) == len(set(sent)) == 20
    assert await relay_2.relay_once() == 10
    assert sorted(m.value for m in first.sent + second.sent) == sorted(values)


async def test_a_second_relay_never_overtakes_a_key_another_relay_is_sending(pg_engine):
    sessionmaker = async_sessionmaker(pg_engine, expire_on_commit=False)
    clock = FakeClock()
    first_value, *_ = await store(sessionmaker, "k", clock=clock)
    relay_1 = relay_for(
        sessionmaker, (gated := GatedPublisher()), clock, settings=RelaySettings(batch_size=1)
    )
    pass_1 = asyncio.create_task(relay_1.relay_once())
    await asyncio.wait_for(gated.entered.wait(), 5)

    later = await store(sessionmaker, "k", "other", clock=clock)
    second = RecordingPublisher()
    assert await relay_for(sessionmaker, second, clock).relay_once() == 1
    assert [m.value for m in second.sent] == [later[1]], "only the other key may go"

    gated.release.set()
    assert await pass_1 == 1
    assert await relay_for(sessionmaker, second, clock).relay_once() == 1
    assert [m.value for m in gated.sent + second.sent] == [first_value, later[1], later[0]]
