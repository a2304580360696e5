"""Run a set of child processes as one unit: prefixed output, restarts with backoff, ordered shutdown.

The rules, which the tests of this module hold it to:

* Processes start in list order and stop in reverse order: SIGTERM, up to ``stop_timeout_s`` for the
  process to finish, then SIGKILL. A second Ctrl-C skips the wait.
* A process that exits on its own is reported and started again after a pause that doubles with each
  *quick* crash (one that came less than ``quick_crash_s`` after its start). After
  ``max_quick_crashes`` quick crashes in a row the supervisor gives up: it stops everything and
  :meth:`Supervisor.run` returns 1. A process marked ``restart=False`` (the in-memory broker, whose
  restart would silently lose every event and offset) makes it give up at once.
* Every child runs in a session of its own, so the terminal's Ctrl-C reaches only the supervisor, which
  then stops the children in order; on Linux a child is also sent SIGTERM if the supervisor dies
  without cleaning up (``PR_SET_PDEATHSIG``), so no process outlives a killed ``estate up``.
* Each line a child writes (stdout and stderr) is echoed with the child's name in front.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import os
import signal
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

import httpx

_PR_SET_PDEATHSIG = 1


def _parent_death_signal() -> Callable[[], None] | None:
    """A ``preexec_fn`` that asks Linux to SIGTERM the child when its parent dies, or None elsewhere.

    The libc function is looked up here, in the parent, so the forked child only makes one call.
    """
    if not sys.platform.startswith("linux"):
        return None
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    prctl = ctypes.CDLL(name, use_errno=True).prctl

    def set_pdeathsig() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)

    return set_pdeathsig


_PREEXEC = _parent_death_signal()


@dataclass(frozen=True, slots=True)
class ProcessDef:
    """One child process: its name (the log prefix), command line and environment."""

    name: str
    argv: Sequence[str]
    env: Mapping[str, str]
    ready_url: str | None = None
    """Polled until it answers 200 before the stack counts as up (an HTTP service's health check)."""
    restart: bool = True


@dataclass(frozen=True, slots=True)
class RestartPolicy:
    max_quick_crashes: int = 5
    quick_crash_s: float = 30.0
    first_backoff_s: float = 0.5
    max_backoff_s: float = 15.0
    stop_timeout_s: float = 10.0

    def backoff(self, quick_crashes: int) -> float:
        return min(self.first_backoff_s * 2.0 ** max(quick_crashes - 1, 0), self.max_backoff_s)


class Output:
    """Writes whole lines, each behind a padded name; one writer per stack so the padding lines up."""

    def __init__(self, stream: TextIO | None = None, width: int = 16) -> None:
        self._stream = stream or sys.stdout
        self.width = width

    def line(self, name: str, text: str) -> None:
        self._stream.write(f"{name:<{self.width}} | {text}\n")
        self._stream.flush()

    def say(self, text: str) -> None:
        self.line("estate", text)

    def raw(self, text: str) -> None:
        self._stream.write(text)
        self._stream.flush()


async def _pump(name: str, stream: asyncio.StreamReader, out: Output) -> None:
    """Echo a child's output line by line (split by hand: a very long line must not stop the echo)."""
    pending = b""
    while chunk := await stream.read(65536):
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for raw in lines:
            out.line(name, raw.rstrip(b"\r").decode("utf-8", "replace"))
    if pending:
        out.line(name, pending.decode("utf-8", "replace"))


async def _spawn(definition: ProcessDef) -> asyncio.subprocess.Process:
    # The command lines are built by this package from fixed module names, never from user input.
    return await asyncio.create_subprocess_exec(
        *definition.argv,
        env=dict(definition.env),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=_PREEXEC,
    )


async def run_task(
    definition: ProcessDef, out: Output, stop: asyncio.Event, *, timeout_s: float = 300.0
) -> int | None:
    """Run a one-off command to completion with prefixed output; its exit code, or None if stopped.

    ``stop`` (Ctrl-C) or the timeout ends it early; a timeout counts as exit code 124, like timeout(1).
    """
    process = await _spawn(definition)
    assert process.stdout is not None
    pump = asyncio.create_task(_pump(definition.name, process.stdout, out))
    waiter = asyncio.create_task(process.wait())
    stopper = asyncio.create_task(stop.wait())
    try:
        done, _ = await asyncio.wait(
            {waiter, stopper}, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED
        )
        if waiter not in done:
            await _terminate(process, 5.0)
            await _settle(pump)
            if stop.is_set():
                return None
            out.say(f"{definition.name} did not finish within {timeout_s:.0f}s")
            return 124
        await _settle(pump)
        return waiter.result()
    finally:
        stopper.cancel()
        waiter.cancel()


async def _terminate(
    process: asyncio.subprocess.Process, timeout_s: float, force: asyncio.Event | None = None
) -> None:
    """SIGTERM, wait up to ``timeout_s`` (or until ``force`` is set), then SIGKILL."""
    if process.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGTERM)
    waiter: asyncio.Task[Any] = asyncio.create_task(process.wait())
    waits = {waiter}
    if force is not None:
        waits.add(asyncio.create_task(force.wait()))
    await asyncio.wait(waits, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
    for task in waits - {waiter}:
        task.cancel()
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
    await waiter


async def _settle(pump: asyncio.Task[None], timeout_s: float = 2.0) -> None:
    """Let the echo of a finished process drain; a grandchild holding the pipe must not hang us."""
    try:
        await asyncio.wait_for(pump, timeout_s)
    except TimeoutError:
        pump.cancel()


@dataclass
class _Managed:
    definition: ProcessDef
    process: asyncio.subprocess.Process | None = None
    pump: asyncio.Task[None] | None = None
    keeper: asyncio.Task[None] | None = None
    quick_crashes: int = 0


class Supervisor:
    """Starts :class:`ProcessDef` s, keeps them running and stops them; see the module docstring."""

    def __init__(
        self, out: Output, *, policy: RestartPolicy | None = None, ready_timeout_s: float = 120.0
    ) -> None:
        self.out = out
        self.policy = policy or RestartPolicy()
        self.ready_timeout_s = ready_timeout_s
        self.stop_requested = asyncio.Event()
        self.force = asyncio.Event()
        self.failure: str | None = None
        self._failed = asyncio.Event()
        self._halt = asyncio.Event()
        self._stop_requested_at = 0.0
        self._stopping = False
        self._managed: list[_Managed] = []

    # --- signals ---------------------------------------------------------------------------------

    def install_signal_handlers(self) -> None:
        """Ctrl-C or SIGTERM: stop in order. A second one: stop now (SIGKILL what is left)."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, self.request_stop)

    def request_stop(self) -> None:
        if self.stop_requested.is_set():
            # One Ctrl-C can arrive twice: from the terminal (to the whole process group) and again
            # forwarded by a wrapper such as `uv run` or `make`. Only a later one means "hurry".
            if time.monotonic() - self._stop_requested_at > 1.0 and not self.force.is_set():
                self.out.say("stopping now")
                self.force.set()
            return
        self.out.say("stopping (Ctrl-C again to kill at once)")
        self._stop_requested_at = time.monotonic()
        self.stop_requested.set()

    # --- state -----------------------------------------------------------------------------------

    def pids(self) -> dict[str, int | None]:
        """The current pid of each process (None while it waits to be restarted)."""
        return {
            m.definition.name: m.process.pid if m.process and m.process.returncode is None else None
            for m in self._managed
        }

    @property
    def done(self) -> bool:
        return self.stop_requested.is_set() or self._failed.is_set()

    def _give_up(self, reason: str) -> None:
        if self.failure is None:
            self.failure = reason
            self.out.say(f"giving up: {reason}")
        self._failed.set()

    # --- running ---------------------------------------------------------------------------------

    async def start(self, definition: ProcessDef) -> None:
        """Start ``definition`` now and keep it running until :meth:`stop_all`."""
        managed = _Managed(definition)
        self._managed.append(managed)
        await self._launch(managed)
        managed.keeper = asyncio.create_task(self._keep(managed), name=f"keep {definition.name}")

    async def _launch(self, managed: _Managed) -> None:
        managed.process = await _spawn(managed.definition)
        assert managed.process.stdout is not None
        managed.pump = asyncio.create_task(_pump(managed.definition.name, managed.process.stdout, self.out))

    async def _keep(self, managed: _Managed) -> None:
        name = managed.definition.name
        while True:
            assert managed.process is not None
            assert managed.pump is not None
            started = time.monotonic()
            code = await managed.process.wait()
            await _settle(managed.pump)
            if self._stopping:
                return
            ran = time.monotonic() - started
            managed.quick_crashes = managed.quick_crashes + 1 if ran < self.policy.quick_crash_s else 1
            if not managed.definition.restart:
                self._give_up(f"{name} exited with code {code} and cannot be restarted")
                return
            if managed.quick_crashes >= self.policy.max_quick_crashes:
                self._give_up(
                    f"{name} exited with code {code}, its {managed.quick_crashes}th crash in a row "
                    f"within {self.policy.quick_crash_s:.0f}s of starting"
                )
                return
            delay = self.policy.backoff(managed.quick_crashes)
            self.out.say(
                f"{name} exited with code {code} after {ran:.1f}s; restarting in {delay:.1f}s "
                f"(quick crash {managed.quick_crashes} of {self.policy.max_quick_crashes})"
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._until_done(), delay)
            if self._stopping or self.done:
                return
            await self._launch(managed)

    async def _until_done(self) -> None:
        waits = {asyncio.create_task(e.wait()) for e in (self.stop_requested, self._failed, self._halt)}
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in waits:
                task.cancel()

    async def wait_ready(self, client: httpx.AsyncClient | None = None) -> bool:
        """Poll every ``ready_url`` until it answers 200; False if stopped, failed or timed out."""
        urls = [m.definition.ready_url for m in self._managed if m.definition.ready_url]
        deadline = time.monotonic() + self.ready_timeout_s
        async with contextlib.AsyncExitStack() as stack:
            if client is None:
                client = await stack.enter_async_context(httpx.AsyncClient(timeout=2.0))
            for url in urls:
                while True:
                    if self.done:
                        return False
                    with contextlib.suppress(httpx.HTTPError):
                        if (await client.get(url)).status_code == 200:
                            break
                    if time.monotonic() > deadline:
                        self._give_up(f"{url} did not answer 200 within {self.ready_timeout_s:.0f}s")
                        return False
                    await asyncio.sleep(0.2)
        return True

    async def run(self) -> int:
        """Wait for Ctrl-C/SIGTERM (then 0) or a process that cannot be kept running (then 1)."""
        await self._until_done()
        return 1 if self._failed.is_set() else 0

    async def stop_all(self) -> None:
        """Stop every process, last started first."""
        self._stopping = True
        self._halt.set()
        for managed in reversed(self._managed):
            process = managed.process
            if process is not None and process.returncode is None:
                await _terminate(process, self.policy.stop_timeout_s, self.force)
                if process.returncode not in (0, -signal.SIGTERM, -signal.SIGINT):
                    self.out.say(f"{managed.definition.name} stopped with code {process.returncode}")
            if managed.keeper is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await managed.keeper
            elif managed.pump is not None:
                await _settle(managed.pump)


def child_environment(overrides: Mapping[str, str]) -> dict[str, str]:
    """This process's environment with ``overrides`` applied and unbuffered Python output."""
    env = dict(os.environ)
    env.update(overrides)
    env["PYTHONUNBUFFERED"] = "1"
    return env
