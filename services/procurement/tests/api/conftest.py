"""Fixtures of the procurement API tests: the real app over a migrated SQLite (or, where a test asks,
PostgreSQL) database of each test's own, a fixed clock, real tokens from a session key, and a few register systems in the re-use store.

The database is a copy of a template file migrated once per session with
``estate_procurement.adapters.db.migrate.upgrade``: copying a file takes a millisecond, migrating takes a
few hundred, and every test still owns its file.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from procurement_api_support import NOW, Procurement
from procurement_fakes import CATALOGUE, FixedClock

from estate_procurement.adapters.db.migrate import upgrade
from estate_procurement.adapters.db.reuse_store import SqlReuseStore
from estate_procurement.api.app import create_app
from estate_procurement.bootstrap import Container, bootstrap
from estate_procurement.domain.similarity import CatalogueSystem
from estate_procurement.settings import AuthSettings, ProcurementSettings
from estate_runtime.auth import mint_token

Mint = Callable[..., dict[str, str]]


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture(scope="session")
def auth_settings(tmp_path_factory: pytest.TempPathFactory) -> AuthSettings:
    """The local development issuer, with a key made for this test session."""
    return AuthSettings(dev_key_path=tmp_path_factory.mktemp("procurement-auth") / "key.pem")


@pytest.fixture(scope="session")
def mint(auth_settings: AuthSettings) -> Mint:
    """``mint("tda_member", subject=..., email=..., name=...)``: headers carrying a valid token."""
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
def procurement_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty procurement database at the newest schema (migrated on a thread: Alembic runs its own
    event loop)."""
    path = tmp_path_factory.mktemp("procurement-template") / "procurement.db"
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(upgrade, sqlite_url(path)).result()
    return path


@pytest.fixture(params=["sqlite"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database of this test's own at the newest schema. Parametrize it indirectly with
    ``"postgresql"`` to run a test against an empty PostgreSQL database of its own, migrated the same
    way (``estate_eventing.testing`` finds the server or fails the test)."""
    if request.param == "postgresql":
        url: str = request.getfixturevalue("fresh_postgres_database")
        with ThreadPoolExecutor(max_workers=1) as pool:
            pool.submit(upgrade, url).result()
        return url
    path = tmp_path / "procurement.db"
    shutil.copyfile(request.getfixturevalue("procurement_template"), path)
    return sqlite_url(path)


@pytest_asyncio.fixture(loop_scope="session")
async def container(db_url: str, clock: FixedClock, auth_settings: AuthSettings) -> AsyncIterator[Container]:
    container = bootstrap(
        ProcurementSettings(database_url=db_url, environment="test"), auth=auth_settings, clock=clock
    )
    try:
        yield container
    finally:
        await container.close()


@pytest_asyncio.fixture(loop_scope="session")
async def client(container: Container) -> AsyncIterator[httpx.AsyncClient]:
    """The procurement API in process (no server; add ``mint(...)`` headers)."""
    app = create_app(container)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://procurement.test") as http:
        yield http


@pytest.fixture
def service(client: httpx.AsyncClient, container: Container, mint: Mint) -> Procurement:
    return Procurement(client=client, container=container, mint=mint)


@pytest_asyncio.fixture(loop_scope="session")
async def catalogue(container: Container) -> tuple[CatalogueSystem, ...]:
    """Register systems in the re-use store, as the worker would have kept them from register events."""
    async with container.sessions.begin() as session:
        store = SqlReuseStore(session)
        for system in CATALOGUE:
            await store.upsert_system(system, version=1)
    return CATALOGUE
