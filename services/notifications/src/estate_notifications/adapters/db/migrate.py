"""Bring a notifications database to the newest schema (Alembic upgrade head), from code, not an ini file."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config

from estate_runtime import db

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    return db.alembic_config(url, MIGRATIONS)


def upgrade(url: str, revision: str = "head") -> None:
    """Upgrade ``url`` to ``revision``; runs its own event loop, so call it from a thread when async."""
    db.upgrade(url, MIGRATIONS, revision)


async def upgrade_async(url: str) -> None:
    await db.upgrade_async(url, MIGRATIONS)
