"""Fixtures of the end-to-end tests: the register's processes on the real PostgreSQL and broker."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from e2e_support import RegisterProcesses, free_port

from estate_contracts.topics import ALL_TOPICS, dead_letter_topic
from estate_eventing.embedded import ensure_topics
from estate_eventing.settings import BrokerSettings
from estate_eventing.testing import PROCESS_LOGS
from estate_register.adapters.messaging.subscribers import GROUP_ID


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def e2e_topics(kafka_bootstrap: str) -> list[str]:
    """Every topic the register uses exists before any process starts (as deploy/ and `estate up` do)."""
    topics = [*ALL_TOPICS, dead_letter_topic(GROUP_ID)]
    await ensure_topics(kafka_bootstrap, topics)
    return topics


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
    env = {k: v for k, v in os.environ.items() if not k.startswith("ESTATE_")}
    env.update(
        {
            "PYTHONUNBUFFERED": "1",
            "ESTATE_REGISTER_DATABASE_URL": fresh_postgres_database,
            "ESTATE_REGISTER_HTTP_HOST": "127.0.0.1",
            "ESTATE_REGISTER_HTTP_PORT": str(free_port()),
            "ESTATE_REGISTER_ENVIRONMENT": "test",
            "ESTATE_AUTH_DEV_KEY_PATH": str(tmp_path / "dev-jwt-key.pem"),
            "ESTATE_KAFKA_BOOTSTRAP_SERVERS": kafka_settings.bootstrap_servers,
            "ESTATE_KAFKA_PROFILE": kafka_settings.profile,
            "ESTATE_RELAY_POLL_INTERVAL_MS": "50",
        }
    )
    logs = request.node.stash.setdefault(PROCESS_LOGS, {})
    processes = RegisterProcesses(env, tmp_path, logs)
    try:
        yield processes
    finally:
        processes.stop_all()
