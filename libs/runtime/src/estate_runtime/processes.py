"""What every service's long-running processes share: clean stops on SIGTERM/SIGINT, the HTTP server,
the event worker's FastStream app, the outbox relay, a metrics port, and the AsyncAPI declaration of what
a service publishes through its relay.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable
from types import ModuleType
from typing import Union

import uvicorn
from faststream import FastStream
from faststream.kafka import KafkaBroker
from prometheus_client import start_http_server
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from estate_contracts.envelope import EventPayload
from estate_eventing.consumer import Subscription
from estate_eventing.correlation import configure_logging
from estate_eventing.publisher import KafkaPublisher
from estate_eventing.relay import OutboxRelay
from estate_eventing.settings import BrokerSettings, RelaySettings
from estate_runtime.auth import AuthSettings
from estate_runtime.settings import ServiceSettings


def stop_event() -> asyncio.Event:
    """An event set by SIGTERM or SIGINT, so a process finishes its batch and stops cleanly."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    return stop


def serve_metrics(port: int | None, host: str) -> None:
    """Expose the process's Prometheus metrics (consumer and relay counters) when a port is set."""
    if port is not None:
        start_http_server(port, addr=host)


def serve_service_metrics(settings: ServiceSettings) -> None:
    """:func:`serve_metrics` on the service's ``metrics_port`` (if set), beside its HTTP host."""
    serve_metrics(settings.metrics_port, settings.http_host)


def run_http(factory: str, *, host: str, port: int, workers: int) -> None:
    """Serve ``factory`` (``module:function`` building the app) with uvicorn; logs stay the service's JSON."""
    uvicorn.run(
        factory,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=None,
        access_log=False,
    )


def serve_http(factory: str, settings: ServiceSettings, service: str) -> None:
    """A service's ``http`` process: its JSON logs, a check that tokens can be verified (so a missing
    ``ESTATE_AUTH_*`` setting fails now, in the parent, not in every worker), then :func:`run_http` on the
    service's host, port and worker count. ``factory`` builds the app in each worker process."""
    configure_logging(service)
    AuthSettings()
    run_http(factory, host=settings.http_host, port=settings.http_port, workers=settings.http_workers)


def worker_app(
    broker: KafkaBroker,
    subscription: Subscription,
    logger: logging.Logger,
    close: Callable[[], Awaitable[None]],
) -> FastStream:
    """The FastStream application of a worker. FastStream logs through the service's own logger, so its
    lines are JSON with correlation ids like every other line (not its coloured console format)."""
    app = FastStream(broker, logger=logger)

    @app.after_shutdown
    async def _close() -> None:
        await subscription.close()
        await close()

    return app


async def run_relay(
    sessions: async_sessionmaker[AsyncSession],
    close: Callable[[], Awaitable[None]],
    stop: asyncio.Event | None = None,
) -> None:
    """Relay the service's outbox to the broker until stopped."""
    publisher = KafkaPublisher(BrokerSettings())
    relay = OutboxRelay(sessions, publisher, settings=RelaySettings())
    stop = stop or stop_event()
    try:
        await relay.run_forever(stop)
    finally:
        await publisher.stop()
        await close()


def document_publications(broker: KafkaBroker, events: ModuleType, publisher: str) -> None:
    """Declare what a service publishes (through its outbox relay) so the AsyncAPI document lists it beside
    what the worker consumes. Each message is a CloudEvents envelope whose ``data`` is one of the payloads
    of ``events`` named here."""
    by_topic: dict[str, list[type[EventPayload]]] = {}
    for module_event in vars(events).values():
        if (
            isinstance(module_event, type)
            and issubclass(module_event, EventPayload)
            and hasattr(module_event, "event_type")
        ):
            by_topic.setdefault(module_event.topic, []).append(module_event)
    for topic, payloads in sorted(by_topic.items()):
        broker.publisher(
            topic,
            title=f"{topic}:publish",
            description=f"Published by the {publisher}'s outbox relay, keyed by the record's id. One of: "
            + ", ".join(sorted(p.event_type for p in payloads)),
            schema=payloads[0] if len(payloads) == 1 else Union[tuple(payloads)],  # noqa: UP007
        )
