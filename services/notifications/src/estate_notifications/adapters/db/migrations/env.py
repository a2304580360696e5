"""Alembic environment for notifications: async engine, every notifications record plus the shared outbox
and inbox."""

from __future__ import annotations

from estate_eventing.tables import eventing_metadata
from estate_notifications.adapters.db import records  # noqa: F401  # declares every table
from estate_notifications.adapters.db.base import Base
from estate_runtime.db import run_migrations

run_migrations([Base.metadata, eventing_metadata])
