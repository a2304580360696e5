"""The re-use read model in SQL: the register's systems and the TDA's past decisions, each row stamped
with a change sequence so that every HTTP process can fetch only what changed since it last looked.

Tables (for the migration): ``catalogue_systems``, ``catalogue_suppliers``, ``past_decisions`` and
``reuse_change_counter``.

The change sequence is a one-row counter (``reuse_change_counter``) incremented by
``INSERT … ON CONFLICT DO UPDATE SET value = value + 1 RETURNING value`` in the writer's own
transaction. The row lock it takes is held until that transaction ends, so writers get their numbers
in the order they commit: once a reader sees the counter at N, every change numbered N or below is
committed and visible, and a reader that asks "after my cursor, up to N" can never skip a change that
commits later with a smaller number. A PostgreSQL SEQUENCE would not give that (its values are handed
out outside transactions, so a slow transaction can commit number 5 after number 6 is read), nor would
``max(change_seq) + 1`` (two writers read the same maximum). The price is that writers of this read
model queue on one row: there is one writer (the worker), and its writes are small. On SQLite the
database lock already serialises writers; the same statement works there.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Integer, Row, String, Table, Text, Uuid, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from estate_procurement.adapters.db.base import Base
from estate_procurement.application.reuse import ReuseChanges, ReuseStore
from estate_procurement.domain.similarity import CatalogueSystem, PastDecision


class CatalogueSystemRecord(Base):
    """A register system as its latest event described it; ``removed`` once retired (the row stays, so a
    late event with an older version cannot bring it back)."""

    __tablename__ = "catalogue_systems"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)
    reference: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    capabilities: Mapped[list[Any]]
    supplier_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    supplier: Mapped[str | None] = mapped_column(String(300))
    product_family: Mapped[str | None] = mapped_column(String(300))
    service_areas: Mapped[list[Any]]
    lifecycle_stage: Mapped[str] = mapped_column(String(40))
    councils: Mapped[list[Any]]
    removed: Mapped[bool] = mapped_column(Boolean, default=False)
    change_seq: Mapped[int] = mapped_column(BigInteger, index=True)


class CatalogueSupplierRecord(Base):
    """The latest supplier version applied, so a late rename cannot undo a newer one."""

    __tablename__ = "catalogue_suppliers"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)
    name: Mapped[str] = mapped_column(String(300))


class PastDecisionRecord(Base):
    """The latest TDA decision on a request, as re-use detection compares it with new requests."""

    __tablename__ = "past_decisions"

    request_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    reference: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(300))
    summary: Mapped[str] = mapped_column(Text, default="")
    capabilities: Mapped[list[Any]]
    product: Mapped[str | None] = mapped_column(String(300))
    supplier: Mapped[str | None] = mapped_column(String(300))
    service_area: Mapped[str | None] = mapped_column(String(300))
    outcome: Mapped[str] = mapped_column(String(40))
    rationale: Mapped[str] = mapped_column(Text, default="")
    decided_at: Mapped[datetime]
    change_seq: Mapped[int] = mapped_column(BigInteger, index=True)


class ReuseChangeCounterRecord(Base):
    """One row (id 1): the last change sequence value handed out."""

    __tablename__ = "reuse_change_counter"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)


REUSE_TABLE_NAMES = ("catalogue_systems", "catalogue_suppliers", "past_decisions", "reuse_change_counter")
REUSE_TABLES: tuple[Table, ...] = tuple(Base.metadata.tables[name] for name in REUSE_TABLE_NAMES)
"""The tables of this read model (for ``create_all`` in tests and benchmarks; the migration makes them)."""

_COUNTER_ID = 1


class SqlReuseStore(ReuseStore):
    """:class:`ReuseStore` on a session of PostgreSQL or SQLite; the caller commits.

    Every upsert is one ``INSERT … ON CONFLICT DO UPDATE … WHERE excluded.version > version``
    statement, so two writers with different versions of a system cannot interleave a read and a write:
    the newer version wins whatever the order.
    """

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        dialect = session.get_bind().dialect.name
        if dialect == "postgresql":
            self._insert: Any = postgresql.insert
        elif dialect == "sqlite":
            self._insert = sqlite.insert
        else:  # pragma: no cover - the services run on these two only
            raise ValueError(f"no upsert for the {dialect} dialect")

    async def _next_seq(self) -> int:
        counter = ReuseChangeCounterRecord
        stmt = self._insert(counter).values(id=_COUNTER_ID, value=1)
        stmt = stmt.on_conflict_do_update(
            index_elements=[counter.id], set_={"value": counter.value + 1}
        ).returning(counter.value)
        return int((await self.session.execute(stmt)).scalar_one())

    async def upsert_system(self, system: CatalogueSystem, *, version: int) -> bool:
        table = CatalogueSystemRecord
        values = {
            "id": system.id,
            "version": version,
            "reference": system.reference,
            "name": system.name,
            "description": system.description,
            "capabilities": list(system.capabilities),
            "supplier_id": system.supplier_id,
            "supplier": system.supplier,
            "product_family": system.product_family,
            "service_areas": list(system.service_areas),
            "lifecycle_stage": system.lifecycle_stage,
            "councils": list(system.councils),
            "removed": False,
            "change_seq": await self._next_seq(),
        }
        stmt = self._insert(table).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.id],
            set_={key: stmt.excluded[key] for key in values if key != "id"},
            where=stmt.excluded.version > table.version,
        ).returning(table.id)
        return (await self.session.execute(stmt)).first() is not None

    async def remove_system(self, system_id: uuid.UUID, *, version: int) -> bool:
        # A tombstone when the system was never seen: its earlier events may still be on their way.
        table = CatalogueSystemRecord
        stmt = self._insert(table).values(
            id=system_id,
            version=version,
            reference="",
            name="",
            description="",
            capabilities=[],
            service_areas=[],
            lifecycle_stage="retired",
            councils=[],
            removed=True,
            change_seq=await self._next_seq(),
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.id],
            set_={
                "version": stmt.excluded.version,
                "lifecycle_stage": stmt.excluded.lifecycle_stage,
                "removed": True,
                "change_seq": stmt.excluded.change_seq,
            },
            where=stmt.excluded.version > table.version,
        ).returning(table.id)
        return (await self.session.execute(stmt)).first() is not None

    async def record_decision(self, decision: PastDecision) -> None:
        # "Later" is by decision time, so a redelivered earlier decision does not replace a newer one.
        table = PastDecisionRecord
        values = {
            "request_id": decision.request_id,
            "reference": decision.reference,
            "title": decision.title,
            "summary": decision.summary,
            "capabilities": list(decision.capabilities),
            "product": decision.product,
            "supplier": decision.supplier,
            "service_area": decision.service_area,
            "outcome": decision.outcome,
            "rationale": decision.rationale,
            "decided_at": decision.decided_at,
            "change_seq": await self._next_seq(),
        }
        stmt = self._insert(table).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.request_id],
            set_={key: stmt.excluded[key] for key in values if key != "request_id"},
            where=stmt.excluded.decided_at >= table.decided_at,
        )
        await self.session.execute(stmt)

    async def rename_supplier(self, supplier_id: uuid.UUID, name: str, *, version: int) -> int:
        table = CatalogueSupplierRecord
        stmt = self._insert(table).values(id=supplier_id, version=version, name=name)
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.id],
            set_={"version": stmt.excluded.version, "name": stmt.excluded.name},
            where=stmt.excluded.version > table.version,
        ).returning(table.id)
        if (await self.session.execute(stmt)).first() is None:
            return 0
        systems = CatalogueSystemRecord
        renamed = await self.session.execute(
            update(systems)
            .where(
                systems.supplier_id == supplier_id,
                systems.removed.is_(False),
                (systems.supplier.is_(None)) | (systems.supplier != name),
            )
            .values(supplier=name, change_seq=await self._next_seq())
            .execution_options(synchronize_session=False)
        )
        return int(renamed.rowcount)  # type: ignore[attr-defined]  # CursorResult of an UPDATE

    async def changes_since(self, cursor: int) -> ReuseChanges:
        # The counter is read first: every change numbered up to it is committed (see the module
        # docstring), and anything numbered above it is left for the next call.
        current = (
            await self.session.execute(
                select(ReuseChangeCounterRecord.value).where(ReuseChangeCounterRecord.id == _COUNTER_ID)
            )
        ).scalar_one_or_none() or 0
        if current <= cursor:
            return ReuseChanges(cursor=cursor)
        # Plain rows, not ORM objects: nothing enters the session's identity map (a full load is large).
        systems_t = CatalogueSystemRecord.__table__
        systems: list[CatalogueSystem] = []
        removed: list[uuid.UUID] = []
        for row in await self.session.execute(
            select(systems_t).where(systems_t.c.change_seq > cursor, systems_t.c.change_seq <= current)
        ):
            if row.removed:
                removed.append(row.id)
            else:
                systems.append(_system(row))
        decisions_t = PastDecisionRecord.__table__
        decisions = [
            _decision(row)
            for row in await self.session.execute(
                select(decisions_t).where(
                    decisions_t.c.change_seq > cursor, decisions_t.c.change_seq <= current
                )
            )
        ]
        return ReuseChanges(
            systems=tuple(systems), removed=tuple(removed), decisions=tuple(decisions), cursor=current
        )


def _system(row: Row[Any]) -> CatalogueSystem:
    return CatalogueSystem(
        id=row.id,
        reference=row.reference,
        name=row.name,
        description=row.description,
        capabilities=tuple(row.capabilities),
        supplier=row.supplier,
        supplier_id=row.supplier_id,
        product_family=row.product_family,
        service_areas=tuple(row.service_areas),
        lifecycle_stage=row.lifecycle_stage,
        councils=tuple(row.councils),
    )


def _decision(row: Row[Any]) -> PastDecision:
    return PastDecision(
        request_id=row.request_id,
        reference=row.reference,
        title=row.title,
        summary=row.summary,
        capabilities=tuple(row.capabilities),
        product=row.product,
        supplier=row.supplier,
        service_area=row.service_area,
        outcome=row.outcome,
        rationale=row.rationale,
        decided_at=row.decided_at,
    )
