"""Idempotent, dead-lettering event consumers on FastStream.

Per message, in this order:

1. The value must be an :class:`Envelope` (JSON); otherwise it is dead-lettered (``malformed``).
2. Its ``(type, dataversion)`` must be catalogued in :mod:`estate_contracts.registry`
   (``unknown_event_type``) and its payload valid for that schema (``invalid_payload``).
3. A type the consumer does not handle at all is acknowledged and ignored. A type it handles, but at
   another version, is dead-lettered (``unhandled_version``): silently skipping it would lose data.
4. Otherwise, in one transaction: claim the event in the inbox, run the handler, commit. A duplicate
   (already claimed) is acknowledged without running the handler. A handler raising
   :class:`PoisonMessage` rolls back and the message is dead-lettered (``poison``).
5. Any other failure (database or broker down, a bug) is *transient*: nothing is committed, the offset
   is not committed, and the message is redelivered after a growing pause. The partition waits rather
   than skip an event.

Dead letters go to ``dead_letter_topic(group_id)`` with the original key, value and headers, plus
``dlq_reason``, ``dlq_error``, ``dlq_original_topic``, ``dlq_original_partition``,
``dlq_original_offset`` and ``dlq_consumer``. The offset is committed only after the dead letter is
acknowledged by the broker.

While the handler runs, the correlation id is the envelope's and the causation id is the envelope's id,
so events it records with :func:`estate_eventing.outbox.add_event` continue the chain.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.message import StreamMessage
from faststream.middlewares import AckPolicy
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from estate_contracts.envelope import Envelope, EventPayload
from estate_contracts.registry import InvalidEventPayload, UnknownEventType, parse_payload
from estate_contracts.topics import dead_letter_topic
from estate_eventing import metrics
from estate_eventing.clock import Clock, utc_now
from estate_eventing.correlation import correlation_scope
from estate_eventing.inbox import claim
from estate_eventing.publisher import KafkaPublisher, OutboundMessage, Publisher
from estate_eventing.settings import BrokerSettings

log = logging.getLogger(__name__)

Handler = Callable[[AsyncSession, Any, Envelope], Awaitable[None]]
HandlerKey = type[EventPayload] | tuple[str, int]


class PoisonMessage(Exception):
    """Raised by a handler when this event can never be processed, however often it is retried.

    Not for a database or service that is down: those are transient and the message is redelivered.
    """


class Outcome(StrEnum):
    HANDLED = "handled"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"
    DEAD_LETTERED = "dead_lettered"


class DeadLetterReason(StrEnum):
    MALFORMED = "malformed"
    UNKNOWN_EVENT_TYPE = "unknown_event_type"
    INVALID_PAYLOAD = "invalid_payload"
    UNHANDLED_VERSION = "unhandled_version"
    POISON = "poison"


@dataclass(frozen=True, slots=True)
class IncomingRecord:
    """The parts of a Kafka record a consumer needs; an aiokafka ``ConsumerRecord`` has them all."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]]


class DeadLetterFailed(RuntimeError):
    """The dead letter was not acknowledged; the message must be redelivered, not acknowledged."""


def _handler_key(key: HandlerKey) -> tuple[str, int]:
    if isinstance(key, tuple):
        return key
    return (key.event_type, key.event_version)


class IdempotentConsumer:
    """Processes one record at a time with the guarantees in the module docstring.

    Independent of FastStream, so the decision logic is testable with any record and publisher;
    :func:`subscribe_idempotent` wires it to a broker.
    """

    def __init__(
        self,
        *,
        consumer_name: str,
        group_id: str,
        sessionmaker: async_sessionmaker[AsyncSession],
        handlers: Mapping[HandlerKey, Handler],
        dead_letters: Publisher,
        clock: Clock = utc_now,
    ) -> None:
        if not consumer_name:
            raise ValueError("a consumer needs a name: it keys its inbox rows")
        self.consumer_name = consumer_name
        self.dead_letter_topic = dead_letter_topic(group_id)
        self._sessionmaker = sessionmaker
        self._handlers = {_handler_key(key): handler for key, handler in handlers.items()}
        self._handled_types = {event_type for event_type, _ in self._handlers}
        self._dead_letters = dead_letters
        self._clock = clock

    async def process(self, record: IncomingRecord) -> Outcome:
        """Handle, ignore or dead-letter ``record``; raises only for transient failures."""
        try:
            if record.value is None:
                raise ValueError("the message has no value (a tombstone is not an event)")
            envelope = Envelope.model_validate_json(record.value)
        except (ValidationError, ValueError) as exc:
            return await self._dead_letter(record, DeadLetterReason.MALFORMED, exc)

        with correlation_scope(envelope.correlationid, str(envelope.id)):
            try:
                payload = parse_payload(envelope)
            except UnknownEventType as exc:
                return await self._dead_letter(record, DeadLetterReason.UNKNOWN_EVENT_TYPE, exc)
            except InvalidEventPayload as exc:
                return await self._dead_letter(record, DeadLetterReason.INVALID_PAYLOAD, exc)

            handler = self._handlers.get((envelope.type, envelope.dataversion))
            if handler is None:
                if envelope.type in self._handled_types:
                    error = LookupError(
                        f"{self.consumer_name} handles {envelope.type} but not version {envelope.dataversion}"
                    )
                    return await self._dead_letter(record, DeadLetterReason.UNHANDLED_VERSION, error)
                # Not claimed: if this consumer later learns the type, a replay must still reach it.
                return self._count(Outcome.IGNORED)

            try:
                async with self._sessionmaker() as session, session.begin():
                    if not await claim(session, self.consumer_name, envelope.id, now=self._clock()):
                        return self._count(Outcome.DUPLICATE)
                    await handler(session, payload, envelope)
            except PoisonMessage as exc:
                return await self._dead_letter(record, DeadLetterReason.POISON, exc)
            return self._count(Outcome.HANDLED)

    def _count(self, outcome: Outcome) -> Outcome:
        metrics.CONSUMED.labels(consumer=self.consumer_name, outcome=outcome.value).inc()
        return outcome

    async def _dead_letter(
        self, record: IncomingRecord, reason: DeadLetterReason, error: Exception
    ) -> Outcome:
        extra = {
            "dlq_reason": reason.value,
            "dlq_error": f"{type(error).__name__}: {error}"[:4000],
            "dlq_original_topic": record.topic,
            "dlq_original_partition": str(record.partition),
            "dlq_original_offset": str(record.offset),
            "dlq_consumer": self.consumer_name,
        }
        headers = [(name, value) for name, value in record.headers if name not in extra]
        headers.extend((name, value.encode()) for name, value in extra.items())
        message = OutboundMessage(
            topic=self.dead_letter_topic, key=record.key, value=record.value or b"", headers=headers
        )
        (failure,) = await self._dead_letters.send_batch([message])
        if failure is not None:
            where = f"{record.topic}/{record.partition}@{record.offset}"
            raise DeadLetterFailed(f"could not dead-letter {where}") from failure
        log.warning(
            "dead-lettered %s/%d@%d to %s: %s",
            record.topic,
            record.partition,
            record.offset,
            self.dead_letter_topic,
            extra["dlq_error"],
            extra={"dlq_reason": reason.value},
        )
        return self._count(Outcome.DEAD_LETTERED)


async def _raw_bytes(message: StreamMessage[Any]) -> Any:
    """Never decode in FastStream: a value that is not JSON must reach us to be dead-lettered."""
    return message.body


@dataclass
class Subscription:
    """A subscribed consumer; :meth:`close` on shutdown releases the dead-letter producer it owns."""

    consumer: IdempotentConsumer
    subscriber: Any
    _owned_publisher: KafkaPublisher | None = None

    async def close(self) -> None:
        if self._owned_publisher is not None:
            await self._owned_publisher.stop()


def subscribe_idempotent(
    broker: KafkaBroker,
    *,
    topics: Iterable[str],
    group_id: str,
    consumer_name: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    handlers: Mapping[HandlerKey, Handler],
    settings: BrokerSettings,
    dead_letters: Publisher | None = None,
    auto_offset_reset: Literal["earliest", "latest"] = "earliest",
    retry_delay_s: float = 0.5,
    max_retry_delay_s: float = 30.0,
    clock: Clock = utc_now,
) -> Subscription:
    """Subscribe ``handlers`` on ``topics`` for consumer group ``group_id``, exactly-once in effect.

    ``handlers`` maps a payload class (or ``(type, version)``) to ``async handler(session, payload,
    envelope)``, which writes its effect (and any events, via the outbox) in ``session`` and never
    commits. Offsets are committed by hand (``AckPolicy.MANUAL``, no auto-commit), only after the
    effect or the dead letter is stored. A new group starts from the earliest retained event.
    """
    owned = None
    if dead_letters is None:
        owned = dead_letters = KafkaPublisher(settings, linger_ms=0)
    consumer = IdempotentConsumer(
        consumer_name=consumer_name,
        group_id=group_id,
        sessionmaker=sessionmaker,
        handlers=handlers,
        dead_letters=dead_letters,
        clock=clock,
    )
    failures: dict[tuple[str, int, int], int] = {}

    async def on_message(message: KafkaMessage) -> None:
        raw = message.raw_message
        assert not isinstance(raw, tuple), "an idempotent subscriber is never a batch subscriber"
        record = IncomingRecord(
            topic=raw.topic,
            partition=raw.partition,
            offset=raw.offset,
            key=raw.key,
            value=raw.value,
            headers=list(raw.headers or ()),
        )
        position = (record.topic, record.partition, record.offset)
        try:
            await consumer.process(record)
        except Exception:
            attempt = failures[position] = failures.get(position, 0) + 1
            delay = min(retry_delay_s * 2 ** min(attempt - 1, 20), max_retry_delay_s)
            log.exception(
                "%s could not process %s/%d@%d (attempt %d); redelivering in %.1fs",
                consumer_name,
                *position,
                attempt,
                delay,
            )
            await asyncio.sleep(delay)
            await message.nack()  # seek back: the same record comes again
            return
        failures.pop(position, None)
        await message.ack()  # commit the offset

    options: dict[str, Any] = settings.consumer_options()
    subscribe: Callable[..., Callable[[Callable[..., Awaitable[None]]], Any]] = broker.subscriber
    subscriber = subscribe(
        *topics,
        group_id=group_id,
        ack_policy=AckPolicy.MANUAL,
        auto_offset_reset=auto_offset_reset,
        decoder=_raw_bytes,
        **options,
    )(on_message)
    return Subscription(consumer=consumer, subscriber=subscriber, _owned_publisher=owned)
