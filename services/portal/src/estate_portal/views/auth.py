"""Signing in and out.

* ``GET /sign-in``: the council's identity provider (when configured) and, on a development stack, the
  demo people to choose from.
* ``POST /sign-in/dev``: sign in as a demo person (development stacks only): the portal mints them a
  token from the local issuer, the same kind ``estate token`` gives.
* ``GET /sign-in/oidc`` and ``GET /auth/callback``: the authorisation-code flow (:mod:`estate_portal.oidc`).
* ``POST /sign-out``: ends the session (and, with an identity provider, its session too).

After sign-in a person returns to the page they asked for; only paths on this site are followed, so a
link cannot use sign-in to send anyone elsewhere.
"""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from estate_portal.csrf import protect
from estate_portal.errors import NotAllowed, PageNotFound, SessionEnded
from estate_portal.oidc import OidcClient, PendingSignIn, SignInFailed
from estate_portal.personas import BY_KEY, PERSONAS
from estate_portal.session import User
from estate_portal.settings import PortalSettings
from estate_portal.web import PagesDep, SessionDep
from estate_runtime.auth import AuthError, AuthSettings, TokenVerifier, mint_token

router = APIRouter(dependencies=[Depends(protect)])


def safe_next(target: str | None) -> str:
    """A path on this site to return to, or the home page."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def settings_of(request: Request) -> PortalSettings:
    settings: PortalSettings = request.app.state.settings
    return settings


def oidc_of(request: Request) -> OidcClient | None:
    client: OidcClient | None = request.app.state.oidc
    return client


Settings = Annotated[PortalSettings, Depends(settings_of)]
Oidc = Annotated[OidcClient | None, Depends(oidc_of)]


def user_from_token(verifier: TokenVerifier, token: str, max_hours: float) -> User:
    principal = verifier.verify(token)
    claims_exp = _expiry(token)
    return User(
        subject=principal.subject,
        email=principal.email,
        name=principal.name,
        roles=principal.roles,
        token=token,
        expires_at=min(claims_exp, time.time() + max_hours * 3600),
    )


def _expiry(token: str) -> float:
    import jwt

    claims = jwt.decode(token, options={"verify_signature": False})
    return float(claims["exp"])


@router.get("/sign-in", summary="Sign in")
async def sign_in_page(
    request: Request, pages: PagesDep, settings: Settings, session: SessionDep, next: str | None = None
) -> Response:
    return pages.render(
        request,
        "auth/sign_in.html",
        {
            "personas": PERSONAS if settings.dev_sign_in else (),
            "oidc": settings.oidc_issuer is not None,
            "provider_name": settings.oidc_provider_name,
            "next": safe_next(next),
            "ended": session.ended,
        },
    )


@router.post("/sign-in/dev", summary="Sign in as a demo person")
async def dev_sign_in(
    request: Request,
    settings: Settings,
    session: SessionDep,
    pages: PagesDep,
    persona: Annotated[str | None, Form()] = None,
    next: Annotated[str | None, Form()] = None,
) -> Response:
    if not settings.dev_sign_in:
        raise PageNotFound("Demo sign-in is not offered here: sign in with your council account.")
    chosen = BY_KEY.get(persona or "")
    if chosen is None:
        return pages.render(
            request,
            "auth/sign_in.html",
            {
                "personas": PERSONAS,
                "oidc": settings.oidc_issuer is not None,
                "provider_name": settings.oidc_provider_name,
                "next": safe_next(next),
                "error": "Select who to sign in as",
            },
            status_code=422,
        )
    auth: AuthSettings = request.app.state.auth
    token = mint_token(
        auth,
        subject=chosen.subject,
        roles=chosen.roles,
        email=chosen.email,
        name=chosen.name,
        ttl_seconds=int(settings.session_hours * 3600),
    )
    session.sign_in(user_from_token(request.app.state.verifier, token, settings.session_hours))
    return RedirectResponse(safe_next(next), status_code=303)


@router.get("/sign-in/oidc", summary="Sign in with the council's identity provider")
async def oidc_start(
    request: Request, settings: Settings, session: SessionDep, oidc: Oidc, next: str | None = None
) -> Response:
    if oidc is None:
        raise PageNotFound("Sign-in with an identity provider is not set up here.")
    pending = PendingSignIn.new()
    session.pending_sign_in = {
        "state": pending.state,
        "nonce": pending.nonce,
        "verifier": pending.verifier,
        "next": safe_next(next),
    }
    session.dirty = True
    try:
        url = await oidc.authorization_url(pending, _callback_url(settings))
    except SignInFailed as exc:
        raise SessionEnded(f"Sign-in is not available: {exc}.") from exc
    return RedirectResponse(url, status_code=303)


def _callback_url(settings: PortalSettings) -> str:
    return settings.public_url.rstrip("/") + "/auth/callback"


@router.get("/auth/callback", summary="Where the identity provider returns")
async def oidc_callback(
    request: Request,
    settings: Settings,
    session: SessionDep,
    oidc: Oidc,
    code: Annotated[str | None, Query()] = None,
    state: Annotated[str | None, Query()] = None,
    error: Annotated[str | None, Query()] = None,
    error_description: Annotated[str | None, Query()] = None,
) -> Response:
    if oidc is None:
        raise PageNotFound("Sign-in with an identity provider is not set up here.")
    pending = session.pending_sign_in
    if error:
        raise NotAllowed(f"Your identity provider did not sign you in: {error_description or error}.")
    if not pending or not state or not code or state != pending.get("state"):
        raise SessionEnded(
            "This sign-in link was not started from this browser, or has already been used. Sign in again."
        )
    session.pending_sign_in = None
    session.dirty = True
    try:
        tokens = await oidc.exchange(
            code,
            PendingSignIn(pending["state"], pending["nonce"], pending["verifier"]),
            _callback_url(settings),
        )
    except SignInFailed as exc:
        raise SessionEnded(f"Sign-in failed: {exc}.") from exc
    try:
        user = user_from_token(request.app.state.verifier, tokens["access_token"], settings.session_hours)
    except AuthError as exc:
        raise NotAllowed(
            f"You signed in, but the access token is not one the Estate services accept ({exc}). "
            "The administrator should check ESTATE_PORTAL_OIDC_SCOPES and ESTATE_AUTH_AUDIENCE."
        ) from exc
    id_claims = tokens.get("id_claims", {})
    if user.name is None and isinstance(id_claims.get("name"), str):
        user.name = id_claims["name"]
    if user.email is None:
        email = id_claims.get("email") or id_claims.get("preferred_username")
        user.email = email if isinstance(email, str) else None
    session.sign_in(user)
    return RedirectResponse(pending.get("next") or "/", status_code=303)


@router.post("/sign-out", summary="Sign out")
async def sign_out(request: Request, settings: Settings, session: SessionDep, oidc: Oidc) -> Response:
    was_signed_in = session.user is not None
    session.sign_out()
    session.tell("You have signed out.")
    if oidc is not None and was_signed_in:
        try:
            url = await oidc.sign_out_url(settings.public_url.rstrip("/") + "/sign-in")
        except SignInFailed:
            url = None
        if url:
            return RedirectResponse(url, status_code=303)
    return RedirectResponse("/sign-in", status_code=303)
