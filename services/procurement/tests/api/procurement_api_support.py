"""Helpers of the procurement API tests: the fixed instant, the people who call the API, a complete request
as a client sends it, a handle on the service under test (HTTP client, database, tokens) and the
problem+json assertion.

Named ``procurement_api_support`` (not ``fakes`` or ``conftest``) because the register's test modules
are imported in the same pytest session.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import httpx
from procurement_fakes import complete_fields
from sqlalchemy import text

from estate_procurement.bootstrap import Container

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
"""Friday 20 November 2026, 10:00 UTC: the fixed instant of every test unless the test moves it."""

PROBLEM_JSON = "application/problem+json"
CURRENT_ETAG = "<the request's current ETag>"
"""``Procurement.decide``'s default If-Match: read the request and send the ETag it has now."""
TABLES = (
    "technology_requests",
    "request_conditions",
    "audit_entries",
    "outbox",
    "past_decisions",
)


@dataclass(frozen=True)
class Person:
    subject: str
    name: str
    email: str
    roles: tuple[str, ...]

    @property
    def ref(self) -> dict[str, str]:
        return {"id": self.subject, "name": self.name, "email": self.email}


ALEX = Person("u-alex", "Alex Requester", "alex@cambridge.gov.uk", ("requester",))
BEA = Person("u-bea", "Bea Other", "bea@cambridge.gov.uk", ("requester",))
OWEN = Person("u-owen", "Owen Owner", "owen@cambridge.gov.uk", ("owner",))
TARA = Person("u-tara", "Tara Member", "tara@cambridge.gov.uk", ("tda_member",))
OMAR = Person("u-omar", "Omar Member", "omar@cambridge.gov.uk", ("tda_member",))
CHRIS = Person("u-chris", "Chris Chair", "chris@cambridge.gov.uk", ("tda_chair",))
ADA = Person("u-ada", "Ada Admin", "ada@cambridge.gov.uk", ("admin",))
AUD = Person("u-aud", "Aud Itor", "aud@cambridge.gov.uk", ("auditor",))


def complete(**overrides: Any) -> dict[str, Any]:
    """Everything a request needs to be submitted, as JSON a client sends: the unit tests' complete request
    (``procurement_fakes.complete_fields``) starting after ``NOW``, money as strings and dates in ISO form."""
    fields = complete_fields(capabilities=["repairs scheduling"], expected_start_date=date(2027, 1, 4))
    as_json = {
        key: str(value)
        if isinstance(value, Decimal)
        else value.isoformat()
        if isinstance(value, date)
        else value
        for key, value in fields.items()
    }
    as_json.update(overrides)
    return as_json


@dataclass
class Procurement:
    """The service under test: its HTTP client, its container (database, clock) and token minting."""

    client: httpx.AsyncClient
    container: Container
    mint: Any

    def auth(self, person: Person) -> dict[str, str]:
        return self.mint(*person.roles, subject=person.subject, email=person.email, name=person.name)

    # --- HTTP shorthands ---------------------------------------------------------------------------

    async def call(
        self,
        method: str,
        path: str,
        person: Person,
        *,
        json: Any = None,
        if_match: str | None = None,
        params: Any = None,
    ) -> httpx.Response:
        headers = self.auth(person)
        if if_match is not None:
            headers["If-Match"] = if_match
        return await self.client.request(method, f"/api/v1{path}", json=json, headers=headers, params=params)

    async def ok(
        self, method: str, path: str, person: Person, *, json: Any = None, if_match: str | None = None
    ) -> dict[str, Any]:
        return succeeded(await self.call(method, path, person, json=json, if_match=if_match))

    async def edit(
        self, request_id: str, person: Person, changes: dict[str, Any], *, version: int | None = 1
    ) -> httpx.Response:
        """PATCH the request with ``If-Match`` naming ``version`` of it (none when ``version`` is None)."""
        if_match = None if version is None else f'"{request_id}:{version}"'
        return await self.call("PATCH", f"/requests/{request_id}", person, json=changes, if_match=if_match)

    async def draft(self, person: Person = ALEX, **fields: Any) -> dict[str, Any]:
        return await self.ok("POST", "/requests", person, json=fields)

    async def submitted(self, person: Person = ALEX, **overrides: Any) -> dict[str, Any]:
        created = await self.draft(person, **complete(**overrides))
        return await self.ok("POST", f"/requests/{created['id']}/submit", person)

    async def under_review(self, person: Person = ALEX, **overrides: Any) -> dict[str, Any]:
        request = await self.submitted(person, **overrides)
        return await self.ok("POST", f"/requests/{request['id']}/review", TARA)

    async def rated(self, person: Person = ALEX, **overrides: Any) -> dict[str, Any]:
        """A request under review whose every item Tara rated met: ready for the chair."""
        request = await self.under_review(person, **overrides)
        await self.rate_all(request["id"], TARA)
        return request

    async def decide(
        self,
        request_id: str,
        outcome: str,
        rationale: str,
        *,
        person: Person = CHRIS,
        if_match: str | None = CURRENT_ETAG,
        **more: Any,
    ) -> httpx.Response:
        """Send ``person``'s decision (``more``: other body fields, such as ``conditions``), as it comes,
        with ``If-Match`` naming the request as it stands now (the decision needs one), or ``if_match``
        when given (None: no If-Match at all)."""
        if if_match == CURRENT_ETAG:
            _, if_match = await self.read(request_id)
        body = {"outcome": outcome, "rationale": rationale, **more}
        return await self.call(
            "POST", f"/requests/{request_id}/decision", person, json=body, if_match=if_match
        )

    async def decided(self, request_id: str, outcome: str, rationale: str, **more: Any) -> dict[str, Any]:
        """The chair's decision, which must succeed: the request as decided."""
        return succeeded(await self.decide(request_id, outcome, rationale, **more))

    async def approved_with(self, request_id: str, *conditions: dict[str, Any]) -> dict[str, Any]:
        """The chair's approval with ``conditions``, which must succeed: the request as decided."""
        return await self.decided(
            request_id, "approved_with_conditions", "Approved on conditions", conditions=list(conditions)
        )

    async def rate_all(self, request_id: str, reviewer: Person, rating: str = "met") -> None:
        checklist = await self.ok("GET", f"/requests/{request_id}/checklist", reviewer)
        for section in checklist["sections"]:
            for rule in section["rules"]:
                for item in rule["items"]:
                    body: dict[str, Any] = {"rating": rating}
                    if rating in ("partly_met", "not_met"):
                        body["comment"] = f"{item['id']} needs work"
                    await self.ok("PUT", f"/requests/{request_id}/ratings/{item['id']}", reviewer, json=body)

    async def read(self, key: str, person: Person = ADA) -> tuple[dict[str, Any], str]:
        """The request as an administrator sees it, and its ETag."""
        response = await self.call("GET", f"/requests/{key}", person)
        assert response.status_code == 200, response.text
        return response.json(), response.headers["ETag"]

    # --- the database ------------------------------------------------------------------------------

    async def _scalar(self, sql: str, **params: Any) -> Any:
        async with self.container.sessions() as session:
            return (await session.execute(text(sql), params)).scalar()

    async def counts(self) -> dict[str, int]:
        """How many rows each table a command writes holds."""
        return {table: await self._scalar(f"SELECT count(*) FROM {table}") for table in TABLES}

    async def audit_actions(self, request_id: str) -> list[str]:
        async with self.container.sessions() as session:
            rows = await session.execute(
                text("SELECT action FROM audit_entries WHERE request_id = :id ORDER BY id"),
                {"id": request_id.replace("-", "")},
            )
            return list(rows.scalars())

    @asynccontextmanager
    async def nothing_written(self, *keys: str) -> AsyncIterator[None]:
        """The block may fail however it likes, but must add no row anywhere (no audit entry, no event)
        and leave every request in ``keys`` exactly as it was (same body, same ETag)."""
        before = await self.counts()
        records = [await self.read(key) for key in keys]
        yield
        assert await self.counts() == before
        for key, record in zip(keys, records, strict=True):
            assert await self.read(key) == record, f"{key} changed"


def succeeded(response: httpx.Response) -> dict[str, Any]:
    """Assert a 200 or 201 and return the body."""
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return body


def problem(response: httpx.Response, status: int, *, field: str | None = None) -> dict[str, Any]:
    """Assert an RFC 9457 problem of that status, naming ``field`` in its errors when given."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["type"].startswith("https://")
    assert body["title"]
    assert body["detail"]
    if field is not None:
        pointers = [e["pointer"] for e in body.get("errors", [])]
        assert any(p.split("/")[-1] == field or f"/{field}/" in p for p in pointers), (field, body)
    return body
