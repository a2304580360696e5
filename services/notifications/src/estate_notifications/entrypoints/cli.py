"""``estate-notifications``: run the notifications service's processes and its maintenance commands."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from estate_notifications.settings import NotificationsSettings
from estate_runtime.cli import ServiceCommands, service_cli


def sweep(
    once: Annotated[bool, typer.Option(help="Sweep once and exit (for cron or a rehearsal)")] = False,
) -> None:
    """Raise the renewal alerts that have come due, escalate unacknowledged ones, send condition notices
    and digests; every ESTATE_NOTIFICATIONS_SWEEP_INTERVAL_SECONDS until stopped."""
    from estate_notifications.entrypoints.processes import run_sweep_async

    asyncio.run(run_sweep_async(once=once))


def send(once: Annotated[bool, typer.Option(help="Send what is due once and exit")] = False) -> None:
    """Send queued alerts and notices by e-mail (SMTP) and Teams, retrying failures with backoff."""
    from estate_notifications.entrypoints.processes import run_sender_async

    asyncio.run(run_sender_async(once=once))


def smtp_sink(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on (the SMTP port the sender uses)")] = 0,
    directory: Annotated[Path | None, typer.Option(help="Maildir to write to")] = None,
) -> None:
    """A local SMTP server that keeps every message it receives in a Maildir, for development stacks:
    read it with GET /api/v1/sink/messages. Defaults: ESTATE_NOTIFICATIONS_SMTP_PORT and _SINK_DIR."""
    from estate_notifications.adapters.channels.sink import run_sink

    settings = NotificationsSettings()
    target = directory or settings.sink_dir or Path("var/mail")
    run_sink(host, port or settings.smtp_port, target)


def rebuild_watch() -> None:
    """Empty the renewal watch (contracts and systems) so that replaying the register's events rebuilds it.
    Alerts and messages already raised are kept, so the replay sends nothing twice. Then reset the
    worker's consumer group to the earliest offset, or replay the register's outbox."""
    from estate_notifications.application.maintenance import rebuild_watch as run
    from estate_notifications.bootstrap import bootstrap
    from estate_runtime.cli import with_container

    contracts, systems = with_container(bootstrap, NotificationsSettings(), run)
    typer.echo(
        f"renewal watch emptied: {contracts} contracts, {systems} systems; replay the register's events"
    )


app = service_cli(
    ServiceCommands(
        name="notifications",
        package="estate_notifications",
        settings=NotificationsSettings,
        subject="the notifications service",
        database="the notifications database",
        worker="Consume the register's contract and system events into the renewal watch, and procurement "
        "request events into notices.",
        relay_order="contract",
    ),
    commands={"sweep": sweep, "send": send, "smtp-sink": smtp_sink, "rebuild-watch": rebuild_watch},
)


if __name__ == "__main__":
    app()
