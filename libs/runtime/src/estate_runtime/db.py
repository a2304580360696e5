"""Database plumbing every service shares: engines and sessions built from a URL (nothing connects at
import), the naming convention and column types its records use, Alembic upgrades run from code (and the
body of every service's ``env.py``), and the SQL side of a unit of work: how it commits, rolls back and
puts events in the outbox."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from alembic import command
from alembic.config import Config
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Connection,
    Date,
    DateTime,
    Dialect,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    TypeDecorator,
    Uuid,
    bindparam,
    event,
    text,
    update,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from estate_contracts.envelope import Envelope
from estate_eventing.outbox import add_to_outbox
from estate_runtime.errors import Conflict
from estate_runtime.uow import Outbox


def _json_text(value: Any) -> str:
    return orjson.dumps(value).decode()


# JSON columns (lists of capabilities, KPIs, lifecycle history...) are read for every listed row.
JSON_CODEC: dict[str, Any] = {"json_serializer": _json_text, "json_deserializer": orjson.loads}


def make_engine(url: str, *, pool_size: int = 10, echo: bool = False) -> AsyncEngine:
    """An async engine. SQLite gets WAL, foreign keys and a busy timeout, because the HTTP, worker and
    relay processes share one file; its folder is created if missing."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, echo=echo, connect_args={"timeout": 30}, **JSON_CODEC)

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    connect_args: dict[str, Any] = {}
    if parsed.get_driver_name() == "asyncpg":
        # The services' queries are short index lookups: JIT compilation and parallel workers cost
        # more than they save (bench/README.md), so both are off for their sessions.
        connect_args["server_settings"] = {"jit": "off", "max_parallel_workers_per_gather": "0"}
    return create_async_engine(
        url,
        echo=echo,
        pool_size=pool_size,
        max_overflow=pool_size,
        # No ping on every checkout (a round trip per request); connections are recycled instead, and
        # a broken one fails its request and is discarded by the pool.
        pool_recycle=1800,
        connect_args=connect_args,
        **JSON_CODEC,
    )


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware instants on every database: stored as UTC, read back aware (SQLite forgets)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; give a timezone")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


Money = Numeric(14, 2, asdecimal=True)


def alembic_config(url: str, migrations: Path) -> Config:
    """An Alembic configuration for the migrations folder of a service, built in code (no ini file)."""
    config = Config()
    config.set_main_option("script_location", str(migrations))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, migrations: Path, revision: str = "head") -> None:
    """Bring a service's database to ``revision`` (the newest by default)."""
    command.upgrade(alembic_config(url, migrations), revision)


async def upgrade_async(url: str, migrations: Path) -> None:
    """Run the upgrade in a worker thread (a service's env.py runs its own event loop)."""
    await asyncio.to_thread(upgrade, url, migrations)


def run_migrations(target_metadata: Sequence[MetaData]) -> None:
    """The body of a service's Alembic ``env.py``: run the migrations against ``sqlalchemy.url`` of the
    configuration being run, over an async engine (SQLite in batch mode), or print them as SQL offline.
    ``target_metadata`` is what autogenerate compares with: the service's records and the eventing tables."""
    from alembic import context

    config = context.config
    metadata = list(target_metadata)

    def run(connection: Connection) -> None:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()

    async def online() -> None:
        engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
        async with engine.connect() as connection:
            await connection.run_sync(run)
        await engine.dispose()

    if context.is_offline_mode():
        context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=metadata)
        with context.begin_transaction():
            context.run_migrations()
    else:
        asyncio.run(online())


class SqlOutbox(Outbox):
    """Events for the relay, inserted in the caller's transaction (the state change's)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def put(self, envelope: Envelope, *, topic: str) -> None:
        await add_to_outbox(self.session, envelope, topic)


class SessionUnitOfWork:
    """How a service's SQL unit of work ends, over a ``session`` it owns: ``commit`` commits it (a unique
    or foreign key clash becomes a Conflict), leaving the ``async with`` block rolls back whatever was not
    committed and closes the session. Put it before the service's ``UnitOfWork`` port in the bases."""

    session: AsyncSession

    async def __aexit__(self, *exc: object) -> None:
        try:
            await self.session.rollback()
        finally:
            await self.session.close()

    async def commit(self) -> None:
        try:
            await self.session.commit()
        except IntegrityError as exc:
            await self.session.rollback()
            raise Conflict(f"the change clashes with a record already stored: {exc.orig}") from exc

    async def rollback(self) -> None:
        await self.session.rollback()

    async def flush(self) -> None:
        await self.session.flush()


class JoinedSessionUnitOfWork(SessionUnitOfWork):
    """A unit of work inside a transaction someone else owns (a consumer's inbox transaction): its
    ``commit`` only flushes and it never rolls back or closes, so the owner commits or rolls back the
    inbox claim and the change together. Put it before the service's SQL unit of work in the bases."""

    async def __aexit__(self, *exc: object) -> None:
        """The owner of the transaction ends it."""

    async def commit(self) -> None:
        await self.session.flush()

    async def rollback(self) -> None:
        """The owner of the transaction rolls back."""


def _pg_array_type(column: Column[Any]) -> str:
    kind = column.type
    if isinstance(kind, TypeDecorator):
        kind = kind.impl_instance
    if isinstance(kind, Uuid):
        return "uuid"
    if isinstance(kind, DateTime):
        return "timestamptz" if kind.timezone else "timestamp"
    if isinstance(kind, Date):
        return "date"
    if isinstance(kind, Boolean):
        return "bool"
    if isinstance(kind, BigInteger):
        return "int8"
    if isinstance(kind, Integer):
        return "int4"
    if isinstance(kind, Numeric):
        return "numeric"
    if isinstance(kind, JSON):
        return "json"
    if isinstance(kind, String):
        return "text"
    raise TypeError(f"no PostgreSQL array type for column {column.name} ({column.type!r})")


def _unnest_columns(
    table: Table, names: Sequence[str], rows: Sequence[Mapping[str, Any]]
) -> tuple[dict[str, list[Any]], list[str], list[str]]:
    """For ``unnest``: one array parameter per column (``:c0``, ``:c1``...), their casts, and what to
    select of each (JSON travels as text and is cast back element by element: asyncpg has no json[])."""
    params: dict[str, list[Any]] = {}
    casts: list[str] = []
    selects: list[str] = []
    for index, name in enumerate(names):
        kind = _pg_array_type(table.c[name])
        values = [row[name] for row in rows]
        if kind == "json":
            values = [None if v is None else orjson.dumps(v).decode() for v in values]
            casts.append(f"CAST(:c{index} AS text[])")
            selects.append(f"c{index}::json")
        else:
            if kind == "timestamptz":
                values = [None if v is None else v.astimezone(UTC) for v in values]
            casts.append(f"CAST(:c{index} AS {kind}[])")
            selects.append(f"c{index}")
        params[f"c{index}"] = values
    return params, casts, selects


async def insert_ignoring_duplicates(
    session: AsyncSession, table: Table, rows: Sequence[Mapping[str, Any]]
) -> set[Any]:
    """INSERT every row of ``rows`` (all with the same keys) that does not clash with a unique key of
    ``table``, in the session's transaction; returns the primary keys inserted (the table's single-column
    key). Rows that clash are skipped, as ON CONFLICT DO NOTHING does.

    On PostgreSQL the rows travel as one array per column in a single ``INSERT ... SELECT FROM unnest``
    statement: a thousand rows cost one round trip and almost no Python per row, which is what a sweep
    over a national estate needs. Elsewhere (SQLite) it is SQLAlchemy's batched executemany.
    """
    if not rows:
        return set()
    (key,) = table.primary_key.columns
    names = list(rows[0])
    if session.get_bind().dialect.name != "postgresql":
        statement = sqlite.insert(table).on_conflict_do_nothing().returning(key)
        return {row[0] for row in await session.execute(statement, list(rows))}
    params, casts, selects = _unnest_columns(table, names, rows)
    aliases = ", ".join(f"c{i}" for i in range(len(names)))
    quoted = ", ".join(f'"{name}"' for name in names)
    sql = (
        f'INSERT INTO "{table.name}" ({quoted}) SELECT {", ".join(selects)} '
        f"FROM unnest({', '.join(casts)}) AS u({aliases}) "
        f'ON CONFLICT DO NOTHING RETURNING "{key.name}"'
    )
    result = await session.execute(text(sql), params)
    return {row[0] for row in result}


async def update_by_key(session: AsyncSession, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """UPDATE many rows of ``table`` by primary key, each to its own values (every row gives the key and
    the same other columns), in the session's transaction.

    On PostgreSQL one ``UPDATE ... FROM unnest(...)`` statement does them all; elsewhere it is an
    executemany of the same UPDATE.
    """
    if not rows:
        return
    (key,) = table.primary_key.columns
    names = [name for name in rows[0] if name != key.name]
    if session.get_bind().dialect.name != "postgresql":
        statement = (
            update(table)
            .where(key == bindparam("_key"))
            .values({name: bindparam(f"_{name}") for name in names})
        )
        await session.execute(
            statement,
            [{"_key": row[key.name], **{f"_{name}": row[name] for name in names}} for row in rows],
        )
        return
    params, casts, selects = _unnest_columns(table, [key.name, *names], rows)
    aliases = ", ".join(f"c{i}" for i in range(len(names) + 1))
    assignments = ", ".join(f'"{name}" = u.{select}' for name, select in zip(names, selects[1:], strict=True))
    sql = (
        f'UPDATE "{table.name}" SET {assignments} FROM unnest({", ".join(casts)}) AS u({aliases}) '
        f'WHERE "{table.name}"."{key.name}" = u.c0'
    )
    await session.execute(text(sql), params)
