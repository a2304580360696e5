"""Typed SQLAlchemy records of the procurement database.

Columns that people filter and sort on (state, requester, service area, category, dates, the latest
outcome) are real, indexed columns of ``technology_requests``; the rest of the aggregate (the content,
options, costs, state history, review rounds with their ratings, decisions, information requests) is
one JSON ``body``, because nobody queries inside it and the aggregate is always loaded whole.

Conditions are the exception: "which conditions are overdue, across all requests" must be one indexed
query, so the conditions of each request's latest decision are also kept as rows of
``request_conditions``, rewritten by the repository in the same statement batch as the request.

Decisions are also kept, as published, in the append-only ``decision_log`` (one row per decision, never
updated: the database refuses it), so that the TDA's decision log is one indexed query too.

Importing this module also declares the re-use read model's tables (``reuse_store``) on the same
``Base.metadata``, so that the migrations and ``create_all`` see every table of the service.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, get_args

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from estate_procurement.adapters.db import reuse_store as _reuse_store
from estate_procurement.adapters.db.base import Base
from estate_procurement.domain.request import Action
from estate_procurement.domain.values import (
    ConditionStatus,
    Outcome,
    RequestCategory,
    RequestState,
)

__all__ = [
    "REUSE_TABLES",
    "AuditEntryRecord",
    "Base",
    "ConditionRecord",
    "DecisionLogRecord",
    "ReferenceCounterRecord",
    "RequestRecord",
]

REUSE_TABLES = _reuse_store.REUSE_TABLES

ACTIONS: tuple[str, ...] = get_args(Action)


def one_of(column: str, values: tuple[str, ...] | list[str], *, nullable: bool = False) -> str:
    """SQL that holds when ``column`` is one of ``values`` (or NULL, when ``nullable``)."""
    listed = ", ".join(f"'{v}'" for v in values)
    check = f"{column} IN ({listed})"
    return f"{column} IS NULL OR {check}" if nullable else check


STATES = [s.value for s in RequestState]
OUTCOMES = [o.value for o in Outcome]
CATEGORIES = [c.value for c in RequestCategory]
CONDITION_STATUSES = [s.value for s in ConditionStatus]


class RequestRecord(Base):
    """One technology request. ``body`` is the codec's JSON of every field without a column; the
    derived columns (``state_since``, ``decided_at``, ``outcome``, ``round_number``) are written from
    the aggregate on every save and never read back into it."""

    __tablename__ = "technology_requests"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    reference: Mapped[str] = mapped_column(String(64), unique=True)
    state: Mapped[str] = mapped_column(String(30), index=True)
    requester_id: Mapped[str] = mapped_column(String(255), index=True)
    requester_email: Mapped[str] = mapped_column(String(320))
    requester_name: Mapped[str] = mapped_column(String(300))
    service_area: Mapped[str | None] = mapped_column(String(100), index=True)
    title: Mapped[str | None] = mapped_column(String(300))
    category: Mapped[str | None] = mapped_column(String(20), index=True)
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # When the request entered its current state: what "waiting too long" is measured from.
    state_since: Mapped[datetime]
    submitted_at: Mapped[datetime | None]
    # The latest decision (it stays when a request is reopened, until the next decision replaces it).
    decided_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(40), index=True)
    round_number: Mapped[int] = mapped_column(Integer, default=0)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)

    __table_args__ = (
        # Only the lifecycle's states, outcomes and categories: a typo written by hand (or by a bad
        # migration) would otherwise make a request vanish from every filtered list.
        CheckConstraint(one_of("state", STATES), name="state_known"),
        CheckConstraint(one_of("outcome", OUTCOMES, nullable=True), name="outcome_known"),
        CheckConstraint(one_of("category", CATEGORIES, nullable=True), name="category_known"),
        # Versions start at 1 and only grow: optimistic locking compares them.
        CheckConstraint("version >= 1", name="version_positive"),
        CheckConstraint("round_number >= 0", name="round_number_not_negative"),
        # A decision has both its outcome and its date, or neither is recorded.
        CheckConstraint("(outcome IS NULL) = (decided_at IS NULL)", name="decision_complete"),
        # A decided request has a decision; a draft has never been submitted, and everything between
        # (submitted .. resubmitted, decided) has been. A withdrawn request may have been either.
        CheckConstraint("state <> 'decided' OR outcome IS NOT NULL", name="decided_has_outcome"),
        CheckConstraint(
            "state IN ('draft', 'withdrawn') OR submitted_at IS NOT NULL", name="submitted_has_date"
        ),
        CheckConstraint("state <> 'draft' OR submitted_at IS NULL", name="draft_not_submitted"),
        CheckConstraint("updated_at >= created_at", name="updated_after_created"),
        # Keyset pagination: newest change first, and newest request first (the repository's list).
        Index("ix_technology_requests_updated_id", "updated_at", "id"),
        Index("ix_technology_requests_created_id", "created_at", "id"),
        # The waiting list: open states entered before a cutoff instant, longest waiting first.
        Index("ix_technology_requests_state_since_id", "state_since", "id"),
    )


class ConditionRecord(Base):
    """A condition of a request's latest decision, with its progress. Rewritten from the aggregate on
    every save (the aggregate is the truth; these rows are an index of it)."""

    __tablename__ = "request_conditions"

    condition_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    request_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("technology_requests.id", ondelete="CASCADE"), index=True
    )
    round_number: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    owner_id: Mapped[str] = mapped_column(String(255), index=True)
    owner_email: Mapped[str] = mapped_column(String(320))
    owner_name: Mapped[str] = mapped_column(String(300))
    due_date: Mapped[date] = mapped_column(Date, index=True)
    # Indexed as the leading column of ix_request_conditions_status_due (below).
    status: Mapped[str] = mapped_column(String(10))
    met_at: Mapped[datetime | None]
    met_by_id: Mapped[str | None] = mapped_column(String(255))
    met_by_name: Mapped[str | None] = mapped_column(String(300))
    # Added by migration 0003 (the conditions list shows who met a condition with their e-mail).
    met_by_email: Mapped[str | None] = mapped_column(String(320))
    evidence: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint(one_of("status", CONDITION_STATUSES), name="status_known"),
        # Met means met by someone, at some time, with evidence; open means none of that yet.
        CheckConstraint(
            "(status = 'met') = (met_at IS NOT NULL AND met_by_id IS NOT NULL AND evidence IS NOT NULL)",
            name="met_has_evidence",
        ),
        CheckConstraint(
            "status = 'met' OR (met_at IS NULL AND met_by_id IS NULL AND met_by_name IS NULL "
            "AND evidence IS NULL)",
            name="open_has_no_evidence",
        ),
        CheckConstraint("round_number >= 1", name="round_number_positive"),
        # The overdue list: open conditions by due date, across every request, from one index range.
        Index("ix_request_conditions_status_due", "status", "due_date", "condition_id"),
        # The list of every current condition, earliest due first, paged by (due_date, condition_id).
        Index("ix_request_conditions_due_id", "due_date", "condition_id"),
    )


class DecisionLogRecord(Base):
    """The TDA's decision log: one row per published decision, written by the repository in the
    decision's own transaction and never updated or deleted (the database refuses both: migration 0003
    puts a trigger on the table). A reopened request's earlier decisions therefore stay as they were
    published; the next decision is a new row with the next round number.

    The decision's conditions are kept as recorded (``conditions``: JSON of id, text, owner, due date);
    their progress lives in ``request_conditions`` while the decision is the request's latest."""

    __tablename__ = "decision_log"

    request_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("technology_requests.id"), primary_key=True, autoincrement=False
    )
    round: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    reference: Mapped[str] = mapped_column(String(64))
    title: Mapped[str | None] = mapped_column(String(300))
    service_area: Mapped[str | None] = mapped_column(String(100))
    outcome: Mapped[str] = mapped_column(String(40))
    rationale: Mapped[str] = mapped_column(Text)
    decided_by_id: Mapped[str] = mapped_column(String(255))
    decided_by_name: Mapped[str] = mapped_column(String(300))
    decided_by_email: Mapped[str] = mapped_column(String(320))
    decided_at: Mapped[datetime]
    recommended_outcome: Mapped[str] = mapped_column(String(40))
    checklist_version: Mapped[str] = mapped_column(String(100))
    conditions: Mapped[list[Any]] = mapped_column(JSON)

    __table_args__ = (
        CheckConstraint(one_of("outcome", OUTCOMES), name="outcome_known"),
        CheckConstraint(one_of("recommended_outcome", OUTCOMES), name="recommended_outcome_known"),
        CheckConstraint("round >= 1", name="round_positive"),
        # The log newest first, paged by (decided_at, request_id, round): one index range read backwards.
        Index("ix_decision_log_decided", "decided_at", "request_id", "round"),
        {"comment": "decision_log is append-only: the TDA's decision record is immutable"},
    )


class ReferenceCounterRecord(Base):
    """The last request number handed out in a year (TR-<year>-<number>). Incremented by one upsert
    whose row lock is held to the end of the transaction, so two transactions never get one number."""

    __tablename__ = "request_references"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        CheckConstraint("last >= 1", name="last_positive"),
        CheckConstraint("year BETWEEN 2000 AND 9999", name="year_four_digits"),
    )


class AuditEntryRecord(Base):
    """Every fact a request recorded: who did what when, the snapshot after (and before, for edits)
    and the action's detail. Rows are only ever inserted."""

    __tablename__ = "audit_entries"

    # SQLite only autoincrements an INTEGER PRIMARY KEY; the id is also the order facts were written.
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    request_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    at: Mapped[datetime]
    actor_id: Mapped[str] = mapped_column(String(255))
    actor_name: Mapped[str] = mapped_column(String(300))
    actor_email: Mapped[str] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(40))
    from_state: Mapped[str | None] = mapped_column(String(30))
    to_state: Mapped[str] = mapped_column(String(30))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any]] = mapped_column(JSON)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    correlation_id: Mapped[str | None] = mapped_column(String(128))

    __table_args__ = (
        CheckConstraint(one_of("action", ACTIONS), name="action_known"),
        CheckConstraint(one_of("from_state", STATES, nullable=True), name="from_state_known"),
        CheckConstraint(one_of("to_state", STATES), name="to_state_known"),
        # A request's history, newest first, is one index range scan read backwards.
        Index("ix_audit_entries_request_id", "request_id", "id"),
    )
