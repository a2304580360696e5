"""The notifications service's long-running processes: HTTP API, event worker, outbox relay, the sweep
(on a schedule) and the sender.

Each runs until SIGTERM or SIGINT and then stops cleanly: the sweep and the sender finish the batch in
hand (a send in flight completes and is recorded), the worker leaves its consumer group, the relay
finishes its batch, the HTTP server drains its requests. Any number of sweeps and senders may run at
once against one database: the rows they claim keep them apart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from fastapi import FastAPI
from faststream import FastStream
from faststream.specification import AsyncAPI
from prometheus_client import Counter

from estate_contracts import notification_events
from estate_eventing.correlation import configure_logging
from estate_eventing.settings import BrokerSettings, make_broker
from estate_notifications.adapters.messaging.subscribers import subscribe
from estate_notifications.api.app import create_app
from estate_notifications.bootstrap import Container, bootstrap
from estate_notifications.settings import AuthSettings, NotificationsSettings
from estate_runtime import processes

SERVICE = "notifications"
log = logging.getLogger("estate_notifications.processes")

ASYNCAPI_DESCRIPTION = (
    "Events the Estate notifications service publishes about renewal alerts (sent, escalated, "
    "acknowledged), time-based renewal facts (notice window opened, act-by approaching, overdue) and renewal "
    "decisions owners record from an alert, and the register and procurement events it consumes to keep "
    "its renewal watch and send procurement notices. Every message is a CloudEvents 1.0 envelope in "
    "structured mode (see contracts/README.md); the schemas below are of its data."
)

ALERTS_RAISED = Counter("estate_notifications_alerts_raised", "Renewal alert steps raised", ["kind"])
ESCALATIONS = Counter("estate_notifications_escalations", "Alerts moved up the escalation chain")
DELIVERIES = Counter("estate_notifications_deliveries", "Send attempts by outcome", ["outcome"])


def http_app() -> FastAPI:
    """The HTTP application of one worker process, built from the environment."""
    configure_logging(SERVICE)
    return create_app(bootstrap(NotificationsSettings(), auth=AuthSettings()))


def run_http(settings: NotificationsSettings | None = None) -> None:
    processes.serve_http(
        "estate_notifications.entrypoints.processes:http_app", settings or NotificationsSettings(), SERVICE
    )


def asyncapi_document(container: Container, broker_settings: BrokerSettings) -> AsyncAPI:
    broker = make_broker(broker_settings)
    subscribe(broker, container, broker_settings)
    processes.document_publications(broker, notification_events, "notifications service")
    return AsyncAPI(broker, title="Estate notifications", version="1.0.0", description=ASYNCAPI_DESCRIPTION)


def make_worker(container: Container, broker_settings: BrokerSettings) -> FastStream:
    """The FastStream application of the notifications worker."""
    worker_log = logging.getLogger("estate_notifications.worker")
    broker = make_broker(broker_settings, logger=worker_log)
    subscription = subscribe(broker, container, broker_settings)
    return processes.worker_app(broker, subscription, worker_log, container.close)


async def run_worker_async() -> None:
    configure_logging(SERVICE)
    settings = NotificationsSettings()
    processes.serve_service_metrics(settings)
    app = make_worker(bootstrap(settings), BrokerSettings())
    await app.run()


async def run_relay_async(container: Container | None = None, stop: asyncio.Event | None = None) -> None:
    configure_logging(SERVICE)
    if container is None:
        settings = NotificationsSettings()
        processes.serve_service_metrics(settings)
        container = bootstrap(settings)
    await processes.run_relay(container.sessions, container.close, stop)


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


async def _repeat(
    container: Container | None,
    stop: asyncio.Event | None,
    *,
    once: bool,
    what: str,
    interval: Callable[[Container], float],
    work: Callable[[Container], Callable[[datetime], Awaitable[bool]]],
) -> None:
    """Run ``work`` at the container's clock until stopped (or once). ``work`` answers whether it found
    something to do; the loop pauses ``interval`` seconds when it did not, and after a failure (a
    database that is down), which is logged and never ends the process."""
    configure_logging(SERVICE)
    if container is None:
        settings = NotificationsSettings()
        processes.serve_service_metrics(settings)
        container = bootstrap(settings)
    stop = stop or processes.stop_event()
    step = work(container)
    try:
        while not stop.is_set():
            try:
                busy = await step(container.clock())
            except Exception:
                log.exception("%s failed; trying again shortly", what)
                busy = False
            if once:
                break
            if not busy:
                await _pause(stop, interval(container))
    finally:
        await container.close()


def _sweeping(container: Container) -> Callable[[datetime], Awaitable[bool]]:
    sweeper = container.sweeper()

    async def sweep(now: datetime) -> bool:
        report = await sweeper.run(now)
        for kind, count in report.by_kind.items():
            ALERTS_RAISED.labels(kind).inc(count)
        ESCALATIONS.inc(report.escalations)
        if report.alerts_raised or report.escalations or report.deliveries:
            log.info(
                "sweep: %d alerts raised, %d escalations, %d messages queued, %d digests",
                report.alerts_raised,
                report.escalations,
                report.deliveries,
                report.digests,
            )
        return False  # the sweep always waits for its next tick

    return sweep


def _sending(container: Container) -> Callable[[datetime], Awaitable[bool]]:
    dispatcher = container.dispatcher()

    async def send(now: datetime) -> bool:
        report = await dispatcher.run_once(now)
        DELIVERIES.labels("sent").inc(report.sent)
        DELIVERIES.labels("failed").inc(report.failed)
        if report.claimed:
            log.info("sender: %d sent, %d failed", report.sent, report.failed)
        return report.claimed > 0

    return send


async def run_sweep_async(
    container: Container | None = None, stop: asyncio.Event | None = None, *, once: bool = False
) -> None:
    """Sweep every ``sweep_interval_seconds``: raise due steps, escalate, condition notices, digests."""
    await _repeat(
        container,
        stop,
        once=once,
        what="sweep",
        interval=lambda c: c.settings.sweep_interval_seconds,
        work=_sweeping,
    )


async def run_sender_async(
    container: Container | None = None, stop: asyncio.Event | None = None, *, once: bool = False
) -> None:
    """Send due messages; pause ``dispatch_interval_seconds`` when there is nothing to send."""
    await _repeat(
        container,
        stop,
        once=once,
        what="sending",
        interval=lambda c: c.settings.dispatch_interval_seconds,
        work=_sending,
    )
