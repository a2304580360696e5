"""In-memory implementations of every port in ``estate_register.application.ports``.

They subclass the same ABCs as the SQL adapters, so a handler run over :class:`FakeUnitOfWork` makes
exactly the calls the real adapters answer. They keep the real adapters' promises that a handler can
observe: a unit of work sees its own writes and nobody else's until it commits; ``save`` refuses a
stale version; a rollback (or leaving the ``async with`` block without committing) leaves the store as
it was; the unique keys the database enforces (system reference and name per lead council, contract
reference, supplier name, person email) are enforced here too.
"""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Generic, TypeVar

from estate_contracts.envelope import Envelope
from estate_eventing.clock import SettableClock
from estate_register.application import estate, ports
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
from estate_register.domain.values import ContractType
from estate_runtime.workdays import HolidayCalendar

A = TypeVar("A", bound=Aggregate)

NOW = datetime(2025, 3, 3, 9, 30, tzinfo=UTC)
"""A Monday morning: the fixed instant of every fake clock unless a test moves it."""

BANK_HOLIDAYS = frozenset(
    {
        date(2025, 4, 18),  # Good Friday
        date(2025, 4, 21),  # Easter Monday
        date(2025, 5, 5),
        date(2025, 5, 26),
        date(2025, 8, 25),
        date(2025, 12, 25),
        date(2025, 12, 26),
        date(2026, 1, 1),
    }
)


class FixedClock(SettableClock):
    """The tests' clock: NOW unless told otherwise; ``set`` moves it."""

    def __init__(self, now: datetime = NOW) -> None:
        super().__init__(now)


class FakeCalendar(HolidayCalendar):
    """Weekends and the listed England-and-Wales bank holidays of 2025 are not working days."""

    def __init__(self, holidays: frozenset[date] = BANK_HOLIDAYS) -> None:
        super().__init__(holidays)


@dataclass(frozen=True)
class AuditEntry:
    fact: Happened
    correlation_id: str | None


@dataclass(frozen=True)
class OutboxEntry:
    envelope: Envelope
    topic: str


@dataclass
class FakeStore:
    """What a database would hold: committed records, reference data, audit and outbox rows."""

    systems: dict[uuid.UUID, System] = field(default_factory=dict)
    contracts: dict[uuid.UUID, Contract] = field(default_factory=dict)
    suppliers: dict[uuid.UUID, Supplier] = field(default_factory=dict)
    people: dict[uuid.UUID, Person] = field(default_factory=dict)
    councils: list[Council] = field(default_factory=list)
    service_areas: list[ServiceArea] = field(default_factory=list)
    audit: list[AuditEntry] = field(default_factory=list)
    outbox: list[OutboxEntry] = field(default_factory=list)
    commits: int = 0

    def event_types(self) -> list[str]:
        return [entry.envelope.type for entry in self.outbox]


def _copy(record: A) -> A:
    """A detached copy, as a fresh database read would give (no pending domain facts)."""
    copied = copy.deepcopy(record)
    copied.events.clear()
    return copied


class FakeRepository(ports.Repository[A], Generic[A]):
    """Records of one kind: reads see this unit of work's pending writes over the committed store."""

    def __init__(self, committed: dict[uuid.UUID, A]) -> None:
        super().__init__()
        self.committed = committed
        self.pending: dict[uuid.UUID, A] = {}
        self.pending_versions: dict[uuid.UUID, int] = {}

    def _visible(self) -> dict[uuid.UUID, A]:
        return {**self.committed, **self.pending}

    def _find(self, predicate: Any) -> A | None:
        for record_id, record in self._visible().items():
            if predicate(record):
                return self.seen.get(record_id) or _copy(record)
        return None

    async def _get(self, record_id: uuid.UUID) -> A | None:
        if record_id in self.seen:
            return self.seen[record_id]
        record = self._visible().get(record_id)
        return _copy(record) if record is not None else None

    async def _get_many(self, ids: list[uuid.UUID]) -> list[A]:
        found = []
        for record_id in ids:
            record = await self._get(record_id)
            if record is not None:
                found.append(record)
        return found

    def unique_keys(self, record: A) -> dict[str, Any]:
        """The unique keys the database enforces for this kind: name of the key -> value."""
        return {}

    def _check_unique(self, record: A) -> None:
        keys = self.unique_keys(record)
        for other in self._visible().values():
            if other.id == record.id:
                continue
            theirs = self.unique_keys(other)
            for name, value in keys.items():
                if value is not None and theirs.get(name) == value:
                    raise Conflict(f"{record.KIND} clashes with one already recorded on {name}")

    async def _add(self, record: A) -> None:
        if record.id in self._visible():
            raise Conflict(f"{record.KIND} {record.id} is already recorded")
        self._check_unique(record)
        self.pending[record.id] = _copy(record)
        self.pending_versions[record.id] = 0

    async def _save(self, record: A, *, expected_version: int) -> None:
        stored = self.pending.get(record.id) or self.committed.get(record.id)
        if stored is None or stored.version != expected_version:
            raise StaleVersion(f"{record.KIND} {record.id} was changed by someone else meanwhile")
        self._check_unique(record)
        saved = _copy(record)
        saved.version = expected_version + 1
        self.pending[record.id] = saved
        self.pending_versions.setdefault(record.id, expected_version)

    def check(self) -> None:
        """Raise StaleVersion if committing would overwrite a version this unit of work never read."""
        for record_id, record in self.pending.items():
            base = self.pending_versions[record_id]
            current = self.committed.get(record_id)
            # Another unit of work committed a newer version meanwhile: the database's
            # "UPDATE ... WHERE version = expected" would have matched no row.
            if current is not None and current.version != base:
                raise StaleVersion(f"{record.KIND} {record_id} was changed by someone else meanwhile")

    def commit(self) -> None:
        self.committed.update(self.pending)
        self.pending.clear()
        self.pending_versions.clear()

    def rollback(self) -> None:
        self.pending.clear()
        self.pending_versions.clear()


class FakeSystems(FakeRepository[System], ports.SystemRepository):
    def unique_keys(self, record: System) -> dict[str, Any]:
        return {"reference": record.reference, "name": (record.lead_council, name_key(record.name))}

    async def get_by_name(self, lead_council: str, name: str) -> System | None:
        key = name_key(name)
        return self._find(lambda s: s.lead_council == lead_council and name_key(s.name) == key)

    async def get_by_reference(self, reference: str) -> System | None:
        return self._find(lambda s: s.reference == reference)

    async def next_reference(self) -> str:
        numbers = [
            int(s.reference[4:])
            for s in self._visible().values()
            if s.reference.startswith("SYS-") and s.reference[4:].isdigit()
        ]
        return f"SYS-{max(numbers, default=0) + 1:05d}"

    async def from_request(self, request_id: str) -> System | None:
        planned = [s for s in self._visible().values() if s.source_request_id == request_id]
        if not planned:
            return None
        latest = max(planned, key=lambda s: (s.created_at, s.reference))
        return self.seen.get(latest.id) or _copy(latest)


class FakeContracts(FakeRepository[Contract], ports.ContractRepository):
    def unique_keys(self, record: Contract) -> dict[str, Any]:
        return {"reference": record.reference}

    async def get_by_reference(self, reference: str) -> Contract | None:
        return self._find(lambda c: c.reference == reference)

    async def covering(self, system_id: uuid.UUID) -> list[Contract]:
        return [
            self.seen.get(c.id) or _copy(c) for c in self._visible().values() if system_id in c.system_ids
        ]


class FakeSuppliers(FakeRepository[Supplier], ports.SupplierRepository):
    def unique_keys(self, record: Supplier) -> dict[str, Any]:
        return {"name": name_key(record.name)}

    async def get_by_name(self, name: str) -> Supplier | None:
        key = name_key(name)
        return self._find(lambda s: name_key(s.name) == key)


class FakePeople(FakeRepository[Person], ports.PersonRepository):
    def unique_keys(self, record: Person) -> dict[str, Any]:
        return {"email": record.email.lower()}

    async def get_by_email(self, email: str) -> Person | None:
        return self._find(lambda p: p.email.lower() == email.lower())


class FakeReferenceData(ports.ReferenceData):
    def __init__(self, store: FakeStore) -> None:
        self.store = store
        self.pending_councils: list[Council] = []
        self.pending_areas: list[ServiceArea] = []

    async def councils(self) -> list[Council]:
        return [*self.store.councils, *self.pending_councils]

    async def service_areas(self) -> list[ServiceArea]:
        return [*self.store.service_areas, *self.pending_areas]

    async def add_council(self, council: Council) -> None:
        self.pending_councils.append(council)

    async def add_service_area(self, area: ServiceArea) -> None:
        self.pending_areas.append(area)

    def commit(self) -> None:
        self.store.councils.extend(self.pending_councils)
        self.store.service_areas.extend(self.pending_areas)
        self.rollback()

    def rollback(self) -> None:
        self.pending_councils = []
        self.pending_areas = []


class FakeAuditTrail(ports.AuditTrail):
    def __init__(self) -> None:
        self.pending: list[AuditEntry] = []

    async def append(self, fact: Happened, *, correlation_id: str | None) -> None:
        self.pending.append(AuditEntry(fact=fact, correlation_id=correlation_id))


class FakeOutbox(ports.Outbox):
    def __init__(self) -> None:
        self.pending: list[OutboxEntry] = []

    async def put(self, envelope: Envelope, *, topic: str) -> None:
        self.pending.append(OutboxEntry(envelope=envelope, topic=topic))


class FakeUnitOfWork(ports.UnitOfWork):
    """One transaction over a :class:`FakeStore`; several units of work may share one store."""

    def __init__(
        self,
        store: FakeStore | None = None,
        *,
        clock: ports.Clock | None = None,
        calendar: FakeCalendar | None = None,
    ) -> None:
        self.store = store if store is not None else FakeStore()
        self.clock = clock or FixedClock()
        self.calendar = calendar or FakeCalendar()
        self.systems = FakeSystems(self.store.systems)
        self.contracts = FakeContracts(self.store.contracts)
        self.suppliers = FakeSuppliers(self.store.suppliers)
        self.people = FakePeople(self.store.people)
        self.reference = FakeReferenceData(self.store)
        self.audit = FakeAuditTrail()
        self.outbox = FakeOutbox()
        self.committed = False

    def _repositories(self) -> tuple[FakeRepository[Any], ...]:
        return (self.systems, self.contracts, self.suppliers, self.people)

    async def commit(self) -> None:
        for repository in self._repositories():
            repository.check()
        for repository in self._repositories():
            repository.commit()
        self.reference.commit()
        self.store.audit.extend(self.audit.pending)
        self.store.outbox.extend(self.outbox.pending)
        self.audit.pending = []
        self.outbox.pending = []
        self.store.commits += 1
        self.committed = True

    async def rollback(self) -> None:
        for repository in self._repositories():
            repository.rollback()
        self.reference.rollback()
        self.audit.pending = []
        self.outbox.pending = []

    async def flush(self) -> None:
        """Nothing to send: pending writes are already visible to this unit of work's reads."""


# --- builders: valid records to start a test from ---------------------------------------------------


def a_system(**fields: Any) -> System:
    """A valid live system, recorded at NOW; any field can be overridden."""
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "reference": "SYS-00001",
        "name": "Orchard",
        "lead_council": "CCC",
        "created_at": NOW,
        "updated_at": NOW,
    }
    values.update(fields)
    return System(**values)


def a_contract(**fields: Any) -> Contract:
    """A valid active software licence of three years from 2025-04-01; any field can be overridden."""
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "reference": "CCC-ICT-0001",
        "title": "Orchard licence and support",
        "supplier_id": uuid.uuid4(),
        "contract_type": ContractType.SOFTWARE_LICENCE,
        "start_date": date(2025, 4, 1),
        "initial_term_end": date(2028, 3, 31),
        "current_term_end": date(2028, 3, 31),
        "created_at": NOW,
        "updated_at": NOW,
    }
    values.update(fields)
    return Contract(**values)


class FakeEstateProjections(estate.EstateProjections):
    """The estate view's read models in dictionaries; ``writes`` counts the rows written."""

    def __init__(self) -> None:
        self.requests: dict[uuid.UUID, estate.TrackedRequest] = {}
        self.alerts: dict[uuid.UUID, estate.ContractAlerts] = {}
        self.writes = 0

    async def request(self, request_id: uuid.UUID) -> estate.TrackedRequest | None:
        return self.requests.get(request_id)

    async def save_request(self, request: estate.TrackedRequest, *, at: datetime) -> None:
        self.requests[request.request_id] = request
        self.writes += 1

    async def contract_alerts(self, contract_id: uuid.UUID) -> estate.ContractAlerts | None:
        return self.alerts.get(contract_id)

    async def save_contract_alerts(self, alerts: estate.ContractAlerts, *, at: datetime) -> None:
        self.alerts[alerts.contract_id] = alerts
        self.writes += 1
