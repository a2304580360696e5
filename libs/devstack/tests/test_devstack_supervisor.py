"""The supervisor's promises, with small stand-in processes (no broker, no services)."""

from __future__ import annotations

import asyncio
import io
import sys
import time
from pathlib import Path

import psutil

from estate_devstack.supervisor import Output, ProcessDef, RestartPolicy, Supervisor, child_environment

FAST = RestartPolicy(max_quick_crashes=3, quick_crash_s=30, first_backoff_s=0.01, stop_timeout_s=5)


def python(name: str, code: str, **kwargs: object) -> ProcessDef:
    return ProcessDef(name=name, argv=[sys.executable, "-c", code], env=child_environment({}), **kwargs)  # type: ignore[arg-type]


def records_its_stop(path: Path, name: str) -> str:
    """A process that says it started and appends its name to ``path`` when it gets SIGTERM."""
    return (
        "import signal, sys, time\n"
        "def stop(*_):\n"
        f"    open({str(path)!r}, 'a').write({name!r} + '\\n')\n"
        "    sys.exit(0)\n"
        "signal.signal(signal.SIGTERM, stop)\n"
        f"print({name!r} + ' up', flush=True)\n"
        "time.sleep(60)\n"
    )


async def wait_for_output(stream: io.StringIO, text: str, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while text not in stream.getvalue():
        assert time.monotonic() < deadline, f"never printed {text!r}:\n{stream.getvalue()}"
        await asyncio.sleep(0.02)


async def test_processes_stop_in_reverse_order_of_start(tmp_path: Path) -> None:
    stopped = tmp_path / "stopped.txt"
    stream = io.StringIO()
    supervisor = Supervisor(Output(stream), policy=FAST)
    for name in ("first", "second", "third"):
        await supervisor.start(python(name, records_its_stop(stopped, name)))
    await wait_for_output(stream, "third up")
    await wait_for_output(stream, "first up")
    await wait_for_output(stream, "second up")

    await supervisor.stop_all()

    assert stopped.read_text().split() == ["third", "second", "first"]
    assert all(pid is None for pid in supervisor.pids().values())


async def test_output_lines_carry_the_process_name() -> None:
    stream = io.StringIO()
    supervisor = Supervisor(Output(stream, width=8), policy=FAST)
    await supervisor.start(python("talker", "print('hello'); import sys; print('oops', file=sys.stderr)"))
    await wait_for_output(stream, "oops")
    await supervisor.stop_all()
    assert "talker   | hello\n" in stream.getvalue()
    assert "talker   | oops\n" in stream.getvalue()


async def test_a_crashed_process_is_restarted(tmp_path: Path) -> None:
    marker = tmp_path / "crashed-once"
    code = (
        "import pathlib, sys, time\n"
        f"marker = pathlib.Path({str(marker)!r})\n"
        "if not marker.exists():\n"
        "    marker.touch(); sys.exit(3)\n"
        "print('second life', flush=True); time.sleep(60)\n"
    )
    stream = io.StringIO()
    supervisor = Supervisor(Output(stream), policy=FAST)
    await supervisor.start(python("phoenix", code))
    await wait_for_output(stream, "second life")
    assert "phoenix exited with code 3" in stream.getvalue()
    assert not supervisor.done
    await supervisor.stop_all()


async def test_repeated_quick_crashes_make_it_give_up_and_stop_the_rest() -> None:
    stream = io.StringIO()
    supervisor = Supervisor(Output(stream), policy=FAST)
    await supervisor.start(python("steady", "import time; print('steady up', flush=True); time.sleep(60)"))
    await supervisor.start(python("crasher", "import sys; sys.exit(7)"))
    steady = psutil.Process(supervisor.pids()["steady"] or 0)

    code = await asyncio.wait_for(supervisor.run(), 30)
    await supervisor.stop_all()

    assert code == 1
    assert "giving up: crasher exited with code 7, its 3th crash in a row" in stream.getvalue()
    assert stream.getvalue().count("crasher exited with code 7 after") == 2  # the two restarts
    assert not steady.is_running()


async def test_a_process_that_must_not_restart_makes_it_give_up_at_once() -> None:
    stream = io.StringIO()
    supervisor = Supervisor(Output(stream), policy=FAST)
    await supervisor.start(python("broker", "import sys; sys.exit(1)", restart=False))
    assert await asyncio.wait_for(supervisor.run(), 30) == 1
    await supervisor.stop_all()
    assert "broker exited with code 1 and cannot be restarted" in stream.getvalue()


async def test_a_process_that_ignores_sigterm_is_killed_after_the_timeout() -> None:
    stream = io.StringIO()
    policy = RestartPolicy(stop_timeout_s=0.5)
    supervisor = Supervisor(Output(stream), policy=policy)
    code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('deaf', flush=True); time.sleep(60)"
    await supervisor.start(python("deaf", code))
    await wait_for_output(stream, "deaf")
    started = time.monotonic()
    await supervisor.stop_all()
    assert time.monotonic() - started < 5
    assert "deaf stopped with code -9" in stream.getvalue()


async def test_stop_requested_ends_run_with_zero() -> None:
    stream = io.StringIO()
    supervisor = Supervisor(Output(stream), policy=FAST)
    await supervisor.start(python("sleeper", "import time; time.sleep(60)"))
    asyncio.get_running_loop().call_later(0.2, supervisor.request_stop)
    assert await asyncio.wait_for(supervisor.run(), 10) == 0
    await supervisor.stop_all()
