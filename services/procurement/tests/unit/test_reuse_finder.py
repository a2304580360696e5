"""The re-use read model kept from register events, and the finder that searches it: what a requester is
shown after systems are recorded, changed, renamed and retired, in whatever order the events arrive."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from estate_contracts.register_events import (
    Ref,
    SupplierChanged,
    SupplierSnapshot,
    SystemChanged,
    SystemLifecycleChanged,
    SystemRecorded,
    SystemRetired,
    SystemSnapshot,
)
from estate_procurement.application.reuse import (
    ReuseChanges,
    ReuseFinder,
    ReuseStore,
    catalogue_system,
    project_supplier,
    project_system,
)
from estate_procurement.domain.similarity import CatalogueSystem, PastDecision, ReuseQuery

NOW = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
YOTTA = Ref(id=uuid.UUID(int=1), name="Yotta")
STREETS = Ref(id=uuid.UUID(int=2), name="Streets and Open Spaces")
ALLOY_ID = uuid.UUID(int=100)


@dataclass
class _Row:
    system: CatalogueSystem
    version: int
    removed: bool
    seq: int


class FakeReuseStore(ReuseStore):
    """The port's rules in memory: versions guard every write, every write gets the next sequence value."""

    def __init__(self) -> None:
        self.seq = 0
        self.systems: dict[uuid.UUID, _Row] = {}
        self.suppliers: dict[uuid.UUID, int] = {}
        self.decisions: dict[uuid.UUID, tuple[PastDecision, int]] = {}
        self.calls: list[int] = []

    def _next(self) -> int:
        self.seq += 1
        return self.seq

    async def upsert_system(self, system: CatalogueSystem, *, version: int) -> bool:
        kept = self.systems.get(system.id)
        if kept is not None and kept.version >= version:
            return False
        self.systems[system.id] = _Row(system, version, False, self._next())
        return True

    async def remove_system(self, system_id: uuid.UUID, *, version: int) -> bool:
        kept = self.systems.get(system_id)
        if kept is not None and kept.version >= version:
            return False
        shell = kept.system if kept else CatalogueSystem(id=system_id, reference="", name="")
        self.systems[system_id] = _Row(shell, version, True, self._next())
        return True

    async def record_decision(self, decision: PastDecision) -> None:
        kept = self.decisions.get(decision.request_id)
        if kept is None or kept[0].decided_at <= decision.decided_at:
            self.decisions[decision.request_id] = (decision, self._next())

    async def rename_supplier(self, supplier_id: uuid.UUID, name: str, *, version: int) -> int:
        if self.suppliers.get(supplier_id, 0) >= version:
            return 0
        self.suppliers[supplier_id] = version
        renamed = 0
        for row in self.systems.values():
            if row.system.supplier_id == supplier_id and not row.removed and row.system.supplier != name:
                row.system = replace(row.system, supplier=name)
                row.seq = self._next()
                renamed += 1
        return renamed

    async def changes_since(self, cursor: int) -> ReuseChanges:
        self.calls.append(cursor)
        rows = [r for r in self.systems.values() if r.seq > cursor]
        return ReuseChanges(
            systems=tuple(r.system for r in rows if not r.removed),
            removed=tuple(r.system.id for r in rows if r.removed),
            decisions=tuple(d for d, seq in self.decisions.values() if seq > cursor),
            cursor=self.seq,
        )


def snapshot(version: int = 1, **fields: object) -> SystemSnapshot:
    base: dict[str, object] = {
        "id": ALLOY_ID,
        "version": version,
        "reference": "SYS-0001",
        "name": "Alloy",
        "description": "Asset management for highways, trees and parks.",
        "lead_council": "CCC",
        "councils": ["CCC", "SCDC"],
        "service_areas": [STREETS],
        "capabilities": ["asset management", "inspections"],
        "supplier": YOTTA,
        "product_family": "Alloy",
        "lifecycle_stage": "live",
        "updated_at": NOW,
    }
    base.update(fields)
    return SystemSnapshot.model_validate(base)


ASSETS = ReuseQuery(title="Street asset app", capabilities=("asset management",))


async def shown(finder: ReuseFinder, store: ReuseStore, query: ReuseQuery = ASSETS) -> list[str]:
    return [reason for c in await finder.search(store, query) for reason in c.reasons]


def test_a_snapshot_becomes_a_catalogue_system() -> None:
    system = catalogue_system(snapshot())

    assert system == CatalogueSystem(
        id=ALLOY_ID,
        reference="SYS-0001",
        name="Alloy",
        description="Asset management for highways, trees and parks.",
        capabilities=("asset management", "inspections"),
        supplier="Yotta",
        supplier_id=YOTTA.id,
        product_family="Alloy",
        service_areas=("Streets and Open Spaces",),
        lifecycle_stage="live",
        councils=("CCC", "SCDC"),
    )


async def test_a_recorded_system_is_offered_for_re_use() -> None:
    store, finder = FakeReuseStore(), ReuseFinder()

    assert await project_system(store, SystemRecorded(system=snapshot()))

    assert "Alloy already covers asset management for Streets and Open Spaces" in await shown(finder, store)


async def test_repeated_and_older_events_change_nothing() -> None:
    store, finder = FakeReuseStore(), ReuseFinder()
    await project_system(
        store, SystemChanged(system=snapshot(3, name="Alloy Assets"), changed_fields=["name"])
    )

    assert not await project_system(store, SystemRecorded(system=snapshot(1)))
    assert not await project_system(
        store, SystemChanged(system=snapshot(3, name="Alloy Assets"), changed_fields=["name"])
    )

    assert "Alloy Assets already covers asset management for Streets and Open Spaces" in await shown(
        finder, store
    )


async def test_a_retired_system_disappears_and_a_late_older_event_does_not_bring_it_back() -> None:
    store, finder = FakeReuseStore(), ReuseFinder()
    await project_system(store, SystemRecorded(system=snapshot(1)))
    assert await shown(finder, store)

    assert await project_system(
        store, SystemRetired(system=snapshot(4, lifecycle_stage="retired"), from_stage="decommissioning")
    )
    assert not await project_system(store, SystemChanged(system=snapshot(2), changed_fields=["description"]))

    assert await shown(finder, store) == []


async def test_a_retirement_before_the_recording_wins() -> None:
    store, finder = FakeReuseStore(), ReuseFinder()

    await project_system(
        store, SystemRetired(system=snapshot(2, lifecycle_stage="retired"), from_stage="live")
    )
    await project_system(store, SystemRecorded(system=snapshot(1)))

    assert await shown(finder, store) == []


async def test_a_planned_system_says_it_is_not_live_and_decommissioning_ones_are_left_out() -> None:
    store, finder = FakeReuseStore(), ReuseFinder()
    await project_system(store, SystemRecorded(system=snapshot(1, lifecycle_stage="planned")))

    assert "Alloy (planned, not live yet) will cover asset management for Streets and Open Spaces" in (
        await shown(finder, store)
    )

    await project_system(
        store,
        SystemLifecycleChanged(
            system=snapshot(2, lifecycle_stage="decommissioning"),
            from_stage="planned",
            to_stage="decommissioning",
        ),
    )
    assert await shown(finder, store) == []


async def test_a_renamed_supplier_renames_its_systems_once() -> None:
    store, finder = FakeReuseStore(), ReuseFinder()
    await project_system(store, SystemRecorded(system=snapshot()))
    renamed = SupplierSnapshot(id=YOTTA.id, version=2, name="Yotta Ltd", updated_at=NOW)

    assert await project_supplier(store, SupplierChanged(supplier=renamed, changed_fields=["name"])) == 1
    assert await project_supplier(store, SupplierChanged(supplier=renamed, changed_fields=["name"])) == 0

    found = await shown(finder, store, ReuseQuery(title="Parks inspections", supplier="Yotta Ltd"))
    assert "same supplier (Yotta Ltd) as Alloy" in found


async def test_the_finder_loads_once_then_reads_only_what_changed() -> None:
    store, finder = FakeReuseStore(), ReuseFinder()
    await project_system(store, SystemRecorded(system=snapshot()))

    await finder.search(store, ASSETS)
    await finder.search(store, ASSETS)
    assert store.calls == [0, 1]
    assert await finder.refresh(store) == 0

    await store.record_decision(
        PastDecision(
            request_id=uuid.UUID(int=7),
            reference="TR-2026-0007",
            title="Street asset app",
            capabilities=("asset management",),
            outcome="not_approved",
            rationale="re-use Alloy",
            decided_at=NOW,
        )
    )
    assert "TR-2026-0007 'Street asset app' was not approved on 3 March 2026: re-use Alloy" in (
        await shown(finder, store)
    )
    assert store.calls[-1] == 1
    assert finder.cursor == 2


async def test_two_processes_each_stay_current_from_the_same_store() -> None:
    store = FakeReuseStore()
    first, second = ReuseFinder(), ReuseFinder()
    await project_system(store, SystemRecorded(system=snapshot()))
    assert await shown(first, store) and await shown(second, store)

    await project_system(
        store, SystemRetired(system=snapshot(2, lifecycle_stage="retired"), from_stage="live")
    )

    assert await shown(first, store) == []
    assert await shown(second, store) == []


async def test_concurrent_first_searches_load_the_model_once() -> None:
    store, finder = FakeReuseStore(), ReuseFinder()
    await project_system(store, SystemRecorded(system=snapshot()))

    results = await asyncio.gather(*(finder.search(store, ASSETS) for _ in range(5)))

    assert all(r == results[0] for r in results)
    assert store.calls.count(0) == 1


async def test_max_staleness_skips_the_check_between_refreshes() -> None:
    store, finder = FakeReuseStore(), ReuseFinder(max_staleness=3600)
    await project_system(store, SystemRecorded(system=snapshot()))
    await finder.search(store, ASSETS)

    await project_system(
        store, SystemRetired(system=snapshot(2, lifecycle_stage="retired"), from_stage="live")
    )

    assert await shown(finder, store)  # still the hour-old view
    assert store.calls == [0]
