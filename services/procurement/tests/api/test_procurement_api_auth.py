"""Who may call the procurement API: every route but health, metrics and the documents needs a token the
service trusts; reading is scoped to the caller's roles and their own requests."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.routing import APIRoute
from procurement_api_support import (
    ADA,
    ALEX,
    AUD,
    BEA,
    CHRIS,
    OMAR,
    OWEN,
    TARA,
    Procurement,
    complete,
    problem,
    succeeded,
)

from estate_procurement.api.app import create_app

PUBLIC = {"/health/live", "/health/ready", "/metrics"}
SAMPLE_PATH_VALUES = {
    "request_key": "00000000-0000-0000-0000-000000000001",
    "item_id": "R1.1",
    "condition_id": "00000000-0000-0000-0000-000000000002",
    "checklist_key": "tda-review@1",
}


def api_routes(routes) -> list[APIRoute]:
    """Every APIRoute of the app, also those of included routers (FastAPI 0.165 keeps an included
    router as one entry that holds the original router)."""
    found: list[APIRoute] = []
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            found.extend(api_routes(included.routes))
        elif isinstance(route, APIRoute):
            found.append(route)
    return found


def assert_unauthenticated(response) -> None:
    problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


async def test_every_route_but_health_and_metrics_needs_a_token(service: Procurement) -> None:
    app = create_app(service.container)
    routes = [r for r in api_routes(app.routes) if r.path not in PUBLIC]
    assert len(routes) >= 25
    before = await service.counts()

    for route in routes:
        path = re.sub(r"\{(\w+)\}", lambda m: SAMPLE_PATH_VALUES[m.group(1)], route.path)
        for method in route.methods:
            response = await service.client.request(method, path, json={})
            assert response.status_code == 401, (method, path, response.text)
            assert_unauthenticated(response)
            bad = await service.client.request(
                method, path, json={}, headers={"Authorization": "Bearer not-a-token"}
            )
            assert bad.status_code == 401, (method, path)

    assert await service.counts() == before


async def test_health_answers_without_a_token(service: Procurement) -> None:
    assert (await service.client.get("/health/live")).status_code == 200
    assert (await service.client.get("/health/ready")).json() == {"status": "ok", "database": "ok"}


async def test_the_openapi_document_describes_every_route(service: Procurement) -> None:
    document = (await service.client.get("/openapi.json")).json()

    assert document["info"]["title"] == "Estate procurement"
    assert "/api/v1/requests/{request_key}/decision" in document["paths"]
    tags = {t["name"] for t in document["tags"]}
    assert {"requests", "lifecycle", "review", "conditions", "re-use", "decisions", "audit"} <= tags
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if path.startswith("/api/"):
                assert operation.get("tags"), (method, path)
                assert operation.get("summary"), (method, path)


async def test_a_token_without_an_email_cannot_change_anything(service: Procurement) -> None:
    headers = service.mint("requester", subject="u-anon")

    async with service.nothing_written():
        response = await service.client.post("/api/v1/requests", json={"title": "x"}, headers=headers)

    assert "e-mail" in problem(response, 403)["detail"]


@pytest.mark.parametrize("person", [AUD, ADA])
async def test_auditors_and_administrators_raise_no_requests(service: Procurement, person) -> None:
    async with service.nothing_written():
        response = await service.call("POST", "/requests", person, json={"title": "x"})

    problem(response, 403)


async def test_an_owner_raises_a_request_and_a_tda_member_starts_reviews(service: Procurement) -> None:
    draft = await service.draft(OWEN, **complete())
    submitted = await service.ok("POST", f"/requests/{draft['id']}/submit", OWEN)

    async with service.nothing_written(submitted["id"]):
        by_requester = await service.call("POST", f"/requests/{submitted['id']}/review", OWEN)
        by_admin = await service.call("POST", f"/requests/{submitted['id']}/review", ADA)

    problem(by_requester, 403)
    problem(by_admin, 403)
    assert (await service.ok("POST", f"/requests/{submitted['id']}/review", CHRIS))["state"] == "under_review"


async def test_reviews_are_the_tdas_working_notes(service: Procurement) -> None:
    request = await service.under_review()
    await service.ok("PUT", f"/requests/{request['id']}/ratings/R1.1", TARA, json={"rating": "met"})

    for path in ("ratings", "scores", "recommendation"):
        problem(await service.call("GET", f"/requests/{request['id']}/{path}", ALEX), 403)
        assert (await service.call("GET", f"/requests/{request['id']}/{path}", AUD)).status_code == 200


async def test_the_audit_trail_is_for_the_tda_auditors_admins_and_the_requester(service: Procurement) -> None:
    request = await service.submitted()

    for person in (ALEX, TARA, CHRIS, ADA, AUD):
        response = await service.call("GET", f"/requests/{request['id']}/audit", person)
        assert response.status_code == 200, (person, response.text)
        assert [e["action"] for e in response.json()] == ["submitted", "created"]
    problem(await service.call("GET", f"/requests/{request['id']}/audit", BEA), 403)

    with_snapshots = await service.call(
        "GET", f"/requests/{request['id']}/audit", AUD, params={"snapshots": "true"}
    )
    assert with_snapshots.json()[0]["after"]["state"] == "submitted"
    assert with_snapshots.json()[0]["actor"] == ALEX.ref


async def test_a_requester_cannot_read_the_conditions_or_candidates_of_someone_elses_request(
    service: Procurement,
) -> None:
    request = await service.submitted(ALEX)

    for path in ("conditions", "candidates", "checklist"):
        problem(await service.call("GET", f"/requests/{request['id']}/{path}", BEA), 403)
        assert (await service.call("GET", f"/requests/{request['id']}/{path}", ALEX)).status_code == 200


async def test_a_refused_read_names_nobody(service: Procurement) -> None:
    request = await service.submitted(ALEX)

    for path in ("", "/conditions", "/candidates", "/checklist"):
        body = problem(await service.call("GET", f"/requests/{request['id']}{path}", BEA), 403)
        assert "Alex" not in body["detail"] and ALEX.email not in body["detail"], path
        assert "you may read only requests you raised or hold a condition of" in body["detail"]


def _ratings_in(snapshot: dict[str, Any] | None) -> list[list[Any] | None]:
    """Each round's ratings in a snapshot (None where a round carries none)."""
    return [r.get("ratings") for r in (snapshot or {}).get("rounds", [])]


async def test_the_requester_reads_no_rating_in_the_audit_trail_until_the_round_is_decided(
    service: Procurement,
) -> None:
    request = await service.under_review()
    path = f"/requests/{request['id']}/audit"
    secret = {"rating": "not_met", "comment": "Round one worry", "evidence_url": "https://x.example/one"}
    await service.ok("PUT", f"/requests/{request['id']}/ratings/DPIA1", OMAR, json=secret)
    questions = {"questions": ["Where is the DPIA?"]}
    await service.ok("POST", f"/requests/{request['id']}/information-requests", TARA, json=questions)

    before = await service.call("GET", path, ALEX, params={"snapshots": "true"})
    for_the_tda = succeeded(await service.call("GET", path, AUD, params={"snapshots": "true"}))

    assert before.status_code == 200, before.text
    actions = [e["action"] for e in before.json()]
    assert actions == ["information_requested", "review_started", "submitted", "created"]
    for leak in ("not_met", "Round one worry", "x.example", OMAR.name, OMAR.email):
        assert leak not in before.text, leak
    assert _ratings_in(before.json()[0]["after"]) == [None]
    assert for_the_tda[1]["action"] == "item_rated"
    assert for_the_tda[1]["detail"]["comment"] == "Round one worry"
    assert _ratings_in(for_the_tda[0]["after"])[0][0]["comment"] == "Round one worry"

    # Decided, round 1's ratings are on record for the requester too; a reopened round's are not.
    answers = {"answers": "Being written"}
    await service.ok("POST", f"/requests/{request['id']}/resubmit", ALEX, json=answers)
    await service.ok("POST", f"/requests/{request['id']}/review", TARA)
    await service.decided(request["id"], "not_approved", "The DPIA is missing")
    await service.ok("POST", f"/requests/{request['id']}/reopen", CHRIS, json={"reason": "DPIA done"})
    again = {"rating": "partly_met", "comment": "Round two worry", "evidence_url": "https://x.example/two"}
    await service.ok("PUT", f"/requests/{request['id']}/ratings/DPIA1", OMAR, json=again)
    after = await service.call("GET", path, ALEX, params={"snapshots": "true"})

    rated = [e for e in after.json() if e["action"] == "item_rated"]
    assert [(e["detail"]["round"], e["detail"]["comment"]) for e in rated] == [(1, "Round one worry")]
    for leak in ("Round two worry", "x.example/two", "partly_met"):
        assert leak not in after.text, leak
    (round_one, round_two) = _ratings_in(after.json()[0]["after"])
    assert round_one is not None and round_one[0]["comment"] == "Round one worry"
    assert round_two is None


async def test_the_field_descriptions_cite_the_requirements_they_answer(service: Procurement) -> None:
    document = (await service.client.get("/openapi.json")).json()
    fields = document["components"]["schemas"]["RequestFields"]["properties"]

    def cited(name: str) -> set[str]:
        return set(re.findall(r"\bR\d+\b", fields[name]["description"]))

    assert cited("user_need") == {"R1"}
    assert cited("business_requirements") == {"R2"}
    assert cited("strategic_alignment") == {"R7"}
    assert cited("legal_considerations") == {"R6"}
    assert cited("expected_annual_savings") == cited("non_monetary_benefits") == {"R14"}
    assert cited("pilot_plan") == {"R24"}
    assert cited("existing_contracts_and_legacy") == {"R20"}
    assert cited("councils_in_scope") == {"R26"}
    assert cited("category") == {"R25"}
    assert cited("hosting") == set()
