"""Alembic environment for the register: async engine, the register's records plus the outbox/inbox."""

from __future__ import annotations

from estate_eventing.tables import eventing_metadata
from estate_register.adapters.db.records import Base
from estate_runtime.db import run_migrations

run_migrations([Base.metadata, eventing_metadata])
