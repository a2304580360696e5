"""The read model of register systems and past decisions that duplicate detection searches.

The worker keeps it from the register's system events (the projection functions below) and from the
service's own decisions, through a :class:`ReuseStore`, in the transaction that handles the event. Every
HTTP process keeps a :class:`ReuseFinder`: one in-memory :class:`SimilarityIndex` loaded in full on first
use, then brought up to date before each search with only what changed since (one small query when
nothing did). No HTTP call to the register is made at request time.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass

from estate_contracts.register_events import (
    SupplierChanged,
    SystemChanged,
    SystemLifecycleChanged,
    SystemRecorded,
    SystemRetired,
    SystemSnapshot,
)
from estate_procurement.domain.similarity import (
    Candidate,
    CatalogueSystem,
    PastDecision,
    ReuseQuery,
    SimilarityIndex,
)


@dataclass(frozen=True, kw_only=True)
class ReuseChanges:
    """What changed in the store after one cursor and up to ``cursor`` (inclusive).

    Each system and decision appears at most once, as it stands now; ``removed`` are systems retired
    since. Applying the changes in any order gives the same index, because each record is its latest
    state.
    """

    systems: tuple[CatalogueSystem, ...] = ()
    removed: tuple[uuid.UUID, ...] = ()
    decisions: tuple[PastDecision, ...] = ()
    cursor: int


class ReuseStore(ABC):
    """Where the procurement service keeps its copy of the register's systems and its own past decisions.

    Written in the same transaction as the event that changed it (an inbox claim, or a decision).
    Every write gets the next value of one change sequence; a transaction's changes become visible only
    with values above every change already visible, so a reader that remembers the last value it saw
    (its cursor) misses nothing by asking for what came after it.
    """

    @abstractmethod
    async def upsert_system(self, system: CatalogueSystem, *, version: int) -> bool:
        """Keep ``system`` unless a newer version is already kept; True when it was kept."""

    @abstractmethod
    async def remove_system(self, system_id: uuid.UUID, *, version: int) -> bool:
        """Forget a retired system unless a newer version is kept; True when it was removed."""

    @abstractmethod
    async def record_decision(self, decision: PastDecision) -> None:
        """Keep a decision (a later decision on the same request replaces the earlier one)."""

    @abstractmethod
    async def rename_supplier(self, supplier_id: uuid.UUID, name: str, *, version: int) -> int:
        """Give the kept systems of a supplier its new name, unless a newer version of the supplier was
        already applied; returns how many systems changed."""

    @abstractmethod
    async def changes_since(self, cursor: int) -> ReuseChanges:
        """Everything written after ``cursor`` (0: everything there is), and the cursor to ask with next."""

    async def snapshot(self) -> ReuseChanges:
        """The whole read model: every kept system and decision, and the cursor it stands at."""
        return await self.changes_since(0)


# --- projection: register events -> the store ----------------------------------------------------


def catalogue_system(snapshot: SystemSnapshot) -> CatalogueSystem:
    """The register's system as re-use detection keeps it (names travel with the ids in the event)."""
    return CatalogueSystem(
        id=snapshot.id,
        reference=snapshot.reference,
        name=snapshot.name,
        description=snapshot.description,
        capabilities=tuple(snapshot.capabilities),
        supplier=snapshot.supplier.name if snapshot.supplier else None,
        supplier_id=snapshot.supplier.id if snapshot.supplier else None,
        product_family=snapshot.product_family,
        service_areas=tuple(area.name for area in snapshot.service_areas),
        lifecycle_stage=snapshot.lifecycle_stage,
        councils=tuple(dict.fromkeys([snapshot.lead_council, *snapshot.councils])),
    )


async def project_system(
    store: ReuseStore, event: SystemRecorded | SystemChanged | SystemLifecycleChanged | SystemRetired
) -> bool:
    """Apply a register system event: a retirement removes the system, anything else keeps the
    snapshot. The snapshot's version decides, so a repeated or late (older) event changes nothing;
    True when the store changed."""
    snapshot = event.system
    if isinstance(event, SystemRetired) or snapshot.lifecycle_stage == "retired":
        return await store.remove_system(snapshot.id, version=snapshot.version)
    return await store.upsert_system(catalogue_system(snapshot), version=snapshot.version)


async def project_supplier(store: ReuseStore, event: SupplierChanged) -> int:
    """A renamed supplier renames the supplier of its kept systems; returns how many changed."""
    supplier = event.supplier
    return await store.rename_supplier(supplier.id, supplier.name, version=supplier.version)


# --- the finder: one index per process ------------------------------------------------------------


class ReuseFinder:
    """One :class:`SimilarityIndex` per process, kept current from the store before each search.

    The first search loads the whole read model; each later one applies the changes after the cursor
    the index stands at (cheap when nothing changed: the store answers from its change counter).
    ``max_staleness`` seconds (0 by default) lets a busy process skip even that check between
    refreshes. Refreshes are serialised by a lock, so concurrent searches never load twice.
    """

    def __init__(self, *, index: SimilarityIndex | None = None, max_staleness: float = 0.0) -> None:
        self.index = index or SimilarityIndex()
        self.cursor = 0
        self.loaded = False
        self.max_staleness = max_staleness
        self._checked_at = float("-inf")
        self._lock = asyncio.Lock()

    async def refresh(self, store: ReuseStore) -> int:
        """Bring the index up to date with ``store``; returns how many records were applied."""
        async with self._lock:
            if self.loaded and time.monotonic() - self._checked_at < self.max_staleness:
                return 0
            changes = await (store.changes_since(self.cursor) if self.loaded else store.snapshot())
            applied = self.apply(changes)
            self.loaded = True
            self._checked_at = time.monotonic()
            return applied

    def apply(self, changes: ReuseChanges) -> int:
        """Apply changes read from the store (removals first: a system is either kept or removed)."""
        for system_id in changes.removed:
            self.index.remove_system(system_id)
        for system in changes.systems:
            self.index.upsert_system(system)
        for decision in changes.decisions:
            self.index.upsert_decision(decision)
        self.cursor = max(self.cursor, changes.cursor)
        return len(changes.removed) + len(changes.systems) + len(changes.decisions)

    async def search(self, store: ReuseStore, query: ReuseQuery, *, limit: int = 10) -> list[Candidate]:
        """Ranked re-use candidates for ``query`` from an index no older than the store's last commit
        (or ``max_staleness``)."""
        await self.refresh(store)
        return self.index.search(query, limit=limit)
