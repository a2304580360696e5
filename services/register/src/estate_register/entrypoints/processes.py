"""The register's long-running processes: HTTP API, event worker, outbox relay.

Each runs until SIGTERM or SIGINT and then stops cleanly: the relay finishes its batch, the worker
leaves its consumer group, the HTTP server drains its requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from typing import Union

import uvicorn
from fastapi import FastAPI
from faststream import FastStream
from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI
from prometheus_client import start_http_server

from estate_contracts import register_events
from estate_contracts.envelope import EventPayload
from estate_eventing.correlation import configure_logging
from estate_eventing.publisher import KafkaPublisher
from estate_eventing.relay import OutboxRelay
from estate_eventing.settings import BrokerSettings, RelaySettings, make_broker
from estate_register.adapters.messaging.subscribers import subscribe
from estate_register.api.app import create_app
from estate_register.bootstrap import Container, bootstrap
from estate_register.settings import AuthSettings, RegisterSettings

log = logging.getLogger(__name__)
ASYNCAPI_DESCRIPTION = (
    "Events the Estate register publishes about systems, contracts and suppliers, and the procurement "
    "decisions it consumes. Every message is a CloudEvents 1.0 envelope in structured mode (see "
    "contracts/README.md); the schemas below are of its data."
)
SERVICE = "register"


def _stop_event() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    return stop


def http_app() -> FastAPI:
    """The HTTP application of one worker process, built from the environment."""
    configure_logging(SERVICE)
    return create_app(bootstrap(RegisterSettings(), auth=AuthSettings()))


def run_http(settings: RegisterSettings | None = None) -> None:
    settings = settings or RegisterSettings()
    configure_logging(SERVICE)
    AuthSettings()  # fail now, in the parent, if no way to check tokens is configured
    uvicorn.run(
        "estate_register.entrypoints.processes:http_app",
        factory=True,
        host=settings.http_host,
        port=settings.http_port,
        workers=settings.http_workers,
        log_config=None,
        access_log=False,
    )


def document_publications(broker: KafkaBroker) -> None:
    """Declare what the register publishes (through its outbox relay), so the AsyncAPI document lists
    it beside what the worker consumes. Each message is a CloudEvents envelope whose ``data`` is one of
    the payloads named here."""
    by_topic: dict[str, list[type[EventPayload]]] = {}
    for module_event in vars(register_events).values():
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
            description="Published by the register's outbox relay, keyed by the record's id. One of: "
            + ", ".join(sorted(p.event_type for p in payloads)),
            schema=payloads[0] if len(payloads) == 1 else Union[tuple(payloads)],  # noqa: UP007
        )


def asyncapi_document(container: Container, broker_settings: BrokerSettings) -> AsyncAPI:
    broker = make_broker(broker_settings)
    subscribe(broker, container, broker_settings)
    document_publications(broker)
    return AsyncAPI(broker, title="Estate register", version="1.0.0", description=ASYNCAPI_DESCRIPTION)


def make_worker(container: Container, broker_settings: BrokerSettings) -> FastStream:
    """The FastStream application of the worker. FastStream logs through the service's own logger, so
    its lines are JSON with correlation ids like every other line (not its coloured console format)."""
    worker_log = logging.getLogger("estate_register.worker")
    broker = make_broker(broker_settings, logger=worker_log)
    subscription = subscribe(broker, container, broker_settings)
    app = FastStream(broker, logger=worker_log)

    @app.after_shutdown
    async def _close() -> None:
        await subscription.close()
        await container.close()

    return app


def serve_metrics(settings: RegisterSettings) -> None:
    """Expose the process's Prometheus metrics (consumer and relay counters) when a port is set."""
    if settings.metrics_port is not None:
        start_http_server(settings.metrics_port, addr=settings.http_host)


async def run_worker_async() -> None:
    configure_logging(SERVICE)
    settings = RegisterSettings()
    serve_metrics(settings)
    container = bootstrap(settings)
    app = make_worker(container, BrokerSettings())
    await app.run()  # FastStream stops on SIGINT/SIGTERM and runs after_shutdown


async def run_relay_async(container: Container | None = None, stop: asyncio.Event | None = None) -> None:
    configure_logging(SERVICE)
    if container is None:
        settings = RegisterSettings()
        serve_metrics(settings)
        container = bootstrap(settings)
    publisher = KafkaPublisher(BrokerSettings())
    relay = OutboxRelay(container.sessions, publisher, settings=RelaySettings())
    stop = stop or _stop_event()
    try:
        await relay.run_forever(stop)
    finally:
        await publisher.stop()
        await container.close()
