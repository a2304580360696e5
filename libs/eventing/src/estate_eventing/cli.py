"""``outbox`` commands an operator runs against one service's database.

Each service mounts the sub-app in its own CLI::

    app.add_typer(make_outbox_cli(lambda: sessionmaker_from_url(settings.database_url)), name="outbox")
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Annotated, TypeVar

import typer
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from estate_eventing.clock import utc_now
from estate_eventing.relay import outbox_status, purge_published, replay
from estate_eventing.settings import RelaySettings

T = TypeVar("T")
SessionmakerFactory = Callable[[], async_sessionmaker[AsyncSession]]


def sessionmaker_from_url(url: str) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(create_async_engine(url), expire_on_commit=False)


def _aware(value: str, option: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not an ISO 8601 date-time", param_hint=option) from None
    if parsed.tzinfo is None:
        raise typer.BadParameter(
            f"{value!r} has no time zone; add one, e.g. {value}+00:00 or {value}Z", param_hint=option
        )
    return parsed


def make_outbox_cli(get_sessionmaker: SessionmakerFactory) -> typer.Typer:
    """The ``outbox`` sub-app: ``status``, ``replay``, ``purge``; the database comes from the factory."""
    app = typer.Typer(
        help="Inspect, replay and purge this service's transactional outbox.", no_args_is_help=True
    )

    def run(work: Callable[[async_sessionmaker[AsyncSession]], Awaitable[T]]) -> T:
        async def main() -> T:
            sessionmaker = get_sessionmaker()
            try:
                return await work(sessionmaker)
            finally:
                bind = sessionmaker.kw.get("bind")
                if isinstance(bind, AsyncEngine):
                    await bind.dispose()

        return asyncio.run(main())

    @app.command("status")
    def status_command() -> None:
        """Rows waiting to be published (and how many of them have failed), and rows published."""
        status = run(outbox_status)
        oldest = status.oldest_pending_at.isoformat() if status.oldest_pending_at else "-"
        typer.echo(f"pending:   {status.pending}")
        typer.echo(f"failing:   {status.failing}")
        typer.echo(f"published: {status.published}")
        typer.echo(f"oldest pending created at: {oldest}")

    @app.command("replay")
    def replay_command(
        since: Annotated[str, typer.Option(help="Re-send events created at or after this ISO instant.")],
        until: Annotated[str | None, typer.Option(help="...and before this ISO instant.")] = None,
        topic: Annotated[str | None, typer.Option(help="Only events of this topic.")] = None,
    ) -> None:
        """Mark retained published events unpublished so the relay sends them again (consumers dedupe)."""
        start = _aware(since, "--since")
        end = _aware(until, "--until") if until is not None else None
        if end is not None and end <= start:
            raise typer.BadParameter("--until must be later than --since", param_hint="--until")
        count = run(lambda sm: replay(sm, since=start, until=end, topic=topic))
        typer.echo(f"marked {count} events for re-sending")

    @app.command("purge")
    def purge_command(
        older_than_days: Annotated[
            float | None, typer.Option(help="Retention window in days (default ESTATE_RELAY_RETENTION_DAYS).")
        ] = None,
    ) -> None:
        """Delete events published longer ago than the retention window."""
        days = older_than_days if older_than_days is not None else RelaySettings().retention_days
        if days < 0:
            raise typer.BadParameter("must not be negative", param_hint="--older-than-days")
        cutoff = utc_now() - timedelta(days=days)
        count = run(lambda sm: purge_published(sm, published_before=cutoff))
        typer.echo(f"deleted {count} events published before {cutoff.isoformat()}")

    return app
