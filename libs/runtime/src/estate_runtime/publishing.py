"""From the facts a service's records recorded to the envelopes its outbox holds.

Each service decides which facts are published and as which payload (``payload_for``) and what an
event is about (``subject``); turning them into CloudEvents envelopes, in the order the facts happened,
is the same everywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Protocol, TypeVar

from estate_contracts.envelope import Envelope, EventPayload, new_envelope


class Fact(Protocol):
    """What is read of a fact here: when it happened (the event's time)."""

    @property
    def at(self) -> datetime: ...


F = TypeVar("F", bound=Fact)


def envelopes_for(
    facts: Iterable[F],
    payload_for: Callable[[F], EventPayload | None],
    *,
    source: str,
    subject: Callable[[F], str],
    correlation: str,
    causation: str | None,
) -> list[tuple[Envelope, str]]:
    """The envelope and topic of every fact that is published (``payload_for`` gives None for facts that
    are only audited), in the order the facts happened."""
    out: list[tuple[Envelope, str]] = []
    for fact in facts:
        payload = payload_for(fact)
        if payload is None:
            continue
        envelope = new_envelope(
            event=payload,
            source=source,
            subject=subject(fact),
            correlationid=correlation,
            causationid=causation,
            time=fact.at,
        )
        out.append((envelope, payload.topic))
    return out


__all__ = ["Fact", "envelopes_for"]
