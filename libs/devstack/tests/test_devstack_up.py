"""``estate up`` run as a newcomer runs it: a real subprocess, real broker, real services, Ctrl-C."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psutil
import pytest
from devstack_support import EstateUp, clean_environment, estate_command, free_port

from estate_devstack.plan import STATE_FILE, port_free
from estate_eventing.testing import PROCESS_LOGS

Launch = Callable[..., EstateUp]


@pytest.fixture
def launch(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Launch]:
    """Start ``estate up`` with free ports and a data directory under ``tmp_path``; all killed at the end."""
    started: list[EstateUp] = []
    logs = request.node.stash.setdefault(PROCESS_LOGS, {})

    def start(*extra: str, data_dir: Path | None = None) -> EstateUp:
        index = len(started) + 1
        args = [
            "--data-dir",
            str(data_dir or tmp_path / "var"),
            "--http-port",
            str(free_port()),
            "--kafka-port",
            str(free_port()),
            *extra,
        ]
        log_path = tmp_path / f"estate-up-{index}.log"
        logs[f"estate up #{index}"] = log_path
        up = EstateUp(args, cwd=tmp_path, log_path=log_path)
        started.append(up)
        return up

    yield start
    for up in started:
        up.kill_everything()


class Stack:
    """What the banner told us."""

    def __init__(self, up: EstateUp) -> None:
        self.portal = up.wait_for(r"^Open (http://\S+) and sign in as any of the demo people").group(1)
        self.token = up.wait_for(r"export ESTATE_TOKEN=(\S+)").group(1)
        self.api = up.wait_for(r"register\s+API docs\s+(http://\S+)/docs").group(1)
        self.procurement = up.wait_for(r"procurement\s+API docs\s+(http://\S+)/docs").group(1)

    def get(self, path: str, token: str | None = None, *, api: str | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token or self.token}"}
        return httpx.get(f"{api or self.api}{path}", headers=headers, timeout=10)


def all_systems(stack: Stack) -> list[dict[str, object]]:
    page = stack.get("/api/v1/systems?limit=500&count=true")
    assert page.status_code == 200, page.text
    body = page.json()
    assert body["total"] == len(body["items"])
    items: list[dict[str, object]] = body["items"]
    return items


def planned_systems(stack: Stack) -> set[object]:
    """The register's planned systems once the demo approval has travelled from procurement (or 30 s)."""
    planned: set[object] = set()
    for _ in range(100):
        planned = {s["name"] for s in all_systems(stack) if s["lifecycle_stage"] == "planned"}
        if "EngageHQ" in planned:
            break
        time.sleep(0.3)
    return planned


def run_estate(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        estate_command(*args), cwd=cwd, env=clean_environment(), capture_output=True, text=True, timeout=60
    )


def stop_and_assert_clean(up: EstateUp, stack: Stack) -> None:
    children = up.descendants()
    assert len(children) >= 4, f"expected broker, http, worker and relay; found {children}"
    up.interrupt()
    assert up.wait() == 0, up.output()[-3000:]
    _, alive = psutil.wait_procs(children, timeout=5)
    assert alive == [], f"processes outlived estate up: {alive}"
    port = int(stack.api.rsplit(":", 1)[1])
    assert port_free(port), f"port {port} is still taken after estate up stopped"


def test_up_serves_the_demo_estate_restarts_crashes_and_ctrl_c_stops_everything(
    launch: Launch, tmp_path: Path
) -> None:
    up = launch()
    stack = Stack(up)

    for path in ("/docs", "/health/ready", "/metrics"):
        assert httpx.get(f"{stack.api}{path}", timeout=10).status_code == 200, path
    names = {system["name"] for system in all_systems(stack)}
    assert {"Orchard", "Storm", "Tascomi"} <= names
    # The portal answers once the three APIs do, and serves GOV.UK Frontend's assets from its package
    # (copied there by the build hook when `uv sync` installed it).
    assert httpx.get(f"{stack.portal}/health/ready", timeout=10).status_code == 200
    stylesheet = httpx.get(f"{stack.portal}/assets/govuk-frontend.min.css", timeout=10)
    assert stylesheet.status_code == 200 and ".govuk-header" in stylesheet.text
    assert (tmp_path / "var" / "register.db").is_file()
    assert (tmp_path / "var" / "dev-jwt-key.pem").is_file()

    # `estate token` signs with the key of the running stack, so the API accepts what it mints.
    minted = run_estate(
        tmp_path, "token", "--role", "tda_chair", "--email", "chair@cambridge.gov.uk", "--data-dir", "var"
    )
    assert minted.returncode == 0, minted.stderr
    me = stack.get("/api/v1/me", token=minted.stdout.strip())
    assert me.status_code == 200, me.text
    assert "tda_chair" in me.json()["roles"]

    # The procurement service runs beside it with its demo requests; the demo approval reaches the
    # register as a planned system, and the register's systems reach procurement's re-use candidates.
    requests = stack.get("/api/v1/requests?limit=50", token=minted.stdout.strip(), api=stack.procurement)
    assert requests.status_code == 200, requests.text
    assert len(requests.json()["items"]) == 6
    assert "EngageHQ" in planned_systems(stack)
    street = stack.get(
        "/api/v1/requests/TR-2026-0003/candidates", token=minted.stdout.strip(), api=stack.procurement
    )
    assert street.status_code == 200, street.text
    assert "Alloy" in {c["name"] for c in street.json()}

    status = run_estate(tmp_path, "status", "--data-dir", "var")
    assert status.returncode == 0, status.stdout + status.stderr
    assert "ready" in status.stdout

    # While it runs, its data directory is locked against a second `estate up`.
    rival = run_estate(tmp_path, "up", "--data-dir", "var", "--http-port", str(free_port()))
    assert rival.returncode == 2
    assert "already running" in rival.stderr

    # A process that dies is reported and started again.
    register_worker = ["estate_register.entrypoints.cli", "worker"]
    (worker,) = [p for p in up.descendants() if p.cmdline()[-2:] == register_worker]
    mark = len(up.lines)
    worker.kill()
    up.wait_for(r"register-worker exited with code -9 .*restarting", timeout_s=30, start=mark)
    up.wait_for(r"register-worker\s+\|.*FastStream app started", timeout_s=60, start=mark)
    (restarted,) = [p for p in up.descendants() if p.cmdline()[-2:] == register_worker]
    assert restarted.pid != worker.pid

    stop_and_assert_clean(up, stack)
    assert not (tmp_path / "var" / STATE_FILE).exists()


def test_a_second_up_on_the_same_data_keeps_one_copy_of_the_demo_data(launch: Launch) -> None:
    first = launch()
    stack = Stack(first)
    assert "EngageHQ" in planned_systems(stack)
    before = sorted(str(system["name"]) for system in all_systems(stack))
    assert before.count("Orchard") == 1
    stop_and_assert_clean(first, stack)

    second = launch()
    stack = Stack(second)
    second.wait_for(r"demo data: 0 records added", timeout_s=5)
    after = sorted(str(system["name"]) for system in all_systems(stack))
    assert after == before
    stop_and_assert_clean(second, stack)
