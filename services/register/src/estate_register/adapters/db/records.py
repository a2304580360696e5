"""Typed SQLAlchemy records of the register's database.

Columns that people filter and sort on are real, indexed columns; lists of small value objects (KPIs,
SLAs, the API register, lifecycle history) are JSON, because nobody queries inside them. Many-to-many
links that are filtered on (service areas, councils, systems under a contract) are link tables.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    Uuid,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from estate_runtime.db import NAMING, Money, UtcDateTime


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UtcDateTime(), Decimal: Money, dict[str, Any]: JSON, list[Any]: JSON}


class Versioned:
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class CouncilRecord(Base):
    __tablename__ = "councils"
    code: Mapped[str] = mapped_column(String(20), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))


class ServiceAreaRecord(Base):
    __tablename__ = "service_areas"
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # Lower-cased name, so that "Housing" and "housing" are one service area of a council.
    name_key: Mapped[str] = mapped_column(String(200))
    council_code: Mapped[str] = mapped_column(ForeignKey("councils.code"))
    __table_args__ = (Index("uq_service_areas_council_name", "council_code", "name_key", unique=True),)


class PersonRecord(Versioned, Base):
    __tablename__ = "people"
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320), unique=True)
    role_titles: Mapped[list[Any]] = mapped_column(JSON, default=list)


class SupplierRecord(Versioned, Base):
    __tablename__ = "suppliers"
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(String(200), unique=True)
    products: Mapped[list[Any]] = mapped_column(JSON, default=list)
    website: Mapped[str | None] = mapped_column(String(500))
    notes: Mapped[str] = mapped_column(Text, default="")
    retired: Mapped[bool] = mapped_column(default=False)


class SystemRecord(Versioned, Base):
    __tablename__ = "systems"
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    reference: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # The survey's match key: one system of a name per lead council, whatever its case and spacing.
    name_key: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    # Name, reference, description and capabilities, case-folded: what ?q= searches (trigram-indexed on
    # PostgreSQL, so a search stays fast at national scale).
    search_text: Mapped[str] = mapped_column(Text, default="")
    lead_council: Mapped[str] = mapped_column(ForeignKey("councils.code"))
    councils: Mapped[list[Any]] = mapped_column(JSON, default=list)
    service_area_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    capabilities: Mapped[list[Any]] = mapped_column(JSON, default=list)
    supplier_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("suppliers.id"), index=True)
    product_family: Mapped[str | None] = mapped_column(String(200))
    lifecycle_stage: Mapped[str] = mapped_column(String(30), index=True)
    lifecycle_history: Mapped[list[Any]] = mapped_column(JSON, default=list)
    rationalisation_decision: Mapped[str] = mapped_column(String(30))
    rationalisation_rationale: Mapped[str] = mapped_column(Text, default="")
    disposition: Mapped[str | None] = mapped_column(String(30))
    hosting: Mapped[str | None] = mapped_column(String(30), index=True)
    cloud_feasibility: Mapped[str] = mapped_column(String(30))
    cloud_alternative: Mapped[str | None] = mapped_column(String(200))
    holds_personal_data: Mapped[bool | None] = mapped_column(index=True)
    personal_data_categories: Mapped[list[Any]] = mapped_column(JSON, default=list)
    special_category_data: Mapped[bool] = mapped_column(default=False)
    data_location: Mapped[str | None] = mapped_column(String(200))
    dpia_status: Mapped[str] = mapped_column(String(30))
    dpia_date: Mapped[date | None] = mapped_column(Date)
    ropa_status: Mapped[str] = mapped_column(String(30))
    ropa_date: Mapped[date | None] = mapped_column(Date)
    integration_capabilities: Mapped[list[Any]] = mapped_column(JSON, default=list)
    api_register: Mapped[list[Any]] = mapped_column(JSON, default=list)
    business_criticality: Mapped[str | None] = mapped_column(String(30))
    risk_rag: Mapped[str | None] = mapped_column(String(10))
    accessibility_level: Mapped[str] = mapped_column(String(30))
    usage_status: Mapped[str] = mapped_column(String(30))
    resident_facing: Mapped[bool] = mapped_column(default=False)
    procured_outside_ict: Mapped[bool] = mapped_column(default=False)
    system_owner_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("people.id"), index=True)
    data_owner_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("people.id"), index=True)
    last_validated_at: Mapped[datetime | None]
    last_validated_by: Mapped[str | None] = mapped_column(String(320))
    source_request_id: Mapped[str | None] = mapped_column(String(100), index=True)
    __table_args__ = (
        Index("uq_systems_council_name", "lead_council", "name_key", unique=True),
        Index("ix_systems_name_id", "name_key", "id"),
        Index("ix_systems_updated_id", "updated_at", "id"),
        # The estate summary's one GROUP BY over systems reads only these columns: on PostgreSQL an
        # index-only scan, instead of the whole (wide) table.
        Index(
            "ix_systems_stage_estate",
            "lifecycle_stage",
            postgresql_include=[
                "id",
                "disposition",
                "hosting",
                "cloud_feasibility",
                "holds_personal_data",
                "dpia_status",
                "ropa_status",
                "system_owner_id",
            ],
        ),
        Index(
            "ix_systems_search_trgm",
            "search_text",
            postgresql_using="gin",
            postgresql_ops={"search_text": "gin_trgm_ops"},
        ),
        CheckConstraint("version >= 1", name="version_positive"),
    )


class SystemServiceAreaLink(Base):
    """Which service areas a system serves; kept in step with systems.service_area_ids for filtering."""

    __tablename__ = "system_service_areas"
    system_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("systems.id", ondelete="CASCADE"), primary_key=True
    )
    service_area_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("service_areas.id"), primary_key=True, index=True
    )


class SystemCouncilLink(Base):
    """Which councils use a system, the lead council included."""

    __tablename__ = "system_councils"
    system_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("systems.id", ondelete="CASCADE"), primary_key=True
    )
    council_code: Mapped[str] = mapped_column(ForeignKey("councils.code"), primary_key=True, index=True)


class ContractRecord(Versioned, Base):
    __tablename__ = "contracts"
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    reference: Mapped[str] = mapped_column(String(60), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    supplier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("suppliers.id"), index=True)
    system_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    proactis_reference: Mapped[str | None] = mapped_column(String(60))
    contract_type: Mapped[str] = mapped_column(String(40))
    procurement_route: Mapped[str | None] = mapped_column(String(40))
    start_date: Mapped[date] = mapped_column(Date)
    initial_term_end: Mapped[date] = mapped_column(Date)
    current_term_end: Mapped[date] = mapped_column(Date)
    renewal_type: Mapped[str] = mapped_column(String(20))
    renewal_period_months: Mapped[int | None] = mapped_column(Integer)
    extension_options_left: Mapped[int] = mapped_column(Integer, default=0)
    notice_period_days: Mapped[int] = mapped_column(Integer, default=0)
    internal_lead_time_days: Mapped[int] = mapped_column(Integer, default=0)
    # Derived from the term end, notice and lead time whenever they change; every stored contract has one.
    act_by: Mapped[date] = mapped_column(Date)
    annual_value: Mapped[Decimal | None]
    total_value: Mapped[Decimal | None]
    cost_centre: Mapped[str | None] = mapped_column(String(60))
    below_register_threshold: Mapped[bool] = mapped_column(default=False)
    councils: Mapped[list[Any]] = mapped_column(JSON, default=list)
    kpis: Mapped[list[Any]] = mapped_column(JSON, default=list)
    slas: Mapped[list[Any]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(20), index=True)
    signatory_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("people.id"), index=True)
    owner_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("people.id"), index=True)
    budget_holder_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("people.id"), index=True)
    source_request_id: Mapped[str | None] = mapped_column(String(100), index=True)
    renewal_decisions: Mapped[list[Any]] = mapped_column(JSON, default=list)
    __table_args__ = (
        CheckConstraint("initial_term_end >= start_date", name="initial_term_after_start"),
        CheckConstraint("current_term_end >= initial_term_end", name="current_term_after_initial"),
        CheckConstraint("annual_value IS NULL OR annual_value >= 0", name="annual_value_not_negative"),
        CheckConstraint("total_value IS NULL OR total_value >= 0", name="total_value_not_negative"),
        CheckConstraint(
            "notice_period_days >= 0 AND internal_lead_time_days >= 0 AND extension_options_left >= 0",
            name="day_counts_not_negative",
        ),
        CheckConstraint("version >= 1", name="version_positive"),
        Index("ix_contracts_reference_id", "reference", "id"),
        Index("ix_contracts_act_by_id", "act_by", "id"),
        Index("ix_contracts_term_end_id", "current_term_end", "id"),
        # The estate view: the renewal pipeline reads active contracts by act-by date, and the summary's
        # contract totals and spend read only the included columns (index-only on PostgreSQL).
        Index(
            "ix_contracts_status_act_by",
            "status",
            "act_by",
            postgresql_include=[
                "id",
                "supplier_id",
                "owner_id",
                "notice_period_days",
                "annual_value",
                "current_term_end",
            ],
        ),
    )


class ContractSystemLink(Base):
    __tablename__ = "contract_systems"
    contract_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("contracts.id", ondelete="CASCADE"), primary_key=True
    )
    system_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("systems.id"), primary_key=True, index=True)


class AuditRecord(Base):
    """Every change to every record: who, when, what it was before and after. Rows are never updated."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    record_kind: Mapped[str] = mapped_column(String(30))
    record_id: Mapped[str] = mapped_column(String(60))
    action: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(320))
    at: Mapped[datetime]
    correlation_id: Mapped[str | None] = mapped_column(String(128))
    changed_fields: Mapped[list[Any]] = mapped_column(JSON, default=list)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    __table_args__ = (Index("ix_audit_record", "record_kind", "record_id", "id"),)


# --- the estate view's projections (the TDA's single view) -------------------------------------------
# Read models kept from other services' events, never written by the register's own use cases. Their
# rows are upserted by the worker in the inbox transaction of the event (application/estate.py says
# which event changes what, and why an older event never overwrites a newer one).


class EstateRequestRecord(Base):
    """A technology request as procurement's events last described it (``estate.procurement.requests``)."""

    __tablename__ = "estate_requests"
    request_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    reference: Mapped[str] = mapped_column(String(300))
    # Absent until the request's ``submitted`` event is seen (events before it carry only the reference).
    title: Mapped[str | None] = mapped_column(String(300))
    state: Mapped[str] = mapped_column(String(30))
    # When the event that set ``state`` happened: an event no newer than this leaves the state alone.
    state_at: Mapped[datetime]
    # Not decided and not withdrawn: kept as a column so that "pending, oldest first" is one index range.
    pending: Mapped[bool]
    requester_name: Mapped[str | None] = mapped_column(String(300))
    requester_email: Mapped[str | None] = mapped_column(String(320))
    service_area: Mapped[str | None] = mapped_column(String(100))
    councils: Mapped[list[Any]] = mapped_column(JSON, default=list)
    category: Mapped[str | None] = mapped_column(String(30))
    estimated_annual_cost: Mapped[Decimal | None]
    # The submission time; until the submission is seen, the time of the earliest event seen.
    submitted_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(30))
    conditions: Mapped[list[Any]] = mapped_column(JSON, default=list)
    conditions_met: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # When the worker last wrote the row: the estate summary's cache watches the newest one.
    changed_at: Mapped[datetime] = mapped_column(index=True)
    __table_args__ = (Index("ix_estate_requests_pending", "pending", "submitted_at", "request_id"),)


class EstateContractAlertRecord(Base):
    """What the notifications service said about one contract's renewal alerts and renewal facts
    (``estate.notifications.alerts`` and ``.renewals``): the last alert, the last escalation, the last
    acknowledgement, the last renewal fact. Keyed by the register's contract id, without a foreign key:
    the view keeps what it was told even about a contract this register has not (yet) got."""

    __tablename__ = "estate_contract_alerts"
    contract_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    contract_reference: Mapped[str] = mapped_column(String(300))
    last_alert_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    last_alert_at: Mapped[datetime | None]
    last_alert_role: Mapped[str | None] = mapped_column(String(40))
    last_alert_email: Mapped[str | None] = mapped_column(String(320))
    last_alert_rung_days: Mapped[int | None] = mapped_column(Integer)
    last_alert_act_by: Mapped[date | None] = mapped_column(Date)
    escalated_at: Mapped[datetime | None]
    escalated_from: Mapped[str | None] = mapped_column(String(40))
    escalated_to: Mapped[str | None] = mapped_column(String(40))
    escalation_reason: Mapped[str | None] = mapped_column(String(40))
    escalated_rung_days: Mapped[int | None] = mapped_column(Integer)
    escalated_act_by: Mapped[date | None] = mapped_column(Date)
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(320))
    # The last renewal decision submitted through the notifications service for this contract.
    decided_at: Mapped[datetime | None]
    # Escalated, and neither acknowledged nor decided since: kept as a column for an index range.
    escalation_open: Mapped[bool] = mapped_column(default=False)
    fact: Mapped[str | None] = mapped_column(String(40))
    fact_as_of: Mapped[date | None] = mapped_column(Date)
    fact_act_by: Mapped[date | None] = mapped_column(Date)
    fact_term_end: Mapped[date | None] = mapped_column(Date)
    days_left: Mapped[int | None] = mapped_column(Integer)
    days_overdue: Mapped[int | None] = mapped_column(Integer)
    window_opened_on: Mapped[date | None] = mapped_column(Date)
    changed_at: Mapped[datetime] = mapped_column(index=True)
    __table_args__ = (Index("ix_estate_contract_alerts_open", "escalation_open", "contract_id"),)
