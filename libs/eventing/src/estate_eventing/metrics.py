"""Prometheus metrics of the delivery runtime, on the default registry each process exposes."""

from __future__ import annotations

from prometheus_client import Counter

OUTBOX_PUBLISHED = Counter("estate_outbox_published", "Outbox rows the broker acknowledged", ["topic"])
OUTBOX_FAILED = Counter(
    "estate_outbox_publish_failures", "Outbox sends that failed and will retry", ["topic"]
)
OUTBOX_WAKEUPS = Counter(
    "estate_outbox_relay_wakeups",
    "Relay passes started after a pause, by cause: notify (an outbox row was committed) or poll",
    ["cause"],
)
CONSUMED = Counter(
    "estate_events_consumed", "Events a consumer finished with, by outcome", ["consumer", "outcome"]
)
