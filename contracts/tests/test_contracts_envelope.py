"""The envelope survives the trip through Kafka and reads leniently, but never with a naive time."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from estate_contracts.envelope import Envelope, new_envelope
from estate_contracts.procurement_events import RequestWithdrawn
from estate_contracts.registry import parse_payload

WHEN = datetime(2025, 3, 4, 9, 30, tzinfo=UTC)


def withdrawn() -> RequestWithdrawn:
    return RequestWithdrawn(
        request_id=uuid.UUID("0b7c2f4e-52a4-4d3e-9a51-0f0a3c1d2e01"),
        reference="TR-2025-0042",
        withdrawn_by={"id": "oid-1", "name": "Sam Patel", "email": "sam.patel@cambridge.gov.uk"},
        reason="The service found an existing system that does the job.",
        withdrawn_at=WHEN,
    )


def wrapped(**overrides: object) -> Envelope:
    payload = withdrawn()
    arguments: dict[str, object] = {
        "event": payload,
        "source": "/estate/procurement",
        "subject": payload.kafka_key(),
        "correlationid": "req-123",
        "causationid": "evt-9",
        "time": WHEN,
    }
    arguments.update(overrides)
    return new_envelope(**arguments)  # type: ignore[arg-type]


def test_envelope_round_trips_through_its_kafka_value() -> None:
    envelope = wrapped()

    assert Envelope.model_validate_json(envelope.to_bytes()) == envelope
    assert parse_payload(Envelope.model_validate_json(envelope.to_bytes())) == withdrawn()


def test_kafka_headers_repeat_the_routing_attributes() -> None:
    envelope = wrapped()

    headers = {name: value.decode() for name, value in envelope.kafka_headers()}

    assert headers["ce_id"] == str(envelope.id)
    assert headers["ce_type"] == "estate.procurement.request.withdrawn"
    assert headers["ce_source"] == "/estate/procurement"
    assert headers["ce_specversion"] == "1.0"
    assert headers["ce_subject"] == "0b7c2f4e-52a4-4d3e-9a51-0f0a3c1d2e01"
    assert datetime.fromisoformat(headers["ce_time"]) == WHEN
    assert headers["ce_dataversion"] == "1"
    assert headers["ce_correlationid"] == "req-123"
    assert headers["ce_causationid"] == "evt-9"
    assert headers["content-type"].startswith("application/cloudevents+json")


def test_causation_header_is_left_out_when_nothing_caused_the_event() -> None:
    envelope = wrapped(causationid=None)

    assert "ce_causationid" not in dict(envelope.kafka_headers())


def test_type_and_version_come_from_the_payload_class() -> None:
    envelope = wrapped()

    assert (envelope.type, envelope.dataversion) == ("estate.procurement.request.withdrawn", 1)
    assert envelope.data["withdrawn_at"] == "2025-03-04T09:30:00Z"


def test_event_time_in_another_zone_is_stored_as_utc() -> None:
    envelope = wrapped(time=datetime(2025, 7, 1, 10, 0, tzinfo=timezone(timedelta(hours=1))))

    assert envelope.time == datetime(2025, 7, 1, 9, 0, tzinfo=UTC)
    assert envelope.time.utcoffset() == timedelta(0)


def test_new_envelope_rejects_a_naive_time() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        wrapped(time=datetime(2025, 3, 4, 9, 30))


def test_reading_an_envelope_with_a_naive_time_fails() -> None:
    document = json.loads(wrapped().to_bytes())
    document["time"] = "2025-03-04T09:30:00"

    with pytest.raises(ValidationError):
        Envelope.model_validate(document)


def test_unknown_envelope_attributes_are_ignored() -> None:
    document = json.loads(wrapped().to_bytes())
    document["traceparent"] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

    envelope = Envelope.model_validate(document)

    assert envelope == wrapped().model_copy(update={"id": envelope.id})
    assert not hasattr(envelope, "traceparent")


def test_unknown_payload_fields_are_ignored() -> None:
    envelope = wrapped()
    data = {**envelope.data, "added_in_a_later_release": True}

    assert parse_payload(envelope.model_copy(update={"data": data})) == withdrawn()
