"""Who may call the register: every endpoint but health, metrics and the documents needs a token that the
register can trust, and each role may do only what it is for."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid

import pytest
from cryptography.hazmat.primitives import serialization
from register_api_support import Register, problem

from estate_register.api.auth import ensure_dev_key, mint_token
from estate_register.settings import AuthSettings

PUBLIC = {"/health/live", "/health/ready", "/metrics", "/docs", "/openapi.json"}
SAM = "sam.whitfield@cambridge.gov.uk"  # owns Orchard and contract CCC-ICT-0003 in the demo estate
NADIA = "nadia.begum@cambridge.gov.uk"  # owns Storm and contract CCC-ICT-0004


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(auth: AuthSettings, **overrides: object) -> dict[str, object]:
    now = int(time.time())
    claims: dict[str, object] = {
        "iss": auth.issuer,
        "aud": auth.audience,
        "sub": "intruder",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "roles": ["admin"],
    }
    claims.update(overrides)
    return claims


def _hand_made(header: dict[str, str], claims: dict[str, object], sign: bytes | None = None) -> str:
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = _b64(hmac.new(sign, signing_input.encode(), hashlib.sha256).digest()) if sign else ""
    return f"{signing_input}.{signature}"


@pytest.fixture(scope="module")
def bad_tokens(auth_settings: AuthSettings, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Authorization header values the register must refuse, by what is wrong with them."""
    auth, tmp_path = auth_settings, tmp_path_factory.mktemp("other-issuer")
    public_pem = (
        ensure_dev_key(auth.dev_key_path)
        .public_key()
        .public_bytes(  # type: ignore[arg-type]
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    other = {"dev_key_path": auth.dev_key_path}
    return {
        "malformed": "Bearer not-a-jwt",
        "three garbage parts": "Bearer abc.def.ghi",
        "empty bearer": "Bearer ",
        "basic scheme": "Basic " + _b64(b"admin:admin"),
        "expired": "Bearer "
        + mint_token(auth, subject="late", roles=["admin"], now=time.time() - 9 * 3600, ttl_seconds=3600),
        "another audience": "Bearer "
        + mint_token(AuthSettings(audience="procurement", **other), subject="x", roles=["admin"]),
        "another issuer": "Bearer "
        + mint_token(
            AuthSettings(issuer="https://evil.example/issuer", **other), subject="x", roles=["admin"]
        ),
        "unsigned alg none": "Bearer " + _hand_made({"alg": "none", "typ": "JWT"}, _claims(auth)),
        "hs256 signed with the public key": "Bearer "
        + _hand_made({"alg": "HS256", "typ": "JWT", "kid": "estate-dev"}, _claims(auth), sign=public_pem),
        "signed by another key": "Bearer "
        + mint_token(AuthSettings(dev_key_path=tmp_path / "other-key.pem"), subject="x", roles=["admin"]),
    }


BAD_TOKEN_KINDS = [
    "malformed",
    "three garbage parts",
    "empty bearer",
    "basic scheme",
    "expired",
    "another audience",
    "another issuer",
    "unsigned alg none",
    "hs256 signed with the public key",
    "signed by another key",
]


def assert_unauthenticated(response) -> None:
    problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


async def test_a_request_without_a_token_is_refused_with_a_bearer_challenge(register: Register):
    response = await register.client.get("/api/v1/systems")

    assert_unauthenticated(response)
    assert "bearer token" in response.json()["detail"]


async def test_a_caller_without_a_token_learns_nothing_about_their_body(register: Register):
    async with register.nothing_written():
        response = await register.client.post(
            "/api/v1/systems", content=b"{not json", headers={"Content-Type": "application/json"}
        )

    assert_unauthenticated(response)


@pytest.mark.parametrize("kind", BAD_TOKEN_KINDS)
async def test_a_token_the_register_cannot_trust_is_refused(register: Register, bad_tokens, kind):
    authorization = bad_tokens[kind]

    read = await register.client.get("/api/v1/systems", headers={"Authorization": authorization})
    async with register.nothing_written():
        write = await register.client.post(
            "/api/v1/suppliers", json={"name": "Sneaky Ltd"}, headers={"Authorization": authorization}
        )

    assert_unauthenticated(read)
    assert_unauthenticated(write)


async def test_every_endpoint_but_health_metrics_and_documents_needs_a_token(register: Register):
    document = (await register.client.get("/openapi.json")).json()
    operations = [
        (method.upper(), path)
        for path, methods in document["paths"].items()
        for method in methods
        if path not in PUBLIC
    ]
    assert len(operations) >= 25

    refused = []
    for method, path in operations:
        concrete = path.replace("{kind}", "systems")
        for name in ("{system_id}", "{contract_id}", "{supplier_id}", "{person_id}", "{record_id}"):
            concrete = concrete.replace(name, str(uuid.uuid4()))
        response = await register.client.request(method, concrete)
        if response.status_code == 401 and response.headers.get("WWW-Authenticate", "").startswith("Bearer"):
            refused.append((method, path))

    assert sorted(refused) == sorted(operations)


@pytest.mark.parametrize("path", sorted(PUBLIC))
async def test_health_metrics_and_documents_answer_without_a_token(register: Register, path):
    response = await register.client.get(path)

    assert response.status_code == 200


async def test_me_says_who_the_token_names(register: Register):
    response = await register.client.get("/api/v1/me", headers=register.mint("owner", "auditor", email=SAM))

    assert response.status_code == 200
    assert response.json()["email"] == SAM
    assert response.json()["roles"] == ["auditor", "owner"]


# --- the role matrix ------------------------------------------------------------------------------------


async def test_a_requester_reads_systems_but_not_contracts_people_or_the_audit_trail(register: Register):
    requester = register.mint("requester", email="someone@cambridge.gov.uk")
    orchard = await register.system_id("Orchard")
    contract = await register.contract_id("CCC-ICT-0003")

    assert (await register.client.get("/api/v1/systems", headers=requester)).status_code == 200
    assert (await register.client.get(f"/api/v1/systems/{orchard}", headers=requester)).status_code == 200
    for path in (
        "/api/v1/contracts",
        f"/api/v1/contracts/{contract}",
        f"/api/v1/systems/{orchard}/contracts",
        "/api/v1/people",
        f"/api/v1/systems/{orchard}/audit",
    ):
        problem(await register.client.get(path, headers=requester), 403)


async def test_a_requester_cannot_write_anything(register: Register):
    requester = register.mint("requester", email="someone@cambridge.gov.uk")
    orchard = await register.system_id("Orchard")
    _, etag = await register.read(f"/api/v1/systems/{orchard}")

    async with register.nothing_written(f"/api/v1/systems/{orchard}"):
        writes = [
            await register.client.post("/api/v1/systems", json={"name": "Shadow IT"}, headers=requester),
            await register.client.patch(
                f"/api/v1/systems/{orchard}",
                json={"description": "mine now"},
                headers={**requester, "If-Match": etag},
            ),
            await register.client.post("/api/v1/suppliers", json={"name": "Shadow Ltd"}, headers=requester),
            await register.client.post(
                "/api/v1/people", json={"name": "Shadow", "email": "shadow@x.gov.uk"}, headers=requester
            ),
        ]

    for response in writes:
        problem(response, 403)


async def test_an_owner_changes_the_system_they_own(register: Register):
    orchard = await register.system_id("Orchard")
    _, etag = await register.read(f"/api/v1/systems/{orchard}")

    # Email addresses match whatever their case.
    response = await register.client.patch(
        f"/api/v1/systems/{orchard}",
        json={"description": "Housing management for City Homes"},
        headers={**register.mint("owner", email=SAM.upper()), "If-Match": etag},
    )

    assert response.status_code == 200, response.text
    assert response.json()["description"] == "Housing management for City Homes"


async def test_an_owner_cannot_change_a_system_someone_else_owns(register: Register):
    storm = await register.system_id("Storm")
    path = f"/api/v1/systems/{storm}"
    _, etag = await register.read(path)

    async with register.nothing_written(path):
        response = await register.client.patch(
            path,
            json={"description": "taken over"},
            headers={**register.mint("owner", email=SAM), "If-Match": etag},
        )

    problem(response, 403)


async def test_an_owner_changes_the_contract_they_own_and_no_other(register: Register):
    sam = register.mint("owner", email=SAM)
    mine = f"/api/v1/contracts/{await register.contract_id('CCC-ICT-0003')}"
    theirs = f"/api/v1/contracts/{await register.contract_id('CCC-ICT-0004')}"
    _, my_etag = await register.read(mine)
    _, their_etag = await register.read(theirs)

    allowed = await register.client.patch(
        mine, json={"cost_centre": "HRA-101"}, headers={**sam, "If-Match": my_etag}
    )
    async with register.nothing_written(theirs):
        refused = await register.client.patch(
            theirs, json={"cost_centre": "HRA-101"}, headers={**sam, "If-Match": their_etag}
        )

    assert allowed.status_code == 200, allowed.text
    assert allowed.json()["cost_centre"] == "HRA-101"
    problem(refused, 403)


async def test_an_owner_records_a_renewal_decision_only_on_their_own_contract(register: Register):
    nadia = register.mint("owner", email=NADIA)
    mine = f"/api/v1/contracts/{await register.contract_id('CCC-ICT-0004')}"
    theirs = f"/api/v1/contracts/{await register.contract_id('CCC-ICT-0003')}"
    decision = {"outcome": "terminate", "rationale": "Moving to the corporate telephony platform"}

    _, etag = await register.read(mine)
    allowed = await register.client.post(
        f"{mine}/renewal-decisions", json=decision, headers={**nadia, "If-Match": etag}
    )
    _, etag = await register.read(theirs)
    async with register.nothing_written(theirs):
        refused = await register.client.post(
            f"{theirs}/renewal-decisions", json=decision, headers={**nadia, "If-Match": etag}
        )

    assert allowed.status_code == 200, allowed.text
    assert allowed.json()["renewal_decisions"][-1]["outcome"] == "terminate"
    problem(refused, 403)


async def test_an_owner_cannot_record_new_systems_or_contracts(register: Register):
    sam = register.mint("owner", email=SAM)
    async with register.nothing_written():
        system = await register.client.post("/api/v1/systems", json={"name": "Sam's tool"}, headers=sam)
        contract = await register.client.post("/api/v1/contracts", json={}, headers=sam)

    problem(system, 403)
    problem(contract, 403)


async def test_a_contract_manager_records_contracts_but_not_systems(register: Register):
    manager = register.mint("contract_manager", email="priya.shah@cambridge.gov.uk")
    body = {
        "reference": "CCC-ICT-0100",
        "title": "Silktide accessibility monitoring",
        "supplier_id": await register.supplier_id("Silktide"),
        "contract_type": "saas_subscription",
        "start_date": "2025-04-01",
        "initial_term_end": "2026-03-31",
    }

    contract = await register.client.post("/api/v1/contracts", json=body, headers=manager)
    async with register.nothing_written():
        system = await register.client.post("/api/v1/systems", json={"name": "Silktide"}, headers=manager)

    assert contract.status_code == 201, contract.text
    problem(system, 403)


async def test_a_contract_manager_changes_any_contract(register: Register):
    path = f"/api/v1/contracts/{await register.contract_id('CCC-ICT-0004')}"
    _, etag = await register.read(path)

    response = await register.client.patch(
        path,
        json={"notice_period_days": 90},
        headers={**register.mint("contract_manager", email="priya.shah@cambridge.gov.uk"), "If-Match": etag},
    )

    assert response.status_code == 200, response.text
    assert response.json()["notice_period_days"] == 90


async def test_an_auditor_reads_the_audit_trail_but_changes_nothing(register: Register):
    auditor = register.mint("auditor", email="internal.audit@cambridge.gov.uk")
    orchard = await register.system_id("Orchard")

    trail = await register.client.get(f"/api/v1/systems/{orchard}/audit", headers=auditor)
    async with register.nothing_written():
        write = await register.client.post("/api/v1/suppliers", json={"name": "Audit Ltd"}, headers=auditor)

    assert trail.status_code == 200
    assert [entry["action"] for entry in trail.json()] == ["recorded"]
    problem(write, 403)


async def test_an_administrator_may_do_everything(register: Register):
    admin = register.admin
    supplier = await register.client.post("/api/v1/suppliers", json={"name": "Jadu"}, headers=admin)
    system = await register.client.post(
        "/api/v1/systems", json={"name": "Jadu forms", "supplier_id": supplier.json()["id"]}, headers=admin
    )
    contract = await register.client.post(
        "/api/v1/contracts",
        json={
            "reference": "CCC-ICT-0101",
            "title": "Jadu forms",
            "supplier_id": supplier.json()["id"],
            "system_ids": [system.json()["id"]],
            "contract_type": "saas_subscription",
            "start_date": "2025-04-01",
            "initial_term_end": "2026-03-31",
        },
        headers=admin,
    )
    person = await register.client.post(
        "/api/v1/people", json={"name": "Joe Public", "email": "joe.public@cambridge.gov.uk"}, headers=admin
    )
    storm = await register.system_id("Storm")
    _, etag = await register.read(f"/api/v1/systems/{storm}")
    patched = await register.client.patch(
        f"/api/v1/systems/{storm}", json={"risk_rag": "green"}, headers={**admin, "If-Match": etag}
    )
    trail = await register.client.get(f"/api/v1/systems/{storm}/audit", headers=admin)
    people = await register.client.get("/api/v1/people", params={"count": "true"}, headers=admin)

    assert [r.status_code for r in (supplier, system, contract, person)] == [201, 201, 201, 201]
    assert patched.status_code == 200
    assert [e["action"] for e in trail.json()] == ["recorded", "changed"]
    assert people.json()["total"] == 12
