"""Writing events to the transactional outbox.

The rule: an event is added to the outbox in the *same session and transaction* as the state change it
describes, and nothing here commits. Either both are stored or neither is; the relay publishes what was
stored. A service never publishes to Kafka directly from a request or handler (that would be a dual
write: a crash between commit and publish loses the event, or a publish without a commit invents one).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from estate_contracts.envelope import Envelope, EventPayload, new_envelope
from estate_eventing.clock import as_utc
from estate_eventing.correlation import correlation_id_or_new, current_causation_id
from estate_eventing.tables import outbox_table


def outbox_row(envelope: Envelope, topic: str) -> dict[str, Any]:
    """The outbox row of one envelope: keyed by its subject, due at once, never attempted."""
    if not topic:
        raise ValueError("an outbox row needs a topic")
    created_at = as_utc(envelope.time)
    return {
        "event_id": envelope.id,
        "topic": topic,
        "key": envelope.subject,
        "event_type": envelope.type,
        "payload": envelope.model_dump_json(),
        "headers": {name: value.decode() for name, value in envelope.kafka_headers()},
        "created_at": created_at,
        "published_at": None,
        "attempts": 0,
        "next_attempt_at": created_at,
        "last_error": None,
    }


def outbox_rows(envelopes_with_topics: Iterable[tuple[Envelope, str]]) -> list[dict[str, Any]]:
    """Rows for a bulk ``session.execute(insert(outbox_table), rows)`` in the state change's transaction.

    The list order is the publish order of rows that share a key.
    """
    return [outbox_row(envelope, topic) for envelope, topic in envelopes_with_topics]


async def add_to_outbox(session: AsyncSession, envelope: Envelope, topic: str) -> None:
    """Add one event to the outbox in the caller's transaction. Does not flush or commit."""
    await session.execute(outbox_table.insert().values(**outbox_row(envelope, topic)))


async def add_event(
    session: AsyncSession,
    event: EventPayload,
    *,
    source: str,
    time: datetime,
    subject: str | None = None,
    topic: str | None = None,
    event_id: uuid.UUID | None = None,
) -> Envelope:
    """Wrap ``event`` for the work in hand and add it to the outbox in the caller's transaction.

    The envelope takes the current correlation id (a new one outside any request or message) and, while
    a consumer handles an event, that event's id as causation id. The topic defaults to the payload
    class's own, the subject (and Kafka key) the payload's ``kafka_key()``.
    """
    envelope = new_envelope(
        event=event,
        source=source,
        subject=subject or event.kafka_key(),
        correlationid=correlation_id_or_new(),
        causationid=current_causation_id(),
        time=time,
        event_id=event_id,
    )
    await add_to_outbox(session, envelope, topic or event.topic)
    return envelope
