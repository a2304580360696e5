"""Procurement and register end to end: both services' real processes, each on a PostgreSQL database of
its own, talking only through the broker.

What the TDA and a service manager would see:

* a service manager drafting a request is shown the register's existing system that already does the
  job, with a reason they can read: the register's events reached the procurement service's read
  model through the broker (no HTTP call between the services);
* the chair's conditional approval, made over HTTP, becomes a *planned* system with a draft (pending)
  contract in the register, both linked to the request, and the register's event about it carries the
  chair's correlation id, caused by the decision event;
* the decision is delivered to the register once in effect, however often it is sent;
* register events the procurement service cannot read go to its dead-letter topic with the reason, and
  its read model goes on, never letting an older snapshot overwrite a newer one.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
import pytest_asyncio
from e2e_support import (
    ProcurementProcesses,
    RegisterProcesses,
    dead_letters_of,
    eventually,
    header,
    send_poison_then,
)
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from estate_contracts.envelope import Envelope, new_envelope
from estate_contracts.register_events import SOURCE as REGISTER_SOURCE
from estate_contracts.register_events import SystemChanged, SystemRecorded, SystemSnapshot
from estate_contracts.topics import REGISTER_SYSTEMS
from estate_eventing.settings import BrokerSettings
from estate_eventing.tables import inbox_table, outbox_table
from estate_procurement.adapters.messaging.subscribers import GROUP_ID
from estate_procurement.demo_data import ENGAGEMENT
from estate_runtime.auth import AuthSettings, mint_token

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

SAM = {"id": "e2e-sam", "name": "Sam Patel", "email": "sam.patel@cambridge.gov.uk"}
KEMI = {"id": "e2e-kemi", "name": "Kemi Adeyemi", "email": "kemi.adeyemi@cambridge.gov.uk"}
CHAIR = {"id": "e2e-chair", "name": "Alex Morgan", "email": "alex.morgan@cambridge.gov.uk"}


def as_json(fields: dict[str, Any]) -> dict[str, Any]:
    return {
        k: str(v) if isinstance(v, Decimal) else v.isoformat() if isinstance(v, date) else v
        for k, v in fields.items()
    }


def client(
    service: RegisterProcesses | ProcurementProcesses, who: dict[str, str], *roles: str
) -> httpx.AsyncClient:
    settings = AuthSettings(dev_key_path=service.env["ESTATE_AUTH_DEV_KEY_PATH"])
    token = mint_token(settings, subject=who["id"], roles=roles, email=who["email"], name=who["name"])
    return httpx.AsyncClient(
        base_url=service.http_url + "/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )


@pytest_asyncio.fixture(loop_scope="session")
async def both(
    register: RegisterProcesses, procurement: ProcurementProcesses
) -> AsyncIterator[tuple[RegisterProcesses, ProcurementProcesses, AsyncEngine, AsyncEngine]]:
    """Both services migrated, the register holding the Cambridge demo estate, every process running."""
    register.run("migrate")
    register.run("demo-data")
    procurement.run("migrate")
    for service in (register, procurement):
        for name in ("http", "worker", "relay"):
            service.start(name)
    await register.wait_http_ready()
    await procurement.wait_http_ready()
    register_db = create_async_engine(register.database_url, pool_size=2)
    procurement_db = create_async_engine(procurement.database_url, pool_size=2)
    try:
        yield register, procurement, register_db, procurement_db
    finally:
        await register_db.dispose()
        await procurement_db.dispose()


async def test_an_approval_becomes_a_planned_system_in_the_register_and_drafts_see_what_it_already_runs(
    both: tuple[RegisterProcesses, ProcurementProcesses, AsyncEngine, AsyncEngine],
) -> None:
    register, procurement, register_db, procurement_db = both
    requester = client(procurement, SAM, "requester")
    member = client(procurement, KEMI, "tda_member")
    chair = client(procurement, CHAIR, "tda_member", "tda_chair")
    auditor = client(register, {"id": "e2e-aud", "name": "Aud", "email": "aud@cambridge.gov.uk"}, "auditor")
    async with requester, member, chair, auditor:
        # The register's demo estate reaches the procurement read model through the broker: a service
        # manager typing a request for a street inspection app is told Alloy already does it.
        async def alloy_offered() -> list[dict[str, Any]] | None:
            found = await requester.post(
                "/candidates",
                json={
                    "title": "Street asset inspection app",
                    "capabilities": ["asset management"],
                    "service_area": "Streets and Open Spaces",
                },
            )
            assert found.status_code == 200, found.text
            names = [c for c in found.json() if c["name"] == "Alloy"]
            return names or None

        offered = await eventually(alloy_offered, timeout_s=120, what="Alloy in the re-use candidates")
        assert "Alloy already covers asset management" in offered[0]["reasons"][0]

        # Sam drafts and submits; Kemi reviews; the chair approves with a condition.
        product = f"EngageHQ {uuid.uuid4().hex[:6]}"
        fields = as_json(ENGAGEMENT | {"proposed_product": product})
        draft = await requester.post("/requests", json=fields)
        assert draft.status_code == 201, draft.text
        request_id = draft.json()["id"]
        submitted = await requester.post(f"/requests/{request_id}/submit")
        assert submitted.status_code == 200, submitted.text
        assert (await member.post(f"/requests/{request_id}/review")).status_code == 200
        for item in ("DPIA1", "DE1.2"):  # an approval needs every red line rated
            rated = await member.put(f"/requests/{request_id}/ratings/{item}", json={"rating": "met"})
            assert rated.status_code == 200, rated.text
        seen = await chair.get(f"/requests/{request_id}")  # the chair decides on what they have read
        assert seen.status_code == 200, seen.text
        decided = await chair.post(
            f"/requests/{request_id}/decision",
            json={
                "outcome": "approved_with_conditions",
                "rationale": "Replaces three survey tools; approved subject to a signed-off DPIA.",
                "conditions": [
                    {"text": "DPIA signed off by the DPO", "owner": SAM, "due_in_working_days": 10}
                ],
            },
            headers={"X-Correlation-ID": f"e2e-decision-{request_id}", "If-Match": seen.headers["ETag"]},
        )
        assert decided.status_code == 200, decided.text
        assert decided.json()["state"] == "decided"

        # The register records the planned system and its draft contract, linked to the request.
        async def planned() -> dict[str, Any] | None:
            found = await auditor.get("/systems", params={"q": product, "lifecycle_stage": "planned"})
            assert found.status_code == 200, found.text
            items = [s for s in found.json()["items"] if s.get("source_request_id") == request_id]
            return items[0] if items else None

        system = await eventually(planned, timeout_s=120, what="the planned system in the register")
        assert system["name"] == product
        contracts = await auditor.get(f"/systems/{system['id']}/contracts")
        assert contracts.status_code == 200, contracts.text
        [contract] = contracts.json()
        assert contract["status"] == "pending"
        assert contract["source_request_id"] == request_id
        assert contract["annual_value"] == "11000.00"

    # One trace from the chair's click to the register's event: same correlation id, caused by the decision.
    async with procurement_db.connect() as connection:
        rows = (
            await connection.execute(select(outbox_table.c.payload).where(outbox_table.c.key == request_id))
        ).all()
    published = [Envelope.model_validate_json(row.payload) for row in rows]
    decision_event = next(e for e in published if e.type == "estate.procurement.request.decided")
    assert decision_event.correlationid == f"e2e-decision-{request_id}"
    async with register_db.connect() as connection:
        rows = (
            await connection.execute(select(outbox_table.c.payload).where(outbox_table.c.key == system["id"]))
        ).all()
        handled = await connection.scalar(
            select(func.count()).select_from(inbox_table).where(inbox_table.c.event_id == decision_event.id)
        )
    recorded = [Envelope.model_validate_json(row.payload) for row in rows]
    assert [e.type for e in recorded][:1] == ["estate.register.system.recorded"]
    assert recorded[0].correlationid == f"e2e-decision-{request_id}"
    assert recorded[0].causationid == str(decision_event.id)
    assert handled == 1


async def test_register_events_of_an_unknown_version_are_set_aside_and_the_read_model_goes_on(
    procurement: ProcurementProcesses, kafka_settings: BrokerSettings, kafka_bootstrap: str
) -> None:
    """Bad input from the register (bytes that are not an event, a version this service does not know)
    goes to the procurement worker's dead-letter topic with the reason; the next good event still
    reaches the read model, and an older snapshot arriving late does not overwrite a newer one."""
    procurement.run("migrate")
    procurement.start("worker")
    procurement.start("http")
    await procurement.wait_http_ready()
    system_id = uuid.uuid4()
    key = str(system_id).encode()
    name = f"Whitespace Rounds {system_id.hex[:6]}"

    def recorded(version: int, description: str) -> Envelope:
        snapshot = SystemSnapshot(
            id=system_id,
            version=version,
            reference=f"SYS-E2E-{system_id.hex[:6]}",
            name=name,
            description=description,
            lead_council="CCC",
            capabilities=["waste rounds"],
            service_areas=[{"id": uuid.uuid4(), "name": "Greater Cambridge Shared Waste"}],
            lifecycle_stage="live",
            updated_at=datetime.now(UTC),
        )
        event = (
            SystemRecorded(system=snapshot)
            if version == 1
            else SystemChanged(system=snapshot, changed_fields=["description"])
        )
        return new_envelope(
            event=event,
            source=REGISTER_SOURCE,
            subject=str(system_id),
            correlationid=f"e2e-register-{system_id}",
            time=datetime.now(UTC),
        )

    newer = recorded(2, "Round planning and in-cab crew app for bin collections")
    older = recorded(1, "An older description")
    poison = await send_poison_then(kafka_settings, REGISTER_SYSTEMS, key, [newer, older])
    letters = await dead_letters_of(kafka_settings, kafka_bootstrap, GROUP_ID, key)
    assert tuple(r.value for r in letters) == poison
    assert [header(r, "dlq_reason") for r in letters] == ["malformed", "unknown_event_type"]

    async with client(procurement, SAM, "requester") as requester:

        async def offered() -> dict[str, Any] | None:
            found = await requester.post(
                "/candidates", json={"title": "Bin round planning", "capabilities": ["waste rounds"]}
            )
            assert found.status_code == 200, found.text
            return next((c for c in found.json() if c["name"] == name), None)

        candidate = await eventually(offered, timeout_s=90, what=f"{name} among the candidates")
    assert any("waste rounds" in reason for reason in candidate["reasons"])
    engine = create_async_engine(procurement.database_url)
    try:
        async with engine.connect() as connection:
            kept = await connection.scalar(
                text("SELECT description FROM catalogue_systems WHERE id = :id"), {"id": system_id}
            )
    finally:
        await engine.dispose()
    assert kept == "Round planning and in-cab crew app for bin collections"
    assert procurement.running["worker"].poll() is None, "the worker must survive poison messages"
