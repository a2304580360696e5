"""The survey's bulk store: a few queries to preload, multi-row statements to write.

Everything runs in the session of the :class:`SqlUnitOfWork` it is given, so the import is one
transaction whose audit rows and outbox rows commit (or roll back) with the records themselves.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

import orjson
from sqlalchemy import JSON, Table, bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from estate_eventing.outbox import outbox_rows
from estate_eventing.tables import outbox_table
from estate_register.adapters.db.records import CouncilRecord
from estate_register.adapters.db.repositories import (
    AUDIT,
    CONTRACT_CODEC,
    CONTRACT_SYSTEMS,
    CONTRACTS,
    PEOPLE,
    PERSON_CODEC,
    SUPPLIER_CODEC,
    SUPPLIERS,
    SYSTEM_AREAS,
    SYSTEM_CODEC,
    SYSTEM_COUNCILS,
    SYSTEMS,
    SqlUnitOfWork,
    audit_row,
    contract_links,
    supplier_row,
    system_links,
    system_row,
)
from estate_register.application.ports import UnitOfWork
from estate_register.application.survey import Catalogue, SurveyStore, SystemKey, WriteBatch
from estate_register.domain.errors import Conflict, StaleVersion
from estate_register.domain.model import Contract, System
from estate_register.domain.values import LifecycleStage

# Rows per statement when reading by id: well under every driver's bind-parameter limit.
ID_CHUNK = 1000
STREAM_CHUNK = 500


def contract_row(contract: Contract) -> dict[str, Any]:
    return CONTRACT_CODEC.to_row(contract)


def survey_store(uow: UnitOfWork) -> SqlSurveyStore:
    """The bulk store over a SQL unit of work (the only kind that can run a survey)."""
    if not isinstance(uow, SqlUnitOfWork):
        raise TypeError(f"survey import and export need a SQL unit of work, not {type(uow).__name__}")
    return SqlSurveyStore(uow)


class SqlSurveyStore(SurveyStore):
    def __init__(self, uow: SqlUnitOfWork) -> None:
        self.uow = uow
        self.session = uow.session

    async def catalogue(self) -> Catalogue:
        session = self.session
        councils = list((await session.execute(select(CouncilRecord.code))).scalars())
        areas = await self.uow.reference.service_areas()
        people = [PERSON_CODEC.from_row(r) for r in (await session.execute(select(PEOPLE))).mappings()]
        suppliers = [
            SUPPLIER_CODEC.from_row(r) for r in (await session.execute(select(SUPPLIERS))).mappings()
        ]
        result = await session.execute(
            select(
                SYSTEMS.c.id,
                SYSTEMS.c.reference,
                SYSTEMS.c.name,
                SYSTEMS.c.lead_council,
                SYSTEMS.c.lifecycle_stage,
            )
        )
        systems = [SystemKey(r[0], r[1], r[2], r[3], LifecycleStage(r[4])) for r in result]
        result = await session.execute(select(CONTRACTS.c.reference, CONTRACTS.c.id))
        contracts = {r[0]: r[1] for r in result}
        return Catalogue(
            councils=councils,
            areas=areas,
            people=people,
            suppliers=suppliers,
            systems=systems,
            contracts=contracts,
        )

    async def _locked(self, table: Table, ids: Sequence[uuid.UUID]) -> list[Any]:
        rows: list[Any] = []
        for start in range(0, len(ids), ID_CHUNK):
            chunk = list(ids[start : start + ID_CHUNK])
            result = await self.session.execute(select(table).where(table.c.id.in_(chunk)).with_for_update())
            rows.extend(result.mappings())
        return rows

    async def systems_for_update(self, ids: Sequence[uuid.UUID]) -> list[System]:
        return [SYSTEM_CODEC.from_row(r) for r in await self._locked(SYSTEMS, ids)]

    async def contracts_for_update(self, ids: Sequence[uuid.UUID]) -> list[Contract]:
        return [CONTRACT_CODEC.from_row(r) for r in await self._locked(CONTRACTS, ids)]

    async def write(self, batch: WriteBatch) -> None:
        try:
            await self._write(batch)
        except IntegrityError as exc:
            raise Conflict(f"the survey clashes with a record already stored: {exc.orig}") from exc

    async def _write(self, batch: WriteBatch) -> None:
        session = self.session
        if batch.new_suppliers:
            await self._insert(SUPPLIERS, [supplier_row(s) for s in batch.new_suppliers])
        if batch.new_systems:
            await self._insert(SYSTEMS, [system_row(s) for s in batch.new_systems])
            await self._system_links(batch.new_systems)
        if batch.changed_systems:
            await self._update(SYSTEMS, [(system_row(s), v) for s, v in batch.changed_systems])
            ids = [s.id for s, _ in batch.changed_systems]
            await session.execute(delete(SYSTEM_AREAS).where(SYSTEM_AREAS.c.system_id.in_(ids)))
            await session.execute(delete(SYSTEM_COUNCILS).where(SYSTEM_COUNCILS.c.system_id.in_(ids)))
            await self._system_links([s for s, _ in batch.changed_systems])
        if batch.new_contracts:
            await self._insert(CONTRACTS, [contract_row(c) for c in batch.new_contracts])
            await self._contract_links(batch.new_contracts)
        if batch.changed_contracts:
            await self._update(CONTRACTS, [(contract_row(c), v) for c, v in batch.changed_contracts])
            ids = [c.id for c, _ in batch.changed_contracts]
            await session.execute(delete(CONTRACT_SYSTEMS).where(CONTRACT_SYSTEMS.c.contract_id.in_(ids)))
            await self._contract_links([c for c, _ in batch.changed_contracts])
        if batch.facts:
            await self._insert(
                AUDIT, [audit_row(f, correlation_id=batch.correlation_id) for f in batch.facts]
            )
        if batch.events:
            await self._insert(outbox_table, outbox_rows(batch.events))

    async def _system_links(self, systems: Sequence[System]) -> None:
        areas: list[dict[str, Any]] = []
        councils: list[dict[str, Any]] = []
        for system in systems:
            system_areas, system_councils = system_links(system)
            areas.extend(system_areas)
            councils.extend(system_councils)
        await self._insert(SYSTEM_AREAS, areas)
        await self._insert(SYSTEM_COUNCILS, councils)

    async def _contract_links(self, contracts: Sequence[Contract]) -> None:
        await self._insert(CONTRACT_SYSTEMS, [link for c in contracts for link in contract_links(c)])

    async def _insert(self, table: Table, rows: list[dict[str, Any]]) -> None:
        """Insert rows (all with the same keys). On PostgreSQL through asyncpg this is a binary COPY in
        the session's transaction, many times faster than a prepared statement per row; elsewhere one
        multi-row ``insert()``. Either way the rows are stored in list order (the outbox's id order)."""
        if not rows:
            return
        connection = await self.session.connection()
        if connection.dialect.driver != "asyncpg":
            await self.session.execute(insert(table), rows)
            return
        columns = list(rows[0])
        as_json = {name for name in columns if isinstance(table.c[name].type, JSON)}
        records = [
            # JSON columns as SQLAlchemy's JSON type writes them (None as JSON null, like none_as_null=False)
            tuple(orjson.dumps(row[c]).decode() if c in as_json else row[c] for c in columns)
            for row in rows
        ]
        raw = await connection.get_raw_connection()
        await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
            table.name, records=records, columns=columns
        )

    async def _update(self, table: Table, rows: list[tuple[dict[str, Any], int]]) -> None:
        """UPDATE ... WHERE id = ? AND version = expected, for many rows at once; then check that each row
        now has the next version (drivers do not all report per-row counts of an executemany)."""
        statement = update(table).where(
            table.c.id == bindparam("match_id"), table.c.version == bindparam("match_version")
        )
        params = [
            {
                **{k: v for k, v in row.items() if k != "id"},
                "version": version + 1,
                "match_id": row["id"],
                "match_version": version,
            }
            for row, version in rows
        ]
        await self.session.execute(statement, params)
        expected = {row["id"]: version + 1 for row, version in rows}
        ids = list(expected)
        for start in range(0, len(ids), ID_CHUNK):
            chunk = ids[start : start + ID_CHUNK]
            result = await self.session.execute(
                select(table.c.id, table.c.version).where(table.c.id.in_(chunk))
            )
            for record_id, version in result:
                if expected[record_id] != version:
                    raise StaleVersion(
                        f"record {record_id} was changed by someone else during the import; "
                        "import the survey again"
                    )

    async def all_systems(self) -> AsyncIterator[System]:
        result = await self.session.stream(
            select(SYSTEMS).order_by(SYSTEMS.c.reference).execution_options(yield_per=STREAM_CHUNK)
        )
        async for row in result.mappings():
            yield SYSTEM_CODEC.from_row(row)

    async def all_contracts(self) -> AsyncIterator[Contract]:
        result = await self.session.stream(
            select(CONTRACTS).order_by(CONTRACTS.c.reference).execution_options(yield_per=STREAM_CHUNK)
        )
        async for row in result.mappings():
            yield CONTRACT_CODEC.from_row(row)
