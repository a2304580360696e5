"""SQL implementations of the application's ports, over one AsyncSession per unit of work."""

from __future__ import annotations

import uuid
from typing import Any, Generic, TypeVar

from sqlalchemy import Table, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from estate_register.adapters.db.codec import Codec
from estate_register.adapters.db.records import (
    AuditRecord,
    ContractRecord,
    ContractSystemLink,
    CouncilRecord,
    PersonRecord,
    ServiceAreaRecord,
    SupplierRecord,
    SystemCouncilLink,
    SystemRecord,
    SystemServiceAreaLink,
)
from estate_register.application import ports
from estate_register.application.services import name_key
from estate_register.domain.errors import Conflict, StaleVersion
from estate_register.domain.model import (
    Aggregate,
    Contract,
    Council,
    Happened,
    Person,
    ServiceArea,
    Supplier,
    System,
)
from estate_runtime.db import JoinedSessionUnitOfWork, SessionUnitOfWork, SqlOutbox
from estate_runtime.workdays import WorkingCalendar

A = TypeVar("A", bound=Aggregate)

SYSTEMS: Table = SystemRecord.__table__  # type: ignore[assignment]
CONTRACTS: Table = ContractRecord.__table__  # type: ignore[assignment]
SUPPLIERS: Table = SupplierRecord.__table__  # type: ignore[assignment]
PEOPLE: Table = PersonRecord.__table__  # type: ignore[assignment]
AUDIT: Table = AuditRecord.__table__  # type: ignore[assignment]
SYSTEM_AREAS: Table = SystemServiceAreaLink.__table__  # type: ignore[assignment]
SYSTEM_COUNCILS: Table = SystemCouncilLink.__table__  # type: ignore[assignment]
CONTRACT_SYSTEMS: Table = ContractSystemLink.__table__  # type: ignore[assignment]

SYSTEM_CODEC = Codec(System)
CONTRACT_CODEC = Codec(Contract)
SUPPLIER_CODEC = Codec(Supplier)
PERSON_CODEC = Codec(Person)


def search_text(system: System) -> str:
    return " ".join((system.name, system.reference, system.description, *system.capabilities)).casefold()


def system_row(system: System) -> dict[str, Any]:
    return {
        **SYSTEM_CODEC.to_row(system),
        "name_key": name_key(system.name),
        "search_text": search_text(system),
    }


def supplier_row(supplier: Supplier) -> dict[str, Any]:
    return {**SUPPLIER_CODEC.to_row(supplier), "name_key": name_key(supplier.name)}


def system_links(system: System) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    areas = [{"system_id": system.id, "service_area_id": a} for a in dict.fromkeys(system.service_area_ids)]
    councils = [
        {"system_id": system.id, "council_code": c}
        for c in dict.fromkeys((system.lead_council, *system.councils))
    ]
    return areas, councils


def contract_links(contract: Contract) -> list[dict[str, Any]]:
    return [{"contract_id": contract.id, "system_id": s} for s in dict.fromkeys(contract.system_ids)]


class SqlRepository(ports.Repository[A], Generic[A]):
    table: Table
    codec: Codec[A]

    def __init__(self, session: AsyncSession) -> None:
        super().__init__()
        self.session = session

    def row(self, record: A) -> dict[str, Any]:
        return self.codec.to_row(record)

    async def _one(self, *where: Any, order_by: tuple[Any, ...] = ()) -> A | None:
        result = await self.session.execute(select(self.table).where(*where).order_by(*order_by).limit(1))
        row = result.mappings().first()
        if row is None:
            return None
        record = self.codec.from_row(row)
        return self.seen.get(record.id, record)

    async def _get(self, record_id: uuid.UUID) -> A | None:
        if record_id in self.seen:
            return self.seen[record_id]
        return await self._one(self.table.c.id == record_id)

    async def _get_many(self, ids: list[uuid.UUID]) -> list[A]:
        wanted = [i for i in ids if i not in self.seen]
        found = [self.seen[i] for i in ids if i in self.seen]
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            result = await self.session.execute(select(self.table).where(self.table.c.id.in_(chunk)))
            found.extend(self.codec.from_row(r) for r in result.mappings())
        return found

    async def _add(self, record: A) -> None:
        try:
            await self.session.execute(insert(self.table).values(**self.row(record)))
        except IntegrityError as exc:
            raise Conflict(f"{record.KIND} clashes with one already recorded: {exc.orig}") from exc
        await self._write_links(record, new=True)

    async def _save(self, record: A, *, expected_version: int) -> None:
        values = self.row(record)
        values["version"] = expected_version + 1
        result = await self.session.execute(
            update(self.table)
            .where(self.table.c.id == record.id, self.table.c.version == expected_version)
            .values(**values)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise StaleVersion(
                f"{record.KIND} {record.id} was changed by someone else meanwhile; reload it and try again"
            )
        await self._write_links(record, new=False)

    async def _write_links(self, record: A, *, new: bool) -> None:
        """Keep link tables in step with the record; nothing to do for kinds without links."""


class SqlSystems(SqlRepository[System], ports.SystemRepository):
    table = SYSTEMS
    codec = SYSTEM_CODEC

    def row(self, record: System) -> dict[str, Any]:
        return system_row(record)

    async def _write_links(self, record: System, *, new: bool) -> None:
        if not new:
            await self.session.execute(delete(SYSTEM_AREAS).where(SYSTEM_AREAS.c.system_id == record.id))
            await self.session.execute(
                delete(SYSTEM_COUNCILS).where(SYSTEM_COUNCILS.c.system_id == record.id)
            )
        areas, councils = system_links(record)
        if areas:
            await self.session.execute(insert(SYSTEM_AREAS), areas)
        await self.session.execute(insert(SYSTEM_COUNCILS), councils)

    async def get_by_name(self, lead_council: str, name: str) -> System | None:
        return await self._one(SYSTEMS.c.lead_council == lead_council, SYSTEMS.c.name_key == name_key(name))

    async def get_by_reference(self, reference: str) -> System | None:
        return await self._one(SYSTEMS.c.reference == reference)

    async def from_request(self, request_id: str) -> System | None:
        return await self._one(
            SYSTEMS.c.source_request_id == request_id,
            order_by=(SYSTEMS.c.created_at.desc(), SYSTEMS.c.reference.desc()),
        )

    async def next_reference(self) -> str:
        """SYS-00001, SYS-00002, ...: the next number after the highest SYS- reference in use."""
        result = await self.session.execute(
            select(func.max(SYSTEMS.c.reference)).where(SYSTEMS.c.reference.like("SYS-%"))
        )
        top = result.scalar()
        number = int(top[4:]) + 1 if top and top[4:].isdigit() else 1
        return f"SYS-{number:05d}"


class SqlContracts(SqlRepository[Contract], ports.ContractRepository):
    table = CONTRACTS
    codec = CONTRACT_CODEC

    async def _write_links(self, record: Contract, *, new: bool) -> None:
        if not new:
            await self.session.execute(
                delete(CONTRACT_SYSTEMS).where(CONTRACT_SYSTEMS.c.contract_id == record.id)
            )
        links = contract_links(record)
        if links:
            await self.session.execute(insert(CONTRACT_SYSTEMS), links)

    async def get_by_reference(self, reference: str) -> Contract | None:
        return await self._one(CONTRACTS.c.reference == reference)

    async def covering(self, system_id: uuid.UUID) -> list[Contract]:
        result = await self.session.execute(
            select(CONTRACTS).join(CONTRACT_SYSTEMS).where(CONTRACT_SYSTEMS.c.system_id == system_id)
        )
        return [self.codec.from_row(r) for r in result.mappings()]


class SqlSuppliers(SqlRepository[Supplier], ports.SupplierRepository):
    table = SUPPLIERS
    codec = SUPPLIER_CODEC

    def row(self, record: Supplier) -> dict[str, Any]:
        return supplier_row(record)

    async def get_by_name(self, name: str) -> Supplier | None:
        return await self._one(SUPPLIERS.c.name_key == name_key(name))


class SqlPeople(SqlRepository[Person], ports.PersonRepository):
    table = PEOPLE
    codec = PERSON_CODEC

    async def get_by_email(self, email: str) -> Person | None:
        return await self._one(func.lower(PEOPLE.c.email) == email.lower())


class SqlReferenceData(ports.ReferenceData):
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._areas: list[ServiceArea] | None = None
        self._councils: list[Council] | None = None

    async def councils(self) -> list[Council]:
        if self._councils is None:
            result = await self.session.execute(select(CouncilRecord.code, CouncilRecord.name))
            self._councils = [Council(code=r.code, name=r.name) for r in result]
        return self._councils

    async def service_areas(self) -> list[ServiceArea]:
        if self._areas is None:
            result = await self.session.execute(
                select(ServiceAreaRecord.id, ServiceAreaRecord.name, ServiceAreaRecord.council_code)
            )
            self._areas = [ServiceArea(id=r.id, name=r.name, council_code=r.council_code) for r in result]
        return self._areas

    async def add_council(self, council: Council) -> None:
        self.session.add(CouncilRecord(code=council.code, name=council.name))
        self._councils = None

    async def add_service_area(self, area: ServiceArea) -> None:
        self.session.add(
            ServiceAreaRecord(
                id=area.id, name=area.name, name_key=name_key(area.name), council_code=area.council_code
            )
        )
        self._areas = None


def audit_row(fact: Happened, *, correlation_id: str | None) -> dict[str, Any]:
    return {
        "record_kind": fact.kind,
        "record_id": str(fact.record_id),
        "action": fact.action,
        "actor": fact.actor,
        "at": fact.at,
        "correlation_id": correlation_id,
        "changed_fields": list(fact.detail.get("changed", [])),
        "before": fact.before,
        "after": fact.after,
    }


class SqlAudit(ports.AuditTrail):
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def append(self, fact: Happened, *, correlation_id: str | None) -> None:
        await self.session.execute(insert(AUDIT).values(**audit_row(fact, correlation_id=correlation_id)))


class SqlUnitOfWork(SessionUnitOfWork, ports.UnitOfWork):
    """A unit of work over one database transaction."""

    def __init__(self, session: AsyncSession, *, clock: ports.Clock, calendar: WorkingCalendar) -> None:
        self.session = session
        self.clock = clock
        self.calendar = calendar
        self.systems = SqlSystems(self.session)
        self.contracts = SqlContracts(self.session)
        self.suppliers = SqlSuppliers(self.session)
        self.people = SqlPeople(self.session)
        self.reference = SqlReferenceData(self.session)
        self.audit = SqlAudit(self.session)
        self.outbox = SqlOutbox(self.session)


class JoinedUnitOfWork(JoinedSessionUnitOfWork, SqlUnitOfWork):
    """A unit of work inside a transaction someone else owns (a consumer's inbox transaction): its
    commit only flushes, and the owner commits or rolls back the claim and the change together."""
