"""Sessions: an encrypted, signed cookie and nothing on the server (the portal owns nothing durable).

The cookie (``estate_session``) is a Fernet token (AES-128-CBC with an HMAC-SHA256) of the session's
JSON, so its holder can neither read nor change it; it is ``HttpOnly``, ``SameSite=Lax`` and, behind
HTTPS, ``Secure``. A session ends ``session_hours`` after sign-in or when its access token expires,
whichever is first; an ended session is reported as such (the page says so) rather than as a stranger.

Every session, signed in or not, carries a random CSRF token that every form posts back
(:mod:`estate_portal.csrf`), and, during an OIDC sign-in, the state, nonce and PKCE verifier.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

COOKIE = "estate_session"


@dataclass
class User:
    """Who is signed in, and the access token their pages call the APIs with."""

    subject: str
    email: str | None
    name: str | None
    roles: frozenset[str]
    token: str
    expires_at: float

    def has_any(self, *roles: str) -> bool:
        return bool(self.roles & set(roles))

    @property
    def display_name(self) -> str:
        return self.name or self.email or self.subject


@dataclass
class Session:
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    user: User | None = None
    signed_in_at: float | None = None
    pending_sign_in: dict[str, str] | None = None
    """OIDC state, nonce, PKCE verifier and the page to return to, between the redirect and the callback."""
    flash: list[str] = field(default_factory=list)
    ended: bool = False
    """The request came with a session that has ended (expired token or cookie): pages say so."""
    dirty: bool = False

    def sign_in(self, user: User) -> None:
        """A fresh CSRF token at sign-in, so a token seen before sign-in is worthless after it."""
        self.user = user
        self.signed_in_at = time.time()
        self.csrf = secrets.token_urlsafe(32)
        self.pending_sign_in = None
        self.ended = False
        self.dirty = True

    def sign_out(self) -> None:
        self.user = None
        self.signed_in_at = None
        self.csrf = secrets.token_urlsafe(32)
        self.pending_sign_in = None
        self.dirty = True

    def tell(self, message: str) -> None:
        """A confirmation shown once, on the next page (a GOV.UK success banner)."""
        self.flash.append(message)
        self.dirty = True

    def take_flash(self) -> list[str]:
        messages, self.flash = self.flash, []
        if messages:
            self.dirty = True
        return messages

    def to_json(self) -> bytes:
        user = None
        if self.user is not None:
            user = {
                "sub": self.user.subject,
                "email": self.user.email,
                "name": self.user.name,
                "roles": sorted(self.user.roles),
                "token": self.user.token,
                "exp": self.user.expires_at,
            }
        body = {
            "csrf": self.csrf,
            "user": user,
            "at": self.signed_in_at,
            "pending": self.pending_sign_in,
            "flash": self.flash,
        }
        return json.dumps(body, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Session:
        body: dict[str, Any] = json.loads(raw)
        user = body.get("user")
        return cls(
            csrf=str(body["csrf"]),
            user=None
            if user is None
            else User(
                subject=user["sub"],
                email=user.get("email"),
                name=user.get("name"),
                roles=frozenset(user.get("roles", [])),
                token=user["token"],
                expires_at=float(user["exp"]),
            ),
            signed_in_at=body.get("at"),
            pending_sign_in=body.get("pending"),
            flash=list(body.get("flash", [])),
        )


def _fernet(secret: str) -> Fernet:
    return Fernet(
        base64.urlsafe_b64encode(hashlib.sha256(b"estate-portal-session:" + secret.encode()).digest())
    )


class SessionMiddleware:
    """Loads ``scope["session"]`` (a :class:`Session`) from the cookie and writes it back when changed."""

    def __init__(self, app: ASGIApp, *, secret: str, max_age_seconds: int, secure: bool) -> None:
        self.app = app
        self.fernet = _fernet(secret)
        self.max_age = max_age_seconds
        self.secure = secure

    def load(self, raw: str | None, now: float) -> Session:
        if not raw:
            return Session(dirty=True)
        try:
            session = Session.from_json(self.fernet.decrypt(raw.encode(), ttl=self.max_age))
        except InvalidToken:
            # Tampered with, from another key, or past its lifetime: either way it ended.
            return Session(ended=True, dirty=True)
        except (ValueError, KeyError, TypeError):
            return Session(ended=True, dirty=True)
        if session.user is not None and session.user.expires_at <= now:
            session.user = None
            session.ended = True
            session.dirty = True
        return session

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(("/assets/", "/static/", "/health/")):
            await self.app(scope, receive, send)
            return
        connection = HTTPConnection(scope)
        session = self.load(connection.cookies.get(COOKIE), time.time())
        scope["session"] = session

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start" and session.dirty:
                token = self.fernet.encrypt(session.to_json()).decode()
                attributes = [f"{COOKIE}={token}", "Path=/", "HttpOnly", "SameSite=Lax"]
                if self.secure:
                    attributes.append("Secure")
                MutableHeaders(scope=message).append("Set-Cookie", "; ".join(attributes))
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def session_of(connection: HTTPConnection) -> Session:
    session = connection.scope.get("session")
    if not isinstance(session, Session):
        raise RuntimeError("SessionMiddleware is not installed")
    return session
