"""Runs ``estate`` as a real subprocess, as a person at a terminal would, and watches its output."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

READY_TIMEOUT_S = 240.0
STOP_TIMEOUT_S = 45.0


def clean_environment() -> dict[str, str]:
    """This environment without any ESTATE_* setting, so the stack is the default embedded one."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ESTATE_")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def estate_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "estate_devstack", *args]


class EstateUp:
    """``estate up`` in a session of its own (so a SIGINT to its group is exactly a terminal's Ctrl-C).

    Every line it prints is kept in memory and written to ``log_path``.
    """

    def __init__(self, args: list[str], *, cwd: Path, log_path: Path) -> None:
        self.log_path = log_path
        self._log = log_path.open("a", encoding="utf-8")
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self.process = subprocess.Popen(
            estate_command("up", *args),
            cwd=cwd,
            env=clean_environment(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._log.write(line)
            self._log.flush()
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def output(self) -> str:
        with self._changed:
            return "\n".join(self.lines)

    def wait_for(self, pattern: str, *, timeout_s: float = READY_TIMEOUT_S, start: int = 0) -> re.Match[str]:
        """The first line from ``start`` on matching ``pattern``; fails if the process exits or time runs out."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout_s
        index = start
        with self._changed:
            while True:
                while index < len(self.lines):
                    match = regex.search(self.lines[index])
                    index += 1
                    if match:
                        return match
                if self.process.poll() is not None and not self._reader.is_alive():
                    raise AssertionError(
                        f"estate up exited with {self.process.returncode} before printing /{pattern}/"
                    )
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"estate up did not print /{pattern}/ within {timeout_s:.0f}s")
                self._changed.wait(min(remaining, 0.5))

    def descendants(self) -> list[psutil.Process]:
        try:
            return psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def interrupt(self) -> None:
        """Ctrl-C at the terminal: SIGINT to the whole foreground process group."""
        os.killpg(self.process.pid, signal.SIGINT)

    def wait(self, timeout_s: float = STOP_TIMEOUT_S) -> int:
        code = self.process.wait(timeout_s)
        self._reader.join(5)
        return code

    def kill_everything(self) -> None:
        """The finalizer: whatever the test did, nothing it started survives it."""
        survivors = self.descendants()
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError, psutil.NoSuchProcess):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError, psutil.NoSuchProcess):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        for child in survivors:
            with contextlib.suppress(ProcessLookupError, psutil.NoSuchProcess):
                child.kill()
        self._reader.join(5)
        self._log.close()


def free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
