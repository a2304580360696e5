"""The register's settings, from ESTATE_* environment variables. Unsafe combinations fail at start-up."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from estate_runtime.auth import AuthSettings

DEFAULT_VAR_DIR = Path("var")

__all__ = ["DEFAULT_VAR_DIR", "AuthSettings", "RegisterSettings"]


class RegisterSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ESTATE_REGISTER_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///var/register.db"
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    http_workers: int = Field(default=1, ge=1, le=64, description="HTTP worker processes (one per core)")
    max_upload_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    page_size_default: int = Field(default=50, ge=1, le=500)
    page_size_max: int = Field(default=500, ge=1, le=5000)
    environment: Literal["development", "test", "production"] = "development"
    db_pool_size: int = Field(default=20, ge=1)
    metrics_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="Where the worker and relay serve Prometheus metrics (the HTTP process serves /metrics)",
    )

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
