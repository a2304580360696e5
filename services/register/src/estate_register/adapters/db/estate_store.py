"""The estate view's read models in SQL: one row per request and one per contract with alerts, written with
``INSERT ... ON CONFLICT DO UPDATE`` in the session (the inbox transaction) of the event being handled."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from estate_register.adapters.db.codec import Codec
from estate_register.adapters.db.records import EstateContractAlertRecord, EstateRequestRecord
from estate_register.application.estate import ContractAlerts, EstateProjections, TrackedRequest

ESTATE_REQUESTS: Table = EstateRequestRecord.__table__  # type: ignore[assignment]
ESTATE_ALERTS: Table = EstateContractAlertRecord.__table__  # type: ignore[assignment]

REQUEST_CODEC = Codec(TrackedRequest)
ALERTS_CODEC = Codec(ContractAlerts)


def _upsert(session: AsyncSession, table: Table, key: str, values: dict[str, Any]) -> Any:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        stmt: Any = postgresql.insert(table).values(values)
    elif dialect == "sqlite":
        stmt = sqlite.insert(table).values(values)
    else:  # pragma: no cover - the register runs on these two
        raise NotImplementedError(f"the estate view needs INSERT ... ON CONFLICT; {dialect} is not supported")
    return stmt.on_conflict_do_update(
        index_elements=[key], set_={k: v for k, v in values.items() if k != key}
    )


class SqlEstateProjections(EstateProjections):
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _row(self, table: Table, key: str, value: uuid.UUID) -> Any:
        """The row whose ``key`` is ``value``, or None."""
        return (await self.session.execute(select(table).where(table.c[key] == value))).mappings().first()

    async def request(self, request_id: uuid.UUID) -> TrackedRequest | None:
        row = await self._row(ESTATE_REQUESTS, "request_id", request_id)
        return None if row is None else REQUEST_CODEC.from_row(row)

    async def save_request(self, request: TrackedRequest, *, at: datetime) -> None:
        values = {**REQUEST_CODEC.to_row(request), "pending": request.pending, "changed_at": at}
        await self.session.execute(_upsert(self.session, ESTATE_REQUESTS, "request_id", values))

    async def contract_alerts(self, contract_id: uuid.UUID) -> ContractAlerts | None:
        row = await self._row(ESTATE_ALERTS, "contract_id", contract_id)
        return None if row is None else ALERTS_CODEC.from_row(row)

    async def save_contract_alerts(self, alerts: ContractAlerts, *, at: datetime) -> None:
        values = {**ALERTS_CODEC.to_row(alerts), "escalation_open": alerts.escalation_open, "changed_at": at}
        await self.session.execute(_upsert(self.session, ESTATE_ALERTS, "contract_id", values))


__all__ = ["ESTATE_ALERTS", "ESTATE_REQUESTS", "SqlEstateProjections"]
