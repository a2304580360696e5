"""The migrations build exactly the schema the code declares, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

from alembic import command

from estate_eventing.tables import eventing_metadata
from estate_register.adapters.db.migrate import alembic_config, upgrade
from estate_register.adapters.db.records import Base
from estate_runtime.schema_checks import declared_schema, outbox_triggers, schema_drift

DECLARED = declared_schema(Base.metadata, eventing_metadata)


async def test_migrations_match_the_declared_schema_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'register.db'}"
    await asyncio.to_thread(upgrade, url)
    assert await schema_drift(url, DECLARED) == []


async def test_migrations_match_the_declared_schema_on_postgresql(
    postgres_url_factory: Callable[[], Awaitable[str]],
) -> None:
    url = await postgres_url_factory()
    await asyncio.to_thread(upgrade, url)
    assert await schema_drift(url, DECLARED) == []


async def test_the_outbox_wakeup_trigger_comes_and_goes_with_its_migration_on_postgresql(
    postgres_url_factory: Callable[[], Awaitable[str]],
) -> None:
    url = await postgres_url_factory()
    await asyncio.to_thread(upgrade, url)
    assert await outbox_triggers(url) == ["outbox_notify"]
    await asyncio.to_thread(command.downgrade, alembic_config(url), "0002")
    assert await outbox_triggers(url) == []
    await asyncio.to_thread(command.downgrade, alembic_config(url), "base")
    await asyncio.to_thread(upgrade, url)  # nothing was left behind
    assert await outbox_triggers(url) == ["outbox_notify"]
    assert await schema_drift(url, DECLARED) == []


async def test_migrations_downgrade_to_base_and_up_again_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'register.db'}"
    await asyncio.to_thread(upgrade, url)
    await asyncio.to_thread(command.downgrade, alembic_config(url), "base")
    await asyncio.to_thread(upgrade, url)
    assert await schema_drift(url, DECLARED) == []
