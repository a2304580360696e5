"""Helpers of the notifications API tests: the fixed instant, the people who call the API, register
contract snapshots as the worker would receive them, a handle on the service under test (HTTP client,
database, clock, tokens, the sweep) and the problem+json assertion.

Named ``notifications_api_support`` (not ``support`` or ``fakes``) because every service's test modules
are imported in the same pytest session.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import func, select

from estate_contracts.register_events import ContractSnapshot, PersonRef, Ref, SystemSnapshot
from estate_eventing.clock import SettableClock
from estate_eventing.tables import outbox_table
from estate_notifications.adapters.db.records import AlertRecord, AuditEntryRecord, DeliveryRecord
from estate_notifications.application.links import LinkClaims
from estate_notifications.application.sweep import SweepReport
from estate_notifications.application.watch import PolicyBook, project_contract, project_system
from estate_notifications.bootstrap import Container

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
"""Friday 20 November 2026, 10:00 UTC: the fixed instant of every test unless the test moves the clock."""
PUBLIC_URL = "https://notifications.estate.test"
PROBLEM_JSON = "application/problem+json"

C1 = uuid.UUID("11111111-1111-4111-8111-111111111111")
"""Olive's contract: term ends 31 March 2027, 90 days' notice and 30 days' lead, so act-by is Tuesday
1 December 2026; on NOW the 14-day rung (17 November) is the latest step due."""
C2 = uuid.UUID("22222222-2222-4222-8222-222222222222")
"""Otto's contract: term ends 30 June 2028, nothing due for a long time."""
C3 = uuid.UUID("33333333-3333-4333-8333-333333333333")
"""A contract with no notice period recorded and tacit renewal without a period (two problems)."""


@dataclass(frozen=True)
class Person:
    subject: str
    name: str
    email: str | None
    roles: tuple[str, ...]


OLIVE = Person("u-olive", "Olive Owner", "olive@cambridge.gov.uk", ("owner",))
BOB = Person("u-bob", "Bob Budget", "bob@cambridge.gov.uk", ("owner",))
OTTO = Person("u-otto", "Otto Other", "otto@cambridge.gov.uk", ("owner",))
SAM = Person("u-sam", "Sam Systems", "sam@cambridge.gov.uk", ("owner",))
ADA = Person("u-ada", "Ada Admin", "ada@cambridge.gov.uk", ("admin",))
CARL = Person("u-carl", "Carl Contracts", "carl@cambridge.gov.uk", ("contract_manager",))
TARA = Person("u-tara", "Tara Member", "tara@cambridge.gov.uk", ("tda_member",))
AUD = Person("u-aud", "Aud Itor", "aud@cambridge.gov.uk", ("auditor",))
RITA = Person("u-rita", "Rita Requester", "rita@cambridge.gov.uk", ("requester",))
NOMAIL = Person("u-nomail", "No Mail", None, ("admin",))


def person_ref(person: Person) -> PersonRef:
    assert person.email is not None
    return PersonRef(id=uuid.uuid5(uuid.NAMESPACE_DNS, person.email), name=person.name, email=person.email)


def snapshot(**changes: Any) -> ContractSnapshot:
    """A register contract as its latest event carries it: Olive's C1 unless told otherwise."""
    values: dict[str, Any] = {
        "id": C1,
        "version": 1,
        "reference": "CON-0001",
        "title": "Revenues and benefits system",
        "supplier": Ref(id=uuid.UUID("aaaaaaaa-0000-4000-8000-000000000001"), name="Acme Software Ltd"),
        "contract_type": "software",
        "start_date": date(2024, 4, 1),
        "initial_term_end": date(2027, 3, 31),
        "current_term_end": date(2027, 3, 31),
        "renewal_type": "express",
        "renewal_period_months": None,
        "extension_options_left": 1,
        "notice_period_days": 90,
        "internal_lead_time_days": 30,
        "annual_value": Decimal("120000.00"),
        "status": "active",
        "owner": person_ref(OLIVE),
        "budget_holder": person_ref(BOB),
        "updated_at": NOW - timedelta(days=30),
    }
    values.update(changes)
    return ContractSnapshot(**values)


def otto_contract(**changes: Any) -> ContractSnapshot:
    values: dict[str, Any] = {
        "id": C2,
        "reference": "CON-0002",
        "title": "Parking permits",
        "contract_type": "saas",
        "start_date": date(2025, 7, 1),
        "initial_term_end": date(2028, 6, 30),
        "current_term_end": date(2028, 6, 30),
        "owner": person_ref(OTTO),
        "budget_holder": None,
    }
    return snapshot(**(values | changes))


def problem_contract(**changes: Any) -> ContractSnapshot:
    values: dict[str, Any] = {
        "id": C3,
        "reference": "CON-0003",
        "title": "Waste collection routing",
        "contract_type": "saas",
        "renewal_type": "tacit",
        "renewal_period_months": None,
        "notice_period_days": 0,
        "internal_lead_time_days": 0,
        "current_term_end": date(2027, 6, 30),
        "initial_term_end": date(2027, 6, 30),
        "owner": person_ref(OTTO),
        "budget_holder": None,
    }
    return snapshot(**(values | changes))


def system_snapshot(system_id: uuid.UUID, owner: Person, **changes: Any) -> SystemSnapshot:
    values: dict[str, Any] = {
        "id": system_id,
        "version": 1,
        "reference": "SYS-0001",
        "name": "Route planner",
        "lead_council": "CCC",
        "lifecycle_stage": "live",
        "system_owner": person_ref(owner),
        "updated_at": NOW - timedelta(days=30),
    }
    values.update(changes)
    return SystemSnapshot(**values)


@dataclass
class Notifications:
    """The service under test: its HTTP client, its container (database, clock) and token minting."""

    client: httpx.AsyncClient
    container: Container
    clock: SettableClock
    mint: Any

    def auth(self, person: Person) -> dict[str, str]:
        headers: dict[str, str] = self.mint(
            *person.roles, subject=person.subject, email=person.email, name=person.name
        )
        return headers

    # --- HTTP shorthands ---------------------------------------------------------------------------

    async def call(
        self, method: str, path: str, person: Person, *, json: Any = None, params: Any = None
    ) -> httpx.Response:
        return await self.client.request(
            method, f"/api/v1{path}", json=json, params=params, headers=self.auth(person)
        )

    async def ok(
        self, method: str, path: str, person: Person, *, json: Any = None, params: Any = None
    ) -> Any:
        return succeeded(await self.call(method, path, person, json=json, params=params))

    # --- the world ---------------------------------------------------------------------------------

    async def seed(self, *snapshots: ContractSnapshot) -> None:
        """Apply register snapshots as the worker does."""
        async with self.container.sessions.begin() as session:
            book = await PolicyBook.load(session, self.container.policy)
            for item in snapshots:
                await project_contract(
                    session, item, now=self.clock(), book=book, calendar=self.container.calendar
                )

    async def seed_system(self, system: SystemSnapshot) -> None:
        async with self.container.sessions.begin() as session:
            await project_system(session, system)

    async def sweep(self) -> SweepReport:
        return await self.container.sweeper().run(self.clock())

    async def alerts(self, contract_id: uuid.UUID = C1) -> list[AlertRecord]:
        async with self.container.sessions() as session:
            rows = await session.scalars(
                select(AlertRecord)
                .where(AlertRecord.contract_id == contract_id)
                .order_by(AlertRecord.raised_at)
            )
            return list(rows.all())

    async def open_alert(self, contract_id: uuid.UUID = C1) -> AlertRecord:
        open_alerts = [a for a in await self.alerts(contract_id) if a.closed_at is None]
        assert len(open_alerts) == 1, open_alerts
        return open_alerts[0]

    async def deliveries(self) -> list[DeliveryRecord]:
        async with self.container.sessions() as session:
            return list(
                (await session.scalars(select(DeliveryRecord).order_by(DeliveryRecord.created_at))).all()
            )

    def link(
        self,
        alert: AlertRecord,
        person: Person = OLIVE,
        *,
        role: str = "contract_owner",
        expires_at: datetime | None = None,
    ) -> str:
        """The token of the link an alert e-mail to ``person`` carries."""
        assert person.email is not None
        return self.container.signer.sign(
            LinkClaims(
                alert_id=alert.id,
                contract_id=alert.contract_id,
                recipient_email=person.email,
                recipient_role=role,
                expires_at=expires_at or self.clock() + timedelta(days=60),
            )
        )

    # --- what was written ----------------------------------------------------------------------------

    async def events(self, event_type: str | None = None) -> list[dict[str, Any]]:
        """The envelopes in the outbox (of one type, if given), oldest first."""
        query = select(outbox_table.c.event_type, outbox_table.c.payload).order_by(outbox_table.c.id)
        if event_type is not None:
            query = query.where(outbox_table.c.event_type == event_type)
        async with self.container.sessions() as session:
            rows = (await session.execute(query)).all()
        return [json.loads(row.payload) for row in rows]

    async def audit(self, entity_id: str | None = None) -> list[AuditEntryRecord]:
        query = select(AuditEntryRecord).order_by(AuditEntryRecord.id)
        if entity_id is not None:
            query = query.where(AuditEntryRecord.entity_id == entity_id)
        async with self.container.sessions() as session:
            return list((await session.scalars(query)).all())

    async def counts(self) -> tuple[int, int]:
        """(outbox rows, audit entries): what any change writes."""
        async with self.container.sessions() as session:
            outbox = await session.scalar(select(func.count()).select_from(outbox_table))
            audit = await session.scalar(select(func.count()).select_from(AuditEntryRecord))
        return int(outbox or 0), int(audit or 0)

    @asynccontextmanager
    async def nothing_written(self) -> AsyncIterator[None]:
        """The block may fail however it likes, but must add no event and no audit entry."""
        before = await self.counts()
        yield
        assert await self.counts() == before


def succeeded(response: httpx.Response) -> Any:
    """Assert a 200 or 201 and return the body."""
    assert response.status_code in (200, 201), response.text
    return response.json()


def problem(response: httpx.Response, status: int, *, pointer: str | None = None) -> dict[str, Any]:
    """Assert an RFC 9457 problem of that status, with ``pointer`` among its errors when given."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON), response.headers["content-type"]
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["type"].startswith("https://")
    assert body["title"]
    assert body["detail"]
    if pointer is not None:
        assert pointer in [e["pointer"] for e in body.get("errors", [])], body
    return body
