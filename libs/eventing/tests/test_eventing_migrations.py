"""A service migration that calls ``create_eventing_tables`` builds exactly the declared outbox and inbox,
on SQLite and on PostgreSQL, and ``drop_eventing_tables`` takes them away again."""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import Connection, inspect
from sqlalchemy.ext.asyncio import create_async_engine

from estate_eventing.migrations import create_eventing_tables, drop_eventing_tables
from estate_eventing.tables import eventing_metadata


def _migrate_and_compare(connection: Connection) -> tuple[list[Any], set[str], set[str]]:
    operations = Operations(MigrationContext.configure(connection))
    create_eventing_tables(operations)
    drift = list(
        compare_metadata(
            MigrationContext.configure(connection, opts={"compare_type": True}), eventing_metadata
        )
    )
    created = set(inspect(connection).get_table_names())
    drop_eventing_tables(operations)
    left = set(inspect(connection).get_table_names())
    return drift, created, left


async def _run(url: str) -> tuple[list[Any], set[str], set[str]]:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            return await connection.run_sync(_migrate_and_compare)
    finally:
        await engine.dispose()


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
async def test_the_migration_helpers_create_the_declared_tables_and_drop_them(
    database: str, tmp_path: Path, postgres_url_factory: Callable[[], Awaitable[str]]
) -> None:
    url = (
        f"sqlite+aiosqlite:///{tmp_path / 'eventing.db'}"
        if database == "sqlite"
        else await postgres_url_factory()
    )
    drift, created, left = await _run(url)
    assert drift == []
    assert {"outbox", "inbox"} <= created
    assert not {"outbox", "inbox"} & left


def test_the_offline_ddl_names_every_constraint_and_index_as_declared() -> None:
    """What ``alembic upgrade --sql`` prints: the conventional names, the partial indexes, no duplicate
    unique constraint for the column declared ``unique=True``."""
    buffer = io.StringIO()
    context = MigrationContext.configure(
        dialect_name="postgresql", opts={"as_sql": True, "output_buffer": buffer}
    )
    create_eventing_tables(Operations(context))
    ddl = buffer.getvalue()
    for name in (
        "pk_outbox",
        "uq_outbox_event_id",
        "ck_outbox_failure_has_reason",
        "pk_inbox",
        "ck_inbox_consumer_not_empty",
        "ix_outbox_unpublished_key",
        "ix_inbox_processed_at",
    ):
        assert name in ddl
    assert ddl.count("UNIQUE") == 1
    assert ddl.count("WHERE published_at IS NULL") == 2
