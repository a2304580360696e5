"""Maintenance of the renewal watch."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete

from estate_eventing.tables import inbox_table
from estate_notifications.adapters.db.records import WatchedContractRecord, WatchedSystemRecord


async def rebuild_watch(container: Any) -> tuple[int, int]:
    """Empty the watch and forget which register events were applied, so a replay applies them again.

    The alerts and deliveries stay: their unique keys mean a step raised before the rebuild is not raised
    again after it, and what each contract's watch had raised is found again from them.
    """
    async with container.sessions() as session, session.begin():
        contracts = (await session.execute(delete(WatchedContractRecord))).rowcount
        systems = (await session.execute(delete(WatchedSystemRecord))).rowcount
        await session.execute(delete(inbox_table).where(inbox_table.c.consumer == "notifications.watch"))
    return int(contracts or 0), int(systems or 0)
