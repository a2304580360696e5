"""Bearer-token authentication and role checks.

Tokens are JWTs checked for signature, issuer, audience, expiry and algorithm (pinned: the token's own
``alg`` header is never trusted to choose one). Keys come from the issuer's JWKS URL, or, for local
development, from a key pair the ``token`` command creates. Roles come from one claim (``roles`` by
default, as Entra ID app roles arrive).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from estate_register.domain.values import Role
from estate_register.settings import AuthSettings

KEY_ID = "estate-dev"


@dataclass(frozen=True)
class Principal:
    """Who is calling: the subject, their email (to match owner records) and their roles."""

    subject: str
    email: str | None
    name: str | None
    roles: frozenset[Role]

    @property
    def actor(self) -> str:
        """How the audit trail names this caller."""
        return self.email or self.subject

    def has_any(self, roles: Iterable[Role]) -> bool:
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
    path.parent.mkdir(parents=True, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path.touch(mode=0o600)
    path.write_bytes(pem)
    return key


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
    unknown = set(roles) - {r.value for r in Role}
    if unknown:
        raise ValueError(f"unknown role(s): {', '.join(sorted(unknown))}; known: {', '.join(Role)}")
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
        roles = frozenset(Role(r) for r in raw_roles if r in Role.__members__.values())
        principal = Principal(
            subject=str(claims["sub"]),
            email=claims.get("email") or claims.get("preferred_username"),
            name=claims.get("name"),
            roles=roles,
        )
        return principal, float(claims["exp"]) + self.settings.leeway_seconds


# Who may do what. Reading is open to every role except where noted; writing needs one of these.
READ_ANY = frozenset(Role)
READ_CONTRACTS = frozenset(Role) - {Role.REQUESTER}
WRITE_SYSTEMS = frozenset({Role.ADMIN, Role.TDA_MEMBER, Role.TDA_CHAIR, Role.OWNER})
CREATE_SYSTEMS = frozenset({Role.ADMIN, Role.TDA_MEMBER, Role.TDA_CHAIR})
WRITE_CONTRACTS = frozenset({Role.ADMIN, Role.CONTRACT_MANAGER, Role.OWNER})
CREATE_CONTRACTS = frozenset({Role.ADMIN, Role.CONTRACT_MANAGER})
DECIDE_RENEWALS = frozenset({Role.ADMIN, Role.CONTRACT_MANAGER, Role.OWNER})
WRITE_SUPPLIERS = frozenset({Role.ADMIN, Role.CONTRACT_MANAGER, Role.TDA_MEMBER, Role.TDA_CHAIR})
WRITE_PEOPLE = frozenset({Role.ADMIN})
WRITE_REFERENCE = frozenset({Role.ADMIN})
IMPORT_SURVEY = frozenset({Role.ADMIN})
EXPORT = frozenset(Role) - {Role.REQUESTER}
READ_AUDIT = frozenset({Role.ADMIN, Role.AUDITOR, Role.TDA_CHAIR, Role.TDA_MEMBER})
# Roles that may change any record of a kind; an "owner" may change only the records they own.
UNRESTRICTED = frozenset({Role.ADMIN, Role.TDA_MEMBER, Role.TDA_CHAIR, Role.CONTRACT_MANAGER})
