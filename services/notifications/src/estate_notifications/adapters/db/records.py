"""Typed SQLAlchemy records of the notifications database.

* ``watched_contracts``: the renewal watch, a projection of the register's contract events (the snapshot
  fields the arithmetic and the alerts need), plus the watch's own state: the term last alerted on, the
  day of the last step raised, and ``next_due_on``, the next day the contract needs looking at. The sweep
  reads only rows whose ``next_due_on`` has come, through one index, so its cost follows the alerts due
  today, not the size of the estate.
* ``watched_systems``: system names and owners, to copy alerts to the owners of the systems a contract
  covers.
* ``alerts``: one row per step raised (contract, term, step); unique, so two sweepers cannot raise the
  same step twice. Its escalation level and ``escalate_at`` drive the escalation sweep.
* ``deliveries``: one row per message to one recipient on one channel, with a unique ``dedupe_key``
  (alert, level, recipient, channel; or source event, recipient, channel). It is the idempotency record
  of the side effect: a message is claimed under a lease before it is sent and marked sent after, so a
  crashed sender's claim expires and the message is sent by another, and a sent one is never claimed
  again.
* ``preferences``, ``calendar_feeds``, ``contract_type_ladders``: what people chose.
* ``watched_conditions``: procurement decision conditions, for due and overdue notices.
* ``audit_entries``: every change a person made through the API (and each one recorded from a link).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, Date, Index, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from estate_notifications.adapters.db.base import Base

__all__ = [
    "AlertRecord",
    "AuditEntryRecord",
    "Base",
    "CalendarFeedRecord",
    "ConditionRecord",
    "ContractTypeLadderRecord",
    "DeliveryRecord",
    "PreferenceRecord",
    "WatchedContractRecord",
    "WatchedSystemRecord",
]

DELIVERY_STATUSES = ("pending", "sending", "sent", "held", "digested", "cancelled")
CHANNELS = ("email", "teams")
ROLES = (
    "contract_owner",
    "system_owner",
    "budget_holder",
    "contract_signatory",
    "ict_contract_management",
    "tda",
    "requester",
    "condition_owner",
)
FREQUENCIES = ("immediate", "daily", "weekly")
STEP_KINDS = ("ladder", "overdue", "term_end")


def one_of(column: str, values: tuple[str, ...], *, nullable: bool = False) -> str:
    listed = ", ".join(f"'{v}'" for v in values)
    check = f"{column} IN ({listed})"
    return f"{column} IS NULL OR {check}" if nullable else check


class WatchedContractRecord(Base):
    """A contract as the register's latest event described it, and where its renewal watch stands."""

    __tablename__ = "watched_contracts"
    __table_args__ = (
        # The sweep's one query: contracts whose next step has come due, in the order it takes them.
        Index("ix_watched_contracts_next_due_on", "next_due_on", "contract_id"),
        Index("ix_watched_contracts_owner_email", "owner_email"),
        Index("ix_watched_contracts_budget_holder_email", "budget_holder_email"),
        # Decisions the register has not confirmed, oldest first (a handful at most).
        Index("ix_watched_contracts_pending_decision_at", "pending_decision_at"),
        CheckConstraint("version >= 1", name="version_positive"),
    )

    contract_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    reference: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(300))
    supplier_name: Mapped[str | None] = mapped_column(String(300))
    contract_type: Mapped[str] = mapped_column(String(60))
    status: Mapped[str] = mapped_column(String(30))
    start_date: Mapped[date] = mapped_column(Date)
    current_term_end: Mapped[date] = mapped_column(Date)
    renewal_type: Mapped[str] = mapped_column(String(20))
    renewal_period_months: Mapped[int | None] = mapped_column(Integer)
    extension_options_left: Mapped[int] = mapped_column(Integer, default=0)
    notice_period_days: Mapped[int | None] = mapped_column(Integer)
    internal_lead_time_days: Mapped[int] = mapped_column(Integer, default=0)
    annual_value: Mapped[Decimal | None]
    owner_email: Mapped[str | None] = mapped_column(String(320))
    owner_name: Mapped[str | None] = mapped_column(String(300))
    budget_holder_email: Mapped[str | None] = mapped_column(String(320))
    budget_holder_name: Mapped[str | None] = mapped_column(String(300))
    system_ids: Mapped[list[str]]
    ladder: Mapped[list[int] | None] = mapped_column(JSON(none_as_null=True))
    """Rungs set for this contract (days before act-by), overriding its type's and the default."""
    decided_term_end: Mapped[date | None] = mapped_column(Date)
    """The term a decision was recorded for: its ladder stops."""
    pending_decision_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    """A decision recorded here and sent to the register, which has not yet recorded it on the contract."""
    pending_decision_at: Mapped[datetime | None]
    pending_decision_by: Mapped[str | None] = mapped_column(String(320))
    problems: Mapped[list[str]]
    # The watch's own state (see domain.renewal.WatchState and RenewalPlan).
    term_end: Mapped[date | None] = mapped_column(Date)
    act_by: Mapped[date | None] = mapped_column(Date)
    notice_unknown: Mapped[bool] = mapped_column(default=False)
    last_raised_on: Mapped[date | None] = mapped_column(Date)
    next_due_on: Mapped[date | None] = mapped_column(Date)
    updated_at: Mapped[datetime]


class WatchedSystemRecord(Base):
    __tablename__ = "watched_systems"
    __table_args__ = (CheckConstraint("version >= 1", name="version_positive"),)

    system_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(300))
    owner_email: Mapped[str | None] = mapped_column(String(320))
    owner_name: Mapped[str | None] = mapped_column(String(300))
    retired: Mapped[bool] = mapped_column(default=False)


class ContractTypeLadderRecord(Base):
    __tablename__ = "contract_type_ladders"

    contract_type: Mapped[str] = mapped_column(String(60), primary_key=True)
    rungs: Mapped[list[int]]
    updated_by: Mapped[str] = mapped_column(String(320))
    updated_at: Mapped[datetime]


class AlertRecord(Base):
    """One step raised for one contract term: sent to a role, escalated while nobody acknowledges it,
    closed when a later step replaces it, a decision is recorded or the contract ends."""

    __tablename__ = "alerts"
    __table_args__ = (
        # At most one alert per step of a term, whoever raises it and however often.
        Index("ux_alerts_step", "contract_id", "term_end", "kind", "rung_days", unique=True),
        # The escalation sweep: open, unacknowledged alerts whose time is up.
        Index("ix_alerts_escalate_at", "escalate_at"),
        CheckConstraint(one_of("kind", STEP_KINDS), name="kind_known"),
        CheckConstraint("level >= 0 AND level <= 2", name="level_in_chain"),
        CheckConstraint(one_of("role", ROLES), name="role_known"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    contract_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    contract_reference: Mapped[str] = mapped_column(String(100))
    term_end: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(20))
    rung_days: Mapped[int] = mapped_column(Integer)
    due_on: Mapped[date] = mapped_column(Date)
    act_by: Mapped[date] = mapped_column(Date)
    level: Mapped[int] = mapped_column(Integer, default=0)
    role: Mapped[str] = mapped_column(String(40))
    raised_at: Mapped[datetime]
    escalate_at: Mapped[datetime | None]
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(320))
    acknowledgement_note: Mapped[str | None] = mapped_column(Text)
    closed_at: Mapped[datetime | None]
    close_reason: Mapped[str | None] = mapped_column(String(40))


class DeliveryRecord(Base):
    """One message to one recipient on one channel; ``dedupe_key`` makes it exist once."""

    __tablename__ = "deliveries"
    __table_args__ = (
        Index("ux_deliveries_dedupe_key", "dedupe_key", unique=True),
        # The sender's claim query: pending work whose time has come, oldest first.
        Index("ix_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_deliveries_alert_id", "alert_id"),
        Index("ix_deliveries_recipient_email", "recipient_email"),
        CheckConstraint(one_of("status", DELIVERY_STATUSES), name="status_known"),
        CheckConstraint(one_of("channel", CHANNELS), name="channel_known"),
        CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        # A message being sent has a lease; one that was sent says when.
        CheckConstraint("status <> 'sending' OR lease_until IS NOT NULL", name="sending_has_lease"),
        CheckConstraint("status <> 'sent' OR sent_at IS NOT NULL", name="sent_has_time"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(400))
    kind: Mapped[str] = mapped_column(String(40))
    alert_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    contract_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    role: Mapped[str] = mapped_column(String(40))
    recipient_email: Mapped[str] = mapped_column(String(320))
    recipient_name: Mapped[str | None] = mapped_column(String(300))
    channel: Mapped[str] = mapped_column(String(10))
    subject: Mapped[str] = mapped_column(String(300))
    body_text: Mapped[str | None] = mapped_column(Text)
    """Written when the message is sent, for renewal alerts (the sweep keeps their context in detail)."""
    body_html: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict[str, Any]]
    """What the message is about, for the events published when it is sent (alert fields, rung)."""
    status: Mapped[str] = mapped_column(String(12))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    lease_until: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    last_error: Mapped[str | None] = mapped_column(Text)
    provider_id: Mapped[str | None] = mapped_column(String(300))
    digest_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


class PreferenceRecord(Base):
    __tablename__ = "preferences"
    __table_args__ = (CheckConstraint(one_of("frequency", FREQUENCIES), name="frequency_known"),)

    email: Mapped[str] = mapped_column(String(320), primary_key=True)
    frequency: Mapped[str] = mapped_column(String(12))
    updated_by: Mapped[str] = mapped_column(String(320))
    updated_at: Mapped[datetime]


class CalendarFeedRecord(Base):
    """A calendar subscription URL; only the token's hash is kept, so a leaked database leaks no feed."""

    __tablename__ = "calendar_feeds"
    __table_args__ = (
        Index("ux_calendar_feeds_token_hash", "token_hash", unique=True),
        CheckConstraint(one_of("scope", ("person", "tda")), name="scope_known"),
        CheckConstraint("scope <> 'person' OR owner_email IS NOT NULL", name="person_feed_has_owner"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    scope: Mapped[str] = mapped_column(String(10))
    owner_email: Mapped[str | None] = mapped_column(String(320))
    label: Mapped[str] = mapped_column(String(200))
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[str | None] = mapped_column(String(320))
    last_used_at: Mapped[datetime | None]


class ConditionRecord(Base):
    """A condition of a TDA approval, from the procurement service's decision events."""

    __tablename__ = "watched_conditions"
    __table_args__ = (Index("ix_watched_conditions_due_date", "due_date"),)

    condition_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    request_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    request_reference: Mapped[str] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text)
    owner_email: Mapped[str] = mapped_column(String(320))
    owner_name: Mapped[str] = mapped_column(String(300))
    due_date: Mapped[date] = mapped_column(Date)
    met_at: Mapped[datetime | None]
    superseded: Mapped[bool] = mapped_column(default=False)


class AuditEntryRecord(Base):
    """Every change made through the API or a link; rows are only inserted."""

    __tablename__ = "audit_entries"
    __table_args__ = (Index("ix_audit_entries_entity", "entity", "entity_id"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(60))
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str] = mapped_column(String(200))
    detail: Mapped[dict[str, Any]]
