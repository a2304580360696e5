"""Pytest plugin: real infrastructure for tests, found or started, never silently skipped.

Use it with ``pytest_plugins = ["estate_eventing.testing"]`` in a conftest.

* ``kafka_bootstrap`` (session): ``ESTATE_TEST_KAFKA_BOOTSTRAP`` if set; else a testcontainers Kafka if a
  Docker engine answers; else an :class:`EmbeddedBroker` for the session. ``kafka_settings`` gives the
  matching :class:`BrokerSettings` (embedded profile when the broker is embedded).
* ``postgres_admin_url`` (session): ``ESTATE_TEST_POSTGRES_URL`` if set; else a testcontainers PostgreSQL
  if Docker answers; else the local server at ``postgresql://postgres@127.0.0.1:5432/postgres``. If it
  does not answer the run *fails* with the command that starts it.
* ``postgres_url_factory`` (session): ``await factory()`` creates an empty database and returns its
  SQLAlchemy URL (``postgresql+asyncpg://``); every database it made is dropped at the end.
* ``fresh_postgres_database`` (per test): one empty database, dropped after the test.
* :func:`collect`: read a topic from the beginning with a raw consumer, for assertions.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]  # no stubs; only two calls here
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaConsumer, ConsumerRecord
from sqlalchemy.engine import make_url

from estate_eventing.embedded import EmbeddedBroker, is_embedded
from estate_eventing.settings import EMBEDDED_CONSUMER_OPTIONS, BrokerProfile, BrokerSettings

log = logging.getLogger(__name__)

LOCAL_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
START_POSTGRES = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"


def _docker_container(factory: Callable[[], Any]) -> Any | None:
    """The container, or None at once (about 2 ms) when no Docker engine answers."""
    try:
        return factory()
    except Exception as exc:  # docker.errors.DockerException, raised by the constructor
        log.info("no Docker engine (%s); using local infrastructure", exc)
        return None


# --- Kafka -----------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    explicit = os.environ.get("ESTATE_TEST_KAFKA_BOOTSTRAP")
    if explicit:
        yield explicit
        return
    try:
        from testcontainers.community.kafka import KafkaContainer
    except ImportError:
        container = None
    else:
        container = _docker_container(KafkaContainer)
    if container is not None:
        container.start()
        try:
            yield str(container.get_bootstrap_server())
        finally:
            container.stop()
        return
    with EmbeddedBroker() as broker:
        yield broker.bootstrap_servers


@pytest.fixture(scope="session")
def kafka_settings(kafka_bootstrap: str) -> BrokerSettings:
    """Settings for the test broker; the profile is embedded exactly when the broker is."""
    profile: BrokerProfile = (
        "embedded"
        if is_embedded(kafka_bootstrap) or os.environ.get("ESTATE_TEST_KAFKA_PROFILE") == "embedded"
        else "kafka"
    )
    return BrokerSettings(bootstrap_servers=kafka_bootstrap, profile=profile, client_id="estate-tests")


async def collect(
    bootstrap: str,
    topic: str,
    *,
    group_id: str | None = None,
    timeout_s: float = 10.0,
    until_count: int | None = None,
    embedded: bool | None = None,
) -> list[ConsumerRecord[bytes, bytes]]:
    """Records of ``topic`` from the beginning, in partition order within each partition.

    Reads until ``until_count`` records arrived, or (without it) up to the end offsets seen at the
    start; gives up after ``timeout_s`` seconds and returns what it has, so the caller's assertion says
    what was missing.
    """
    options: dict[str, Any] = {"fetch_max_wait_ms": 10}
    if embedded if embedded is not None else is_embedded(bootstrap):
        options.update(EMBEDDED_CONSUMER_OPTIONS)
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group_id,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        **options,
    )
    await consumer.start()
    records: list[ConsumerRecord[bytes, bytes]] = []
    deadline = time.monotonic() + timeout_s
    try:
        end_offsets: dict[Any, int] | None = None
        while time.monotonic() < deadline:
            if until_count is None and end_offsets is None:
                partitions = consumer.assignment()
                if partitions:
                    end_offsets = await consumer.end_offsets(list(partitions))
            batch = await consumer.getmany(timeout_ms=100)
            for part in batch.values():
                records.extend(part)
            if until_count is not None and len(records) >= until_count:
                break
            if end_offsets is not None and all(
                await asyncio.gather(*(_reached(consumer, tp, end) for tp, end in end_offsets.items()))
            ):
                break
    finally:
        await consumer.stop()
    return records


async def _reached(consumer: AIOKafkaConsumer, tp: Any, end: int) -> bool:
    return end == 0 or await consumer.position(tp) >= end


# --- PostgreSQL ------------------------------------------------------------------------------------


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def postgres_admin_url() -> AsyncIterator[str]:
    """An admin URL (plain ``postgresql://``) of a server that answers, or a failed run."""
    explicit = os.environ.get("ESTATE_TEST_POSTGRES_URL")
    container = None
    if explicit:
        url = _asyncpg_dsn(explicit)
    else:
        try:
            from testcontainers.community.postgres import PostgresContainer
        except ImportError:
            container = None
        else:
            container = _docker_container(lambda: PostgresContainer("postgres:16-alpine"))
        if container is not None:
            await asyncio.to_thread(container.start)
            url = _asyncpg_dsn(container.get_connection_url())
        else:
            url = LOCAL_POSTGRES
    try:
        connection = await asyncpg.connect(url, timeout=5)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        pytest.fail(
            f"PostgreSQL at {url} does not answer ({exc!r}).\n"
            f"Start the local server with:\n    {START_POSTGRES}\n"
            "or set ESTATE_TEST_POSTGRES_URL to an admin URL of a server that runs.",
            pytrace=False,
        )
    await connection.close()
    try:
        yield url
    finally:
        if container is not None:
            await asyncio.to_thread(container.stop)


async def _create_database(admin_url: str) -> tuple[str, str]:
    name = f"estate_test_{uuid.uuid4().hex[:16]}"
    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    url = make_url(admin_url).set(drivername="postgresql+asyncpg", database=name)
    return name, url.render_as_string(hide_password=False)


async def _drop_database(admin_url: str, name: str) -> None:
    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def postgres_url_factory(postgres_admin_url: str) -> AsyncIterator[Callable[[], Awaitable[str]]]:
    created: list[str] = []

    async def create() -> str:
        name, url = await _create_database(postgres_admin_url)
        created.append(name)
        return url

    yield create
    for name in created:
        await _drop_database(postgres_admin_url, name)


@pytest_asyncio.fixture(loop_scope="session")
async def fresh_postgres_database(postgres_admin_url: str) -> AsyncIterator[str]:
    """The SQLAlchemy URL (``postgresql+asyncpg``) of an empty database of this test's own."""
    name, url = await _create_database(postgres_admin_url)
    try:
        yield url
    finally:
        await _drop_database(postgres_admin_url, name)


# --- process output on failure -----------------------------------------------------------------

PROCESS_LOGS = pytest.StashKey[dict[str, Path]]()
"""Tests that start processes put their output files here (``request.node.stash``): when the test
fails, the end of each file is attached to its report."""
PROCESS_LOG_TAIL = 40_000


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()  # type: ignore[attr-defined]
    if report.failed:
        for name, path in item.stash.get(PROCESS_LOGS, {}).items():
            text = path.read_text(errors="replace") if path.exists() else "(no output file)"
            report.sections.append((f"output of {name} ({path})", text[-PROCESS_LOG_TAIL:]))
