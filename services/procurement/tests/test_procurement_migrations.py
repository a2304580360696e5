"""The migrations build exactly the schema the code declares (the requests' tables, the re-use read
model's, the outbox and the inbox), on SQLite and on PostgreSQL, and downgrade to an empty database."""

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
from estate_procurement.adapters.db import records, reuse_store
from estate_procurement.adapters.db.base import Base
from estate_procurement.adapters.db.migrate import alembic_config, upgrade
from estate_runtime.schema_checks import declared_schema, outbox_triggers, schema_drift, table_names

EXPECTED_TABLES = {
    "technology_requests",
    "request_conditions",
    "request_references",
    "audit_entries",
    "decision_log",
    "catalogue_systems",
    "catalogue_suppliers",
    "past_decisions",
    "reuse_change_counter",
    "outbox",
    "inbox",
}


assert records.RequestRecord.__table__ is not None and reuse_store.REUSE_TABLES  # both are declared
DECLARED = declared_schema(Base.metadata, eventing_metadata)


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
    await upgrade_compare_downgrade(f"sqlite+aiosqlite:///{tmp_path / 'procurement.db'}")


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
    await asyncio.to_thread(command.downgrade, alembic_config(url), "0001")
    assert await outbox_triggers(url) == []
    await asyncio.to_thread(upgrade, url)  # 0002 and 0003 again: the tables stay as declared
    assert await outbox_triggers(url) == ["outbox_notify"]
    assert await schema_drift(url, DECLARED) == []


BAD_STATEMENTS = [
    "UPDATE technology_requests SET version = 0",
    "UPDATE technology_requests SET state = 'approved'",
    "UPDATE technology_requests SET state = 'submitted'",  # submitted without a submission date
    "UPDATE technology_requests SET outcome = 'approved'",  # an outcome without a decision date
    "UPDATE technology_requests SET category = 'hardware'",
    "INSERT INTO request_references (year, last) VALUES (2026, 0)",
]


@pytest.mark.parametrize("statement", BAD_STATEMENTS)
async def test_the_database_refuses_rows_the_code_would_never_write(tmp_path: Path, statement: str) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'procurement.db'}"
    await asyncio.to_thread(upgrade, url)
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO technology_requests (id, reference, state, requester_id, requester_email, "
                    "requester_name, version, created_at, updated_at, state_since, round_number, body) "
                    "VALUES ('00000000000000000000000000000001', 'TR-2026-0001', 'draft', 'u', 'u@x.gov.uk', "
                    "'U', 1, '2026-03-02 09:30:00', '2026-03-02 09:30:00', '2026-03-02 09:30:00', 0, '{}')"
                )
            )
        with pytest.raises(IntegrityError):
            async with engine.begin() as connection:
                await connection.execute(text(statement))
    finally:
        await engine.dispose()
