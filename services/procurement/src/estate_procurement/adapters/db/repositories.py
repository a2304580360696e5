"""SQL implementations of the procurement ports, over one AsyncSession per unit of work.

They keep the promises of the in-memory fakes (``tests/procurement_fakes.py``): a unit of work sees its own writes
and nobody else's until it commits; ``save`` refuses a stale version; the request, its conditions, the
re-use store, the audit entries and the outbox rows commit or roll back together.
"""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Collection
from typing import Any, cast

from sqlalchemy import CursorResult, Table, delete, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from estate_procurement.adapters.db.codec import (
    condition_rows,
    decision_log_row,
    plain,
    request_from_row,
    request_row,
)
from estate_procurement.adapters.db.records import (
    AuditEntryRecord,
    ConditionRecord,
    DecisionLogRecord,
    ReferenceCounterRecord,
    RequestRecord,
)
from estate_procurement.adapters.db.reuse_store import SqlReuseStore
from estate_procurement.application import ports
from estate_procurement.application.checklists import ChecklistCatalogue
from estate_procurement.domain.errors import Conflict, StaleVersion
from estate_procurement.domain.request import Happened, TechnologyRequest
from estate_procurement.domain.review import Decision
from estate_procurement.domain.values import RequestState
from estate_runtime.db import JoinedSessionUnitOfWork, SessionUnitOfWork, SqlOutbox
from estate_runtime.workdays import WorkingCalendar

REQUESTS: Table = RequestRecord.__table__  # type: ignore[assignment]
CONDITIONS: Table = ConditionRecord.__table__  # type: ignore[assignment]
REFERENCES: Table = ReferenceCounterRecord.__table__  # type: ignore[assignment]
AUDIT: Table = AuditEntryRecord.__table__  # type: ignore[assignment]
DECISION_LOG: Table = DecisionLogRecord.__table__  # type: ignore[assignment]


def _upsert(session: AsyncSession) -> Any:
    """The dialect's INSERT with ON CONFLICT (PostgreSQL and SQLite spell it the same way)."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert
    if dialect == "sqlite":
        return sqlite.insert
    raise ValueError(f"no upsert for the {dialect} dialect")  # pragma: no cover - the services run on these


def _rowcount(result: Any) -> int:
    return int(cast(CursorResult[Any], result).rowcount)


class SqlRequestRepository(ports.RequestRepository):
    """Technology requests in ``technology_requests`` (+ ``request_conditions``, and each new decision
    appended to ``decision_log``); the caller commits.

    ``_save`` is ``UPDATE … WHERE id = :id AND version = :expected``: on PostgreSQL a concurrent writer's
    committed change makes the WHERE miss (READ COMMITTED re-checks it on the newest row), on SQLite the
    database lock serialises writers, so in both a lost update becomes StaleVersion.
    """

    def __init__(self, session: AsyncSession) -> None:
        super().__init__()
        self.session = session

    async def next_reference(self, year: int) -> str:
        """``TR-<year>-<nnnn>``, numbered per year from 0001 by one upsert on ``request_references``.

        The upsert takes the year's row lock and holds it until this transaction ends, so a concurrent
        transaction waits and then gets the next number; a rolled-back transaction gives its number back.
        """
        counter = ReferenceCounterRecord
        stmt = _upsert(self.session)(counter).values(year=year, last=1)
        stmt = stmt.on_conflict_do_update(
            index_elements=[counter.year], set_={"last": counter.last + 1}
        ).returning(counter.last)
        number = int((await self.session.execute(stmt)).scalar_one())
        return f"TR-{year}-{number:04d}"

    async def _one(self, *where: Any) -> TechnologyRequest | None:
        row = (await self.session.execute(select(REQUESTS).where(*where))).mappings().first()
        return request_from_row(row) if row is not None else None

    async def _get(self, request_id: uuid.UUID) -> TechnologyRequest | None:
        return await self._one(REQUESTS.c.id == request_id)

    async def _get_by_reference(self, reference: str) -> TechnologyRequest | None:
        return await self._one(REQUESTS.c.reference == reference)

    async def _add(self, request: TechnologyRequest) -> None:
        # Checked first so that the usual clash is a Conflict with the transaction still usable; the
        # unique constraints catch the race between two adders.
        clash = await self.session.execute(
            select(REQUESTS.c.id).where(
                or_(REQUESTS.c.id == request.id, REQUESTS.c.reference == request.reference)
            )
        )
        if clash.first() is not None:
            raise Conflict(f"request {request.reference} is already recorded")
        try:
            await self.session.execute(insert(REQUESTS).values(**request_row(request)))
        except IntegrityError as exc:
            raise Conflict(f"request {request.reference} is already recorded: {exc.orig}") from exc
        await self._write_conditions(request, new=True)
        await self._append_decisions(request, request.decisions)

    async def _save(self, request: TechnologyRequest, *, expected_version: int) -> None:
        values = request_row(request)
        del values["id"]
        values["version"] = expected_version + 1
        result = await self.session.execute(
            update(REQUESTS)
            .where(REQUESTS.c.id == request.id, REQUESTS.c.version == expected_version)
            .values(**values)
        )
        if _rowcount(result) != 1:
            raise StaleVersion(f"{request.reference} was changed by someone else meanwhile")
        await self._write_conditions(request, new=False)
        # A decision taken since the request was loaded is one of its pending "decided" facts (the
        # facts are only cleared when the unit of work audits them, just before it commits).
        new_rounds = {fact.detail["decision"]["round"] for fact in request.events if fact.action == "decided"}
        await self._append_decisions(request, [d for d in request.decisions if d.round in new_rounds])

    async def _append_decisions(self, request: TechnologyRequest, decisions: Collection[Decision]) -> None:
        """Append these decisions to ``decision_log``. Never an UPDATE (the database refuses one): a
        row already there (the same request saved twice in one unit of work) is left as it is."""
        if not decisions:
            return
        stmt = _upsert(self.session)(DECISION_LOG).on_conflict_do_nothing(
            index_elements=[DECISION_LOG.c.request_id, DECISION_LOG.c.round]
        )
        await self.session.execute(stmt, [decision_log_row(request, d) for d in decisions])

    async def _write_conditions(self, request: TechnologyRequest, *, new: bool) -> None:
        """Make ``request_conditions`` hold exactly the conditions of the latest decision."""
        if not new:
            await self.session.execute(delete(CONDITIONS).where(CONDITIONS.c.request_id == request.id))
        rows = condition_rows(request)
        if rows:
            await self.session.execute(insert(CONDITIONS), rows)

    async def _list(
        self,
        *,
        states: Collection[RequestState] | None,
        requester_id: str | None,
        service_area: str | None,
    ) -> builtins.list[TechnologyRequest]:
        stmt = select(REQUESTS)
        if states is not None:
            stmt = stmt.where(REQUESTS.c.state.in_([RequestState(s).value for s in states]))
        if requester_id is not None:
            stmt = stmt.where(REQUESTS.c.requester_id == requester_id)
        if service_area is not None:
            stmt = stmt.where(REQUESTS.c.service_area == service_area)
        stmt = stmt.order_by(REQUESTS.c.created_at.desc(), REQUESTS.c.id.desc())
        found = [request_from_row(row) for row in (await self.session.execute(stmt)).mappings()]
        return [self.seen.get(r.id, r) for r in found]


def audit_row(fact: Happened, *, correlation_id: str | None) -> dict[str, Any]:
    return {
        "request_id": fact.request_id,
        "at": fact.at,
        "actor_id": fact.actor.id,
        "actor_name": fact.actor.name,
        "actor_email": fact.actor.email,
        "action": fact.action,
        "from_state": fact.from_state.value if fact.from_state is not None else None,
        "to_state": fact.to_state.value,
        "before": plain(fact.before),
        "after": plain(fact.after),
        "detail": plain(fact.detail),
        "correlation_id": correlation_id,
    }


class SqlAuditTrail(ports.AuditTrail):
    """Audit entries, inserted in the caller's transaction (never updated or deleted)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def append(self, fact: Happened, *, correlation_id: str | None) -> None:
        await self.session.execute(insert(AUDIT).values(**audit_row(fact, correlation_id=correlation_id)))


class SqlUnitOfWork(SessionUnitOfWork, ports.UnitOfWork):
    """One database transaction over a session this unit of work owns: ``commit`` commits it, leaving the
    ``async with`` block rolls back whatever was not committed and closes the session."""

    def __init__(
        self,
        session: AsyncSession,
        *,
        clock: ports.Clock,
        calendar: WorkingCalendar,
        checklists: ChecklistCatalogue,
    ) -> None:
        self.session = session
        self.clock = clock
        self.calendar = calendar
        self.checklists = checklists
        self.requests = SqlRequestRepository(session)
        self.reuse = SqlReuseStore(session)
        self.audit = SqlAuditTrail(session)
        self.outbox = SqlOutbox(session)


class JoinedUnitOfWork(JoinedSessionUnitOfWork, SqlUnitOfWork):
    """A unit of work inside a transaction someone else owns (a consumer's inbox transaction): its
    ``commit`` only flushes and it never rolls back or closes, so the owner commits or rolls back the
    inbox claim and the change together."""
