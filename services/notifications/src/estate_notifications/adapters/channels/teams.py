"""Microsoft Teams delivery: an Adaptive Card posted to a channel's incoming webhook.

Rules:

* The webhook URL is a secret (whoever holds it can post to the channel), so it never appears in a
  failure reason, a log line or ``repr``; only its host does.
* The body is UTF-8 JSON sent with an explicit ``charset`` (without one the webhook service has been seen
  to count the payload as UTF-16, halving the usable size) and must fit :data:`MAX_PAYLOAD_BYTES`;
  a larger card fails permanently before anything is sent.
* Outcome: any 2xx is success, except that the older Office 365 connector answers 200 with a body such
  as "Microsoft Teams endpoint returned HTTP error 429 ..." - that embedded status is used instead.
  408, 429 and 5xx, timeouts and connection errors are transient (``Retry-After`` is passed on);
  any other status is permanent.
* Webhooks have no idempotency key: a retry after a timeout whose post did arrive shows the card twice.
  The delivery id is sent in ``X-Estate-Delivery-Id`` so the two can be told apart in proxy logs.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from uuid import UUID

import httpx

from estate_notifications.adapters.channels.message import DeliveryFailed

logger = logging.getLogger(__name__)

ADAPTIVE_CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
ADAPTIVE_CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
ADAPTIVE_CARD_VERSION = "1.4"
# Teams' documented limit for a webhook message is about 28 KB.
MAX_PAYLOAD_BYTES = 28 * 1024
_EMBEDDED_STATUS = re.compile(r"returned HTTP error (\d{3})")
_TRANSIENT_STATUSES = frozenset({408, 429})
_REASON_BODY_CHARS = 300


@dataclass(frozen=True)
class TeamsCard:
    """The content of one Teams alert: a title, optional text, facts (name, value) shown as a FactSet,
    and link buttons (title, URL). ``facts`` and ``actions`` are stored as tuples; action URLs must be
    absolute http(s) URLs (``ValueError`` otherwise), as Teams refuses others.
    """

    title: str
    facts: Sequence[tuple[str, str]] = ()
    text: str = ""
    actions: Sequence[tuple[str, str]] = ()

    def __post_init__(self) -> None:
        if not self.title.strip():
            raise ValueError("a Teams card needs a title")
        for title, url in self.actions:
            if not title.strip():
                raise ValueError("a Teams card action needs a title")
            if not _absolute_http_url(url):
                raise ValueError(f"a Teams card action URL must be an absolute http(s) URL, not {url!r}")
        object.__setattr__(self, "facts", tuple((str(n), str(v)) for n, v in self.facts))
        object.__setattr__(self, "actions", tuple((str(t), str(u)) for t, u in self.actions))


def adaptive_card_message(card: TeamsCard) -> dict[str, Any]:
    """The webhook payload for ``card``: a ``message`` with one Adaptive Card attachment."""
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": card.title, "size": "Large", "weight": "Bolder", "wrap": True}
    ]
    if card.text:
        body.append({"type": "TextBlock", "text": card.text, "wrap": True})
    if card.facts:
        body.append(
            {"type": "FactSet", "facts": [{"title": name, "value": value} for name, value in card.facts]}
        )
    content = {
        "$schema": ADAPTIVE_CARD_SCHEMA,
        "type": "AdaptiveCard",
        "version": ADAPTIVE_CARD_VERSION,
        "body": body,
        "actions": [{"type": "Action.OpenUrl", "title": title, "url": url} for title, url in card.actions],
        # Without this Teams renders the card in a narrow column.
        "msteams": {"width": "Full"},
    }
    return {
        "type": "message",
        "attachments": [{"contentType": ADAPTIVE_CARD_CONTENT_TYPE, "contentUrl": None, "content": content}],
    }


class TeamsChannel:
    """Posts :class:`TeamsCard` alerts to one Teams incoming webhook.

    ``client`` lets the caller share an ``httpx.AsyncClient`` (it is then not closed here); otherwise the
    channel owns one, closed by :meth:`aclose` or ``async with``. ``timeout_seconds`` bounds each post.
    """

    name: str = "teams"

    def __init__(
        self, webhook_url: str, *, timeout_seconds: float = 10, client: httpx.AsyncClient | None = None
    ) -> None:
        if not _absolute_http_url(webhook_url):
            # The URL itself is not shown: it is a secret.
            raise ValueError("the Teams webhook URL must be an absolute http(s) URL")
        url = httpx.URL(webhook_url)
        if not timeout_seconds > 0:
            raise ValueError("timeout_seconds must be positive")
        self._url = url
        self._timeout = timeout_seconds
        self._owns_client = client is None
        # Redirects are not followed: a webhook that moved is a configuration problem to report.
        self._client = client or httpx.AsyncClient(timeout=timeout_seconds, follow_redirects=False)

    def __repr__(self) -> str:
        return f"TeamsChannel(host={self._url.host!r})"

    async def post(self, card: TeamsCard, *, delivery_id: UUID) -> str:
        """Post ``card``; return ``"teams:<delivery_id>"``. Raises only :class:`DeliveryFailed` for failures."""
        where = f"Teams webhook at {self._url.host}"
        body = json.dumps(adaptive_card_message(card), ensure_ascii=False).encode("utf-8")
        if len(body) > MAX_PAYLOAD_BYTES:
            raise DeliveryFailed(
                f"The Teams card is {len(body)} bytes, over the {MAX_PAYLOAD_BYTES}-byte webhook limit",
                permanent=True,
            )
        try:
            response = await self._client.post(
                self._url,
                content=body,
                headers={
                    "Content-Type": "application/json; charset=utf-8",
                    "X-Estate-Delivery-Id": str(delivery_id),
                },
                timeout=self._timeout,
            )
        except httpx.TimeoutException as exc:
            raise DeliveryFailed(
                f"{where} did not answer within {self._timeout:g} s", permanent=False
            ) from exc
        except httpx.HTTPError as exc:
            raise DeliveryFailed(
                f"Could not reach the {where}: {str(exc) or type(exc).__name__}", permanent=False
            ) from exc
        failure = _classify(response, where)
        if failure is not None:
            logger.info(
                "Teams delivery %s failed (%s): %s",
                delivery_id,
                "permanent" if failure.permanent else "transient",
                failure.reason,
            )
            raise failure
        return f"teams:{delivery_id}"

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def __aenter__(self) -> TeamsChannel:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


def _absolute_http_url(value: str) -> bool:
    try:
        url = httpx.URL(value)
    except httpx.InvalidURL:
        return False
    return url.scheme in ("http", "https") and bool(url.host)


def _classify(response: httpx.Response, where: str) -> DeliveryFailed | None:
    status = response.status_code
    text = response.text.strip()
    if 200 <= status < 300:
        embedded = _EMBEDDED_STATUS.search(text)
        if embedded is None or int(embedded.group(1)) < 400:
            return None
        status = int(embedded.group(1))
    detail = f": {text[:_REASON_BODY_CHARS]}" if text else ""
    if status in _TRANSIENT_STATUSES or 500 <= status <= 599:
        retry_after = _retry_after(response.headers.get("Retry-After"))
        wait = f" (retry after {retry_after:g} s)" if retry_after is not None else ""
        return DeliveryFailed(
            f"{where} answered HTTP {status}{wait}{detail}", permanent=False, retry_after_seconds=retry_after
        )
    return DeliveryFailed(f"{where} answered HTTP {status}{detail}", permanent=True)


def _retry_after(value: str | None) -> float | None:
    # Only the delta-seconds form; an HTTP-date is rare from Teams and the caller has its own backoff.
    if value is None or not value.strip().isdigit():
        return None
    return float(value.strip())
