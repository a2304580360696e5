"""Every event is catalogued once, on a known topic, with a key, and unknown versions are refused."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar, get_args

import pytest
from pydantic import BaseModel

from estate_contracts.catalogue import EVENT_MODULES
from estate_contracts.envelope import Envelope, EventPayload
from estate_contracts.registry import (
    EVENT_TYPES,
    InvalidEventPayload,
    UnknownEventType,
    event,
    parse_payload,
    payload_model,
)
from estate_contracts.topics import ALL_TOPICS

CATALOGUED = sorted(EVENT_TYPES.items())
IDS = [f"{event_type}.v{version}" for (event_type, version), _ in CATALOGUED]


def concrete_payload_classes(base: type[EventPayload] = EventPayload) -> list[type[EventPayload]]:
    found: list[type[EventPayload]] = []
    for subclass in base.__subclasses__():
        if hasattr(subclass, "event_type"):
            found.append(subclass)
        found.extend(concrete_payload_classes(subclass))
    return found


def test_catalogue_holds_every_event_module_s_events() -> None:
    modules = {module.__name__ for module in EVENT_MODULES}

    assert {"estate_contracts.procurement_events", "estate_contracts.notification_events"} <= modules
    assert {model.__module__ for model in EVENT_TYPES.values()} == modules


def test_every_payload_class_with_a_type_is_catalogued_under_a_unique_type_and_version() -> None:
    classes = [cls for cls in concrete_payload_classes() if cls.__module__.startswith("estate_contracts.")]
    keys = [(cls.event_type, cls.event_version) for cls in classes]

    assert len(keys) == len(set(keys)), "two payload classes claim the same (type, version)"
    for cls in classes:
        assert EVENT_TYPES[(cls.event_type, cls.event_version)] is cls, f"{cls.__name__} lacks @event"


@pytest.mark.parametrize(("key", "model"), CATALOGUED, ids=IDS)
def test_every_event_travels_on_a_known_topic_of_its_own_service(
    key: tuple[str, int], model: type[EventPayload]
) -> None:
    event_type, version = key

    assert model.topic in ALL_TOPICS
    assert version >= 1
    assert event_type.count(".") == 3, "event types read estate.<service>.<aggregate>.<fact>"
    assert event_type.split(".")[:2] == model.topic.split(".")[:2]


@pytest.mark.parametrize(("key", "model"), CATALOGUED, ids=IDS)
def test_every_event_names_the_field_that_is_its_kafka_key(
    key: tuple[str, int], model: type[EventPayload]
) -> None:
    current: Any = model
    for name in model.key_field.split("."):
        assert isinstance(current, type), model.key_field
        assert issubclass(current, BaseModel), model.key_field
        assert name in current.model_fields, f"{model.__name__}.key_field names no field {name!r}"
        annotation = current.model_fields[name].annotation
        current = next((arg for arg in get_args(annotation) if arg is not type(None)), annotation)
    assert current in (uuid.UUID, str), "a Kafka key is an id"


def test_cataloguing_a_second_class_under_a_taken_type_and_version_fails() -> None:
    class Impostor(EventPayload):
        event_type: ClassVar[str] = "estate.procurement.request.submitted"
        event_version: ClassVar[int] = 1
        topic: ClassVar[str] = "estate.procurement.requests"

    with pytest.raises(ValueError, match="catalogued twice"):
        event(Impostor)
    assert EVENT_TYPES[("estate.procurement.request.submitted", 1)] is not Impostor


def envelope_of(event_type: str, version: int, data: dict[str, Any]) -> Envelope:
    return Envelope(
        id=uuid.uuid4(),
        source="/estate/procurement",
        type=event_type,
        time=datetime(2025, 3, 4, tzinfo=UTC),
        subject="0b7c2f4e-52a4-4d3e-9a51-0f0a3c1d2e01",
        dataversion=version,
        correlationid="req-1",
        data=data,
    )


def test_parse_payload_refuses_an_unknown_version_of_a_known_type() -> None:
    with pytest.raises(UnknownEventType, match=r"estate\.procurement\.request\.submitted.*version 99"):
        parse_payload(envelope_of("estate.procurement.request.submitted", 99, {}))


def test_parse_payload_refuses_an_unknown_type() -> None:
    with pytest.raises(UnknownEventType):
        payload_model("estate.procurement.request.teleported", 1)


def test_parse_payload_refuses_a_payload_that_breaks_its_schema() -> None:
    with pytest.raises(InvalidEventPayload, match=r"request\.withdrawn v1"):
        parse_payload(envelope_of("estate.procurement.request.withdrawn", 1, {"reason": "no id"}))
