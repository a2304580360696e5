"""The procurement service's long-running processes: HTTP API, event worker, outbox relay.

Each runs until SIGTERM or SIGINT and then stops cleanly: the relay finishes its batch, the worker
leaves its consumer group, the HTTP server drains its requests.
"""

from __future__ import annotations

import asyncio
import logging

from fastapi import FastAPI
from faststream import FastStream
from faststream.specification import AsyncAPI

from estate_contracts import procurement_events
from estate_eventing.correlation import configure_logging
from estate_eventing.settings import BrokerSettings, make_broker
from estate_procurement.adapters.messaging.subscribers import subscribe
from estate_procurement.api.app import create_app
from estate_procurement.bootstrap import Container, bootstrap
from estate_procurement.settings import AuthSettings, ProcurementSettings
from estate_runtime import processes

SERVICE = "procurement"
ASYNCAPI_DESCRIPTION = (
    "Events the Estate procurement service publishes about technology requests (submitted, reviewed, "
    "decided, withdrawn, reopened, conditions met), and the register events it consumes to keep the read "
    "model that duplicate and re-use detection searches. Every message is a CloudEvents 1.0 envelope in "
    "structured mode (see contracts/README.md); the schemas below are of its data."
)


def http_app() -> FastAPI:
    """The HTTP application of one worker process, built from the environment."""
    configure_logging(SERVICE)
    return create_app(bootstrap(ProcurementSettings(), auth=AuthSettings()))


def run_http(settings: ProcurementSettings | None = None) -> None:
    processes.serve_http(
        "estate_procurement.entrypoints.processes:http_app", settings or ProcurementSettings(), SERVICE
    )


def asyncapi_document(container: Container, broker_settings: BrokerSettings) -> AsyncAPI:
    broker = make_broker(broker_settings)
    subscribe(broker, container.sessions, broker_settings)
    processes.document_publications(broker, procurement_events, "procurement service")
    return AsyncAPI(broker, title="Estate procurement", version="1.0.0", description=ASYNCAPI_DESCRIPTION)


def make_worker(container: Container, broker_settings: BrokerSettings) -> FastStream:
    """The FastStream application of the procurement worker."""
    worker_log = logging.getLogger("estate_procurement.worker")
    broker = make_broker(broker_settings, logger=worker_log)
    subscription = subscribe(broker, container.sessions, broker_settings)
    return processes.worker_app(broker, subscription, worker_log, container.close)


async def run_worker_async() -> None:
    configure_logging(SERVICE)
    settings = ProcurementSettings()
    processes.serve_service_metrics(settings)
    app = make_worker(bootstrap(settings), BrokerSettings())
    await app.run()  # FastStream stops on SIGINT/SIGTERM and runs after_shutdown


async def run_relay_async(container: Container | None = None, stop: asyncio.Event | None = None) -> None:
    configure_logging(SERVICE)
    if container is None:
        settings = ProcurementSettings()
        processes.serve_service_metrics(settings)
        container = bootstrap(settings)
    await processes.run_relay(container.sessions, container.close, stop)
