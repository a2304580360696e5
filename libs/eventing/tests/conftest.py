from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
import pytest_asyncio
from eventing_support import TEST_EVENTS, state_metadata
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from estate_contracts import registry
from estate_eventing.tables import eventing_metadata


@pytest.fixture(autouse=True)
def _test_events_catalogued(monkeypatch: pytest.MonkeyPatch) -> None:
    for model in TEST_EVENTS:
        monkeypatch.setitem(registry.EVENT_TYPES, (model.event_type, model.event_version), model)


async def _schema(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await connection.run_sync(eventing_metadata.create_all)
        await connection.run_sync(state_metadata.create_all)


@pytest_asyncio.fixture(loop_scope="session")
async def pg_engine(fresh_postgres_database: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(fresh_postgres_database, pool_size=10)
    await _schema(engine)
    yield engine
    await engine.dispose()


@pytest_asyncio.fixture(loop_scope="session", params=["sqlite", "postgresql"])
async def engine(
    request: pytest.FixtureRequest, tmp_path: Path, postgres_url_factory: Callable[[], Awaitable[str]]
) -> AsyncIterator[AsyncEngine]:
    """The same tests against both databases the runtime supports."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path}/estate.db"
    else:
        url = await postgres_url_factory()
    engine = create_async_engine(url)
    await _schema(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
