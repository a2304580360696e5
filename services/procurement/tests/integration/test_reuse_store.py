"""The SQL re-use read model on SQLite and on the real PostgreSQL: versions guard every write, the change
cursor misses nothing (also while another writer is mid-transaction), and a finder built on it shows
what a requester would see."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime

import pytest_asyncio
from procurement_fakes import ALLOY, STREET_APP, UNIFORM, YOTTA_ID
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from estate_procurement.adapters.db.base import Base
from estate_procurement.adapters.db.reuse_store import REUSE_TABLES, SqlReuseStore
from estate_procurement.application.reuse import ReuseFinder
from estate_procurement.domain.similarity import ReuseQuery
from estate_runtime.db import make_engine

ASSETS = ReuseQuery(title="Street asset app", capabilities=("asset management",))


@pytest_asyncio.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(db_url, pool_size=4)
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all, tables=list(REUSE_TABLES))
    yield engine
    await engine.dispose()


async def test_a_newer_version_wins_whatever_the_order(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions.begin() as session:
        store = SqlReuseStore(session)
        assert await store.upsert_system(ALLOY, version=3)
        assert not await store.upsert_system(replace(ALLOY, name="Old"), version=2)
        assert not await store.upsert_system(ALLOY, version=3)
        assert await store.upsert_system(UNIFORM, version=1)

    async with sessions() as session:
        changes = await SqlReuseStore(session).snapshot()

    assert sorted(changes.systems, key=lambda s: s.reference) == [ALLOY, UNIFORM]
    assert changes.removed == ()


async def test_removal_leaves_a_tombstone_that_older_events_respect(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as session:
        store = SqlReuseStore(session)
        assert await store.remove_system(UNIFORM.id, version=5)  # retired before it was ever seen
        assert not await store.upsert_system(UNIFORM, version=4)
        await store.upsert_system(ALLOY, version=1)
        assert await store.remove_system(ALLOY.id, version=2)
        assert not await store.remove_system(ALLOY.id, version=2)

    async with sessions() as session:
        changes = await SqlReuseStore(session).snapshot()

    assert changes.systems == ()
    assert set(changes.removed) == {ALLOY.id, UNIFORM.id}


async def test_decisions_are_kept_and_a_later_one_replaces_the_earlier(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    approved = replace(STREET_APP, outcome="approved", decided_at=datetime(2026, 4, 1, tzinfo=UTC))
    async with sessions.begin() as session:
        store = SqlReuseStore(session)
        await store.record_decision(approved)
        await store.record_decision(STREET_APP)  # earlier decision delivered late

    async with sessions() as session:
        assert (await SqlReuseStore(session).snapshot()).decisions == (approved,)


async def test_a_renamed_supplier_renames_kept_systems(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions.begin() as session:
        store = SqlReuseStore(session)
        await store.upsert_system(ALLOY, version=1)
        assert await store.rename_supplier(YOTTA_ID, "Yotta Ltd", version=2) == 1
        assert await store.rename_supplier(YOTTA_ID, "Yotta", version=1) == 0  # late, older rename

    async with sessions() as session:
        (system,) = (await SqlReuseStore(session).snapshot()).systems
    assert system.supplier == "Yotta Ltd"


async def test_changes_since_a_cursor_are_only_the_new_ones(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as session:
        await SqlReuseStore(session).upsert_system(ALLOY, version=1)
    async with sessions() as session:
        first = await SqlReuseStore(session).changes_since(0)
        assert (await SqlReuseStore(session).changes_since(first.cursor)).systems == ()

    async with sessions.begin() as session:
        await SqlReuseStore(session).upsert_system(UNIFORM, version=1)
        await SqlReuseStore(session).record_decision(STREET_APP)
    async with sessions() as session:
        later = await SqlReuseStore(session).changes_since(first.cursor)

    assert later.systems == (UNIFORM,)
    assert later.decisions == (STREET_APP,)
    assert later.cursor > first.cursor


async def test_a_writer_mid_transaction_is_never_skipped(sessions: async_sessionmaker[AsyncSession]) -> None:
    """A holds a change number but has not committed; B must wait for it, so a reader never sees B's
    later number first and moves its cursor past A's."""
    slow = sessions()
    await slow.begin()
    await SqlReuseStore(slow).upsert_system(ALLOY, version=1)

    async def other_writer() -> None:
        async with sessions.begin() as session:
            await SqlReuseStore(session).upsert_system(UNIFORM, version=1)

    other = asyncio.create_task(other_writer())
    await asyncio.sleep(0.3)
    async with sessions() as session:
        assert (await SqlReuseStore(session).changes_since(0)).systems == ()
    assert not other.done()

    await slow.commit()
    await slow.close()
    await asyncio.wait_for(other, 10)

    async with sessions() as session:
        changes = await SqlReuseStore(session).changes_since(0)
    assert {s.name for s in changes.systems} == {"Alloy", "Uniform"}


async def test_concurrent_versions_of_one_system_keep_the_newest(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async def write(version: int) -> None:
        async with sessions.begin() as session:
            renamed = replace(ALLOY, name=f"Alloy v{version}")
            await SqlReuseStore(session).upsert_system(renamed, version=version)

    await asyncio.gather(*(write(v) for v in (3, 1, 5, 2, 4)))

    async with sessions() as session:
        (system,) = (await SqlReuseStore(session).snapshot()).systems
    assert system.name == "Alloy v5"


async def test_two_finders_stay_current_from_the_database(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions.begin() as session:
        await SqlReuseStore(session).upsert_system(ALLOY, version=1)
    first, second = ReuseFinder(), ReuseFinder()

    async with sessions() as session:
        found = await first.search(SqlReuseStore(session), ASSETS)
    assert found[0].reasons[0] == "Alloy already covers asset management for Streets and Open Spaces"

    async with sessions.begin() as session:
        store = SqlReuseStore(session)
        await store.remove_system(ALLOY.id, version=2)
        await store.record_decision(STREET_APP)

    for finder in (first, second):
        async with sessions() as session:
            found = await finder.search(SqlReuseStore(session), ASSETS)
        assert [c.name for c in found] == ["Street asset app"]
        assert found[0].reasons[0] == (
            "TR-2026-0007 'Street asset app' was not approved on 3 March 2026: re-use Alloy"
        )
