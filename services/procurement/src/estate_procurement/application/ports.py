"""What the procurement use cases need from the outside world, as abstract classes.

The SQL adapters and the in-memory fakes of the unit tests implement the same ABCs, so a use case run
over the fakes makes exactly the calls the real adapters answer.
"""

from __future__ import annotations

import abc
import builtins
import uuid
from collections.abc import Callable, Collection
from datetime import datetime

from estate_procurement.application.checklists import ChecklistCatalogue
from estate_procurement.application.reuse import ReuseStore
from estate_procurement.domain.request import Happened, TechnologyRequest
from estate_procurement.domain.values import RequestState
from estate_runtime import uow
from estate_runtime.uow import Outbox as Outbox  # the port, re-exported: every service's is the same
from estate_runtime.workdays import WorkingCalendar

Clock = Callable[[], datetime]
"""Now, timezone-aware."""


class RequestRepository(abc.ABC):
    """Technology requests. ``save`` refuses a request whose stored version moved on meanwhile
    (StaleVersion), so two people cannot overwrite each other's change."""

    def __init__(self) -> None:
        self.seen: dict[uuid.UUID, TechnologyRequest] = {}

    async def get(self, request_id: uuid.UUID) -> TechnologyRequest | None:
        request = self.seen.get(request_id) or await self._get(request_id)
        if request is not None:
            self.seen[request.id] = request
        return request

    async def get_by_reference(self, reference: str) -> TechnologyRequest | None:
        request = await self._get_by_reference(reference)
        if request is not None:
            request = self.seen.setdefault(request.id, request)
        return request

    async def add(self, request: TechnologyRequest) -> None:
        await self._add(request)
        self.seen[request.id] = request

    async def save(self, request: TechnologyRequest, *, expected_version: int) -> None:
        """Store a changed request; StaleVersion unless the stored version is ``expected_version``."""
        await self._save(request, expected_version=expected_version)
        request.version = expected_version + 1

    async def list(
        self,
        *,
        states: Collection[RequestState] | None = None,
        requester_id: str | None = None,
        service_area: str | None = None,
    ) -> builtins.list[TechnologyRequest]:
        """Requests matching every filter given, newest first."""
        found = await self._list(states=states, requester_id=requester_id, service_area=service_area)
        return [self.seen.setdefault(r.id, r) for r in found]

    @abc.abstractmethod
    async def next_reference(self, year: int) -> str:
        """A reference not used before, e.g. ``TR-2026-0042`` (numbered per year from 0001)."""

    @abc.abstractmethod
    async def _get(self, request_id: uuid.UUID) -> TechnologyRequest | None: ...

    @abc.abstractmethod
    async def _get_by_reference(self, reference: str) -> TechnologyRequest | None: ...

    @abc.abstractmethod
    async def _add(self, request: TechnologyRequest) -> None: ...

    @abc.abstractmethod
    async def _save(self, request: TechnologyRequest, *, expected_version: int) -> None: ...

    @abc.abstractmethod
    async def _list(
        self,
        *,
        states: Collection[RequestState] | None,
        requester_id: str | None,
        service_area: str | None,
    ) -> builtins.list[TechnologyRequest]: ...


class AuditTrail(abc.ABC):
    """Every fact, published or not (draft edits and ratings are audited only)."""

    @abc.abstractmethod
    async def append(self, fact: Happened, *, correlation_id: str | None) -> None: ...


class UnitOfWork(uow.UnitOfWork):
    """One transaction: the requests, the re-use store, the audit trail and the outbox commit or roll
    back together. Leaving the ``async with`` block without committing rolls back."""

    requests: RequestRepository
    reuse: ReuseStore
    audit: AuditTrail
    outbox: Outbox
    checklists: ChecklistCatalogue
    calendar: WorkingCalendar
    clock: Clock

    def touched(self) -> list[TechnologyRequest]:
        """The requests this unit of work has read or added (their facts are published at commit)."""
        return list(self.requests.seen.values())
