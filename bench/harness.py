"""Shared plumbing of the benchmark: a throwaway PostgreSQL database, child processes, RSS sampling.

Nothing here measures anything by itself; run.py composes these pieces.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import psutil

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
VENV_BIN = Path(sys.executable).parent
PG_HOST = os.environ.get("ESTATE_BENCH_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("ESTATE_BENCH_PG_PORT", "5432"))
PG_USER = os.environ.get("ESTATE_BENCH_PG_USER", "postgres")


# --- PostgreSQL ------------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def throwaway_database() -> AsyncIterator[str]:
    """Create ``estate_bench_<random>``, yield its SQLAlchemy asyncpg URL, drop it afterwards."""
    name = f"estate_bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database="postgres")
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        admin = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database="postgres")
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


def asyncpg_dsn(sqlalchemy_url: str) -> str:
    return sqlalchemy_url.replace("postgresql+asyncpg://", "postgresql://")


async def pg_server_version() -> str:
    conn = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database="postgres")
    try:
        return str(await conn.fetchval("SHOW server_version"))
    finally:
        await conn.close()


# --- child processes -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Child:
    """A child process started by the benchmark, stopped by its own pid with SIGTERM (then SIGKILL)."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout_s: float = 10.0) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def start_child(name: str, argv: Sequence[str], env: dict[str, str], log_dir: Path) -> Child:
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    log = log_path.open("wb")
    process = subprocess.Popen(  # argv is built by the benchmark itself
        list(argv),
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **env},
        cwd=REPO,
    )
    log.close()
    return Child(name, process, log_path)


def register_cli() -> str:
    """The installed ``estate-register`` entry point of this virtual environment (no ``uv run`` shim, so
    the pid we hold is the server's own)."""
    path = VENV_BIN / "estate-register"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run `uv sync` first")
    return str(path)


async def wait_http(url: str, child: Child, timeout_s: float = 30.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient() as client:
        while True:
            if not child.alive():
                raise RuntimeError(f"{child.name} exited early:\n{child.tail()}")
            try:
                response = await client.get(url, timeout=1.0)
                if response.status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{child.name} did not answer {url} in {timeout_s}s:\n{child.tail()}")
            await asyncio.sleep(0.1)


# --- resident memory ---------------------------------------------------------------------------------


def rss_bytes(pid: int) -> int:
    """RSS of a process and its descendants (the HTTP server's worker processes are its children)."""
    try:
        root = psutil.Process(pid)
        total = root.memory_info().rss
        for child in root.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                total += child.memory_info().rss
        return int(total)
    except psutil.Error:
        return 0


def cpu_seconds(pid: int) -> float:
    """CPU time of a process and its descendants (the HTTP server runs one worker process per core)."""
    try:
        root = psutil.Process(pid)
        total = 0.0
        for process in (root, *root.children(recursive=True)):
            with contextlib.suppress(psutil.Error):
                times = process.cpu_times()
                total += times.user + times.system
        return total
    except psutil.Error:
        return 0.0


class RssSampler:
    """Samples the RSS of named pids every ``interval_s`` on a thread; reports the peak and the mean."""

    def __init__(self, pids: dict[str, int], interval_s: float = 0.25) -> None:
        self.pids = pids
        self.interval_s = interval_s
        self.samples: dict[str, list[int]] = {name: [] for name in pids}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for name, pid in self.pids.items():
                self.samples[name].append(rss_bytes(pid))
            self._stop.wait(self.interval_s)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        for name, pid in self.pids.items():
            self.samples[name].append(rss_bytes(pid))

    def peak_mb(self) -> dict[str, float]:
        return {name: round(max(s, default=0) / 2**20, 1) for name, s in self.samples.items()}


@contextlib.contextmanager
def sample_rss(pids: dict[str, int]) -> Iterator[RssSampler]:
    with RssSampler(pids) as sampler:
        yield sampler


def snapshot_rss_mb(pids: dict[str, int]) -> dict[str, float]:
    return {name: round(rss_bytes(pid) / 2**20, 1) for name, pid in pids.items()}


# --- figures -------------------------------------------------------------------------------------------


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (no interpolation), so p99 of 100 samples is the 99th value."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(pct / 100 * len(ordered))))
    return ordered[rank - 1]


def latency_summary(latencies_s: Sequence[float], elapsed_s: float, errors: int = 0) -> dict[str, Any]:
    ms = [v * 1000 for v in latencies_s]
    return {
        "requests": len(ms),
        "errors": errors,
        "rps": round(len(ms) / elapsed_s, 1) if elapsed_s > 0 else 0.0,
        "p50_ms": round(percentile(ms, 50), 2),
        "p95_ms": round(percentile(ms, 95), 2),
        "p99_ms": round(percentile(ms, 99), 2),
        "mean_ms": round(statistics.fmean(ms), 2) if ms else float("nan"),
        "max_ms": round(max(ms), 2) if ms else float("nan"),
    }


@dataclass
class Stopwatch:
    started: float = field(default_factory=time.perf_counter)

    def elapsed(self) -> float:
        return time.perf_counter() - self.started
