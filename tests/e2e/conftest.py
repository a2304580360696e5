"""Fixtures of the end-to-end tests: the services' processes on the real PostgreSQL and broker."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from e2e_support import NotificationsProcesses, ProcurementProcesses, RegisterProcesses, free_port

from estate_contracts.topics import ALL_TOPICS, dead_letter_topic
from estate_eventing.embedded import ensure_topics
from estate_eventing.settings import BrokerSettings
from estate_eventing.testing import PROCESS_LOGS

# The consumer groups of the services' workers (estate_<service>...subscribers.GROUP_ID), written out as
# deploy/kafka/topics.txt and `estate up` do.
GROUPS = ("estate-register-worker", "estate-procurement-worker", "estate-notifications-worker")


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def e2e_topics(kafka_bootstrap: str) -> list[str]:
    """Every topic the services use exists before any process starts (as deploy/ and `estate up` do)."""
    topics = [*ALL_TOPICS, *(dead_letter_topic(group) for group in GROUPS)]
    await ensure_topics(kafka_bootstrap, topics)
    return topics


def service_env(
    prefix: str, database_url: str, key_path: Path, kafka_settings: BrokerSettings
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ESTATE_")}
    env.update(
        {
            "PYTHONUNBUFFERED": "1",
            f"{prefix}DATABASE_URL": database_url,
            f"{prefix}HTTP_HOST": "127.0.0.1",
            f"{prefix}HTTP_PORT": str(free_port()),
            f"{prefix}ENVIRONMENT": "test",
            "ESTATE_AUTH_DEV_KEY_PATH": str(key_path),
            "ESTATE_KAFKA_BOOTSTRAP_SERVERS": kafka_settings.bootstrap_servers,
            "ESTATE_KAFKA_PROFILE": kafka_settings.profile,
            "ESTATE_RELAY_POLL_INTERVAL_MS": "50",
        }
    )
    return env


@pytest.fixture
def register(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    fresh_postgres_database: str,
    kafka_settings: BrokerSettings,
    e2e_topics: list[str],
) -> Iterator[RegisterProcesses]:
    """The register's commands against an empty PostgreSQL database of this test's own and the session's
    broker; the test chooses which processes to start. All are stopped at the end, pass or fail."""
    env = service_env(
        "ESTATE_REGISTER_", fresh_postgres_database, tmp_path / "dev-jwt-key.pem", kafka_settings
    )
    logs = request.node.stash.setdefault(PROCESS_LOGS, {})
    processes = RegisterProcesses(env, tmp_path, logs)
    try:
        yield processes
    finally:
        processes.stop_all()


@pytest_asyncio.fixture(loop_scope="session")
async def procurement_database(postgres_url_factory: Callable[[], Awaitable[str]]) -> str:
    return await postgres_url_factory()


@pytest.fixture
def procurement(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    procurement_database: str,
    kafka_settings: BrokerSettings,
    e2e_topics: list[str],
) -> Iterator[ProcurementProcesses]:
    """The procurement service's commands against a PostgreSQL database of its own, the same broker and
    the same token issuer as the register's; stopped at the end, pass or fail."""
    env = service_env(
        "ESTATE_PROCUREMENT_", procurement_database, tmp_path / "dev-jwt-key.pem", kafka_settings
    )
    logs = request.node.stash.setdefault(PROCESS_LOGS, {})
    processes = ProcurementProcesses(env, tmp_path, logs)
    try:
        yield processes
    finally:
        processes.stop_all()


@pytest_asyncio.fixture(loop_scope="session")
async def notifications_database(postgres_url_factory: Callable[[], Awaitable[str]]) -> str:
    return await postgres_url_factory()


@pytest.fixture
def notifications(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    notifications_database: str,
    kafka_settings: BrokerSettings,
    e2e_topics: list[str],
) -> Iterator[NotificationsProcesses]:
    """The notifications service's commands against a PostgreSQL database of its own, the same broker and
    token issuer, and its SMTP sink (``smtp-sink``, a process too) writing to a Maildir under tmp_path."""
    env = service_env(
        "ESTATE_NOTIFICATIONS_", notifications_database, tmp_path / "dev-jwt-key.pem", kafka_settings
    )
    env.update(
        {
            "ESTATE_NOTIFICATIONS_SMTP_HOST": "127.0.0.1",
            "ESTATE_NOTIFICATIONS_SMTP_PORT": str(free_port()),
            "ESTATE_NOTIFICATIONS_SMTP_SECURITY": "none",
            "ESTATE_NOTIFICATIONS_SINK_DIR": str(tmp_path / "mail"),
            "ESTATE_NOTIFICATIONS_LINK_SECRET": "e2e-link-secret-0123456789-abcdefghijklmnop",
            "ESTATE_NOTIFICATIONS_SWEEP_INTERVAL_SECONDS": "0.5",
            "ESTATE_NOTIFICATIONS_DISPATCH_INTERVAL_SECONDS": "0.2",
        }
    )
    env["ESTATE_NOTIFICATIONS_PUBLIC_URL"] = f"http://127.0.0.1:{env['ESTATE_NOTIFICATIONS_HTTP_PORT']}"
    logs = request.node.stash.setdefault(PROCESS_LOGS, {})
    processes = NotificationsProcesses(env, tmp_path, logs)
    try:
        yield processes
    finally:
        processes.stop_all()
