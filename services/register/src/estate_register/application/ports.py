"""What the application layer needs from the outside world, as abstract classes.

The SQL adapters and the in-memory fakes used by unit tests implement the same ABCs, so a handler test
with fakes exercises exactly the calls the real adapters answer.
"""

from __future__ import annotations

import abc
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Generic, TypeVar

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
from estate_runtime import uow
from estate_runtime.uow import Outbox as Outbox  # the port, re-exported: every service's is the same
from estate_runtime.workdays import WorkingCalendar

A = TypeVar("A", bound=Aggregate)

Clock = Callable[[], datetime]


class Repository(abc.ABC, Generic[A]):
    """Versioned records of one kind. ``save`` refuses a record whose version moved on meanwhile."""

    def __init__(self) -> None:
        self.seen: dict[uuid.UUID, A] = {}

    async def get(self, record_id: uuid.UUID) -> A | None:
        record = await self._get(record_id)
        if record is not None:
            self.seen[record.id] = record
        return record

    async def add(self, record: A) -> None:
        await self._add(record)
        self.seen[record.id] = record

    async def save(self, record: A, *, expected_version: int) -> None:
        """Store a changed record; raise StaleVersion unless the stored version is ``expected_version``."""
        await self._save(record, expected_version=expected_version)
        record.version = expected_version + 1

    async def get_many(self, ids: Sequence[uuid.UUID]) -> list[A]:
        found = await self._get_many(list(dict.fromkeys(ids)))
        for record in found:
            self.seen[record.id] = record
        return found

    @abc.abstractmethod
    async def _get(self, record_id: uuid.UUID) -> A | None: ...

    @abc.abstractmethod
    async def _get_many(self, ids: list[uuid.UUID]) -> list[A]: ...

    @abc.abstractmethod
    async def _add(self, record: A) -> None: ...

    @abc.abstractmethod
    async def _save(self, record: A, *, expected_version: int) -> None: ...


class SystemRepository(Repository[System]):
    @abc.abstractmethod
    async def get_by_name(self, lead_council: str, name: str) -> System | None: ...

    @abc.abstractmethod
    async def get_by_reference(self, reference: str) -> System | None: ...

    @abc.abstractmethod
    async def next_reference(self) -> str: ...

    @abc.abstractmethod
    async def from_request(self, request_id: str) -> System | None:
        """The latest system planned from that technology request (the last recorded; a request whose
        plan was retired may be planned again), or None."""


class ContractRepository(Repository[Contract]):
    @abc.abstractmethod
    async def get_by_reference(self, reference: str) -> Contract | None: ...

    @abc.abstractmethod
    async def covering(self, system_id: uuid.UUID) -> list[Contract]: ...


class SupplierRepository(Repository[Supplier]):
    @abc.abstractmethod
    async def get_by_name(self, name: str) -> Supplier | None: ...


class PersonRepository(Repository[Person]):
    @abc.abstractmethod
    async def get_by_email(self, email: str) -> Person | None: ...


class ReferenceData(abc.ABC):
    """Councils and service areas: small, slowly changing lists."""

    @abc.abstractmethod
    async def councils(self) -> list[Council]: ...

    @abc.abstractmethod
    async def service_areas(self) -> list[ServiceArea]: ...

    @abc.abstractmethod
    async def add_council(self, council: Council) -> None: ...

    @abc.abstractmethod
    async def add_service_area(self, area: ServiceArea) -> None: ...


class AuditTrail(abc.ABC):
    @abc.abstractmethod
    async def append(self, fact: Happened, *, correlation_id: str | None) -> None: ...


class UnitOfWork(uow.UnitOfWork):
    """One transaction: every repository, the audit trail and the outbox commit or roll back together."""

    systems: SystemRepository
    contracts: ContractRepository
    suppliers: SupplierRepository
    people: PersonRepository
    reference: ReferenceData
    audit: AuditTrail
    outbox: Outbox
    calendar: WorkingCalendar
    clock: Clock

    def touched(self) -> list[Aggregate]:
        seen: list[Aggregate] = []
        for repo in (self.systems, self.contracts, self.suppliers, self.people):
            seen.extend(repo.seen.values())
        return seen

    def info(self) -> dict[str, Any]:
        return {}
