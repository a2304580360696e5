"""Helpers of the integration tests: run on PostgreSQL, poll for an outcome, read the database."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import text

from estate_register.bootstrap import Container

#: Every integration test runs on a PostgreSQL database of its own (``db_url`` of the root conftest).
on_postgresql = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)


async def eventually(
    check: Callable[[], Awaitable[bool]], *, timeout_s: float = 30.0, what: str = ""
) -> None:
    """Poll ``check`` until it holds; fail after ``timeout_s`` saying what never happened."""
    try:
        async with asyncio.timeout(timeout_s):
            while not await check():
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"not within {timeout_s}s: {what}") from None


async def rows(container: Container, sql: str, **params: Any) -> list[Any]:
    async with container.sessions() as session:
        return list((await session.execute(text(sql), params)).all())
