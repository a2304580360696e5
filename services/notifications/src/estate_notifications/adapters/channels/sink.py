"""The local SMTP sink of the development stack: an SMTP server that keeps every message in a Maildir.

Rules:

* Every message accepted is written as received (only CRLF line ends turned into the local newline, as
  in any Maildir) to ``<directory>/new/`` by the stdlib :class:`mailbox.Maildir` (so any mail client or
  ``mutt -f`` can open it too), with two trace headers
  prepended the way a delivering MTA does: ``Return-Path`` (the envelope sender) and one
  ``Delivered-To`` per envelope recipient. The envelope, not the ``To`` header, is who the mail was for.
* A message is acknowledged (250) only after its file is in place, so a client that saw success can
  always read it back.
* Each file's modification time is set to the moment the sink received it, strictly increasing within a
  sink, so :func:`read_sink` lists messages newest first even when several arrive within one clock tick.
* The sink accepts mail for anyone, never relays, and requires no login: it is for development only.
"""

from __future__ import annotations

import asyncio
import logging
import mailbox
import os
import signal
import time
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr
from pathlib import Path
from types import TracebackType
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

logger = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 1025
# Alerts are small; this only stops a runaway client from filling the disk.
DEFAULT_DATA_SIZE_LIMIT = 10 * 1024 * 1024
# Headers copied into SinkMessage.headers (the rest stay in the file).
SINK_HEADERS = ("X-Estate-Delivery-Id",)


@dataclass(frozen=True)
class SinkMessage:
    """One message as the sink stored it.

    ``id`` is the Maildir key. ``from_address`` and ``to`` are the SMTP envelope (falling back to the
    ``From``/``To``/``Cc`` headers for files the sink did not write). ``date`` is the message's own
    ``Date`` header (aware; a ``-0000`` zone is read as UTC), ``received_at`` when the sink stored it.
    ``text`` is the plain-text part ("" if there is none), ``html`` the HTML part if any. ``headers`` holds
    the :data:`SINK_HEADERS` present in the message.
    """

    id: str
    message_id: str | None
    from_address: str
    to: list[str]
    subject: str
    date: datetime | None
    text: str
    html: str | None
    headers: dict[str, str] = field(default_factory=dict)
    received_at: datetime | None = None


class _MaildirHandler:
    """aiosmtpd handler: store each message in the Maildir, then acknowledge it."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._maildir = mailbox.Maildir(directory, create=True)
        # Maildir.add keeps a process-wide counter for unique names that is not thread-safe, so writes are
        # serialised; the write itself runs in a thread to keep the event loop free.
        self._lock = asyncio.Lock()
        self._last_received = 0.0

    # The hook name is fixed by aiosmtpd.
    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        raw = envelope.original_content or b""
        trace = [f"Return-Path: <{envelope.mail_from or ''}>"]
        trace.extend(f"Delivered-To: {recipient}" for recipient in envelope.rcpt_tos)
        # Maildir files use the local line ending; SMTP data arrives with CRLF.
        data = ("\n".join(trace) + "\n").encode("utf-8") + raw.replace(b"\r\n", b"\n")
        async with self._lock:
            received = max(time.time(), self._last_received + 1e-6)
            self._last_received = received
            key = await asyncio.to_thread(self._store, data, received)
        logger.debug("SMTP sink stored %s for %s", key, ", ".join(envelope.rcpt_tos))
        return f"250 2.0.0 Ok: stored as {key}"

    def _store(self, data: bytes, received: float) -> str:
        key = self._maildir.add(data)
        path = self._directory / "new" / key
        os.utime(path, (received, received))
        return key


class SmtpSink:
    """An SMTP server on the running event loop that writes every message into ``directory`` (a Maildir).

    ``port=0`` picks a free port; :attr:`port` reports the real one once started. Use ``async with`` or
    call :meth:`start` and :meth:`stop`; :meth:`stop` closes open client connections too.
    """

    def __init__(
        self,
        directory: Path,
        *,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        data_size_limit: int = DEFAULT_DATA_SIZE_LIMIT,
    ) -> None:
        self._directory = Path(directory)
        self._host = host
        self._port = port
        self._data_size_limit = data_size_limit
        self._server: asyncio.Server | None = None
        self._sessions: weakref.WeakSet[SMTP] = weakref.WeakSet()

    @property
    def directory(self) -> Path:
        return self._directory

    @property
    def host(self) -> str:
        return self._host

    @property
    def port(self) -> int:
        """The port listened on: the real one once started (also when constructed with 0)."""
        return self._port

    async def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("the SMTP sink is already running")
        loop = asyncio.get_running_loop()
        handler = _MaildirHandler(self._directory)

        def session() -> SMTP:
            smtp = SMTP(
                handler,
                loop=loop,
                # Fixed names: the defaults would do a (possibly slow) reverse DNS lookup per connection.
                hostname="estate-smtp-sink",
                ident="Estate SMTP sink",
                enable_SMTPUTF8=True,
                data_size_limit=self._data_size_limit,
            )
            self._sessions.add(smtp)
            return smtp

        self._server = await loop.create_server(session, host=self._host, port=self._port)
        self._port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        # Without this a connected client would keep its session (and, on 3.12+, wait_closed) alive.
        for smtp in list(self._sessions):
            if smtp.transport is not None:
                smtp.transport.close()
        await server.wait_closed()

    async def __aenter__(self) -> SmtpSink:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()


def run_sink(host: str, port: int, directory: Path) -> None:
    """Run an :class:`SmtpSink` until SIGTERM or SIGINT (the ``estate-notifications smtp-sink`` command)."""
    asyncio.run(_serve(host, port, Path(directory)))


async def _serve(host: str, port: int, directory: Path) -> None:
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(signum, stopping.set)
        except NotImplementedError:  # Windows: no loop signal handlers
            signal.signal(signum, lambda *_: loop.call_soon_threadsafe(stopping.set))
    async with SmtpSink(directory, host=host, port=port) as sink:
        logger.info("SMTP sink listening on %s:%s, writing to %s", host, sink.port, directory)
        await stopping.wait()
    logger.info("SMTP sink stopped")


def read_sink(directory: Path, *, to: str | None = None, limit: int = 100) -> list[SinkMessage]:
    """Up to ``limit`` messages from the Maildir at ``directory``, newest first.

    ``to`` keeps only messages delivered to that address (compared case-insensitively). A directory that
    does not exist yet holds no messages. Files removed while reading are skipped. This reads files and
    blocks: from async code, call it through ``asyncio.to_thread``.
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    wanted = _bare_address(to).casefold() if to is not None else None
    found: list[SinkMessage] = []
    for key, path, mtime_ns in sorted(
        _maildir_files(Path(directory)), key=lambda f: (f[2], f[0]), reverse=True
    ):
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            continue
        message = _parse(key, raw, mtime_ns)
        if wanted is not None and wanted not in (address.casefold() for address in message.to):
            continue
        found.append(message)
        if len(found) == limit:
            break
    return found


def _maildir_files(directory: Path) -> Iterator[tuple[str, Path, int]]:
    """(key, path, mtime in ns) of each message in ``new/`` and ``cur/``; the key is the name before the
    info suffix (``:2,S`` and the like), as in :mod:`mailbox`."""
    for subdir in ("new", "cur"):
        try:
            entries = list(os.scandir(directory / subdir))
        except FileNotFoundError:
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                stat = entry.stat()
            except FileNotFoundError:
                continue
            yield entry.name.split(mailbox.Maildir.colon)[0], Path(entry.path), stat.st_mtime_ns


def _parse(key: str, raw: bytes, mtime_ns: int) -> SinkMessage:
    parsed = message_from_bytes(raw, policy=policy.default)
    assert isinstance(parsed, EmailMessage)  # policy.default builds EmailMessage
    to = [_bare_address(value) for value in parsed.get_all("Delivered-To", [])]
    if not to:
        to = [address for _, address in getaddresses(_all(parsed, "To") + _all(parsed, "Cc")) if address]
    return_path = parsed.get("Return-Path")
    if return_path is not None:
        from_address = _bare_address(str(return_path))
    else:
        from_address = parseaddr(str(parsed.get("From", "")))[1]
    text_part = parsed.get_body(preferencelist=("plain",))
    html_part = parsed.get_body(preferencelist=("html",))
    message_id = parsed.get("Message-ID")
    return SinkMessage(
        id=key,
        message_id=str(message_id).strip() if message_id is not None else None,
        from_address=from_address,
        to=to,
        # A long subject is folded onto continuation lines; a mail client shows it unfolded.
        subject=" ".join(str(parsed.get("Subject", "")).split()),
        date=_date(parsed),
        text=_content(text_part) if isinstance(text_part, EmailMessage) else "",
        html=_content(html_part) if isinstance(html_part, EmailMessage) else None,
        headers={name: str(parsed[name]) for name in SINK_HEADERS if parsed[name] is not None},
        received_at=datetime.fromtimestamp(mtime_ns / 1e9, UTC),
    )


def _all(message: EmailMessage, name: str) -> list[str]:
    return [str(value) for value in message.get_all(name, [])]


def _bare_address(value: str) -> str:
    value = value.strip()
    if value.startswith("<") and value.endswith(">"):
        return value[1:-1]
    return value


def _date(message: EmailMessage) -> datetime | None:
    header: Any = message.get("Date")
    value = getattr(header, "datetime", None)
    if not isinstance(value, datetime):
        return None
    # RFC 5322 "-0000" means "UTC, local zone unknown"; the parser gives a naive datetime for it.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _content(part: EmailMessage) -> str:
    try:
        content = part.get_content()
    except (LookupError, UnicodeError):
        # An unknown or wrong charset: show the text as UTF-8 with replacements rather than nothing.
        payload = part.get_payload(decode=True)
        return payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else ""
    return content if isinstance(content, str) else ""
