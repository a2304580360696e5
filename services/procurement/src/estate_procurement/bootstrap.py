"""The procurement service's composition root: the one place that builds infrastructure from settings."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from estate_eventing.clock import utc_now
from estate_procurement.adapters.db.repositories import SqlUnitOfWork
from estate_procurement.application.checklists import ChecklistCatalogue
from estate_procurement.application.ports import Clock, UnitOfWork
from estate_procurement.application.reuse import ReuseFinder
from estate_procurement.settings import AuthSettings, ProcurementSettings
from estate_runtime.calendar import EnglandAndWalesCalendar
from estate_runtime.db import make_engine, make_sessionmaker
from estate_runtime.workdays import WorkingCalendar


@dataclass
class Container:
    settings: ProcurementSettings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    checklists: ChecklistCatalogue
    reuse: ReuseFinder
    clock: Clock = utc_now
    calendar: WorkingCalendar = field(default_factory=EnglandAndWalesCalendar)
    auth: AuthSettings | None = None

    def uow(self) -> UnitOfWork:
        return SqlUnitOfWork(
            self.sessions(), clock=self.clock, calendar=self.calendar, checklists=self.checklists
        )

    async def close(self) -> None:
        await self.engine.dispose()


def bootstrap(
    settings: ProcurementSettings | None = None,
    *,
    auth: AuthSettings | None = None,
    clock: Clock = utc_now,
    calendar: WorkingCalendar | None = None,
) -> Container:
    settings = settings or ProcurementSettings()
    engine = make_engine(settings.database_url, pool_size=settings.db_pool_size)
    sessions = make_sessionmaker(engine)
    return Container(
        settings=settings,
        engine=engine,
        sessions=sessions,
        checklists=ChecklistCatalogue.builtin(pinned=settings.checklist_version),
        reuse=ReuseFinder(),
        clock=clock,
        calendar=calendar or EnglandAndWalesCalendar(),
        auth=auth,
    )
