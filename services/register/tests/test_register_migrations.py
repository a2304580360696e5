"""The migrations build exactly the schema the code declares, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, MetaData, text
from sqlalchemy.ext.asyncio import create_async_engine

from estate_eventing.tables import eventing_metadata
from estate_register.adapters.db.migrate import alembic_config, upgrade
from estate_register.adapters.db.records import Base


def declared_schema() -> MetaData:
    combined = MetaData()
    for metadata in (Base.metadata, eventing_metadata):
        for table in metadata.tables.values():
            table.to_metadata(combined)
    return combined


def _compare(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, declared_schema()))


async def schema_drift(url: str) -> list[Any]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_compare)
    finally:
        await engine.dispose()


async def test_migrations_match_the_declared_schema_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'register.db'}"
    await asyncio.to_thread(upgrade, url)
    assert await schema_drift(url) == []


async def test_migrations_match_the_declared_schema_on_postgresql(
    postgres_url_factory: Callable[[], Awaitable[str]],
) -> None:
    url = await postgres_url_factory()
    await asyncio.to_thread(upgrade, url)
    assert await schema_drift(url) == []


OUTBOX_TRIGGERS = "SELECT tgname FROM pg_trigger WHERE tgrelid = 'outbox'::regclass AND NOT tgisinternal"


async def _outbox_triggers(url: str) -> list[str]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            return list((await connection.execute(text(OUTBOX_TRIGGERS))).scalars())
    finally:
        await engine.dispose()


async def test_the_outbox_wakeup_trigger_comes_and_goes_with_its_migration_on_postgresql(
    postgres_url_factory: Callable[[], Awaitable[str]],
) -> None:
    url = await postgres_url_factory()
    await asyncio.to_thread(upgrade, url)
    assert await _outbox_triggers(url) == ["outbox_notify"]
    await asyncio.to_thread(command.downgrade, alembic_config(url), "0002")
    assert await _outbox_triggers(url) == []
    await asyncio.to_thread(command.downgrade, alembic_config(url), "base")
    await asyncio.to_thread(upgrade, url)  # nothing was left behind
    assert await _outbox_triggers(url) == ["outbox_notify"]
    assert await schema_drift(url) == []


async def test_migrations_downgrade_to_base_and_up_again_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'register.db'}"
    await asyncio.to_thread(upgrade, url)
    await asyncio.to_thread(command.downgrade, alembic_config(url), "base")
    await asyncio.to_thread(upgrade, url)
    assert await schema_drift(url) == []
