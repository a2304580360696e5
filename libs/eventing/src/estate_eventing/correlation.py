"""Correlation and causation ids, carried in context variables from the edge to every event.

The *correlation id* is shared by everything one user action caused: it starts at the HTTP request
(``X-Correlation-ID`` or a new one) and travels in every event's envelope. The *causation id* is the id
of the event being handled right now, so that events a handler emits name their direct cause. Both live
in :mod:`contextvars`, so concurrent requests and messages never see each other's ids.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import uuid
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

CORRELATION_HEADER = "X-Correlation-ID"
_HEADER_KEY = CORRELATION_HEADER.lower().encode("latin-1")
_VALID_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

correlation_id_var: ContextVar[str | None] = ContextVar("estate_correlation_id", default=None)
causation_id_var: ContextVar[str | None] = ContextVar("estate_causation_id", default=None)


def new_correlation_id() -> str:
    return str(uuid.uuid4())


def is_valid_correlation_id(value: str) -> bool:
    """At most 128 characters of ``[A-Za-z0-9._:-]``: safe to log and to echo in a header."""
    return _VALID_ID.fullmatch(value) is not None


def current_correlation_id() -> str | None:
    return correlation_id_var.get()


def current_causation_id() -> str | None:
    return causation_id_var.get()


def correlation_id_or_new() -> str:
    """The correlation id of the work in hand; work started outside any request gets a new one."""
    return correlation_id_var.get() or new_correlation_id()


@contextmanager
def correlation_scope(correlation_id: str, causation_id: str | None = None) -> Iterator[None]:
    """Within the block, events are correlated with ``correlation_id`` and caused by ``causation_id``."""
    corr_token = correlation_id_var.set(correlation_id)
    cause_token = causation_id_var.set(causation_id)
    try:
        yield
    finally:
        causation_id_var.reset(cause_token)
        correlation_id_var.reset(corr_token)


# --- ASGI ---------------------------------------------------------------------------------------

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class CorrelationIdMiddleware:
    """Pure ASGI middleware: every HTTP request runs under a correlation id, echoed in the response.

    A caller's ``X-Correlation-ID`` is kept only if it is a safe token (see
    :func:`is_valid_correlation_id`); anything else is replaced, never echoed, so a header cannot inject
    into logs or responses. Pure ASGI rather than ``BaseHTTPMiddleware`` so the context variable is set
    in the same task as the endpoint and streaming responses are not buffered.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        incoming = None
        for name, value in scope.get("headers", ()):
            if name.lower() == _HEADER_KEY:
                incoming = value.decode("latin-1")
                break
        correlation_id = (
            incoming if incoming is not None and is_valid_correlation_id(incoming) else new_correlation_id()
        )
        header = (_HEADER_KEY, correlation_id.encode("latin-1"))

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", ()) if k.lower() != _HEADER_KEY]
                headers.append(header)
                message["headers"] = headers
            await send(message)

        with correlation_scope(correlation_id):
            await self.app(scope, receive, send_with_header)


# --- logging ------------------------------------------------------------------------------------


class CorrelationFilter(logging.Filter):
    """Adds ``correlation_id`` and ``causation_id`` (or None) to every record it sees."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.correlation_id = correlation_id_var.get()
        record.causation_id = causation_id_var.get()
        return True


_STANDARD_ATTRS = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message, service, ids, extras, exception."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "service": self.service,
            "correlation_id": getattr(record, "correlation_id", None),
            "causation_id": getattr(record, "causation_id", None),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(service: str, level: str | int = "INFO", *, json: bool = True) -> None:
    """Route every logger to stdout, one JSON object per line (or plain text for a terminal).

    Replaces the root handlers, so calling it twice does not duplicate lines.
    """
    handler = logging.StreamHandler(sys.stdout)
    handler.addFilter(CorrelationFilter())
    if json:
        handler.setFormatter(JsonFormatter(service))
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(correlation_id)s] %(message)s")
        )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
