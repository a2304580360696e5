"""Alembic environment for procurement: async engine, every procurement record (the requests' tables
and the re-use read model's) plus the shared outbox and inbox."""

from __future__ import annotations

from estate_eventing.tables import eventing_metadata
from estate_procurement.adapters.db import records, reuse_store  # noqa: F401  # declares every table
from estate_procurement.adapters.db.base import Base
from estate_runtime.db import run_migrations

run_migrations([Base.metadata, eventing_metadata])
