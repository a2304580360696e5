"""The register's composition root: the one place that builds infrastructure from settings."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from estate_eventing.clock import utc_now
from estate_register.adapters.db.engine import make_engine, make_sessionmaker
from estate_register.adapters.db.estate_queries import SummaryCache
from estate_register.adapters.db.repositories import SqlUnitOfWork
from estate_register.application.ports import Clock, UnitOfWork
from estate_register.settings import AuthSettings, RegisterSettings
from estate_runtime.calendar import EnglandAndWalesCalendar
from estate_runtime.workdays import WorkingCalendar


@dataclass
class Container:
    settings: RegisterSettings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    clock: Clock = utc_now
    calendar: WorkingCalendar = field(default_factory=EnglandAndWalesCalendar)
    auth: AuthSettings | None = None
    estate_summary: SummaryCache = field(default_factory=SummaryCache)

    def uow(self) -> UnitOfWork:
        return SqlUnitOfWork(self.sessions(), clock=self.clock, calendar=self.calendar)

    async def close(self) -> None:
        await self.engine.dispose()


def bootstrap(
    settings: RegisterSettings | None = None,
    *,
    auth: AuthSettings | None = None,
    clock: Clock = utc_now,
) -> Container:
    settings = settings or RegisterSettings()
    engine = make_engine(settings.database_url, pool_size=settings.db_pool_size)
    return Container(
        settings=settings,
        engine=engine,
        sessions=make_sessionmaker(engine),
        clock=clock,
        auth=auth,
        estate_summary=SummaryCache(
            max_age_s=settings.estate_summary_cache_seconds, stale_for_s=settings.estate_summary_stale_seconds
        ),
    )
