"""E-mail delivery over SMTP (aiosmtplib).

Rules:

* The Message-ID is a function of the delivery id only (:func:`message_id_for`), so a send retried after
  a crash carries the same Message-ID and mail systems that de-duplicate can drop the second copy. The
  same id is returned as the provider message id and repeated in ``X-Estate-Delivery-Id``.
* One connection per message, one recipient per message: the envelope recipient is exactly
  ``to_email``, so a refusal is always about that one recipient.
* ``security`` is honoured strictly: ``"starttls"`` fails (transiently) when the server does not offer
  STARTTLS rather than falling back to plain text, and ``"none"`` never upgrades.
* ``timeout_seconds`` bounds each network step (connecting, the greeting, and every reply), so a silent
  or stalled server fails the attempt instead of holding the sender.
* Failures are classified as described in :mod:`.message`: a 5xx refusal of the recipient or of the
  message is permanent; timeouts, connection trouble, 4xx replies, and problems with our login, sender
  address, or the server's capabilities are transient (configuration can be fixed and the alert retried).
"""

from __future__ import annotations

import logging
import socket
import ssl
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.errors import MessageError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Literal
from uuid import UUID

import aiosmtplib

from estate_notifications.adapters.channels.message import DeliveryFailed, OutgoingMessage

logger = logging.getLogger(__name__)

MESSAGE_ID_DOMAIN = "estate.notifications"
DELIVERY_ID_HEADER = "X-Estate-Delivery-Id"

Security = Literal["none", "starttls", "tls"]
_SECURITY_VALUES: frozenset[str] = frozenset({"none", "starttls", "tls"})


def message_id_for(delivery_id: UUID) -> str:
    """The Message-ID (with angle brackets) that every send of ``delivery_id`` carries."""
    return f"<{delivery_id}@{MESSAGE_ID_DOMAIN}>"


@dataclass(frozen=True, kw_only=True)
class SmtpSettings:
    """Where and how to submit mail. Validated on construction (``ValueError`` otherwise).

    ``security``: ``"tls"`` is implicit TLS (usually port 465), ``"starttls"`` upgrades a plain
    connection (usually 587) and requires the server to offer it, ``"none"`` sends in clear (a local relay
    or the development sink). ``username`` and ``password`` are given together or not at all; the password
    never appears in ``repr``.
    """

    host: str
    port: int
    from_address: str
    from_name: str = "Estate renewals"
    security: Security = "starttls"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout_seconds: float = 30.0
    validate_certs: bool = True

    def __post_init__(self) -> None:
        if not self.host:
            raise ValueError("SMTP host must not be empty")
        if not 0 < self.port < 65536:
            raise ValueError(f"SMTP port must be between 1 and 65535, not {self.port}")
        if self.security not in _SECURITY_VALUES:
            raise ValueError(f"SMTP security must be one of none, starttls, tls; not {self.security!r}")
        if (self.username is None) != (self.password is None):
            raise ValueError("SMTP username and password must be given together")
        if not self.timeout_seconds > 0:
            raise ValueError("SMTP timeout_seconds must be positive")
        try:
            Address(display_name=self.from_name, addr_spec=self.from_address)
        except (ValueError, MessageError) as exc:
            raise ValueError(f"SMTP from address {self.from_address!r} is not valid: {exc}") from exc

    @property
    def endpoint(self) -> str:
        return f"{self.host}:{self.port}"


def build_email(
    message: OutgoingMessage, settings: SmtpSettings, *, now: datetime | None = None
) -> EmailMessage:
    """The RFC 5322 message for ``message``: multipart/alternative (text, then HTML) when ``html`` is given.

    Raises ``ValueError`` or ``email.errors.MessageError`` when the recipient or a header cannot be
    encoded; :class:`SmtpChannel` turns that into a permanent failure.
    """
    email = EmailMessage()
    email["From"] = Address(display_name=settings.from_name, addr_spec=settings.from_address)
    email["To"] = Address(display_name=message.to_name or "", addr_spec=message.to_email)
    email["Subject"] = message.subject
    email["Date"] = format_datetime(now or datetime.now(UTC))
    email["Message-ID"] = message_id_for(message.delivery_id)
    email[DELIVERY_ID_HEADER] = str(message.delivery_id)
    # RFC 3834: tells auto-responders (out-of-office and the like) not to reply to an automated alert.
    email["Auto-Submitted"] = "auto-generated"
    for name, value in message.headers.items():
        email[name] = value
    email.set_content(message.text)
    if message.html is not None:
        email.add_alternative(message.html, subtype="html")
    return email


class SmtpChannel:
    """Delivers :class:`OutgoingMessage` by SMTP; implements the ``Channel`` protocol as ``"email"``."""

    name: str = "email"

    def __init__(self, settings: SmtpSettings) -> None:
        self._settings = settings

    @property
    def settings(self) -> SmtpSettings:
        return self._settings

    async def send(self, message: OutgoingMessage) -> str:
        """Submit ``message``; return its Message-ID. Raises only :class:`DeliveryFailed` for failures."""
        settings = self._settings
        try:
            email = build_email(message, settings)
        except (ValueError, MessageError) as exc:
            raise DeliveryFailed(
                f"The message for {message.to_email!r} cannot be encoded as e-mail: {exc}", permanent=True
            ) from exc
        try:
            await aiosmtplib.send(
                email,
                sender=settings.from_address,
                recipients=[message.to_email],
                hostname=settings.host,
                port=settings.port,
                username=settings.username,
                password=settings.password,
                use_tls=settings.security == "tls",
                # False rather than None for "none": None would let aiosmtplib upgrade opportunistically.
                start_tls=settings.security == "starttls",
                validate_certs=settings.validate_certs,
                timeout=settings.timeout_seconds,
            )
        except (aiosmtplib.SMTPException, OSError) as exc:
            # This clause must stay before the ValueError one: a TLS certificate failure
            # (ssl.SSLCertVerificationError) is both an OSError and a ValueError, and is transient.
            failure = classify_smtp_error(exc, settings)
            logger.info(
                "SMTP delivery %s failed (%s): %s",
                message.delivery_id,
                "permanent" if failure.permanent else "transient",
                failure.reason,
            )
            raise failure from exc
        except ValueError as exc:
            # aiosmtplib refuses addresses that cannot go on an SMTP command line safely; retrying the
            # same address cannot help.
            raise DeliveryFailed(
                f"The recipient address {message.to_email!r} cannot be sent by SMTP: {exc}", permanent=True
            ) from exc
        return message_id_for(message.delivery_id)


def _permanent(code: int) -> bool:
    return 500 <= code <= 599


def _reply(code: int, text: str) -> str:
    return f"{code} {text}".strip()


def classify_smtp_error(exc: BaseException, settings: SmtpSettings) -> DeliveryFailed:
    """The :class:`DeliveryFailed` an operator should see for an aiosmtplib or socket error.

    Order matters: aiosmtplib's timeout errors are also connection errors, and its "bad greeting" error is
    also a response error, so the most specific meaning is tested first.
    """
    where = settings.endpoint
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        # One recipient per message, so the first refusal is the only one.
        refusal = exc.recipients[0]
        return DeliveryFailed(
            f"SMTP server {where} refused the recipient {refusal.recipient}: "
            f"{_reply(refusal.code, refusal.message)}",
            permanent=_permanent(refusal.code),
        )
    if isinstance(exc, aiosmtplib.SMTPRecipientRefused):
        return DeliveryFailed(
            f"SMTP server {where} refused the recipient {exc.recipient}: {_reply(exc.code, exc.message)}",
            permanent=_permanent(exc.code),
        )
    if isinstance(exc, TimeoutError):  # includes SMTPTimeoutError and its connect/read variants
        return DeliveryFailed(
            f"SMTP server {where} did not answer within {settings.timeout_seconds:g} s ({exc})",
            permanent=False,
        )
    if isinstance(exc, aiosmtplib.SMTPDataError):
        return DeliveryFailed(
            f"SMTP server {where} refused the message: {_reply(exc.code, exc.message)}",
            permanent=_permanent(exc.code),
        )
    if isinstance(exc, aiosmtplib.SMTPSenderRefused):
        # A refused sender is about our from address (configuration), not about this message.
        return DeliveryFailed(
            f"SMTP server {where} refused the sender address {exc.sender}: {_reply(exc.code, exc.message)}",
            permanent=False,
        )
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return DeliveryFailed(
            f"SMTP server {where} refused the login for user {settings.username!r}: "
            f"{_reply(exc.code, exc.message)}",
            permanent=False,
        )
    if isinstance(exc, aiosmtplib.SMTPConnectResponseError | aiosmtplib.SMTPHeloError):
        return DeliveryFailed(
            f"SMTP server {where} is not accepting mail: {_reply(exc.code, exc.message)}", permanent=False
        )
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return DeliveryFailed(
            f"SMTP server {where} answered {_reply(exc.code, exc.message)}", permanent=_permanent(exc.code)
        )
    if isinstance(exc, ssl.SSLError):
        return DeliveryFailed(f"TLS with SMTP server {where} failed: {exc}", permanent=False)
    if isinstance(exc, aiosmtplib.SMTPServerDisconnected):
        return DeliveryFailed(f"SMTP server {where} closed the connection: {exc}", permanent=False)
    if isinstance(exc, aiosmtplib.SMTPConnectError | OSError):
        return DeliveryFailed(
            f"Could not connect to SMTP server {where}: {_connect_problem(exc)}", permanent=False
        )
    if isinstance(exc, aiosmtplib.SMTPNotSupported):
        return DeliveryFailed(f"SMTP server {where} cannot do what is configured: {exc}", permanent=False)
    return DeliveryFailed(f"SMTP delivery via {where} failed: {exc}", permanent=False)


def _connect_problem(exc: BaseException) -> str:
    # aiosmtplib wraps the socket error in a message that repeats host and port; name the cause instead.
    cause = exc.__cause__ if isinstance(exc.__cause__, OSError) else exc
    if isinstance(cause, ConnectionRefusedError):
        return "connection refused"
    if isinstance(cause, socket.gaierror):
        return f"host name not found ({cause.strerror})"
    return str(cause) or type(cause).__name__
