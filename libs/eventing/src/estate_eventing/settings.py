"""Settings for the broker connection and the outbox relay, read from the environment.

Two broker profiles exist because the embedded broker (Tansu, see BROKER.md) and Apache Kafka need
different consumer timings: Tansu holds a JoinGroup for half the session timeout and an empty fetch for
half ``fetch_max_wait_ms``, so the embedded profile shortens both; real Kafka *rejects* session timeouts
under 6 s, so the kafka profile never sends them. The profile is the only switch: no service chooses
timings itself.
"""

from __future__ import annotations

from typing import Any, Literal

from faststream.kafka import KafkaBroker
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

BrokerProfile = Literal["kafka", "embedded"]

#: Tansu's needs (BROKER.md, "What does not"): never sent to real Kafka.
EMBEDDED_CONSUMER_OPTIONS: dict[str, int] = {
    "session_timeout_ms": 1000,
    "heartbeat_interval_ms": 300,
    "fetch_max_wait_ms": 10,
}


class BrokerSettings(BaseSettings):
    """Where the Kafka-compatible broker is and which profile of timings it needs.

    ``ESTATE_KAFKA_BOOTSTRAP_SERVERS``, ``ESTATE_KAFKA_PROFILE`` (kafka | embedded),
    ``ESTATE_KAFKA_CLIENT_ID``.
    """

    model_config = SettingsConfigDict(env_prefix="ESTATE_KAFKA_", extra="ignore", frozen=True)

    bootstrap_servers: str = Field(default="127.0.0.1:9092", min_length=1)
    profile: BrokerProfile = "kafka"
    client_id: str = Field(default="estate", min_length=1)
    request_timeout_ms: int = Field(default=15_000, ge=1_000)

    @field_validator("bootstrap_servers")
    @classmethod
    def _no_blank_hosts(cls, value: str) -> str:
        hosts = [h.strip() for h in value.split(",")]
        if not all(hosts) or not all(":" in h for h in hosts):
            raise ValueError("bootstrap_servers must be a comma-separated list of host:port")
        return ",".join(hosts)

    @property
    def embedded(self) -> bool:
        return self.profile == "embedded"

    def consumer_options(self) -> dict[str, Any]:
        """Keyword arguments for every consumer (FastStream subscriber or aiokafka consumer)."""
        return dict(EMBEDDED_CONSUMER_OPTIONS) if self.embedded else {}

    def producer_options(self) -> dict[str, Any]:
        """Keyword arguments for every aiokafka producer.

        ``acks="all"`` so that an acknowledged event survives a broker failover; idempotence is off
        *always*, because the embedded broker refuses it and exactly-once effects come from the outbox
        and inbox instead.
        """
        return {
            "bootstrap_servers": self.bootstrap_servers,
            "client_id": self.client_id,
            "acks": "all",
            "enable_idempotence": False,
            "request_timeout_ms": self.request_timeout_ms,
        }


class RelaySettings(BaseSettings):
    """How the outbox relay batches, retries and forgets.

    ``ESTATE_RELAY_BATCH_SIZE``, ``..._POLL_INTERVAL_MS``, ``..._MIN_BACKOFF_MS``, ``..._MAX_BACKOFF_S``,
    ``..._RETENTION_DAYS``, ``..._PURGE_INTERVAL_S``, ``..._LISTEN``.

    ``listen``: on PostgreSQL, wake up when an outbox row is committed (``LISTEN estate_outbox``) as well
    as every ``poll_interval_ms``; off, or on SQLite, the relay only polls.
    """

    model_config = SettingsConfigDict(env_prefix="ESTATE_RELAY_", extra="ignore", frozen=True)

    batch_size: int = Field(default=1000, ge=1, le=10_000)
    poll_interval_ms: int = Field(default=200, ge=1)
    min_backoff_ms: int = Field(default=500, ge=1)
    max_backoff_s: float = Field(default=300.0, gt=0)
    retention_days: float = Field(default=7.0, gt=0)
    purge_interval_s: float = Field(default=3600.0, gt=0)
    listen: bool = True


def make_broker(settings: BrokerSettings, **kwargs: Any) -> KafkaBroker:
    """A FastStream Kafka broker whose producer waits for all replicas and is never idempotent."""
    options = settings.producer_options()
    return KafkaBroker(
        options.pop("bootstrap_servers"),
        **options,
        **kwargs,
    )
