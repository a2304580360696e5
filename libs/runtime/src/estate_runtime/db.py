"""Database plumbing every service shares: engines and sessions built from a URL (nothing connects at
import), the naming convention and column types its records use, Alembic upgrades run from code (and the
body of every service's ``env.py``), and the SQL side of a unit of work: how it commits, rolls back and
puts events in the outbox."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, DateTime, Dialect, MetaData, Numeric, TypeDecorator, event
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
