"""Sign-in with an OpenID Connect provider (the authorisation-code flow with PKCE), against a small
provider written for these tests: discovery, authorise, token and JWKS endpoints, RS256-signed tokens.

The provider signs with the local issuer's key and its access tokens are the kind the services accept,
so a person signed in through it can use every page, as with Entra ID in a council.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
import urllib.parse
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt
import pytest
import pytest_asyncio
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse
from portal_support import Stack

from estate_portal.app import create_app
from estate_portal.backends import Backends
from estate_portal.settings import PortalSettings
from estate_runtime.auth import KEY_ID, AuthSettings, ensure_dev_key, mint_token

ISSUER = "https://login.council.test/tenant/v2.0"
CLIENT_ID = "estate-portal"
CLIENT_SECRET = "portal-client-secret"


class Provider:
    """An identity provider with one account (Alex Morgan, TDA chair), approving every sign-in."""

    def __init__(self, auth: AuthSettings) -> None:
        assert auth.dev_key_path is not None
        self.key: rsa.RSAPrivateKey = ensure_dev_key(auth.dev_key_path)
        self.auth = auth
        self.codes: dict[str, dict[str, str]] = {}
        self.tamper_nonce = False
        self.app = FastAPI()
        self.app.get("/tenant/v2.0/.well-known/openid-configuration")(self.discovery)
        self.app.get("/authorize")(self.authorize)
        self.app.post("/token")(self.token)
        self.app.get("/keys")(self.keys)

    async def discovery(self) -> dict[str, Any]:
        return {
            "issuer": ISSUER,
            "authorization_endpoint": "https://login.council.test/authorize",
            "token_endpoint": "https://login.council.test/token",
            "jwks_uri": "https://login.council.test/keys",
            "end_session_endpoint": "https://login.council.test/logout",
        }

    async def authorize(self, request: Request) -> RedirectResponse:
        query = request.query_params
        assert query["response_type"] == "code"
        assert query["client_id"] == CLIENT_ID
        assert query["code_challenge_method"] == "S256"
        code = secrets.token_urlsafe(16)
        self.codes[code] = dict(query)
        target = query["redirect_uri"] + "?" + urllib.parse.urlencode({"code": code, "state": query["state"]})
        return RedirectResponse(target, status_code=302)

    async def token(
        self,
        grant_type: str = Form(),
        code: str = Form(),
        redirect_uri: str = Form(),
        client_id: str = Form(),
        code_verifier: str = Form(),
        client_secret: str = Form(),
    ) -> JSONResponse:
        asked = self.codes.pop(code, None)
        challenge = (
            base64.urlsafe_b64encode(hashlib.sha256(code_verifier.encode()).digest()).rstrip(b"=").decode()
        )
        if (
            asked is None
            or grant_type != "authorization_code"
            or client_secret != CLIENT_SECRET
            or redirect_uri != asked["redirect_uri"]
            or challenge != asked["code_challenge"]
        ):
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        now = int(time.time())
        id_token = jwt.encode(
            {
                "iss": ISSUER,
                "aud": client_id,
                "sub": "entra-alex",
                "iat": now,
                "exp": now + 3600,
                "nonce": "not-yours" if self.tamper_nonce else asked["nonce"],
                "name": "Alex Morgan",
                "email": "alex.morgan@cambridge.gov.uk",
            },
            self.key,
            algorithm="RS256",
            headers={"kid": KEY_ID},
        )
        access = mint_token(
            self.auth,
            subject="entra-alex",
            roles=["tda_member", "tda_chair"],
            email="alex.morgan@cambridge.gov.uk",
            name="Alex Morgan",
        )
        return JSONResponse({"id_token": id_token, "access_token": access, "token_type": "Bearer"})

    async def keys(self) -> dict[str, Any]:
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [{**public, "kid": KEY_ID, "use": "sig", "alg": "RS256"}]}


@pytest.fixture
def provider(portal_auth: AuthSettings) -> Provider:
    return Provider(portal_auth)


@pytest_asyncio.fixture(loop_scope="session")
async def oidc_portal(
    stack: Stack, portal_auth: AuthSettings, provider: Provider
) -> AsyncIterator[httpx.AsyncClient]:
    settings = PortalSettings(
        environment="production",
        public_url="https://portal.test",
        session_secret="oidc-tests-session-secret-0123456789abcdef",
        oidc_issuer=ISSUER,
        oidc_client_id=CLIENT_ID,
        oidc_client_secret=CLIENT_SECRET,
        oidc_provider_name="your Cambridge account",
    )
    idp = httpx.AsyncClient(transport=httpx.ASGITransport(app=provider.app))
    app = create_app(settings, portal_auth, backends=Backends(stack.clients), oidc_http=idp)  # type: ignore[arg-type]
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="https://portal.test", follow_redirects=False
    ) as client:
        yield client
    await idp.aclose()


async def _through_provider(portal: httpx.AsyncClient, provider: Provider, next_page: str) -> httpx.Response:
    start = await portal.get(f"/sign-in/oidc?next={next_page}")
    assert start.status_code == 303
    authorize = start.headers["location"]
    assert authorize.startswith("https://login.council.test/authorize?")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=provider.app)) as browser:
        approved = await browser.get(authorize)
    callback = approved.headers["location"]
    assert callback.startswith("https://portal.test/auth/callback?")
    return await portal.get(callback.removeprefix("https://portal.test"))


async def test_production_sign_in_offers_only_the_identity_provider(oidc_portal: httpx.AsyncClient) -> None:
    page = await oidc_portal.get("/sign-in")
    assert "Sign in with your Cambridge account" in page.text
    assert "Sam Patel" not in page.text
    refused = await oidc_portal.post("/sign-in/dev", data={"persona": "admin", "csrf_token": "x"})
    assert refused.status_code in (403, 404)
    assert "Alex Morgan" not in refused.text


async def test_a_person_signs_in_with_the_provider_and_lands_on_the_page_they_asked_for(
    oidc_portal: httpx.AsyncClient, provider: Provider
) -> None:
    arrived = await _through_provider(oidc_portal, provider, "/systems")
    assert arrived.status_code == 303, arrived.text
    assert arrived.headers["location"] == "/systems"
    cookie = arrived.headers["set-cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    home = await oidc_portal.get("/")
    assert home.headers["location"] == "/dashboard"


async def test_a_callback_this_browser_did_not_start_signs_nobody_in(oidc_portal: httpx.AsyncClient) -> None:
    answer = await oidc_portal.get("/auth/callback?code=stolen&state=guessed")
    assert answer.status_code == 401
    assert "was not started from this browser" in answer.text
    assert (await oidc_portal.get("/")).status_code == 200


async def test_an_id_token_for_another_sign_in_is_refused(
    oidc_portal: httpx.AsyncClient, provider: Provider
) -> None:
    provider.tamper_nonce = True
    answer = await _through_provider(oidc_portal, provider, "/")
    assert answer.status_code == 401
    assert "nonce does not match" in answer.text
    assert (await oidc_portal.get("/")).status_code == 200


async def test_signing_out_also_ends_the_providers_session(
    oidc_portal: httpx.AsyncClient, provider: Provider
) -> None:
    await _through_provider(oidc_portal, provider, "/")
    page = await oidc_portal.get("/sign-in")
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    answer = await oidc_portal.post("/sign-out", data={"csrf_token": token})
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("https://login.council.test/logout?")
