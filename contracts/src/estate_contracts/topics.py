"""Kafka topic names and key rules.

Every topic is keyed by the id of the aggregate the event is about (the envelope's ``subject``), so all
events of one system, contract or request land in one partition and are read in the order they were
written. Each consumer group has one dead-letter topic of its own, ``estate.dlq.<group>``, whatever topic the
poison message came from; the headers say where it came from and why it was set aside.
"""

from __future__ import annotations

from typing import Final

REGISTER_SYSTEMS: Final = "estate.register.systems"
REGISTER_CONTRACTS: Final = "estate.register.contracts"
REGISTER_SUPPLIERS: Final = "estate.register.suppliers"
PROCUREMENT_REQUESTS: Final = "estate.procurement.requests"
NOTIFICATIONS_ALERTS: Final = "estate.notifications.alerts"
NOTIFICATIONS_RENEWALS: Final = "estate.notifications.renewals"

ALL_TOPICS: Final = (
    REGISTER_SYSTEMS,
    REGISTER_CONTRACTS,
    REGISTER_SUPPLIERS,
    PROCUREMENT_REQUESTS,
    NOTIFICATIONS_ALERTS,
    NOTIFICATIONS_RENEWALS,
)

DLQ_PREFIX: Final = "estate.dlq."


def dead_letter_topic(group_id: str) -> str:
    """The dead-letter topic of one consumer group."""
    if not group_id:
        raise ValueError("a consumer group id is needed to name its dead-letter topic")
    return f"{DLQ_PREFIX}{group_id}"
