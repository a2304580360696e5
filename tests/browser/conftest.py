"""Fixtures of the browser tests: the whole of Estate as a newcomer starts it (``estate up``), on the
session's PostgreSQL and the embedded broker ``estate up`` starts, and Debian's chromium driven by Playwright.

* ``estate_stack`` (session): ``python -m estate_devstack up`` as a subprocess, each service's database a
  fresh PostgreSQL database, its own embedded broker (a stack of its own: its workers must not join the
  consumer groups of the end-to-end tests' workers on the session's broker), free ports; the ports it chose are read from its state file. Stopped at the end with SIGTERM (its own
  orderly shutdown), then SIGKILL. Its output is attached to the report of any browser test that fails.
* ``browser`` (session): chromium from ``/usr/bin/chromium`` (never a downloaded browser). Missing: the
  run fails with the command that installs it.
* ``sign_in``: ``await sign_in("tda-chair")`` gives a page of a fresh browser context, signed in as that
  demo person through the sign-in page, whose console is watched by :func:`browser_support.check_page`.
* ``screenshots``: saves PNGs to ``ESTATE_SCREENSHOTS_DIR`` (``docs/screenshots`` for the README) or to
  the test's temporary directory.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from browser_support import (
    AXE,
    CHROMIUM,
    CHROMIUM_ARGS,
    INSTALL_AXE,
    INSTALL_CHROMIUM,
    PERSONAS,
    UI_TIMEOUT_MS,
    Screenshots,
    SignIn,
    Stack,
    check_page,
    choose,
    press_button,
    screenshots_dir,
    watch,
)
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

from estate_eventing.testing import PROCESS_LOGS
from tests.e2e.e2e_support import free_port

START_TIMEOUT_S = 300.0
STOP_TIMEOUT_S = 60.0

BROWSER_MARK = "browser: drives the portal in chromium against the whole stack (estate up)"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", BROWSER_MARK)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test here is marked ``browser`` (and ``e2e``), so ``-m "not browser"`` leaves them out."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.browser)


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _free_run(length: int) -> int:
    """The first of ``length`` consecutive free ports (``--http-port`` takes one per API, in a row)."""
    for _ in range(200):
        first = free_port()
        if first + length < 65535 and all(_port_free(first + i) for i in range(length)):
            return first
    raise RuntimeError(f"no {length} consecutive free ports")


def _stack_environment(databases: dict[str, str], portal_port: int) -> dict[str, str]:
    """``estate up``'s environment: the databases on PostgreSQL and nothing about a broker, so it starts its
    own embedded one, as on a newcomer's machine. (The session's broker would put this stack's workers in
    the same consumer groups as the end-to-end tests' workers, sharing out their partitions.)"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ESTATE_")}
    env.update({"PYTHONUNBUFFERED": "1", "ESTATE_PORTAL_HTTP_PORT": str(portal_port)})
    for service, url in databases.items():
        env[f"ESTATE_{service.upper()}_DATABASE_URL"] = url
    return env


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM: ``estate up`` stops its processes in order; then SIGKILL to its process group if need be."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(STOP_TIMEOUT_S)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)  # anything of its own session left behind
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(10)


def _wait_until_up(process: subprocess.Popen[bytes], data_dir: Path, log_path: Path) -> dict[str, object]:
    """The state file ``estate up`` writes once every HTTP service answers ``/health/ready``."""
    state_file = data_dir / "estate-up.json"
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log_path.read_text(errors="replace")[-6000:]
            pytest.fail(
                f"estate up exited with {process.returncode} before it was up:\n{tail}", pytrace=False
            )
        if state_file.exists():
            with contextlib.suppress(json.JSONDecodeError):
                state: dict[str, object] = json.loads(state_file.read_text())
                return state
        time.sleep(0.5)
    tail = log_path.read_text(errors="replace")[-6000:]
    pytest.fail(f"estate up was not up within {START_TIMEOUT_S:.0f}s:\n{tail}", pytrace=False)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def stack_databases(postgres_url_factory: Callable[[], Awaitable[str]]) -> dict[str, str]:
    return {service: await postgres_url_factory() for service in ("register", "procurement", "notifications")}


@pytest.fixture(scope="session")
def estate_stack(
    tmp_path_factory: pytest.TempPathFactory, stack_databases: dict[str, str]
) -> Iterator[Stack]:
    data_dir = tmp_path_factory.mktemp("estate") / "var"
    data_dir.mkdir()
    log_path = data_dir.parent / "estate-up.log"
    env = _stack_environment(stack_databases, free_port())
    args = [
        sys.executable,
        "-m",
        "estate_devstack",
        "up",
        "--data-dir",
        str(data_dir),
        "--http-port",
        str(_free_run(3)),
        "--kafka-port",
        str(free_port()),
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            args,
            cwd=data_dir.parent,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        state = _wait_until_up(process, data_dir, log_path)
        http = {str(k): str(v) for k, v in dict(state["http"]).items()}  # type: ignore[call-overload]
        assert "portal" in http, f"estate up started no portal (no portal ServiceSpec?): {http}"
        stack = Stack(http=http, data_dir=data_dir, key_path=Path(str(state["key_path"])), log_path=log_path)
        answer = httpx.get(f"{stack.portal}/health/ready", timeout=30)
        assert answer.status_code == 200, answer.text
        yield stack
    finally:
        _stop(process)


@pytest.fixture(autouse=True)
def _attach_stack_log(request: pytest.FixtureRequest) -> None:
    """A failing browser test's report ends with the stack's output (every process's log lines)."""
    if "estate_stack" in request.fixturenames:
        stack: Stack = request.getfixturevalue("estate_stack")
        request.node.stash.setdefault(PROCESS_LOGS, {})["estate up"] = stack.log_path


@pytest.fixture(scope="session")
def chromium() -> Path:
    if not CHROMIUM.exists():
        pytest.fail(
            f"The browser tests drive Debian's chromium, and {CHROMIUM} is missing. Install it with:\n"
            f"    {INSTALL_CHROMIUM}",
            pytrace=False,
        )
    if not AXE.exists():
        pytest.fail(
            f"axe-core is missing ({AXE}). Install the portal's npm packages:\n    {INSTALL_AXE}",
            pytrace=False,
        )
    return CHROMIUM


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser(chromium: Path) -> AsyncIterator[Browser]:
    expect.set_options(timeout=UI_TIMEOUT_MS)
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(chromium), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest_asyncio.fixture(loop_scope="session")
async def new_context(
    browser: Browser, estate_stack: Stack
) -> AsyncIterator[Callable[[], Awaitable[BrowserContext]]]:
    """Fresh browser contexts (own cookies) on the portal; all closed at the end of the test."""
    contexts: list[BrowserContext] = []

    async def make() -> BrowserContext:
        context = await browser.new_context(
            base_url=estate_stack.portal,
            viewport={"width": 1280, "height": 900},
            locale="en-GB",
            timezone_id="Europe/London",
        )
        context.set_default_timeout(UI_TIMEOUT_MS)
        context.set_default_navigation_timeout(UI_TIMEOUT_MS * 2)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        await context.close()


@pytest_asyncio.fixture(loop_scope="session")
async def anonymous(new_context: Callable[[], Awaitable[BrowserContext]]) -> Page:
    """A page of a browser that has not signed in."""
    context = await new_context()
    page = await context.new_page()
    watch(page, None)
    return page


@pytest_asyncio.fixture(loop_scope="session")
async def sign_in(new_context: Callable[[], Awaitable[BrowserContext]]) -> SignIn:
    """``await sign_in("owner")``: a new browser context signed in as that demo person at /sign-in, by
    keyboard."""

    async def as_persona(persona: str) -> Page:
        name, _ = PERSONAS[persona]
        context = await new_context()
        page = await context.new_page()
        watch(page, persona)
        await page.goto("/sign-in")
        await check_page(page)
        # By keyboard, like the journeys that follow.
        await choose(page, page.get_by_role("radio", name=name, exact=True))
        await press_button(page, "Sign in")
        await page.wait_for_url(lambda url: "/sign-in" not in url)
        await expect(page.locator(".estate-signed-in")).to_contain_text(f"Signed in as {name}")
        return page

    return as_persona


@pytest.fixture
def screenshots(tmp_path: Path) -> Screenshots:
    return Screenshots(screenshots_dir(tmp_path / "screenshots"))
