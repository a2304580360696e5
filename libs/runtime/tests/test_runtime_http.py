"""The shared HTTP runtime as a caller meets it: tokens checked, roles filtered, problems in one shape,
a service's own error kinds mapped once, health answered without a token."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import httpx
import pytest

from estate_runtime.auth import AuthSettings, Principal, TokenVerifier, mint_token
from estate_runtime.db import make_engine
from estate_runtime.errors import InvalidValue
from estate_runtime.http import AuthenticatedRoute, require, service_app
from estate_runtime.problems import register_domain_error


class TooEarly(InvalidValue):
    """A service's own kind of error, mapped to its own problem."""


register_domain_error(TooEarly, 425, "Too early", "too-early")


@pytest.fixture
def auth(tmp_path: Path) -> AuthSettings:
    return AuthSettings(dev_key_path=tmp_path / "key.pem")


@pytest.fixture
async def client(auth: AuthSettings, tmp_path: Path) -> httpx.AsyncClient:
    from fastapi import APIRouter

    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    app = service_app(title="t", description="t", engine=engine, auth=auth, max_upload_bytes=2048)
    router = APIRouter(route_class=AuthenticatedRoute)

    @router.get("/who")
    async def who(principal: Annotated[Principal, require({"tda_chair"}, "Asking")]) -> dict[str, object]:
        return {"subject": principal.subject, "roles": sorted(principal.roles)}

    @router.post("/early")
    async def early() -> None:
        raise TooEarly("not before the review starts", field="decided_at")

    app.include_router(router)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


def bearer(auth: AuthSettings, *roles: str) -> dict[str, str]:
    return {"Authorization": "Bearer " + mint_token(auth, subject="s1", roles=roles, email="a@b.gov.uk")}


async def test_a_caller_without_a_token_gets_a_401_problem_saying_how_to_send_one(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/who")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert "Authorization: Bearer" in response.json()["detail"]


async def test_a_caller_without_the_role_is_told_which_roles_may(
    client: httpx.AsyncClient, auth: AuthSettings
) -> None:
    response = await client.get("/who", headers=bearer(auth, "requester"))
    assert response.status_code == 403
    assert response.json()["detail"] == "Asking needs one of these roles: tda_chair"


async def test_the_chair_is_let_in_with_the_roles_the_token_carries(
    client: httpx.AsyncClient, auth: AuthSettings
) -> None:
    response = await client.get("/who", headers=bearer(auth, "tda_chair", "owner"))
    assert response.json() == {"subject": "s1", "roles": ["owner", "tda_chair"]}


def test_roles_estate_does_not_know_are_dropped_from_the_principal(auth: AuthSettings) -> None:
    token = mint_token(auth, subject="s1", roles=["admin"])
    assert TokenVerifier(auth).verify(token).roles == frozenset({"admin"})
    with pytest.raises(ValueError, match="unknown role"):
        mint_token(auth, subject="s1", roles=["superuser"])


async def test_a_services_own_error_kind_is_its_own_problem_naming_the_field(
    client: httpx.AsyncClient, auth: AuthSettings
) -> None:
    response = await client.post("/early", headers=bearer(auth, "admin"))
    assert response.status_code == 425
    body = response.json()
    assert body["type"].endswith("/too-early")
    assert body["errors"] == [{"pointer": "/body/decided_at", "detail": "not before the review starts"}]


async def test_health_needs_no_token_and_checks_the_database(client: httpx.AsyncClient) -> None:
    assert (await client.get("/health/live")).json() == {"status": "ok"}
    assert (await client.get("/health/ready")).json() == {"status": "ok", "database": "ok"}


async def test_a_body_over_the_limit_is_refused_before_it_is_read(
    client: httpx.AsyncClient, auth: AuthSettings
) -> None:
    response = await client.post("/early", headers=bearer(auth, "admin"), content=b"x" * 4096)
    assert response.status_code == 413
    assert "the limit is 2,048 bytes" in response.json()["detail"]
