"""The estate view (the TDA's single view): projections of requests and renewal alerts, and indexes

Two read models kept from other services' events: ``estate_requests`` (procurement's technology
requests) and ``estate_contract_alerts`` (the notifications service's alerts and renewal facts, one row
per contract), each with the index its list reads in order and one on ``changed_at`` (the summary
cache's change marker). Contracts get an index on (status, act_by) for the renewal pipeline, which reads
active contracts by act-by date; on PostgreSQL it and a new index on systems' lifecycle stage include
the columns the summary's aggregates read, so they are index-only scans of a few MB rather than scans
of the wide tables.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21 15:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _instant(name: str, *, nullable: bool = True) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


CONTRACT_INCLUDE = ["id", "supplier_id", "owner_id", "notice_period_days", "annual_value", "current_term_end"]
SYSTEM_INCLUDE = [
    "id",
    "disposition",
    "hosting",
    "cloud_feasibility",
    "holds_personal_data",
    "dpia_status",
    "ropa_status",
    "system_owner_id",
]


def upgrade() -> None:
    op.create_index(
        "ix_contracts_status_act_by", "contracts", ["status", "act_by"], postgresql_include=CONTRACT_INCLUDE
    )
    op.create_index(
        "ix_systems_stage_estate", "systems", ["lifecycle_stage"], postgresql_include=SYSTEM_INCLUDE
    )
    op.create_table(
        "estate_requests",
        sa.Column("request_id", sa.Uuid(), nullable=False),
        sa.Column("reference", sa.String(length=300), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=True),
        sa.Column("state", sa.String(length=30), nullable=False),
        _instant("state_at", nullable=False),
        sa.Column("pending", sa.Boolean(), nullable=False),
        sa.Column("requester_name", sa.String(length=300), nullable=True),
        sa.Column("requester_email", sa.String(length=320), nullable=True),
        sa.Column("service_area", sa.String(length=100), nullable=True),
        sa.Column("councils", sa.JSON(), nullable=False),
        sa.Column("category", sa.String(length=30), nullable=True),
        sa.Column("estimated_annual_cost", sa.Numeric(precision=14, scale=2), nullable=True),
        _instant("submitted_at", nullable=False),
        _instant("decided_at"),
        sa.Column("outcome", sa.String(length=30), nullable=True),
        sa.Column("conditions", sa.JSON(), nullable=False),
        sa.Column("conditions_met", sa.JSON(), nullable=False),
        _instant("changed_at", nullable=False),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_estate_requests")),
    )
    op.create_index("ix_estate_requests_pending", "estate_requests", ["pending", "submitted_at", "request_id"])
    op.create_index(op.f("ix_estate_requests_changed_at"), "estate_requests", ["changed_at"])

    op.create_table(
        "estate_contract_alerts",
        sa.Column("contract_id", sa.Uuid(), nullable=False),
        sa.Column("contract_reference", sa.String(length=300), nullable=False),
        sa.Column("last_alert_id", sa.Uuid(), nullable=True),
        _instant("last_alert_at"),
        sa.Column("last_alert_role", sa.String(length=40), nullable=True),
        sa.Column("last_alert_email", sa.String(length=320), nullable=True),
        sa.Column("last_alert_rung_days", sa.Integer(), nullable=True),
        sa.Column("last_alert_act_by", sa.Date(), nullable=True),
        _instant("escalated_at"),
        sa.Column("escalated_from", sa.String(length=40), nullable=True),
        sa.Column("escalated_to", sa.String(length=40), nullable=True),
        sa.Column("escalation_reason", sa.String(length=40), nullable=True),
        sa.Column("escalated_rung_days", sa.Integer(), nullable=True),
        sa.Column("escalated_act_by", sa.Date(), nullable=True),
        _instant("acknowledged_at"),
        sa.Column("acknowledged_by", sa.String(length=320), nullable=True),
        _instant("decided_at"),
        sa.Column("escalation_open", sa.Boolean(), nullable=False),
        sa.Column("fact", sa.String(length=40), nullable=True),
        sa.Column("fact_as_of", sa.Date(), nullable=True),
        sa.Column("fact_act_by", sa.Date(), nullable=True),
        sa.Column("fact_term_end", sa.Date(), nullable=True),
        sa.Column("days_left", sa.Integer(), nullable=True),
        sa.Column("days_overdue", sa.Integer(), nullable=True),
        sa.Column("window_opened_on", sa.Date(), nullable=True),
        _instant("changed_at", nullable=False),
        sa.PrimaryKeyConstraint("contract_id", name=op.f("pk_estate_contract_alerts")),
    )
    op.create_index(
        "ix_estate_contract_alerts_open", "estate_contract_alerts", ["escalation_open", "contract_id"]
    )
    op.create_index(op.f("ix_estate_contract_alerts_changed_at"), "estate_contract_alerts", ["changed_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_estate_contract_alerts_changed_at"), table_name="estate_contract_alerts")
    op.drop_index("ix_estate_contract_alerts_open", table_name="estate_contract_alerts")
    op.drop_table("estate_contract_alerts")
    op.drop_index(op.f("ix_estate_requests_changed_at"), table_name="estate_requests")
    op.drop_index("ix_estate_requests_pending", table_name="estate_requests")
    op.drop_table("estate_requests")
    op.drop_index("ix_systems_stage_estate", table_name="systems")
    op.drop_index("ix_contracts_status_act_by", table_name="contracts")
