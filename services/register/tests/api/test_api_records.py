"""Recording and changing records over HTTP: what the caller gets back (ETag, Location), what the audit
trail keeps, and which events wait in the outbox, on SQLite and on PostgreSQL."""

from __future__ import annotations

import re

from register_api_support import ADMIN_EMAIL, Register, on_both_databases, problem


@on_both_databases
async def test_a_system_is_recorded_changed_and_found(register: Register):
    owner = await register.person_id("joe.bennett@cambridge.gov.uk")
    supplier = await register.supplier_id("Silktide")
    headers = {**register.admin, "X-Correlation-ID": "corr-create-1"}

    created = await register.client.post(
        "/api/v1/systems",
        json={
            "name": "Silktide monitor",
            "description": "Accessibility monitoring of the council website",
            "supplier_id": supplier,
            "system_owner_id": owner,
            "service_area_ids": [await register.service_area_id("Digital Service")],
            "councils": ["SCDC"],
            "hosting": "saas",
            "holds_personal_data": False,
            "capabilities": ["accessibility monitoring"],
            "integration_capabilities": ["api"],
            "api_register": [{"name": "Silktide API", "open_api": True}],
        },
        headers=headers,
    )
    assert created.status_code == 201, created.text
    system = created.json()
    path = f"/api/v1/systems/{system['id']}"
    assert created.headers["Location"] == path
    assert created.headers["ETag"] == f'"{system["id"]}:1"'
    assert system["reference"] == "SYS-00013"
    assert system["lifecycle_history"][0]["stage"] == "live"

    changed = await register.client.patch(
        path,
        json={"lifecycle_stage": "under_review", "lifecycle_note": "annual review", "risk_rag": "amber"},
        headers={**register.admin, "If-Match": created.headers["ETag"], "X-Correlation-ID": "corr-change-1"},
    )
    assert changed.status_code == 200, changed.text
    assert changed.headers["ETag"] == f'"{system["id"]}:2"'
    assert changed.json()["lifecycle_stage"] == "under_review"
    assert [e["stage"] for e in changed.json()["lifecycle_history"]] == ["live", "under_review"]

    read, etag = await register.read(path)
    assert etag == changed.headers["ETag"]
    assert read == changed.json()

    found = await register.client.get(
        "/api/v1/systems",
        params={"q": "silktide", "lifecycle_stage": "under_review", "council": "SCDC"},
        headers=register.admin,
    )
    assert [s["id"] for s in found.json()["items"]] == [system["id"]]

    envelopes = [e for e in await register.envelopes() if e.subject == system["id"]]
    assert [(e.type, e.correlationid) for e in envelopes] == [
        ("estate.register.system.recorded", "corr-create-1"),
        ("estate.register.system.changed", "corr-change-1"),
        ("estate.register.system.lifecycle_changed", "corr-change-1"),
    ]
    recorded = envelopes[0].data["system"]
    assert recorded["supplier"]["name"] == "Silktide"
    assert recorded["system_owner"]["email"] == "joe.bennett@cambridge.gov.uk"
    assert envelopes[1].data["changed_fields"] == ["risk_rag"]
    assert envelopes[2].data["system"]["version"] == 2


@on_both_databases
async def test_a_contract_is_recorded_with_its_act_by_date_and_renewed(register: Register):
    created = await register.client.post(
        "/api/v1/contracts",
        json={
            "reference": "CCC-ICT-0300",
            "title": "Power BI premium capacity",
            "supplier_id": await register.supplier_id("Microsoft"),
            "system_ids": [await register.system_id("Power BI")],
            "contract_type": "saas_subscription",
            "start_date": "2025-04-01",
            "initial_term_end": "2026-03-31",
            "notice_period_days": 60,
            "internal_lead_time_days": 30,
            "annual_value": "12000.50",
            "owner_id": await register.person_id("alex.morgan@cambridge.gov.uk"),
            "kpis": [{"name": "Availability", "target": "99.9%"}],
        },
        headers=register.admin,
    )
    assert created.status_code == 201, created.text
    contract = created.json()
    # 31 March 2026 less 90 days is Thursday 1 January 2026, New Year's Day: the day before.
    assert contract["current_term_end"] == "2026-03-31"
    assert contract["act_by"] == "2025-12-31"
    assert contract["annual_value"] == "12000.50"
    assert contract["currency"] == "GBP"
    path = f"/api/v1/contracts/{contract['id']}"

    renewed = await register.client.post(
        f"{path}/renewal-decisions",
        json={"outcome": "renew", "rationale": "Reporting depends on it", "new_term_end": "2027-03-31"},
        headers={**register.admin, "If-Match": created.headers["ETag"]},
    )

    assert renewed.status_code == 200, renewed.text
    assert renewed.json()["current_term_end"] == "2027-03-31"
    assert renewed.json()["act_by"] == "2026-12-31"
    assert renewed.json()["renewal_decisions"][0]["decided_by"] == ADMIN_EMAIL
    assert renewed.headers["ETag"] == f'"{contract["id"]}:2"'
    types = [e.type for e in await register.envelopes() if e.subject == contract["id"]]
    assert types == [
        "estate.register.contract.recorded",
        "estate.register.contract.renewal_decision_recorded",
    ]


async def test_the_audit_trail_of_a_record_shows_who_changed_what_with_before_and_after(register: Register):
    storm = await register.system_id("Storm")
    path = f"/api/v1/systems/{storm}"
    _, etag = await register.read(path)
    await register.client.patch(
        path,
        json={"risk_rag": "green", "description": "Contact centre telephony"},
        headers={**register.mint("owner", email="nadia.begum@cambridge.gov.uk"), "If-Match": etag},
    )

    trail = (await register.client.get(f"{path}/audit", headers=register.mint("auditor"))).json()

    assert [(e["action"], e["actor"]) for e in trail] == [
        ("recorded", "demo-data@estate.local"),
        ("changed", "nadia.begum@cambridge.gov.uk"),
    ]
    change = trail[1]
    assert change["changed_fields"] == ["description", "risk_rag"]
    assert (change["before"]["risk_rag"], change["after"]["risk_rag"]) == ("amber", "green")
    assert change["after"]["version"] == 2
    assert trail[0]["before"] is None


async def test_the_audit_trail_of_an_unknown_kind_is_not_found(register: Register):
    response = await register.client.get(
        f"/api/v1/widgets/{await register.system_id('Storm')}/audit", headers=register.admin
    )

    problem(response, 404)


async def test_a_validation_confirms_who_checked_the_record_and_when(register: Register):
    path = f"/api/v1/systems/{await register.system_id('Orchard')}"
    _, etag = await register.read(path)

    response = await register.client.post(
        f"{path}/validation",
        headers={**register.mint("owner", email="sam.whitfield@cambridge.gov.uk"), "If-Match": etag},
    )

    assert response.status_code == 200, response.text
    assert response.json()["last_validated_by"] == "sam.whitfield@cambridge.gov.uk"
    assert response.json()["last_validated_at"].startswith("2025-03-03T09:30:00")


async def test_a_supplier_is_retired_and_announced(register: Register):
    path = f"/api/v1/suppliers/{await register.supplier_id('Govmetric')}"
    _, etag = await register.read(path)

    response = await register.client.post(f"{path}/retirement", headers={**register.admin, "If-Match": etag})

    assert response.status_code == 200, response.text
    assert response.json()["retired"] is True
    assert (await register.envelopes())[-1].type == "estate.register.supplier.retired"


async def test_a_correlation_id_sent_is_echoed_and_kept_on_the_audit_row_and_the_event(register: Register):
    path = f"/api/v1/systems/{await register.system_id('Miro')}"
    _, etag = await register.read(path)

    response = await register.client.patch(
        path,
        json={"holds_personal_data": False},
        headers={**register.admin, "If-Match": etag, "X-Correlation-ID": "req-2025-03-03.0042"},
    )

    assert response.status_code == 200
    assert response.headers["X-Correlation-ID"] == "req-2025-03-03.0042"
    assert (await register.audit_correlations(path.rsplit("/", 1)[1]))[-1] == "req-2025-03-03.0042"
    assert (await register.envelopes())[-1].correlationid == "req-2025-03-03.0042"


async def test_an_unsafe_correlation_id_is_replaced_and_never_echoed(register: Register):
    response = await register.client.get(
        "/api/v1/systems", headers={"X-Correlation-ID": "<script>alert(1)</script>"}
    )

    echoed = response.headers["X-Correlation-ID"]
    assert re.fullmatch(r"[0-9a-f-]{36}", echoed)
    # The problem names the id the request really ran under, never the caller's unsafe text.
    assert problem(response, 401).get("correlation_id") == echoed


async def test_a_problem_carries_the_correlation_id_of_its_request(register: Register):
    response = await register.client.get("/api/v1/systems", headers={"X-Correlation-ID": "corr-401"})

    assert problem(response, 401)["correlation_id"] == "corr-401"


async def test_readiness_says_the_database_answers(register: Register):
    response = await register.client.get("/health/ready")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


async def test_metrics_count_requests_by_route_and_status(register: Register):
    await register.client.get("/api/v1/systems", headers=register.admin)
    await register.client.get("/api/v1/systems")

    text = (await register.client.get("/metrics")).text

    assert re.search(
        r'estate_http_requests_total\{method="GET",route="/api/v1/systems",status="200"\} 1\.0', text
    )
    assert re.search(
        r'estate_http_requests_total\{method="GET",route="/api/v1/systems",status="401"\} 1\.0', text
    )


async def test_the_openapi_document_lists_the_endpoints_and_the_bearer_scheme(register: Register):
    document = (await register.client.get("/openapi.json")).json()

    assert {
        "/api/v1/systems",
        "/api/v1/systems/{system_id}",
        "/api/v1/systems/{system_id}/lifecycle",
        "/api/v1/contracts",
        "/api/v1/contracts/{contract_id}/renewal-decisions",
        "/api/v1/suppliers",
        "/api/v1/people",
        "/api/v1/{kind}/{record_id}/audit",
    } <= set(document["paths"])
    scheme = document["components"]["securitySchemes"]["bearer"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    assert {"bearer": []} in document["paths"]["/api/v1/systems"]["post"]["security"]
    assert "If-Match" in {
        p["name"] for p in document["paths"]["/api/v1/systems/{system_id}"]["patch"]["parameters"]
    }


async def test_councils_and_service_areas_are_audited_too(register: Register):
    council = await register.client.post(
        "/api/v1/councils",
        json={"code": "ECDC", "name": "East Cambridgeshire District Council"},
        headers=register.admin,
    )
    area = await register.client.post(
        "/api/v1/service-areas", json={"name": "Licensing", "council_code": "ECDC"}, headers=register.admin
    )

    council_trail = await register.client.get("/api/v1/councils/ECDC/audit", headers=register.admin)
    area_trail = await register.client.get(
        f"/api/v1/service-areas/{area.json()['id']}/audit", headers=register.admin
    )

    assert (council.status_code, area.status_code) == (201, 201)
    assert [(e["action"], e["after"]["name"]) for e in council_trail.json()] == [
        ("recorded", "East Cambridgeshire District Council")
    ]
    assert [(e["action"], e["after"]["council_code"]) for e in area_trail.json()] == [("recorded", "ECDC")]
    assert area_trail.json()[0]["actor"] == council_trail.json()[0]["actor"]
