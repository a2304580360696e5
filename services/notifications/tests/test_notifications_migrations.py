"""The migrations build exactly the schema the code declares (the watch, alerts, deliveries and the rest,
the outbox and the inbox), on SQLite and on PostgreSQL, and downgrade to an empty database."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import create_async_engine

from estate_eventing.tables import eventing_metadata
from estate_notifications.adapters.db import records
from estate_notifications.adapters.db.migrate import alembic_config, upgrade
from estate_runtime.schema_checks import declared_schema, outbox_triggers, schema_drift, table_names

EXPECTED_TABLES = {
    "watched_contracts",
    "watched_systems",
    "contract_type_ladders",
    "alerts",
    "deliveries",
    "preferences",
    "calendar_feeds",
    "watched_conditions",
    "audit_entries",
    "outbox",
    "inbox",
}


DECLARED = declared_schema(records.Base.metadata, eventing_metadata)


async def upgrade_compare_downgrade(url: str) -> None:
    await asyncio.to_thread(upgrade, url)
    assert await table_names(url) == EXPECTED_TABLES
    assert await schema_drift(url, DECLARED) == []

    await asyncio.to_thread(command.downgrade, alembic_config(url), "base")
    assert await table_names(url) == set()

    await asyncio.to_thread(upgrade, url)  # and back up again: the downgrade left nothing behind
    assert await schema_drift(url, DECLARED) == []


def test_every_declared_table_is_in_the_migration() -> None:
    assert set(DECLARED.tables) == EXPECTED_TABLES


async def test_migrations_match_the_declared_schema_on_sqlite(tmp_path: Path) -> None:
    await upgrade_compare_downgrade(f"sqlite+aiosqlite:///{tmp_path / 'notifications.db'}")


async def test_migrations_match_the_declared_schema_on_postgresql(
    postgres_url_factory: Callable[[], Awaitable[str]],
) -> None:
    await upgrade_compare_downgrade(await postgres_url_factory())


async def test_the_outbox_wakeup_trigger_comes_and_goes_with_its_migration_on_postgresql(
    postgres_url_factory: Callable[[], Awaitable[str]],
) -> None:
    url = await postgres_url_factory()
    await asyncio.to_thread(upgrade, url)
    assert await outbox_triggers(url) == ["outbox_notify"]
    await asyncio.to_thread(command.downgrade, alembic_config(url), "base")
    assert await table_names(url) == set()
    await asyncio.to_thread(upgrade, url)
    assert await outbox_triggers(url) == ["outbox_notify"]
    assert await schema_drift(url, DECLARED) == []


async def test_two_alerts_for_one_step_of_a_term_are_refused_by_the_database(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'notifications.db'}"
    await asyncio.to_thread(upgrade, url)
    engine = create_async_engine(url)
    insert = (
        "INSERT INTO alerts (id, contract_id, contract_reference, term_end, kind, rung_days, due_on, act_by, "
        "level, role, raised_at) VALUES (:id, '00000000000000000000000000000001', 'CON-1', '2027-03-31', "
        "'ladder', 90, '2026-10-01', '2026-12-30', 0, 'contract_owner', '2026-10-01 07:00:00')"
    )
    try:
        async with engine.begin() as connection:
            await connection.execute(text(insert), {"id": "00000000000000000000000000000011"})
        with pytest.raises(IntegrityError):
            async with engine.begin() as connection:
                await connection.execute(text(insert), {"id": "00000000000000000000000000000012"})
    finally:
        await engine.dispose()
