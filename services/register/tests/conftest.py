"""Fixtures every register test folder may use: a fixed clock, tokens, a database holding the demo estate,
the container over it and an HTTP client of the app.

``db_url`` is a fresh database per test. On SQLite (the default) it is a copy of a file that was migrated
with ``estate_register.adapters.db.migrate.upgrade`` and filled with ``load_demo_data`` once per session:
copying a file takes a millisecond, migrating and loading takes a few hundred, and every test still owns
its file. Parametrize it indirectly with ``"postgresql"`` to run the same test against an empty PostgreSQL
database of its own, migrated and loaded the same way (``estate_eventing.testing``, registered by the
repository's root conftest, finds or fails on the server).
"""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fakes import NOW, FixedClock
from register_estate_support import prepare_estate_database

from estate_register.adapters.db.migrate import upgrade_async
from estate_register.api.app import create_app
from estate_register.api.auth import mint_token
from estate_register.bootstrap import Container, bootstrap
from estate_register.demo_data import load_demo_data
from estate_register.settings import AuthSettings, RegisterSettings

Mint = Callable[..., dict[str, str]]


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def prepare_database(url: str) -> None:
    """Bring a database to the newest schema and add the demo estate, as of the fixed clock.

    Runs on a thread of its own: Alembic's env.py starts its own event loop, and so does this, so the
    session's loop (and the connections made on it) are never touched.
    """

    async def migrate_and_load() -> None:
        await upgrade_async(url)
        container = bootstrap(RegisterSettings(database_url=url), clock=FixedClock(NOW))
        try:
            await load_demo_data(container)
        finally:
            await container.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, migrate_and_load()).result()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture(scope="session")
def auth_settings(tmp_path_factory: pytest.TempPathFactory) -> AuthSettings:
    """The local development issuer, with a key made for this test session."""
    return AuthSettings(dev_key_path=tmp_path_factory.mktemp("auth") / "key.pem")


@pytest.fixture(scope="session")
def mint(auth_settings: AuthSettings) -> Mint:
    """``mint("owner", email=...)``: request headers carrying a valid token with those roles.

    Tokens are kept for the session (they live eight hours): loading and checking the RSA key for each
    one would cost tens of milliseconds a request.
    """
    minted: dict[tuple[Any, ...], str] = {}

    def headers(
        *roles: str, email: str | None = None, subject: str = "tester", **extra: Any
    ) -> dict[str, str]:
        key = (roles, email, subject, tuple(sorted(extra.items())))
        if key not in minted:
            minted[key] = mint_token(auth_settings, subject=subject, roles=roles, email=email, **extra)
        return {"Authorization": f"Bearer {minted[key]}"}

    return headers


@pytest.fixture(scope="session")
def demo_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "register.db"
    prepare_database(sqlite_url(path))
    leftovers = [p for p in path.parent.iterdir() if p != path]
    assert not leftovers, f"the template database was not checkpointed: {leftovers}"
    return path


@pytest.fixture(params=["sqlite"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database of this test's own holding the demo estate (see the module docstring)."""
    if request.param == "postgresql":
        url: str = request.getfixturevalue("fresh_postgres_database")
        prepare_database(url)
        return url
    path = tmp_path / "register.db"
    shutil.copyfile(request.getfixturevalue("demo_sqlite_template"), path)
    return sqlite_url(path)


@pytest_asyncio.fixture(loop_scope="session")
async def container(db_url: str, clock: FixedClock, auth_settings: AuthSettings) -> AsyncIterator[Container]:
    container = bootstrap(
        RegisterSettings(database_url=db_url, environment="test"), auth=auth_settings, clock=clock
    )
    try:
        yield container
    finally:
        await container.close()


@pytest_asyncio.fixture(loop_scope="session")
async def client(container: Container) -> AsyncIterator[httpx.AsyncClient]:
    """The register's HTTP API in process (no server, no token: add ``mint(...)`` headers)."""
    app = create_app(container)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://register.test") as http:
        yield http


# --- the estate view's hand-built estate (register_estate_support.py) -------------------------------------


@pytest.fixture(scope="session")
def estate_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, uuid.UUID]]:
    path = tmp_path_factory.mktemp("estate") / "register.db"
    ids = prepare_estate_database(sqlite_url(path))
    return path, ids


@pytest.fixture(params=["sqlite"])
def estate_db(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, dict[str, uuid.UUID]]:
    """A database of this test's own holding the hand-built estate, and the estate's ids by name. On
    SQLite a copy of a session template; parametrize indirectly with ``"postgresql"`` for PostgreSQL."""
    if request.param == "postgresql":
        url: str = request.getfixturevalue("fresh_postgres_database")
        return url, prepare_estate_database(url)
    template, ids = request.getfixturevalue("estate_sqlite_template")
    path = tmp_path / "register.db"
    shutil.copyfile(template, path)
    return sqlite_url(path), ids


@pytest.fixture
def estate_ids(estate_db: tuple[str, dict[str, uuid.UUID]]) -> dict[str, uuid.UUID]:
    return estate_db[1]


@pytest_asyncio.fixture(loop_scope="session")
async def estate_container(
    estate_db: tuple[str, dict[str, uuid.UUID]], clock: FixedClock, auth_settings: AuthSettings
) -> AsyncIterator[Container]:
    container = bootstrap(
        RegisterSettings(database_url=estate_db[0], environment="test"), auth=auth_settings, clock=clock
    )
    try:
        yield container
    finally:
        await container.close()


@pytest_asyncio.fixture(loop_scope="session")
async def estate_client(estate_container: Container) -> AsyncIterator[httpx.AsyncClient]:
    """The register's HTTP API over the hand-built estate."""
    transport = httpx.ASGITransport(app=create_app(estate_container))
    async with httpx.AsyncClient(transport=transport, base_url="http://register.test") as http:
        yield http
