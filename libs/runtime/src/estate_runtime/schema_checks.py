"""Checks a service's tests make of its Alembic migrations: the database they build has exactly the
tables and columns the code declares (with the shared outbox and inbox), on SQLite and PostgreSQL.

Each service's migration test calls these with its own declared metadata, so every service holds its
migrations to the same standard.
"""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, MetaData, inspect, text
from sqlalchemy.ext.asyncio import create_async_engine

OUTBOX_TRIGGERS = "SELECT tgname FROM pg_trigger WHERE tgrelid = 'outbox'::regclass AND NOT tgisinternal"


def declared_schema(*metadatas: MetaData) -> MetaData:
    """One MetaData holding every table of ``metadatas`` (the service's own and the eventing tables)."""
    combined = MetaData()
    for metadata in metadatas:
        for table in metadata.tables.values():
            table.to_metadata(combined)
    return combined


async def _on(url: str, check: Any) -> Any:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(check)
    finally:
        await engine.dispose()


async def schema_drift(url: str, declared: MetaData) -> list[Any]:
    """What differs between the database at ``url`` and ``declared`` (Alembic's autogenerate diff):
    empty when the migrations build exactly the declared schema."""

    def compare(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, declared))

    result: list[Any] = await _on(url, compare)
    return result


async def table_names(url: str) -> set[str]:
    """The tables at ``url``, without Alembic's own version table."""

    def names(connection: Connection) -> set[str]:
        return set(inspect(connection).get_table_names()) - {"alembic_version"}

    result: set[str] = await _on(url, names)
    return result


async def outbox_triggers(url: str) -> list[str]:
    """The triggers on the outbox table of a PostgreSQL database (the relay's wake-up)."""

    def triggers(connection: Connection) -> list[str]:
        return list(connection.execute(text(OUTBOX_TRIGGERS)).scalars())

    result: list[str] = await _on(url, triggers)
    return result


__all__ = ["declared_schema", "outbox_triggers", "schema_drift", "table_names"]
