"""The ``outbox`` and ``inbox`` tables every service adds to its own database.

Services include :data:`eventing_metadata` in their Alembic target metadata and create these two tables in
their first migration with :func:`estate_eventing.migrations.create_eventing_tables`, which builds them
from the definitions below. The definitions work on PostgreSQL (production, tests) and SQLite (a newcomer's
first run).

Instants are stored as ``DateTime(timezone=True)``: ``timestamptz`` on PostgreSQL; on SQLite (which has no
time zones) this package always writes UTC and reads the value back as UTC.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    Uuid,
    text,
)

eventing_metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SQLite only autoincrements an ``INTEGER PRIMARY KEY``; BIGINT there would leave ``id`` NULL.
_BigId = BigInteger().with_variant(Integer(), "sqlite")

outbox_table = Table(
    "outbox",
    eventing_metadata,
    # The id is the global write order: the relay publishes in id order, so events of one key leave in
    # the order their transactions wrote them.
    Column("id", _BigId, primary_key=True, autoincrement=True),
    # Consumers deduplicate on the event id; a second row with the same id would be a second event.
    Column("event_id", Uuid(), nullable=False, unique=True),
    Column("topic", String(249), nullable=False),
    Column("key", String(255), nullable=False),
    Column("event_type", String(255), nullable=False),
    Column("payload", Text(), nullable=False, comment="the whole envelope as JSON, sent as the value"),
    Column("headers", JSON(), nullable=False, comment="Kafka headers as an object of strings"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("published_at", DateTime(timezone=True), nullable=True),
    Column("attempts", Integer(), nullable=False, server_default=text("0")),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("last_error", Text(), nullable=True),
    # A row the relay cannot route is worse than no row: it would block its key forever.
    CheckConstraint("length(topic) > 0", name="topic_not_empty"),
    CheckConstraint("length(key) > 0", name="key_not_empty"),
    CheckConstraint("length(event_type) > 0", name="event_type_not_empty"),
    CheckConstraint("length(payload) > 0", name="payload_not_empty"),
    # Attempts count failures; a negative count would make the backoff shrink.
    CheckConstraint("attempts >= 0", name="attempts_not_negative"),
    # Every failed attempt says why, so an operator reading ``outbox status`` can act on it.
    CheckConstraint("attempts = 0 OR last_error IS NOT NULL", name="failure_has_reason"),
)

# The relay's query: unpublished rows in id order. Partial, so it stays as small as the backlog however
# many published rows the retention window keeps.
Index(
    "ix_outbox_unpublished",
    outbox_table.c.id,
    postgresql_where=outbox_table.c.published_at.is_(None),
    sqlite_where=outbox_table.c.published_at.is_(None),
)
# The relay's per-key order check: is there an earlier unpublished row of this key?
Index(
    "ix_outbox_unpublished_key",
    outbox_table.c.key,
    outbox_table.c.topic,
    outbox_table.c.id,
    postgresql_where=outbox_table.c.published_at.is_(None),
    sqlite_where=outbox_table.c.published_at.is_(None),
)
# Purge (published_at older than the retention window) and replay (published since).
Index("ix_outbox_published_at", outbox_table.c.published_at)

inbox_table = Table(
    "inbox",
    eventing_metadata,
    # One row per (consumer, event): the claim a handler's transaction makes before its effect.
    Column("consumer", String(255), primary_key=True),
    Column("event_id", Uuid(), primary_key=True),
    Column("processed_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("length(consumer) > 0", name="consumer_not_empty"),
)
Index("ix_inbox_processed_at", inbox_table.c.processed_at)

__all__ = ["eventing_metadata", "inbox_table", "outbox_table"]
