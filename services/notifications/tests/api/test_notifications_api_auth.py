"""Who may call the notifications API: every /api/v1 route but the alert links needs a token the service
trusts (401 without one), and each refuses a caller whose role, or e-mail, does not allow it (403),
writing nothing either way."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from notifications_api_support import (
    AUD,
    C1,
    OLIVE,
    OTTO,
    RITA,
    TARA,
    Notifications,
    Person,
    problem,
    snapshot,
)

from estate_notifications.api.app import create_app

BEARER_ROUTES = [
    ("GET", "/api/v1/renewals"),
    ("GET", "/api/v1/renewals/{contract_id}"),
    ("PUT", "/api/v1/renewals/{contract_id}/ladder"),
    ("DELETE", "/api/v1/renewals/{contract_id}/ladder"),
    ("POST", "/api/v1/renewals/{contract_id}/decision"),
    ("GET", "/api/v1/policy"),
    ("PUT", "/api/v1/policy/contract-types/{contract_type}/ladder"),
    ("DELETE", "/api/v1/policy/contract-types/{contract_type}/ladder"),
    ("POST", "/api/v1/alerts/{alert_id}/acknowledge"),
    ("GET", "/api/v1/me/preferences"),
    ("PUT", "/api/v1/me/preferences"),
    ("POST", "/api/v1/calendar-feeds"),
    ("GET", "/api/v1/calendar-feeds"),
    ("DELETE", "/api/v1/calendar-feeds/{feed_id}"),
    ("GET", "/api/v1/deliveries"),
    ("GET", "/api/v1/sink/messages"),
    ("GET", "/api/v1/audit"),
]
"""Every route that needs a bearer token (checked against the app below, so none is forgotten)."""
PUBLIC_PREFIXES = (
    "/health/",
    "/metrics",
    "/docs",
    "/redoc",
    "/openapi.json",
    "/act/",
    "/calendar/",
    "/api/v1/links/",
)
SAMPLE = {
    "contract_id": str(C1),
    "alert_id": "00000000-0000-4000-8000-00000000000a",
    "feed_id": "00000000-0000-4000-8000-00000000000f",
    "contract_type": "software",
}


def api_routes(routes: Any) -> list[APIRoute]:
    """Every APIRoute of the app, also those of included routers (FastAPI keeps an included router as
    one entry that holds the original router)."""
    found: list[APIRoute] = []
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            found.extend(api_routes(included.routes))
        elif isinstance(route, APIRoute):
            found.append(route)
    return found


def concrete(path: str, values: dict[str, str] = SAMPLE) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)


async def test_the_route_table_lists_every_bearer_route(service: Notifications) -> None:
    app = create_app(service.container)
    routes = api_routes(app.routes)
    found = sorted(
        (method, route.path)
        for route in routes
        for method in route.methods - {"HEAD"}
        if not route.path.startswith(PUBLIC_PREFIXES)
    )

    assert found == sorted(BEARER_ROUTES)
    assert {r.path for r in routes if r.path.startswith("/api/v1/links/")} == {
        "/api/v1/links/{token}",
        "/api/v1/links/{token}/acknowledge",
        "/api/v1/links/{token}/decision",
    }


@pytest.mark.parametrize(("method", "path"), BEARER_ROUTES)
async def test_every_bearer_route_refuses_a_missing_or_bad_token(
    service: Notifications, method: str, path: str
) -> None:
    await service.seed(snapshot())

    async with service.nothing_written():
        missing = await service.client.request(method, concrete(path), json={})
        bad = await service.client.request(
            method, concrete(path), json={}, headers={"Authorization": "Bearer nope"}
        )
        other_scheme = await service.client.request(
            method, concrete(path), json={}, headers={"Authorization": "Basic b2xpdmU6cGFzcw=="}
        )

    for response in (missing, bad, other_scheme):
        problem(response, 401)
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


FORBIDDEN = [
    ("GET", "/api/v1/renewals", None, RITA),
    ("GET", "/api/v1/renewals/{contract_id}", None, RITA),
    ("GET", "/api/v1/renewals/{contract_id}", None, OTTO),
    ("PUT", "/api/v1/renewals/{contract_id}/ladder", {"rungs": [30]}, OLIVE),
    ("PUT", "/api/v1/renewals/{contract_id}/ladder", {"rungs": [30]}, TARA),
    ("DELETE", "/api/v1/renewals/{contract_id}/ladder", None, AUD),
    ("POST", "/api/v1/renewals/{contract_id}/decision", {"outcome": "terminate", "rationale": "x"}, OTTO),
    ("POST", "/api/v1/renewals/{contract_id}/decision", {"outcome": "terminate", "rationale": "x"}, TARA),
    ("GET", "/api/v1/policy", None, RITA),
    ("PUT", "/api/v1/policy/contract-types/{contract_type}/ladder", {"rungs": [30]}, AUD),
    ("DELETE", "/api/v1/policy/contract-types/{contract_type}/ladder", None, OLIVE),
    ("POST", "/api/v1/alerts/{alert_id}/acknowledge", {}, OTTO),
    ("POST", "/api/v1/alerts/{alert_id}/acknowledge", {}, AUD),
    ("POST", "/api/v1/calendar-feeds", {"scope": "tda", "label": "TDA"}, RITA),
    ("DELETE", "/api/v1/calendar-feeds/{feed_id}", None, OTTO),
    ("GET", "/api/v1/deliveries", None, OLIVE),
    ("GET", "/api/v1/deliveries", None, TARA),
    ("GET", "/api/v1/sink/messages?to=bob@cambridge.gov.uk", None, OLIVE),
    ("GET", "/api/v1/audit", None, OLIVE),
    ("GET", "/api/v1/audit", None, RITA),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "person"),
    FORBIDDEN,
    ids=[f"{m} {p.removeprefix('/api/v1')} as {who.subject}" for m, p, _, who in FORBIDDEN],
)
async def test_a_caller_whose_role_does_not_allow_it_is_refused(
    service: Notifications, tmp_path: Path, method: str, path: str, body: Any, person: Person
) -> None:
    await service.seed(snapshot())
    await service.sweep()
    feed = await service.ok("POST", "/calendar-feeds", OLIVE, json={"scope": "person", "label": "Mine"})
    service.container.settings.sink_dir = tmp_path / "maildir"
    values = SAMPLE | {"alert_id": str((await service.open_alert()).id), "feed_id": feed["id"]}

    async with service.nothing_written():
        response = await service.client.request(
            method, concrete(path, values), json=body, headers=service.auth(person)
        )

    problem(response, 403)


async def test_an_unknown_path_is_a_problem_not_a_page(service: Notifications) -> None:
    response = await service.client.get(f"/api/v1/nothing/{uuid.uuid4()}", headers=service.auth(TARA))

    problem(response, 404)


async def test_health_answers_without_a_token(service: Notifications) -> None:
    assert (await service.client.get("/health/live")).status_code == 200
    assert (await service.client.get("/health/ready")).json() == {"status": "ok", "database": "ok"}


async def test_the_openapi_document_describes_every_route(service: Notifications) -> None:
    document = (await service.client.get("/openapi.json")).json()

    assert document["info"]["title"] == "Estate notifications"
    assert "renewal watch" in document["info"]["description"]
    assert {"/api/v1/renewals", "/act/{token}", "/calendar/{token}.ics"} <= set(document["paths"])
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            assert operation.get("tags"), (method, path)
            assert operation.get("summary"), (method, path)
