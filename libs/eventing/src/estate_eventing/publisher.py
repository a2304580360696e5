"""What the relay publishes through: a small port with an aiokafka adapter.

The port takes a whole batch and reports one outcome per message, so the relay can keep the rows that
failed and mark the rest; the adapter hands every message to aiokafka before awaiting any, so a batch
costs one round trip per partition rather than one per message.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Protocol

from aiokafka import AIOKafkaProducer

from estate_eventing.settings import BrokerSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    topic: str
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]] = field(default_factory=list)


class Publisher(Protocol):
    async def send_batch(self, messages: Sequence[OutboundMessage]) -> list[Exception | None]:
        """Send every message; the i-th outcome is None if the broker acknowledged the i-th message.

        Never raises for a broker failure: the failure is each message's outcome.
        """
        ...


class KafkaPublisher:
    """An aiokafka producer that (re)connects on demand, so a broker outage is only ever a failed send.

    ``acks="all"`` and never idempotent (see :meth:`BrokerSettings.producer_options`).
    """

    def __init__(
        self,
        settings: BrokerSettings,
        *,
        linger_ms: int = 5,
        max_batch_size: int = 512 * 1024,
        compression_type: str | None = None,
    ) -> None:
        self._options: dict[str, Any] = {
            **settings.producer_options(),
            "linger_ms": linger_ms,
            "max_batch_size": max_batch_size,
            "compression_type": compression_type,
        }
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        """Connect now rather than at the first send (raises if the broker does not answer)."""
        await self._ensure_started()

    async def stop(self) -> None:
        async with self._lock:
            producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()

    async def __aenter__(self) -> KafkaPublisher:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def _ensure_started(self) -> AIOKafkaProducer:
        async with self._lock:
            if self._producer is None:
                producer = AIOKafkaProducer(**self._options)
                try:
                    await producer.start()
                except BaseException:
                    # A failed start leaves a half-open client behind; close it and try afresh next time.
                    await producer.stop()
                    raise
                self._producer = producer
            return self._producer

    async def send_batch(self, messages: Sequence[OutboundMessage]) -> list[Exception | None]:
        if not messages:
            return []
        try:
            producer = await self._ensure_started()
        except Exception as exc:
            log.warning("broker unavailable: %s", exc)
            return [exc] * len(messages)
        outcomes: list[Exception | None] = [None] * len(messages)
        pending: list[tuple[int, asyncio.Future[Any]]] = []
        for index, message in enumerate(messages):
            try:
                future = await producer.send(
                    message.topic, message.value, key=message.key, headers=message.headers
                )
            except Exception as exc:
                outcomes[index] = exc
            else:
                pending.append((index, future))
        results = await asyncio.gather(*(future for _, future in pending), return_exceptions=True)
        for (index, _), result in zip(pending, results, strict=True):
            if isinstance(result, Exception):
                outcomes[index] = result
            elif isinstance(result, BaseException):
                raise result
        return outcomes
