"""Real servers for the delivery-channel tests, all on 127.0.0.1 and a port the OS picks.

* :func:`smtp_server`: an aiosmtpd SMTP server with a scriptable handler (RCPT/DATA replies, AUTH check,
  optional STARTTLS or implicit TLS) that records what it received.
* :func:`silent_server`: accepts TCP connections and never says anything.
* :func:`refusing_port`: a port with a socket bound but not listening, so connecting is refused.
* :func:`http_server`: a minimal HTTP/1.1 server that records each request and answers as scripted.
* :func:`self_signed_tls`: a certificate for 127.0.0.1, for the TLS tests.

The servers run on the test's event loop; the clients talk to them over real TCP.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import socket
import ssl
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

HOST = "127.0.0.1"


@dataclass
class ReceivedMail:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    tls: bool
    login: str | None

    @property
    def message(self) -> EmailMessage:
        """The message as a mail client shows it (SMTP's CRLF line ends read as plain newlines)."""
        parsed = message_from_bytes(self.raw.replace(b"\r\n", b"\n"), policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class SmtpScript:
    """What the test SMTP server answers, and what it saw."""

    rcpt_reply: str | None = None  # None: accept
    data_reply: str | None = None  # None: accept
    credentials: tuple[str, str] | None = None  # required login, if any
    received: list[ReceivedMail] = field(default_factory=list)
    # (mechanism, login, password). Not named auth_*: aiosmtpd takes handler attributes named auth_* for
    # extra AUTH mechanisms.
    logins: list[tuple[str, str, str]] = field(default_factory=list)
    connections: int = 0

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.rcpt_reply is not None:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.data_reply is not None:
            return self.data_reply
        login = session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None
        self.received.append(
            ReceivedMail(
                mail_from=envelope.mail_from or "",
                rcpt_tos=list(envelope.rcpt_tos),
                raw=envelope.original_content or b"",
                tls=session.ssl is not None,
                login=login,
            )
        )
        return "250 2.0.0 OK: queued"

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        login, password = auth_data.login.decode(), auth_data.password.decode()
        self.logins.append((mechanism, login, password))
        if (login, password) == self.credentials:
            return AuthResult(success=True, auth_data=auth_data)
        # handled=False: let aiosmtpd send the 535 reply (handled=True would leave the client waiting).
        return AuthResult(success=False, handled=False)


@asynccontextmanager
async def smtp_server(
    script: SmtpScript,
    *,
    starttls_context: ssl.SSLContext | None = None,
    implicit_tls_context: ssl.SSLContext | None = None,
    auth_require_tls: bool = True,
) -> AsyncIterator[int]:
    """Run an aiosmtpd server answering as ``script`` says; yields its port."""
    loop = asyncio.get_running_loop()
    sessions: list[SMTP] = []

    def factory() -> SMTP:
        script.connections += 1
        smtp = SMTP(
            script,
            loop=loop,
            hostname="test-smtp",
            tls_context=starttls_context,
            authenticator=script.authenticate if script.credentials is not None else None,
            auth_require_tls=auth_require_tls,
            auth_required=script.credentials is not None,
        )
        sessions.append(smtp)
        return smtp

    server = await loop.create_server(factory, host=HOST, port=0, ssl=implicit_tls_context)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        for smtp in sessions:
            if smtp.transport is not None:
                smtp.transport.close()
        await server.wait_closed()


@asynccontextmanager
async def silent_server() -> AsyncIterator[int]:
    """Accept connections and say nothing, ever; yields the port."""
    writers: list[asyncio.StreamWriter] = []

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)  # kept open (and referenced) until the test ends

    server = await asyncio.start_server(accept, host=HOST, port=0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        for writer in writers:
            writer.close()
        await server.wait_closed()


@contextmanager
def refusing_port() -> Iterator[int]:
    """A port where connecting is refused: bound (so nobody else takes it) but not listening."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        yield sock.getsockname()[1]


@dataclass
class HttpRequest:
    method: str
    target: str
    headers: dict[str, str]  # lower-case names
    body: bytes


@dataclass
class HttpScript:
    status: int = 200
    body: bytes = b"1"
    headers: dict[str, str] = field(default_factory=dict)
    delay_seconds: float = 0.0
    requests: list[HttpRequest] = field(default_factory=list)


@asynccontextmanager
async def http_server(script: HttpScript) -> AsyncIterator[str]:
    """A one-request-per-connection HTTP/1.1 server answering as ``script`` says; yields its base URL."""
    tasks: set[asyncio.Task[None]] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line, *header_lines = head.decode("latin-1").split("\r\n")
            method, target, _ = request_line.split(" ", 2)
            headers = {}
            for line in header_lines:
                if line:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            script.requests.append(HttpRequest(method, target, headers, body))
            if script.delay_seconds:
                await asyncio.sleep(script.delay_seconds)
            response_headers = {
                "Content-Type": "text/plain; charset=utf-8",
                "Content-Length": str(len(script.body)),
                "Connection": "close",
                **script.headers,
            }
            writer.write(
                f"HTTP/1.1 {script.status} Scripted\r\n".encode()
                + "".join(f"{k}: {v}\r\n" for k, v in response_headers.items()).encode()
                + b"\r\n"
                + script.body
            )
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    def track(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.ensure_future(handle(reader, writer))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    server = await asyncio.start_server(track, host=HOST, port=0)
    try:
        yield f"http://{HOST}:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()
        for task in list(tasks):
            task.cancel()
        with suppress(asyncio.CancelledError):
            await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()


@dataclass(frozen=True)
class TlsFiles:
    server_context: ssl.SSLContext
    cert_path: Path


def self_signed_tls(directory: Path) -> TlsFiles:
    """A self-signed certificate for 127.0.0.1 (not trusted by any client), and a server context for it."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "estate test smtp")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(HOST))]), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    cert_path = directory / "smtp-cert.pem"
    key_path = directory / "smtp-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    return TlsFiles(server_context=context, cert_path=cert_path)
