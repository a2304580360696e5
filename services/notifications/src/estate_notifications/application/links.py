"""Signed, expiring action links, and the tokens of calendar feeds.

Each renewal alert carries a link with which its recipient acknowledges the alert or records a renewal
decision without signing in. The link holds a token that names the alert, the contract, the recipient
and the moment the link stops working, signed with HMAC-SHA256 under the service's link secret:

    token = base64url(payload) + "." + base64url(HMAC-SHA256(secret, base64url(payload)))

- ``payload`` is compact JSON with sorted keys (``a`` alert id, ``c`` contract id, ``e`` recipient
  e-mail, ``r`` recipient role, ``x`` expiry in whole Unix seconds, ``p`` purpose, ``k`` key id);
  base64url is unpadded, so a token holds only ``A-Z a-z 0-9 - _ .`` and needs no escaping in a URL.
- The signature covers the encoded payload exactly as sent, so changing any character of the token
  (payload or signature) invalidates it; the signature is compared in constant time, as text, so two
  spellings of the same signature bytes are not both accepted.
- The purpose is signed with the rest, so a token made for one kind of link can never be accepted as
  another kind when more are added.
- The key id names the secret that signed the token. A signer verifies with its current secret and
  with any previous secret it is given, so the secret can be rotated without breaking links already
  sent; it always signs with the current one.
- A link is valid up to, and not including, its expiry. Nothing in a token is believed before its
  signature is verified: a forged token is reported invalid, never expired.

Calendar-feed tokens are random (``new_feed_token``) and stored only as their SHA-256 (``hash_token``),
so a copy of the database does not give anyone the feeds.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal, get_args

from estate_notifications.domain.dates import LONDON, long_date

Purpose = Literal["act"]
PURPOSES: Final[frozenset[str]] = frozenset(get_args(Purpose))

MIN_SECRET_LENGTH: Final = 32
# Far above any real token (a 254-character e-mail gives about 600 characters), low enough that a
# hostile caller cannot make us decode and parse large inputs.
MAX_TOKEN_LENGTH: Final = 1024


INVALID_DETAIL: Final = (
    "This link is not valid: it may have been altered or copied incompletely. "
    "Use the link in your most recent alert e-mail, or sign in to Estate."
)

_B64URL: Final = re.compile(r"[A-Za-z0-9_-]+")


class InvalidLink(Exception):
    """The token cannot be trusted. ``detail`` is for the person who followed the link; ``reason`` is
    for the log and never shown (it would help someone forging tokens)."""

    def __init__(self, detail: str = INVALID_DETAIL, *, reason: str = "invalid") -> None:
        super().__init__(detail)
        self.detail = detail
        self.reason = reason


class ExpiredLink(InvalidLink):
    """The token is genuine but its time is up. Raised only after the signature has been verified."""

    def __init__(self, expired_at: datetime) -> None:
        local = expired_at.astimezone(LONDON)
        super().__init__(
            f"This link expired on {long_date(local.date())} at {local:%H:%M}. "
            "Sign in to Estate to acknowledge the alert or record the decision.",
            reason="expired",
        )
        self.expired_at = expired_at


@dataclass(frozen=True)
class LinkClaims:
    """What a link lets its bearer do: act on one alert of one contract, as one recipient, until
    ``expires_at`` (aware; kept to the whole second in the token)."""

    alert_id: uuid.UUID
    contract_id: uuid.UUID
    recipient_email: str
    recipient_role: str
    expires_at: datetime
    purpose: Purpose = "act"

    def __post_init__(self) -> None:
        if not _is_aware(self.expires_at):
            raise ValueError("expires_at must be timezone-aware")
        if self.purpose not in PURPOSES:
            raise ValueError(f"unknown link purpose {self.purpose!r}")


class LinkSigner:
    """Signs links with the current secret; verifies those signed with it or with a previous one.

    ``previous`` maps the key id of each earlier secret to the secret. Key ids are short labels
    (``"1"``, ``"2"``, ...) carried in every token, so keep them short and never reuse one for a
    different secret.
    """

    def __init__(
        self, secret: bytes, *, key_id: str = "1", previous: Mapping[str, bytes] | None = None
    ) -> None:
        if not secret:
            raise ValueError("the link secret must not be empty")
        if not key_id:
            raise ValueError("the key id must not be empty")
        keys = dict(previous or {})
        if any(not old for old in keys.values()):
            raise ValueError("a previous link secret must not be empty")
        if key_id in keys and keys[key_id] != secret:
            raise ValueError(f"key id {key_id!r} names both the current and a previous secret")
        keys[key_id] = secret
        self._key_id = key_id
        self._keys: dict[str, bytes] = keys

    def sign(self, claims: LinkClaims) -> str:
        """The token for ``claims``, signed with the current secret."""
        payload = {
            "a": claims.alert_id.hex,
            "c": claims.contract_id.hex,
            "e": claims.recipient_email,
            "k": self._key_id,
            "p": claims.purpose,
            "r": claims.recipient_role,
            # Whole seconds: shorter than an ISO date, and sub-second precision means nothing here.
            "x": int(claims.expires_at.timestamp()),
        }
        text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        body = _b64encode(text.encode("utf-8"))
        return f"{body}.{self._signature(self._keys[self._key_id], body)}"

    def verify(self, token: str, *, now: datetime) -> LinkClaims:
        """The claims of a genuine, unexpired token.

        Raises ``ExpiredLink`` for a genuine token at or after its expiry and ``InvalidLink`` for
        anything else that is not a genuine token of a known purpose, whatever its shape.
        """
        if not _is_aware(now):
            raise ValueError("now must be timezone-aware")
        if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH:
            raise InvalidLink(reason="not a string of plausible length")
        parts = token.split(".")
        if len(parts) != 2 or not all(_B64URL.fullmatch(part) for part in parts):
            raise InvalidLink(reason="not two base64url parts")
        body, signature = parts
        # The key id must be read before the signature can be checked; nothing else is used until then.
        payload = _decode_payload(body)
        key_id = payload.get("k")
        if not isinstance(key_id, str) or key_id not in self._keys:
            raise InvalidLink(reason="unknown key id")
        expected = self._signature(self._keys[key_id], body)
        if not hmac.compare_digest(expected.encode("ascii"), signature.encode("ascii")):
            raise InvalidLink(reason="bad signature")
        claims = _claims_from(payload)
        if now >= claims.expires_at:
            raise ExpiredLink(claims.expires_at)
        return claims

    @staticmethod
    def _signature(secret: bytes, body: str) -> str:
        return _b64encode(hmac.new(secret, body.encode("ascii"), hashlib.sha256).digest())


def link_secret_from(value: str) -> bytes:
    """The link secret from a settings value: at least 32 characters once surrounding whitespace (such
    as the newline of a secrets file) is removed."""
    secret = value.strip()
    if len(secret) < MIN_SECRET_LENGTH:
        raise ValueError(
            f"The link secret must be at least {MIN_SECRET_LENGTH} characters long; this one has "
            f"{len(secret)}. Generate one with: "
            'python -c "import secrets; print(secrets.token_urlsafe(48))"'
        )
    return secret.encode("utf-8")


def hash_token(token: str) -> str:
    """The SHA-256 of a feed token, as 64 lower-case hex digits: the only form in which it is stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_feed_token() -> str:
    """A new calendar-feed token: 32 random bytes, URL-safe (43 characters)."""
    return secrets.token_urlsafe(32)


def _is_aware(moment: datetime) -> bool:
    return moment.tzinfo is not None and moment.utcoffset() is not None


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _decode_payload(body: str) -> dict[str, Any]:
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        payload = json.loads(raw)
    except (binascii.Error, ValueError, RecursionError) as error:
        raise InvalidLink(reason=f"payload is not base64url JSON ({type(error).__name__})") from None
    if not isinstance(payload, dict):
        raise InvalidLink(reason="payload is not a JSON object")
    return payload


def _claims_from(payload: Mapping[str, Any]) -> LinkClaims:
    # Reached only for a correctly signed payload, so a failure here means a token from an
    # incompatible version of this format: it is still just an invalid link to the person holding it.
    alert_id, contract_id, email, role, purpose = (payload.get(key) for key in ("a", "c", "e", "r", "p"))
    expiry = payload.get("x")
    if not (isinstance(alert_id, str) and isinstance(contract_id, str)):
        raise InvalidLink(reason="ids missing")
    if not (isinstance(email, str) and email and isinstance(role, str) and role):
        raise InvalidLink(reason="recipient missing")
    if purpose not in PURPOSES:
        raise InvalidLink(reason=f"unknown purpose {purpose!r}")
    # bool is an int to Python but never a timestamp.
    if not isinstance(expiry, int) or isinstance(expiry, bool):
        raise InvalidLink(reason="expiry missing")
    try:
        return LinkClaims(
            alert_id=uuid.UUID(hex=alert_id),
            contract_id=uuid.UUID(hex=contract_id),
            recipient_email=email,
            recipient_role=role,
            expires_at=datetime.fromtimestamp(expiry, tz=UTC),
            purpose=purpose,
        )
    except (ValueError, OverflowError, OSError):
        raise InvalidLink(reason="malformed id or expiry") from None
