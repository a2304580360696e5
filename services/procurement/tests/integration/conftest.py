"""Fixtures of the SQL integration tests: each test runs once on a SQLite file and once on an empty
PostgreSQL database of its own (``fresh_postgres_database`` comes from ``estate_eventing.testing``, which
the repository's root conftest registers); each module builds its schema in its own ``engine`` fixture,
and ``sessions`` opens sessions on it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from estate_runtime.db import make_sessionmaker


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A temporary SQLite file, or an empty PostgreSQL database of this test's own."""
    if request.param == "postgresql":
        url: str = request.getfixturevalue("fresh_postgres_database")
        return url
    return f"sqlite+aiosqlite:///{tmp_path / 'procurement.db'}"


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return make_sessionmaker(engine)
