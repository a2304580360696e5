"""Wake the outbox relay when an event is committed

On PostgreSQL, a statement-level trigger on ``outbox`` calls ``pg_notify('estate_outbox', '')``; the
relay listens on that channel and publishes at once instead of at its next poll. PostgreSQL delivers the
notification only at commit, so a rolled-back change wakes nobody. Nothing on SQLite (the relay polls).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 12:30:00
"""

from collections.abc import Sequence

from alembic import op

from estate_eventing.migrations import create_outbox_notify, drop_outbox_notify

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_outbox_notify(op)


def downgrade() -> None:
    drop_outbox_notify(op)
