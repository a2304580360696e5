"""The register's engines and sessions: the shared runtime's, built from the register's settings."""

from __future__ import annotations

from estate_runtime.db import JSON_CODEC, make_engine, make_sessionmaker

__all__ = ["JSON_CODEC", "make_engine", "make_sessionmaker"]
