"""The register's long-running processes: HTTP API, event worker, outbox relay.

Each runs until SIGTERM or SIGINT and then stops cleanly: the relay finishes its batch, the worker
leaves its consumer group, the HTTP server drains its requests.
"""

from __future__ import annotations

import asyncio
import logging

from fastapi import FastAPI
from faststream import FastStream
from faststream.specification import AsyncAPI

from estate_contracts import register_events
from estate_eventing.correlation import configure_logging
from estate_eventing.settings import BrokerSettings, make_broker
from estate_register.adapters.messaging.subscribers import subscribe
from estate_register.api.app import create_app
from estate_register.bootstrap import Container, bootstrap
from estate_register.settings import AuthSettings, RegisterSettings
from estate_runtime import processes

log = logging.getLogger(__name__)
ASYNCAPI_DESCRIPTION = (
    "Events the Estate register publishes about systems, contracts and suppliers, and the procurement "
    "decisions and renewal decisions it consumes, with the request events, renewal alerts and renewal "
    "facts that keep its estate view. Every message is a CloudEvents 1.0 envelope in structured mode "
    "(see contracts/README.md); the schemas below are of its data."
)
SERVICE = "register"


def http_app() -> FastAPI:
    """The HTTP application of one worker process, built from the environment."""
    configure_logging(SERVICE)
    return create_app(bootstrap(RegisterSettings(), auth=AuthSettings()))


def run_http(settings: RegisterSettings | None = None) -> None:
    processes.serve_http(
        "estate_register.entrypoints.processes:http_app", settings or RegisterSettings(), SERVICE
    )


def asyncapi_document(container: Container, broker_settings: BrokerSettings) -> AsyncAPI:
    broker = make_broker(broker_settings)
    subscribe(broker, container, broker_settings)
    processes.document_publications(broker, register_events, "register")
    return AsyncAPI(broker, title="Estate register", version="1.0.0", description=ASYNCAPI_DESCRIPTION)


def make_worker(container: Container, broker_settings: BrokerSettings) -> FastStream:
    """The FastStream application of the register's worker."""
    worker_log = logging.getLogger("estate_register.worker")
    broker = make_broker(broker_settings, logger=worker_log)
    subscription = subscribe(broker, container, broker_settings)
    return processes.worker_app(broker, subscription, worker_log, container.close)


async def run_worker_async() -> None:
    configure_logging(SERVICE)
    settings = RegisterSettings()
    processes.serve_service_metrics(settings)
    container = bootstrap(settings)
    app = make_worker(container, BrokerSettings())
    await app.run()  # FastStream stops on SIGINT/SIGTERM and runs after_shutdown


async def run_relay_async(container: Container | None = None, stop: asyncio.Event | None = None) -> None:
    configure_logging(SERVICE)
    if container is None:
        settings = RegisterSettings()
        processes.serve_service_metrics(settings)
        container = bootstrap(settings)
    await processes.run_relay(container.sessions, container.close, stop)
