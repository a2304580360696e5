"""The procurement service's settings, from ESTATE_PROCUREMENT_* environment variables (tokens: ESTATE_AUTH_*).
Unsafe combinations fail at start-up."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from estate_runtime.auth import AuthSettings

__all__ = ["AuthSettings", "ProcurementSettings"]


class ProcurementSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ESTATE_PROCUREMENT_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///var/procurement.db"
    http_host: str = "127.0.0.1"
    http_port: int = 8001
    http_workers: int = Field(default=1, ge=1, le=64, description="HTTP worker processes (one per core)")
    max_upload_bytes: int = Field(default=2 * 1024 * 1024, ge=1024)
    page_size_default: int = Field(default=50, ge=1, le=500)
    page_size_max: int = Field(default=500, ge=1, le=5000)
    environment: Literal["development", "test", "production"] = "development"
    db_pool_size: int = Field(default=10, ge=1)
    metrics_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="Where the worker and relay serve Prometheus metrics (the HTTP process serves /metrics)",
    )
    checklist_version: str = Field(
        default="tda-review@1", description="Checklist definition new reviews use (pinned per request)"
    )
    waiting_flag_working_days: int = Field(
        default=3,
        ge=1,
        le=60,
        description="A request waiting longer than this many working days in one state is flagged",
    )
    reuse_candidates: int = Field(default=10, ge=1, le=50, description="Candidates shown per request")
