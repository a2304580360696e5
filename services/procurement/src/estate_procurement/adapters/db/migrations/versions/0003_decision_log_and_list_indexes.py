"""The decision log table, and indexes for the conditions and waiting lists

* ``decision_log``: one row per published TDA decision, primary key (request_id, round), append-only.
  The database refuses UPDATE and DELETE on it (a trigger on PostgreSQL and on SQLite), because the
  TDA's decision record is immutable. ``GET /decisions`` reads it newest first through the index
  ``(decided_at, request_id, round)``.
* ``request_conditions.met_by_email``: the conditions list shows who met a condition, with the e-mail.
* ``ix_request_conditions_due_id`` (due_date, condition_id) for ``GET /conditions`` and
  ``ix_technology_requests_state_since_id`` (state_since, id) for ``GET /requests?waiting=true``.

Backfill: the decisions are inside each request's JSON body, so the rows are made by the service's
own codec (``request_from_row`` then ``decision_log_row``), exactly as the repository writes them; the
same pass fills ``met_by_email`` of the conditions already met. Requests are read in pages of 500 by
id, so a large database is not held in memory. Doing it in SQL instead would mean reading the body's
JSON with each dialect's own functions (``->`` on PostgreSQL, ``json_extract`` on SQLite) and repeating
the codec's encoding by hand. The downgrade drops what the upgrade made; the request bodies still hold
every decision, so nothing is lost.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from estate_procurement.adapters.db.codec import decision_log_row, request_from_row
from estate_runtime.db import UtcDateTime

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 500

IMMUTABLE = "decision_log is append-only: the TDA's decision record is immutable"
"""Why the database refuses to change or remove a row of decision_log."""
_IMMUTABLE_SQL = IMMUTABLE.replace("'", "''")

# technology_requests and request_conditions as they stand at this revision (only what is read/written).
_requests = sa.table(
    "technology_requests",
    sa.column("id", sa.Uuid()),
    sa.column("reference", sa.String()),
    sa.column("state", sa.String()),
    sa.column("requester_id", sa.String()),
    sa.column("requester_email", sa.String()),
    sa.column("requester_name", sa.String()),
    sa.column("service_area", sa.String()),
    sa.column("title", sa.String()),
    sa.column("category", sa.String()),
    sa.column("version", sa.Integer()),
    sa.column("created_at", UtcDateTime()),
    sa.column("updated_at", UtcDateTime()),
    sa.column("submitted_at", UtcDateTime()),
    sa.column("decided_at", UtcDateTime()),
    sa.column("body", sa.JSON()),
)
_conditions = sa.table(
    "request_conditions",
    sa.column("condition_id", sa.Uuid()),
    sa.column("met_by_email", sa.String()),
)


def upgrade() -> None:
    with op.batch_alter_table("request_conditions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("met_by_email", sa.String(length=320), nullable=True))
        # GET /conditions: every current condition, earliest due first, paged by (due_date, condition_id).
        batch_op.create_index("ix_request_conditions_due_id", ["due_date", "condition_id"], unique=False)
    with op.batch_alter_table("technology_requests", schema=None) as batch_op:
        # GET /requests?waiting=true: state_since before a cutoff, longest waiting first.
        batch_op.create_index("ix_technology_requests_state_since_id", ["state_since", "id"], unique=False)

    # The TDA's decision log: one row per published decision, only ever inserted.
    log = op.create_table(
        "decision_log",
        sa.Column("request_id", sa.Uuid(), autoincrement=False, nullable=False),
        sa.Column("round", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=True),
        sa.Column("service_area", sa.String(length=100), nullable=True),
        sa.Column("outcome", sa.String(length=40), nullable=False),
        sa.Column("rationale", sa.Text(), nullable=False),
        sa.Column("decided_by_id", sa.String(length=255), nullable=False),
        sa.Column("decided_by_name", sa.String(length=300), nullable=False),
        sa.Column("decided_by_email", sa.String(length=320), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recommended_outcome", sa.String(length=40), nullable=False),
        sa.Column("checklist_version", sa.String(length=100), nullable=False),
        # The decision's conditions as recorded (id, text, owner, due date); progress is elsewhere.
        sa.Column("conditions", sa.JSON(), nullable=False),
        sa.CheckConstraint(
            "outcome IN ('approved', 'approved_with_conditions', 'not_approved')",
            name=op.f("ck_decision_log_outcome_known"),
        ),
        sa.CheckConstraint(
            "recommended_outcome IN ('approved', 'approved_with_conditions', 'not_approved')",
            name=op.f("ck_decision_log_recommended_outcome_known"),
        ),
        sa.CheckConstraint("round >= 1", name=op.f("ck_decision_log_round_positive")),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["technology_requests.id"],
            name=op.f("fk_decision_log_request_id_technology_requests"),
        ),
        sa.PrimaryKeyConstraint("request_id", "round", name=op.f("pk_decision_log")),
        comment=IMMUTABLE,
    )
    with op.batch_alter_table("decision_log", schema=None) as batch_op:
        # Newest first: one index range read backwards, seeking to the cursor.
        batch_op.create_index("ix_decision_log_decided", ["decided_at", "request_id", "round"], unique=False)

    _backfill(log)
    _refuse_changes()


def _backfill(log: sa.Table) -> None:
    """Every decision already in the requests' bodies into decision_log; met_by_email of met conditions."""
    connection = op.get_bind()
    # The instants as the service writes them (UTC), whatever the dialect.
    target = sa.table(
        log.name, *(sa.column(c.name, UtcDateTime() if c.name == "decided_at" else c.type) for c in log.columns)
    )
    after = None
    while True:
        query = sa.select(_requests).where(_requests.c.decided_at.is_not(None))
        if after is not None:
            query = query.where(_requests.c.id > after)
        rows = list(connection.execute(query.order_by(_requests.c.id).limit(BATCH)).mappings())
        if not rows:
            return
        for row in rows:
            request = request_from_row(row)
            decisions = [decision_log_row(request, d) for d in request.decisions]
            if decisions:
                connection.execute(sa.insert(target), decisions)
            for met in request.conditions_met:
                connection.execute(
                    sa.update(_conditions)
                    .where(_conditions.c.condition_id == met.condition_id)
                    .values(met_by_email=met.met_by.email)
                )
        after = rows[-1]["id"]


def _refuse_changes() -> None:
    """UPDATE and DELETE on decision_log fail: the TDA's decision record is immutable."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION decision_log_immutable() RETURNS trigger LANGUAGE plpgsql AS $$\n"
            "BEGIN\n"
            f"    RAISE EXCEPTION '{_IMMUTABLE_SQL}' USING ERRCODE = 'restrict_violation';\n"
            "END\n"
            "$$"
        )
        op.execute(
            "CREATE TRIGGER decision_log_immutable BEFORE UPDATE OR DELETE ON decision_log "
            "FOR EACH ROW EXECUTE FUNCTION decision_log_immutable()"
        )
        # TRUNCATE skips row triggers, so it is refused by a statement trigger of its own.
        op.execute(
            "CREATE TRIGGER decision_log_no_truncate BEFORE TRUNCATE ON decision_log "
            "FOR EACH STATEMENT EXECUTE FUNCTION decision_log_immutable()"
        )
        op.execute(f"COMMENT ON TRIGGER decision_log_immutable ON decision_log IS '{_IMMUTABLE_SQL}'")
        return
    for event in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER decision_log_no_{event.lower()} BEFORE {event} ON decision_log "
            f"BEGIN SELECT RAISE(ABORT, '{_IMMUTABLE_SQL}'); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS decision_log_no_truncate ON decision_log")
        op.execute("DROP TRIGGER IF EXISTS decision_log_immutable ON decision_log")
        op.execute("DROP FUNCTION IF EXISTS decision_log_immutable()")
    else:
        op.execute("DROP TRIGGER IF EXISTS decision_log_no_update")
        op.execute("DROP TRIGGER IF EXISTS decision_log_no_delete")
    with op.batch_alter_table("decision_log", schema=None) as batch_op:
        batch_op.drop_index("ix_decision_log_decided")
    op.drop_table("decision_log")
    with op.batch_alter_table("technology_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_technology_requests_state_since_id")
    with op.batch_alter_table("request_conditions", schema=None) as batch_op:
        batch_op.drop_index("ix_request_conditions_due_id")
    # Native DROP COLUMN (PostgreSQL, SQLite 3.35+): a batch copy of the table on SQLite would lose
    # its CHECK constraints.
    op.execute("ALTER TABLE request_conditions DROP COLUMN met_by_email")
