"""What a delivery channel is given, what it promises, and how it fails.

Rules every channel keeps:

* ``send`` either returns the provider's message id or raises :class:`DeliveryFailed`. Network and
  protocol trouble of any kind (refused connections, timeouts, TLS failures, odd server replies) is
  wrapped, so the caller can always record the attempt and decide whether to retry. Only programming
  errors and cancellation escape.
* ``DeliveryFailed.permanent`` is True only when retrying the same message cannot succeed: the far end
  refused this recipient or this message (an SMTP 5xx to RCPT or DATA, an HTTP 4xx other than 408/429),
  or the message cannot be encoded at all. Trouble with the connection, the server, or our own
  account/configuration is transient: once an operator fixes it, the retry delivers the alert instead of
  it having been written off.
* A message carries its ``delivery_id``; channels derive any provider-side identity from it, so a retry
  after a crash is recognisable as the same message.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Protocol, runtime_checkable

# Headers that the channel writes itself from the message's own fields. Letting ``headers`` set them
# would allow two different Message-IDs or recipients for one delivery, so they are refused.
RESERVED_HEADERS = frozenset(
    {
        "from",
        "sender",
        "to",
        "cc",
        "bcc",
        "subject",
        "date",
        "message-id",
        "mime-version",
        "content-type",
        "content-transfer-encoding",
        "auto-submitted",
        "x-estate-delivery-id",
    }
)
# RFC 5322 field names: printable US-ASCII except the colon.
_FIELD_NAME = re.compile(r"[!-9;-~]+")


@dataclass(frozen=True)
class OutgoingMessage:
    """One e-mail to one recipient, as the application wants it delivered.

    Invariants (checked on construction, a ``ValueError`` otherwise): ``headers`` names are valid field
    names and none is one of :data:`RESERVED_HEADERS`; no header value contains a line break. The
    ``headers`` mapping is copied into a read-only view, so the message cannot change after creation.
    The recipient address itself is checked by the channel at send time, because it comes from user data
    and a bad one must be recorded as a failed delivery, not crash the sender.
    """

    delivery_id: uuid.UUID
    to_email: str
    to_name: str | None
    subject: str
    text: str
    html: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, value in self.headers.items():
            if not _FIELD_NAME.fullmatch(name):
                raise ValueError(f"{name!r} is not a valid e-mail header name")
            if name.lower() in RESERVED_HEADERS:
                raise ValueError(f"header {name!r} is set by the channel and cannot be overridden")
            if "\r" in value or "\n" in value:
                raise ValueError(f"header {name!r} contains a line break")
        object.__setattr__(self, "headers", MappingProxyType(dict(self.headers)))


class DeliveryFailed(Exception):
    """A delivery attempt failed; ``reason`` says why in words an operator can act on.

    ``permanent`` is True when a retry of the same message cannot succeed (see the module rules).
    ``retry_after_seconds`` is set when the far end said how long to wait (HTTP ``Retry-After``).
    """

    def __init__(self, reason: str, *, permanent: bool, retry_after_seconds: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.retry_after_seconds = retry_after_seconds

    def __repr__(self) -> str:
        return f"DeliveryFailed({self.reason!r}, permanent={self.permanent})"


@runtime_checkable
class Channel(Protocol):
    """A way of delivering an :class:`OutgoingMessage`.

    ``send`` returns the provider's message id (stable across retries of one delivery where the
    provider allows it) and raises only :class:`DeliveryFailed` for delivery problems.
    """

    name: str

    async def send(self, message: OutgoingMessage) -> str: ...
