"""Searchable systems and indexes for renewal queries

Systems get a case-folded search text (name, reference, description, capabilities), trigram-indexed on
PostgreSQL so ?q= does not scan the table; contracts get keyset indexes on act-by and term end, an index
on the signatory (owner searches), and act_by becomes NOT NULL (every stored contract has one).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 10:25:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        # pg_trgm is a trusted extension: a database owner may create it.
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    with op.batch_alter_table("systems") as batch:
        batch.add_column(sa.Column("search_text", sa.Text(), nullable=False, server_default=""))
    op.execute(
        "UPDATE systems SET search_text = lower(name || ' ' || reference || ' ' || description || ' ' || "
        "CAST(capabilities AS TEXT))"
    )
    with op.batch_alter_table("systems") as batch:
        batch.alter_column("search_text", server_default=None)
    op.create_index(
        "ix_systems_search_trgm",
        "systems",
        ["search_text"],
        postgresql_using="gin",
        postgresql_ops={"search_text": "gin_trgm_ops"},
    )
    op.execute("UPDATE contracts SET act_by = current_term_end WHERE act_by IS NULL")
    with op.batch_alter_table("contracts") as batch:
        batch.alter_column("act_by", existing_type=sa.Date(), nullable=False)
        batch.drop_index("ix_contracts_act_by")
        batch.drop_index("ix_contracts_current_term_end")
        batch.create_index("ix_contracts_act_by_id", ["act_by", "id"])
        batch.create_index("ix_contracts_term_end_id", ["current_term_end", "id"])
        batch.create_index("ix_contracts_signatory_id", ["signatory_id"])


def downgrade() -> None:
    with op.batch_alter_table("contracts") as batch:
        batch.drop_index("ix_contracts_signatory_id")
        batch.drop_index("ix_contracts_term_end_id")
        batch.drop_index("ix_contracts_act_by_id")
        batch.create_index("ix_contracts_current_term_end", ["current_term_end"])
        batch.create_index("ix_contracts_act_by", ["act_by"])
        batch.alter_column("act_by", existing_type=sa.Date(), nullable=True)
    op.drop_index("ix_systems_search_trgm", table_name="systems")
    with op.batch_alter_table("systems") as batch:
        batch.drop_column("search_text")
