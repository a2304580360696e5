"""Helpers of the API tests: a handle on the register under test (its HTTP client, its database and the
demo estate in it) and the problem+json assertion."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from estate_contracts.envelope import Envelope
from estate_register.bootstrap import Container

PROBLEM_JSON = "application/problem+json"
ADMIN_EMAIL = "admin@cambridge.gov.uk"
TABLES = ("audit_log", "outbox", "systems", "contracts", "suppliers", "people")

# Indirect parametrization of the root conftest's ``db_url``: the same test on both databases.
on_both_databases = pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)


@dataclass
class Register:
    client: httpx.AsyncClient
    container: Container
    mint: Any

    @property
    def admin(self) -> dict[str, str]:
        return self.mint("admin", email=ADMIN_EMAIL)

    async def _scalar(self, sql: str, **params: Any) -> Any:
        async with self.container.sessions() as session:
            return (await session.execute(text(sql), params)).scalar()

    async def _id(self, sql: str, **params: Any) -> str:
        found = await self._scalar(sql, **params)
        assert found is not None, f"nothing found for {params}"
        # SQLite keeps a UUID as 32 hex digits; the API speaks the hyphenated form.
        return str(uuid.UUID(str(found)))

    async def system_id(self, name: str) -> str:
        return await self._id("SELECT id FROM systems WHERE name = :name", name=name)

    async def contract_id(self, reference: str) -> str:
        return await self._id("SELECT id FROM contracts WHERE reference = :ref", ref=reference)

    async def supplier_id(self, name: str) -> str:
        return await self._id("SELECT id FROM suppliers WHERE name = :name", name=name)

    async def person_id(self, email: str) -> str:
        return await self._id("SELECT id FROM people WHERE email = :email", email=email)

    async def service_area_id(self, name: str) -> str:
        return await self._id("SELECT id FROM service_areas WHERE name = :name", name=name)

    async def counts(self) -> dict[str, int]:
        """How many rows each table that a write touches holds."""
        return {table: await self._scalar(f"SELECT count(*) FROM {table}") for table in TABLES}

    async def envelopes(self) -> list[Envelope]:
        async with self.container.sessions() as session:
            rows = (await session.execute(text("SELECT payload FROM outbox ORDER BY id"))).scalars()
            return [Envelope.model_validate_json(row) for row in rows]

    async def audit_correlations(self, record_id: str) -> list[str | None]:
        async with self.container.sessions() as session:
            rows = await session.execute(
                text("SELECT correlation_id FROM audit_log WHERE record_id = :id ORDER BY id"),
                {"id": record_id},
            )
            return list(rows.scalars())

    async def read(self, path: str) -> tuple[dict[str, Any], str]:
        """The record at ``path`` as an administrator sees it, and its ETag."""
        response = await self.client.get(path, headers=self.admin)
        assert response.status_code == 200, response.text
        return response.json(), response.headers["ETag"]

    @asynccontextmanager
    async def nothing_written(self, *paths: str) -> AsyncIterator[None]:
        """The block may fail however it likes, but must leave no audit row, no outbox row, no new
        record, and every record at ``paths`` exactly as it was."""
        before = await self.counts()
        records = [await self.read(path) for path in paths]
        yield
        assert await self.counts() == before
        for path, record in zip(paths, records, strict=True):
            assert await self.read(path) == record, f"{path} changed"


def problem(response: httpx.Response, status: int, *, field: str | None = None) -> dict[str, Any]:
    """Assert an RFC 9457 problem of that status, naming ``field`` when given; return its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    body = response.json()
    assert body["status"] == status
    assert body["type"].startswith("https://")
    assert body["title"]
    assert body["detail"]
    if field is not None:
        pointers = [e["pointer"] for e in body.get("errors", [])]
        assert any(p.split("/")[-1] == field or f"/{field}/" in p for p in pointers), (field, body)
    return body
