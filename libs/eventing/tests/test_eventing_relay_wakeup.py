"""The relay wakes up when an outbox row is committed (PostgreSQL ``LISTEN/NOTIFY``), and only then.

The poll interval is 30 s in these tests, so an event that reaches the broker within 2 s can only have
been sent because its commit woke the relay.
"""

from __future__ import annotations

import asyncio
import io
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest_asyncio
from alembic.migration import MigrationContext
from alembic.operations import Operations
from eventing_support import RecordingPublisher, envelope, eventually
from prometheus_client import REGISTRY
from sqlalchemy import Connection, insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from estate_contracts.envelope import Envelope
from estate_eventing.embedded import ensure_topics
from estate_eventing.migrations import create_outbox_notify, drop_outbox_notify
from estate_eventing.outbox import outbox_rows
from estate_eventing.publisher import KafkaPublisher, Publisher
from estate_eventing.relay import BatchResult, OutboxRelay
from estate_eventing.settings import BrokerSettings, RelaySettings
from estate_eventing.tables import eventing_metadata, outbox_table
from estate_eventing.testing import collect

LONG_POLL = RelaySettings(poll_interval_ms=30_000)
WAKE_WITHIN_S = 2.0

LISTENERS = text(
    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query ILIKE 'LISTEN%'"
)
TRIGGERS = text("SELECT tgname FROM pg_trigger WHERE tgrelid = 'outbox'::regclass AND NOT tgisinternal")


def _with_notify(connection: Connection) -> None:
    eventing_metadata.create_all(connection)
    create_outbox_notify(Operations(MigrationContext.configure(connection)))


@pytest_asyncio.fixture(loop_scope="session")
async def notifying_engine(fresh_postgres_database: str) -> AsyncIterator[AsyncEngine]:
    """The outbox tables and the commit trigger, as a service's migrations leave them."""
    engine = create_async_engine(fresh_postgres_database)
    async with engine.begin() as connection:
        await connection.run_sync(_with_notify)
    yield engine
    await engine.dispose()


@pytest_asyncio.fixture(loop_scope="session")
async def topic(kafka_bootstrap: str) -> str:
    name = f"estate.tests.wakeup.{uuid.uuid4().hex[:8]}"
    assert await ensure_topics(kafka_bootstrap, [name], partitions=1) == [name]
    return name


def wakeups(cause: str) -> float:
    return REGISTRY.get_sample_value("estate_outbox_relay_wakeups_total", {"cause": cause}) or 0.0


class CountingRelay(OutboxRelay):
    """Counts its passes, so a test knows the first one (before any event) is over."""

    passes = 0

    async def relay_batch(self) -> BatchResult:
        result = await super().relay_batch()
        self.passes += 1
        return result


async def store(sessions: async_sessionmaker[AsyncSession], topic: str, *subjects: str) -> list[Envelope]:
    envelopes = [envelope(subject, subject) for subject in subjects]
    async with sessions() as session, session.begin():
        await session.execute(insert(outbox_table), outbox_rows((e, topic) for e in envelopes))
    return envelopes


async def published(sessions: async_sessionmaker[AsyncSession], envelopes: Sequence[Envelope]) -> bool:
    async with sessions() as session:
        rows = await session.execute(
            select(outbox_table.c.published_at).where(outbox_table.c.event_id.in_([e.id for e in envelopes]))
        )
        stamps = [stamp for (stamp,) in rows.all()]
    return len(stamps) == len(envelopes) and all(stamp is not None for stamp in stamps)


async def passes_settle(relay: CountingRelay, expected: int) -> None:
    """The relay's pass count reaches ``expected`` (it is counted just after the pass commits)."""

    async def reached() -> bool:
        return relay.passes >= expected

    await eventually(reached, timeout_s=2)
    assert relay.passes == expected


async def listener_pids(engine: AsyncEngine) -> set[int]:
    async with engine.connect() as connection:
        return {pid for (pid,) in (await connection.execute(LISTENERS)).all()}


class Running:
    """A relay in ``run_forever`` whose first pass (over an empty outbox) is done."""

    def __init__(self, relay: CountingRelay) -> None:
        self.relay = relay
        self.stop = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> CountingRelay:
        self.task = asyncio.create_task(self.relay.run_forever(self.stop))

        async def first_pass_done() -> bool:
            assert self.task is not None and not self.task.done(), "the relay loop ended"
            return self.relay.passes >= 1

        await eventually(first_pass_done, timeout_s=10)
        return self.relay

    async def __aexit__(self, *exc: object) -> None:
        self.stop.set()
        assert self.task is not None
        await asyncio.wait_for(self.task, 5)


def running(engine: AsyncEngine, publisher: Publisher, settings: RelaySettings = LONG_POLL) -> Running:
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    return Running(CountingRelay(sessions, publisher, settings=settings))


# --- the trigger ---------------------------------------------------------------------------------


async def test_the_trigger_is_created_and_dropped_on_postgresql(notifying_engine: AsyncEngine) -> None:
    async with notifying_engine.begin() as connection:
        assert (await connection.execute(TRIGGERS)).scalars().all() == ["outbox_notify"]
        await connection.run_sync(lambda c: drop_outbox_notify(Operations(MigrationContext.configure(c))))
        assert (await connection.execute(TRIGGERS)).scalars().all() == []
        functions = await connection.execute(
            text("SELECT count(*) FROM pg_proc WHERE proname = 'estate_outbox_notify'")
        )
        assert functions.scalar_one() == 0


async def test_the_trigger_helpers_do_nothing_on_sqlite(tmp_path: Path) -> None:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'estate.db'}")
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_with_notify)
            triggers = await connection.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger'"))
            assert triggers.all() == []
            await connection.run_sync(lambda c: drop_outbox_notify(Operations(MigrationContext.configure(c))))
    finally:
        await engine.dispose()


def test_the_trigger_is_in_the_offline_ddl() -> None:
    """``alembic upgrade --sql`` knows the dialect without a connection, so it prints the trigger too."""
    buffer = io.StringIO()
    context = MigrationContext.configure(
        dialect_name="postgresql", opts={"as_sql": True, "output_buffer": buffer}
    )
    create_outbox_notify(Operations(context))
    drop_outbox_notify(Operations(context))
    ddl = buffer.getvalue()
    assert "pg_notify('estate_outbox', '')" in ddl
    assert "AFTER INSERT ON outbox FOR EACH STATEMENT EXECUTE FUNCTION estate_outbox_notify()" in ddl
    assert "DROP TRIGGER IF EXISTS outbox_notify ON outbox" in ddl


# --- the relay -----------------------------------------------------------------------------------


async def test_a_commit_wakes_the_relay_long_before_its_next_poll(
    notifying_engine: AsyncEngine, kafka_settings: BrokerSettings, topic: str
) -> None:
    sessions = async_sessionmaker(notifying_engine, expire_on_commit=False)
    async with KafkaPublisher(kafka_settings) as publisher, running(notifying_engine, publisher) as relay:
        assert len(await listener_pids(notifying_engine)) == 1
        notified = wakeups("notify")
        started = time.monotonic()
        sent = await store(sessions, topic, "system-1")

        await eventually(lambda: published(sessions, sent), timeout_s=WAKE_WITHIN_S)
        assert time.monotonic() - started < WAKE_WITHIN_S
        await passes_settle(relay, 2)  # the first (empty) pass and the one the commit started
        assert wakeups("notify") == notified + 1
    records = await collect(kafka_settings.bootstrap_servers, topic, until_count=1)
    assert [Envelope.model_validate_json(r.value).id for r in records] == [sent[0].id]
    assert await listener_pids(notifying_engine) == set(), "the listening connection is closed on stop"


async def test_a_rolled_back_insert_wakes_nobody_and_one_import_wakes_the_relay_once(
    notifying_engine: AsyncEngine, kafka_settings: BrokerSettings, topic: str
) -> None:
    sessions = async_sessionmaker(notifying_engine, expire_on_commit=False)
    async with KafkaPublisher(kafka_settings) as publisher, running(notifying_engine, publisher) as relay:
        notified = wakeups("notify")
        async with sessions() as session:
            await session.execute(insert(outbox_table), outbox_rows([(envelope("ghost", "ghost"), topic)]))
            await session.rollback()
        imported = await store(sessions, topic, *(f"system-{i}" for i in range(50)))

        await eventually(lambda: published(sessions, imported), timeout_s=WAKE_WITHIN_S)
        await passes_settle(relay, 2)  # the rollback started no pass; the 50-row import started one
        assert wakeups("notify") == notified + 1
    records = await collect(kafka_settings.bootstrap_servers, topic, until_count=51, timeout_s=3)
    assert sorted(Envelope.model_validate_json(r.value).subject for r in records) == sorted(
        e.subject for e in imported
    )


async def test_a_dropped_listening_connection_is_replaced_and_never_stops_the_loop(
    notifying_engine: AsyncEngine,
) -> None:
    sessions = async_sessionmaker(notifying_engine, expire_on_commit=False)
    publisher = RecordingPublisher()
    runner = running(notifying_engine, publisher)
    async with runner:
        (first,) = await listener_pids(notifying_engine)
        lost = wakeups("listener_lost")
        async with notifying_engine.connect() as connection:
            await connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})

        async def listening_again() -> bool:
            pids = await listener_pids(notifying_engine)
            return len(pids) == 1 and first not in pids

        await eventually(listening_again, timeout_s=10)
        assert wakeups("listener_lost") == lost + 1
        assert runner.task is not None and not runner.task.done()
        sent = await store(sessions, "t", "after-the-drop")
        await eventually(lambda: published(sessions, sent), timeout_s=WAKE_WITHIN_S)
    assert [m.key for m in publisher.sent] == [b"after-the-drop"]


async def test_with_listen_off_the_relay_polls(notifying_engine: AsyncEngine) -> None:
    sessions = async_sessionmaker(notifying_engine, expire_on_commit=False)
    publisher = RecordingPublisher()
    settings = RelaySettings(poll_interval_ms=50, listen=False)
    notified, polled = wakeups("notify"), wakeups("poll")
    async with running(notifying_engine, publisher, settings):
        assert await listener_pids(notifying_engine) == set()
        sent = await store(sessions, "t", "polled")
        await eventually(lambda: published(sessions, sent), timeout_s=5)
    assert wakeups("notify") == notified
    assert wakeups("poll") > polled
    assert [m.key for m in publisher.sent] == [b"polled"]


async def test_on_sqlite_the_relay_polls_as_before(tmp_path: Path) -> None:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'estate.db'}")
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_with_notify)
        sessions = async_sessionmaker(engine, expire_on_commit=False)
        publisher = RecordingPublisher()
        notified, polled = wakeups("notify"), wakeups("poll")
        relay = CountingRelay(sessions, publisher, settings=RelaySettings(poll_interval_ms=20))
        async with Running(relay):
            sent = await store(sessions, "t", "on-sqlite")
            await eventually(lambda: published(sessions, sent), timeout_s=5)
        assert wakeups("notify") == notified
        assert wakeups("poll") > polled
        assert [m.key for m in publisher.sent] == [b"on-sqlite"]
    finally:
        await engine.dispose()
