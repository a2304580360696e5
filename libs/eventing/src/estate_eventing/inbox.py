"""Idempotent consumption: the inbox claim.

A handler's effect and its inbox row are written in one transaction. :func:`claim` inserts the row with
``INSERT ... ON CONFLICT DO NOTHING`` and reports whether this transaction inserted it: if not, the event
was already processed (or is being processed by a transaction that will win), so the handler must do
nothing. Never check-then-insert: two deliveries of one event would both see "absent".
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from estate_eventing.clock import as_utc, utc_now
from estate_eventing.tables import inbox_table


async def claim(
    session: AsyncSession, consumer: str, event_id: uuid.UUID, *, now: datetime | None = None
) -> bool:
    """Claim ``event_id`` for ``consumer`` in the session's transaction; False if already claimed.

    The claim is undone with the transaction, so a handler that fails leaves the event unprocessed.
    """
    values = {"consumer": consumer, "event_id": event_id, "processed_at": as_utc(now or utc_now())}
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        stmt: Any = postgresql.insert(inbox_table).values(values).on_conflict_do_nothing()
    elif dialect == "sqlite":
        stmt = sqlite.insert(inbox_table).values(values).on_conflict_do_nothing()
    else:
        raise NotImplementedError(f"inbox claims need ON CONFLICT DO NOTHING; {dialect} is not supported")
    inserted = await session.execute(stmt.returning(inbox_table.c.event_id))
    return inserted.first() is not None


async def purge_inbox(session: AsyncSession, *, processed_before: datetime) -> int:
    """Forget claims older than the cutoff, which must be older than any producer's replay window."""
    if processed_before.tzinfo is None:
        raise ValueError("processed_before must be timezone-aware")
    result = await session.execute(
        delete(inbox_table).where(inbox_table.c.processed_at < as_utc(processed_before))
    )
    return cast(CursorResult[Any], result).rowcount
