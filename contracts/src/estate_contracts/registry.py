"""The catalogue of event types: (type, version) -> payload model.

A consumer looks the envelope's type and dataversion up here; a pair that is not catalogued is an
*unknown version* and goes to the consumer's dead-letter topic rather than being guessed at.
"""

from __future__ import annotations

from typing import TypeVar

from pydantic import ValidationError

from estate_contracts.envelope import Envelope, EventPayload

P = TypeVar("P", bound=type[EventPayload])

EVENT_TYPES: dict[tuple[str, int], type[EventPayload]] = {}


class UnknownEventType(LookupError):
    """No payload model is catalogued for this (type, version)."""


class InvalidEventPayload(ValueError):
    """The payload does not match the schema its type and version promise."""


def event(cls: P) -> P:
    """Class decorator: catalogue a payload model under its type and version."""
    key = (cls.event_type, cls.event_version)
    if key in EVENT_TYPES and EVENT_TYPES[key] is not cls:
        raise ValueError(f"event type {key} is catalogued twice")
    EVENT_TYPES[key] = cls
    return cls


def payload_model(event_type: str, version: int) -> type[EventPayload]:
    try:
        return EVENT_TYPES[(event_type, version)]
    except KeyError:
        raise UnknownEventType(f"no schema for event type {event_type!r} version {version}") from None


def parse_payload(envelope: Envelope) -> EventPayload:
    """The typed payload of an envelope, or UnknownEventType / InvalidEventPayload."""
    model = payload_model(envelope.type, envelope.dataversion)
    try:
        return model.model_validate(envelope.data)
    except ValidationError as exc:
        raise InvalidEventPayload(
            f"{envelope.type} v{envelope.dataversion} payload is invalid: {exc.errors(include_url=False)}"
        ) from exc
