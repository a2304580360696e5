"""Alembic environment for procurement: async engine, every procurement record (the requests' tables
and the re-use read model's) plus the shared outbox and inbox."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from estate_eventing.tables import eventing_metadata
from estate_procurement.adapters.db import records, reuse_store  # noqa: F401  # declares every table
from estate_procurement.adapters.db.base import Base
from estate_runtime.db import make_engine

config = context.config
target_metadata = [Base.metadata, eventing_metadata]


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _online() -> None:
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    async with engine.connect() as connection:
        await connection.run_sync(_run)
    await engine.dispose()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_online())
