"""Every integration test runs on SQLite (the embedded default) and on the real PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'notifications.db'}"
    url: str = request.getfixturevalue("fresh_postgres_database")
    return url
