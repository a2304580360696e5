"""Correlation ids at the HTTP edge and in logs; broker profiles; the embedded broker's topics."""

from __future__ import annotations

import io
import json
import logging
import uuid
from typing import Any

import pytest

from estate_eventing.correlation import (
    CorrelationFilter,
    CorrelationIdMiddleware,
    JsonFormatter,
    correlation_scope,
    current_correlation_id,
)
from estate_eventing.embedded import ensure_topics
from estate_eventing.settings import BrokerSettings, make_broker


async def call(headers: list[tuple[bytes, bytes]]) -> tuple[str | None, list[tuple[bytes, bytes]]]:
    seen: dict[str, str | None] = {}
    sent: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen["id"] = current_correlation_id()
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]}
        )
        await send({"type": "http.response.body", "body": b"ok"})

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await CorrelationIdMiddleware(app)({"type": "http", "headers": headers}, receive, send)
    return seen["id"], sent[0]["headers"]


async def test_a_valid_incoming_correlation_id_is_used_and_echoed():
    used, headers = await call([(b"x-correlation-id", b"req-42:a.b_c")])
    assert used == "req-42:a.b_c"
    assert (b"x-correlation-id", b"req-42:a.b_c") in headers
    assert current_correlation_id() is None


@pytest.mark.parametrize("bad", [b"", b"a" * 129, b"evil\r\nheader", b"spaces are bad", "\u00e9".encode()])
async def test_an_unsafe_correlation_id_is_replaced_never_echoed(bad: bytes):
    used, headers = await call([(b"x-correlation-id", bad)])
    assert used is not None
    assert used != bad.decode("latin-1")
    uuid.UUID(used)
    assert dict(headers)[b"x-correlation-id"] == used.encode()


async def test_a_request_without_one_gets_a_new_correlation_id():
    used, headers = await call([])
    assert dict(headers)[b"x-correlation-id"] == used.encode()


def test_json_logs_carry_the_correlation_id():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(CorrelationFilter())
    handler.setFormatter(JsonFormatter("register"))
    logger = logging.getLogger("estate.tests.json")
    logger.addHandler(handler)
    logger.propagate = False
    with correlation_scope("corr-7", "cause-3"):
        logger.warning("renewal due %s", "soon", extra={"contract_id": "c-1"})
    entry = json.loads(stream.getvalue())
    assert entry["message"] == "renewal due soon"
    assert entry["service"] == "register"
    assert (entry["correlation_id"], entry["causation_id"]) == ("corr-7", "cause-3")
    assert entry["contract_id"] == "c-1"
    assert entry["time"].endswith("+00:00")


def test_the_kafka_profile_never_sends_the_embedded_brokers_timings():
    kafka = BrokerSettings(bootstrap_servers="kafka-1:9092,kafka-2:9092", profile="kafka")
    assert kafka.consumer_options() == {}
    assert kafka.producer_options()["acks"] == "all"
    assert kafka.producer_options()["enable_idempotence"] is False
    embedded = BrokerSettings(profile="embedded")
    assert embedded.consumer_options() == {
        "session_timeout_ms": 1000,
        "heartbeat_interval_ms": 300,
        "fetch_max_wait_ms": 10,
    }
    assert embedded.producer_options()["enable_idempotence"] is False


def test_settings_come_from_the_environment_and_fail_closed(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ESTATE_KAFKA_BOOTSTRAP_SERVERS", "broker:9092")
    monkeypatch.setenv("ESTATE_KAFKA_PROFILE", "embedded")
    settings = BrokerSettings()
    assert (settings.bootstrap_servers, settings.embedded) == ("broker:9092", True)
    monkeypatch.setenv("ESTATE_KAFKA_BOOTSTRAP_SERVERS", "broker")
    with pytest.raises(ValueError, match="host:port"):
        BrokerSettings()
    monkeypatch.setenv("ESTATE_KAFKA_PROFILE", "redpanda")
    with pytest.raises(ValueError, match="profile"):
        BrokerSettings(bootstrap_servers="b:1")


def test_make_broker_builds_a_faststream_broker_without_connecting():
    broker = make_broker(BrokerSettings(bootstrap_servers="127.0.0.1:1"))
    assert type(broker).__name__ == "KafkaBroker"


async def test_ensure_topics_creates_missing_topics_and_tolerates_existing_ones(kafka_bootstrap: str):
    name = f"estate.tests.topics.{uuid.uuid4().hex[:8]}"
    assert await ensure_topics(kafka_bootstrap, [name, name]) == [name]
    assert await ensure_topics(kafka_bootstrap, [name]) == []
