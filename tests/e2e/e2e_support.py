"""A service's real processes (``estate-<service> http|worker|relay``) as subprocesses of a test.

Each process writes to a file of its own in the test's temporary directory; the conftest attaches
every file to the report of a test that fails. Every wait is bounded, and :meth:`ServiceProcesses.stop_all`
(run by the fixture's finalizer whatever happened) leaves no process behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

import httpx
from aiokafka import AIOKafkaProducer, ConsumerRecord

from estate_contracts.envelope import Envelope
from estate_contracts.topics import dead_letter_topic
from estate_eventing.settings import BrokerSettings
from estate_eventing.testing import collect

TAIL = 30_000

T = TypeVar("T")


def free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def eventually(
    probe: Callable[[], Awaitable[T | None]], *, timeout_s: float, what: str, interval_s: float = 0.1
) -> T:
    """Poll ``probe`` until it returns something other than None/False; fail with ``what`` at the deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = await probe()
        if result is not None and result is not False:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")
        await asyncio.sleep(interval_s)


class ServiceProcesses:
    """Runs one service's commands with one environment; remembers every process it started."""

    def __init__(self, service: str, env: Mapping[str, str], log_dir: Path, logs: dict[str, Path]) -> None:
        self.service = service
        self.cli = f"estate_{service}.entrypoints.cli"
        self.prefix = f"ESTATE_{service.upper()}_"
        self.env = dict(env)
        self.log_dir = log_dir
        self.logs = logs
        self.running: dict[str, subprocess.Popen[bytes]] = {}
        self._all: list[subprocess.Popen[bytes]] = []
        self._count = 0

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.env[self.prefix + 'HTTP_PORT']}"

    @property
    def database_url(self) -> str:
        return self.env[self.prefix + "DATABASE_URL"]

    def _log(self, name: str) -> Path:
        self._count += 1
        path = self.log_dir / f"{self._count:02d}-{self.service}-{name}.log"
        self.logs[f"{self.service} {name} #{self._count}"] = path
        return path

    def run(self, *args: str, timeout_s: float = 120) -> str:
        """A one-off command (migrate, demo-data); its output, or a failure that shows it."""
        log = self._log(args[0])
        with log.open("wb") as out:
            result = subprocess.run(
                [sys.executable, "-m", self.cli, *args],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=timeout_s,
                check=False,
            )
        text = log.read_text(errors="replace")
        assert result.returncode == 0, f"estate-{self.service} {' '.join(args)} failed:\n{text[-TAIL:]}"
        return text

    def start(self, name: str, **extra_env: str) -> subprocess.Popen[bytes]:
        assert name not in self.running or self.running[name].poll() is not None, f"{name} already runs"
        log = self._log(name)
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", self.cli, name],
                env={**self.env, **extra_env},
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.running[name] = process
        self._all.append(process)
        return process

    def kill(self, name: str, sig: signal.Signals = signal.SIGKILL, timeout_s: float = 15) -> int:
        process = self.running.pop(name)
        process.send_signal(sig)
        return process.wait(timeout_s)

    def stop_all(self, timeout_s: float = 15) -> None:
        """SIGTERM in reverse order of start, then SIGKILL whatever has not gone."""
        for process in reversed(self._all):
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for process in self._all:
            try:
                process.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)
        self.running.clear()

    async def wait_http_ready(self, timeout_s: float = 90) -> None:
        async with httpx.AsyncClient(base_url=self.http_url, timeout=2) as client:

            async def ready() -> bool:
                http = self.running.get("http")
                assert http is not None, "http was not started"
                assert http.poll() is None, f"{self.service} http exited with {http.returncode}"
                with contextlib.suppress(httpx.HTTPError):
                    return (await client.get("/health/ready")).status_code == 200
                return False

            await eventually(ready, timeout_s=timeout_s, what=f"{self.http_url}/health/ready")


class RegisterProcesses(ServiceProcesses):
    """The register's commands (``estate-register ...``)."""

    def __init__(self, env: Mapping[str, str], log_dir: Path, logs: dict[str, Path]) -> None:
        super().__init__("register", env, log_dir, logs)


class ProcurementProcesses(ServiceProcesses):
    """The procurement service's commands (``estate-procurement ...``)."""

    def __init__(self, env: Mapping[str, str], log_dir: Path, logs: dict[str, Path]) -> None:
        super().__init__("procurement", env, log_dir, logs)


class NotificationsProcesses(ServiceProcesses):
    """The notifications service's commands (``estate-notifications ...``)."""

    def __init__(self, env: Mapping[str, str], log_dir: Path, logs: dict[str, Path]) -> None:
        super().__init__("notifications", env, log_dir, logs)


NOT_JSON = b"\x00\xff this is not JSON {"
"""A message that is no event at all: it must go to the dead-letter topic as ``malformed``."""


async def send_poison_then(
    settings: BrokerSettings, topic: str, key: bytes, good: Sequence[Envelope]
) -> tuple[bytes, bytes]:
    """Send, under one key, bytes that are not an event, then an event of a version nobody knows (a copy of
    the first good one, dataversion 99), then the ``good`` envelopes, in that order; the two poison values."""
    future_version = good[0].model_copy(update={"id": uuid.uuid4(), "dataversion": 99})
    producer = AIOKafkaProducer(**settings.producer_options())
    await producer.start()
    try:
        await producer.send_and_wait(topic, value=NOT_JSON, key=key, headers=[])
        for envelope in (future_version, *good):
            await producer.send_and_wait(
                topic, value=envelope.to_bytes(), key=key, headers=envelope.kafka_headers()
            )
    finally:
        await producer.stop()
    return NOT_JSON, future_version.to_bytes()


async def dead_letters_of(
    settings: BrokerSettings, bootstrap: str, group: str, key: bytes, count: int = 2
) -> list[ConsumerRecord[bytes, bytes]]:
    """The dead letters of consumer group ``group`` under ``key``, once there are ``count`` of them."""
    topic = dead_letter_topic(group)

    async def letters() -> list[ConsumerRecord[bytes, bytes]] | None:
        records = await collect(bootstrap, topic, timeout_s=60, embedded=settings.embedded)
        mine = [r for r in records if r.key == key]
        return mine if len(mine) >= count else None

    return await eventually(letters, timeout_s=90, what=f"{count} dead letters on {topic}", interval_s=0.5)


def header(record: ConsumerRecord[bytes, bytes], name: str) -> str | None:
    values = [value for key, value in record.headers or () if key == name]
    return values[-1].decode() if values else None
