"""The portal over the three real services' APIs, in process.

Each test gets its own SQLite copy of the register (demo estate), procurement (demo requests) and
notifications databases, made once per session from migrated templates, and each service's real FastAPI
app; the portal's clients reach them through ``httpx.ASGITransport``, so every page goes through the
same API code, token checks and problem details as in production, without processes or a broker.
What crosses services by events (an approval becoming a planned system, an alert) is the browser
tests' business (tests/browser/), which run the whole system.

``portal`` is a client of the portal app; ``sign_in(portal, "tda-chair")`` signs in as a demo person
through the real sign-in form and returns the session's CSRF token for forms.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from portal_support import SignIn, Stack, csrf_of

from estate_notifications.adapters.db.migrate import upgrade_async as notifications_upgrade
from estate_notifications.api.app import create_app as notifications_app
from estate_notifications.bootstrap import bootstrap as notifications_bootstrap
from estate_notifications.settings import NotificationsSettings
from estate_portal.app import create_app as portal_app
from estate_portal.backends import Backends
from estate_portal.settings import PortalSettings
from estate_procurement.adapters.db.migrate import upgrade_async as procurement_upgrade
from estate_procurement.api.app import create_app as procurement_app
from estate_procurement.bootstrap import bootstrap as procurement_bootstrap
from estate_procurement.demo_data import load_demo_data as procurement_demo
from estate_procurement.settings import ProcurementSettings
from estate_register.adapters.db.migrate import upgrade_async as register_upgrade
from estate_register.api.app import create_app as register_app
from estate_register.bootstrap import bootstrap as register_bootstrap
from estate_register.demo_data import load_demo_data as register_demo
from estate_register.settings import RegisterSettings
from estate_runtime.auth import AuthSettings

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
"""The clock of the demo data in these tests (the services' own clocks run on real time)."""

SERVICES = ("register", "procurement", "notifications")


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def _clock() -> datetime:
    return NOW


async def _prepare(directory: Path) -> None:
    register_url = sqlite_url(directory / "register.db")
    await register_upgrade(register_url)
    register = register_bootstrap(RegisterSettings(database_url=register_url), clock=_clock)
    try:
        await register_demo(register)
    finally:
        await register.close()
    procurement_url = sqlite_url(directory / "procurement.db")
    await procurement_upgrade(procurement_url)
    procurement = procurement_bootstrap(ProcurementSettings(database_url=procurement_url), clock=_clock)
    try:
        await procurement_demo(procurement)
    finally:
        await procurement.close()
    await notifications_upgrade(sqlite_url(directory / "notifications.db"))


@pytest.fixture(scope="session")
def portal_templates(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrated databases with the demo data, made once (Alembic runs its own loop: a thread of its own)."""
    directory = tmp_path_factory.mktemp("portal-templates")
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, _prepare(directory)).result()
    return directory


@pytest.fixture(scope="session")
def portal_auth(tmp_path_factory: pytest.TempPathFactory) -> AuthSettings:
    return AuthSettings(dev_key_path=tmp_path_factory.mktemp("portal-auth") / "key.pem")


@pytest_asyncio.fixture(loop_scope="session")
async def stack(tmp_path: Path, portal_templates: Path, portal_auth: AuthSettings) -> AsyncIterator[Stack]:
    for name in SERVICES:
        shutil.copyfile(portal_templates / f"{name}.db", tmp_path / f"{name}.db")
    register = register_bootstrap(
        RegisterSettings(database_url=sqlite_url(tmp_path / "register.db"), environment="test"),
        auth=portal_auth,
    )
    procurement = procurement_bootstrap(
        ProcurementSettings(database_url=sqlite_url(tmp_path / "procurement.db"), environment="test"),
        auth=portal_auth,
    )
    notifications = notifications_bootstrap(
        NotificationsSettings(
            database_url=sqlite_url(tmp_path / "notifications.db"),
            environment="test",
            link_secret="portal-tests-link-secret-0123456789abcdef",
            public_url="http://notifications.test",
        ),
        auth=portal_auth,
    )
    apps = {
        "register": register_app(register, portal_auth),
        "procurement": procurement_app(procurement, portal_auth),
        "notifications": notifications_app(notifications, portal_auth),
    }
    clients = {
        name: httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"http://{name}.test")
        for name, app in apps.items()
    }
    settings = PortalSettings(
        environment="test",
        dev_sign_in=True,
        session_secret="portal-tests-session-secret-0123456789abcdef",
        public_url="http://portal.test",
    )
    try:
        yield Stack(register, procurement, notifications, clients, settings)
    finally:
        for client in clients.values():
            await client.aclose()
        for container in (register, procurement, notifications):
            await container.close()


@pytest_asyncio.fixture(loop_scope="session")
async def portal(stack: Stack, portal_auth: AuthSettings) -> AsyncIterator[httpx.AsyncClient]:
    """A browser-like client of the portal (keeps cookies; does not follow redirects)."""
    app = portal_app(stack.settings, portal_auth, backends=Backends(stack.clients))  # type: ignore[arg-type]
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://portal.test", follow_redirects=False
    ) as client:
        yield client


@pytest.fixture
def sign_in() -> SignIn:
    async def go(client: httpx.AsyncClient, persona: str) -> str:
        page = await client.get("/sign-in")
        assert page.status_code == 200, page.text
        answer = await client.post(
            "/sign-in/dev", data={"persona": persona, "next": "/", "csrf_token": csrf_of(page.text)}
        )
        assert answer.status_code == 303, answer.text
        home = await client.get("/sign-in")
        return csrf_of(home.text)

    return go
