"""Bearer-token authentication, shared by every service's API.

Tokens are JWTs checked for signature, issuer, audience, expiry and algorithm (pinned: the token's own
``alg`` header is never trusted to choose one). Keys come from the issuer's JWKS URL, or, for local
development, from a key pair the ``token`` command creates. Roles come from one claim (``roles`` by
default, as Entra ID app roles arrive); each service decides what each role may do.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from estate_runtime.secrets import write_once

KEY_ID = "estate-dev"

ROLES = (
    "requester",
    "tda_member",
    "tda_chair",
    "owner",
    "contract_manager",
    "admin",
    "auditor",
)
"""Every role Estate knows, as they arrive in the roles claim; a role not listed here is ignored."""


class AuthSettings(BaseSettings):
    """Bearer-token checks. Either a JWKS URL (an OIDC issuer such as Entra ID) or the local development
    key, never neither: a service with no way to check tokens refuses to start."""

    model_config = SettingsConfigDict(env_prefix="ESTATE_AUTH_", extra="ignore")

    issuer: str = "https://estate.local/dev-issuer"
    audience: str = "estate"
    jwks_url: str | None = None
    dev_key_path: Path | None = Field(default=None, description="PEM private key of the local issuer")
    algorithms: tuple[str, ...] = ("RS256",)
    roles_claim: str = "roles"
    leeway_seconds: int = Field(default=30, ge=0, le=300)

    @model_validator(mode="after")
    def _one_key_source(self) -> Self:
        if not self.jwks_url and self.dev_key_path is None:
            raise ValueError("set ESTATE_AUTH_JWKS_URL (an OIDC issuer) or ESTATE_AUTH_DEV_KEY_PATH")
        if any(a.lower() == "none" or a.upper().startswith("HS") for a in self.algorithms):
            raise ValueError("only asymmetric algorithms are accepted (RS256, ES256, ...)")
        return self


@dataclass(frozen=True)
class Principal:
    """Who is calling: the subject, their email (to match owner records) and their roles."""

    subject: str
    email: str | None
    name: str | None
    roles: frozenset[str]

    @property
    def actor(self) -> str:
        """How the audit trail names this caller."""
        return self.email or self.subject

    def has_any(self, roles: Iterable[str]) -> bool:
        return bool(self.roles & set(roles))


class AuthError(Exception):
    """The token is missing or cannot be trusted (401)."""


class ForbiddenError(Exception):
    """The token is good but its roles do not allow this (403)."""


def ensure_dev_key(path: Path) -> rsa.RSAPrivateKey:
    """Load the local issuer's private key, creating it (mode 600) on first use."""
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise AuthError(f"{path} is not an RSA private key")
        return key
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    # Several processes may start together with no key yet: all of them keep the one written first.
    write_once(path, pem)
    return ensure_dev_key(path)


def mint_token(
    settings: AuthSettings,
    *,
    subject: str,
    roles: Iterable[str],
    email: str | None = None,
    name: str | None = None,
    ttl_seconds: int = 8 * 3600,
    now: float | None = None,
) -> str:
    """A token from the local development issuer."""
    if settings.dev_key_path is None:
        raise AuthError("no local issuer: set ESTATE_AUTH_DEV_KEY_PATH to mint development tokens")
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown role(s): {', '.join(sorted(unknown))}; known: {', '.join(ROLES)}")
    key = ensure_dev_key(settings.dev_key_path)
    issued = int(now if now is not None else time.time())
    claims: dict[str, Any] = {
        "iss": settings.issuer,
        "aud": settings.audience,
        "sub": subject,
        "iat": issued,
        "nbf": issued,
        "exp": issued + ttl_seconds,
        "jti": str(uuid.uuid4()),
        settings.roles_claim: sorted(set(roles)),
    }
    if email:
        claims["email"] = email
    if name:
        claims["name"] = name
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": KEY_ID})


class TokenVerifier:
    def __init__(self, settings: AuthSettings) -> None:
        self.settings = settings
        self._jwks = jwt.PyJWKClient(settings.jwks_url, cache_keys=True) if settings.jwks_url else None
        self._dev_public: Any = None
        self._checked: dict[str, tuple[Principal, float]] = {}
        if settings.dev_key_path is not None:
            self._dev_public = ensure_dev_key(settings.dev_key_path).public_key()

    def _key_for(self, token: str) -> Any:
        if self._jwks is not None:
            try:
                return self._jwks.get_signing_key_from_jwt(token).key
            except jwt.PyJWKClientError as exc:
                if self._dev_public is None:
                    raise AuthError(f"no signing key for this token: {exc}") from exc
        return self._dev_public

    CACHE_SIZE = 4096

    def verify(self, token: str) -> Principal:
        """The principal of a trusted token. A token already checked is trusted again until it expires
        (a signature check costs more than the rest of a list request)."""
        cached = self._checked.get(token)
        if cached is not None and cached[1] > time.time():
            return cached[0]
        principal, expires = self._verify(token)
        if len(self._checked) >= self.CACHE_SIZE:
            self._checked.clear()
        self._checked[token] = (principal, expires)
        return principal

    def _verify(self, token: str) -> tuple[Principal, float]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.DecodeError as exc:
            raise AuthError("the bearer token is not a JWT") from exc
        if header.get("alg") not in self.settings.algorithms:
            raise AuthError(
                f"token algorithm {header.get('alg')!r} is not accepted (expected {', '.join(self.settings.algorithms)})"
            )
        try:
            claims = jwt.decode(
                token,
                self._key_for(token),
                algorithms=list(self.settings.algorithms),
                audience=self.settings.audience,
                issuer=self.settings.issuer,
                leeway=self.settings.leeway_seconds,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise AuthError("the token has expired; sign in again") from exc
        except jwt.InvalidAudienceError as exc:
            raise AuthError(
                f"the token is not for this service (audience must be {self.settings.audience})"
            ) from exc
        except jwt.InvalidIssuerError as exc:
            raise AuthError("the token comes from an issuer this service does not trust") from exc
        except jwt.InvalidTokenError as exc:
            raise AuthError(f"the token is not valid: {exc}") from exc
        raw_roles = claims.get(self.settings.roles_claim, [])
        if isinstance(raw_roles, str):
            raw_roles = raw_roles.split()
        roles = frozenset(str(r) for r in raw_roles if r in ROLES)
        principal = Principal(
            subject=str(claims["sub"]),
            email=claims.get("email") or claims.get("preferred_username"),
            name=claims.get("name"),
            roles=roles,
        )
        return principal, float(claims["exp"]) + self.settings.leeway_seconds
