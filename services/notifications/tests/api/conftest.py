"""Fixtures of the notifications API tests: the real app over a SQLite (or, where a test asks,
PostgreSQL) database of each test's own, a clock the test controls, a weekday calendar, and real tokens
from a session key.

The SQLite database is a copy of a template file created once per session from the records' metadata
(and the shared outbox and inbox tables): copying a file takes a millisecond, and every test still owns
its file.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from notifications_api_support import NOW, PUBLIC_URL, Notifications
from sqlalchemy import create_engine
from sqlalchemy.ext.asyncio import create_async_engine

from estate_eventing.clock import SettableClock
from estate_eventing.tables import eventing_metadata
from estate_notifications.adapters.db.records import Base
from estate_notifications.api.app import create_app
from estate_notifications.bootstrap import Container, bootstrap
from estate_notifications.settings import AuthSettings, NotificationsSettings
from estate_runtime.auth import mint_token
from estate_runtime.workdays import WeekdayCalendar

Mint = Callable[..., dict[str, str]]
LINK_SECRET = "test-link-secret-" + "s" * 40


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock(NOW)


@pytest.fixture(scope="session")
def auth_settings(tmp_path_factory: pytest.TempPathFactory) -> AuthSettings:
    """The local development issuer, with a key made for this test session."""
    return AuthSettings(dev_key_path=tmp_path_factory.mktemp("notifications-auth") / "key.pem")


@pytest.fixture(scope="session")
def mint(auth_settings: AuthSettings) -> Mint:
    """``mint("owner", subject=..., email=..., name=...)``: headers carrying a valid token."""
    minted: dict[tuple[Any, ...], str] = {}

    def headers(
        *roles: str, subject: str = "tester", email: str | None = None, name: str | None = None
    ) -> dict[str, str]:
        key = (roles, subject, email, name)
        if key not in minted:
            minted[key] = mint_token(auth_settings, subject=subject, roles=roles, email=email, name=name)
        return {"Authorization": f"Bearer {minted[key]}"}

    return headers


@pytest.fixture(scope="session")
def notifications_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty notifications database with every table."""
    path = tmp_path_factory.mktemp("notifications-template") / "notifications.db"
    engine = create_engine(f"sqlite:///{path}")
    try:
        Base.metadata.create_all(engine)
        eventing_metadata.create_all(engine)
    finally:
        engine.dispose()
    return path


async def create_tables(url: str) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
            await connection.run_sync(eventing_metadata.create_all)
    finally:
        await engine.dispose()


@pytest.fixture(params=["sqlite"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database of this test's own with every table. Parametrize it indirectly with ``"postgresql"`` to
    run a test against an empty PostgreSQL database of its own (``estate_eventing.testing`` finds the
    server or fails the test); its tables are made on a thread of its own, with its own event loop,
    because the test's loop is already running."""
    if request.param == "postgresql":
        url: str = request.getfixturevalue("fresh_postgres_database")
        with ThreadPoolExecutor(max_workers=1) as pool:
            pool.submit(asyncio.run, create_tables(url)).result()
        return url
    path = tmp_path / "notifications.db"
    shutil.copyfile(request.getfixturevalue("notifications_template"), path)
    return sqlite_url(path)


@pytest.fixture
def settings(db_url: str) -> NotificationsSettings:
    return NotificationsSettings(
        database_url=db_url, environment="test", link_secret=LINK_SECRET, public_url=PUBLIC_URL
    )


@pytest_asyncio.fixture(loop_scope="session")
async def container(
    settings: NotificationsSettings, clock: SettableClock, auth_settings: AuthSettings
) -> AsyncIterator[Container]:
    container = bootstrap(settings, auth=auth_settings, clock=clock, calendar=WeekdayCalendar())
    try:
        yield container
    finally:
        await container.close()


@pytest_asyncio.fixture(loop_scope="session")
async def client(container: Container) -> AsyncIterator[httpx.AsyncClient]:
    """The notifications API in process (no server; add ``mint(...)`` headers)."""
    transport = httpx.ASGITransport(app=create_app(container))
    async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL) as http:
        yield http


@pytest.fixture
def service(
    client: httpx.AsyncClient, container: Container, clock: SettableClock, mint: Mint
) -> Notifications:
    return Notifications(client=client, container=container, clock=clock, mint=mint)
