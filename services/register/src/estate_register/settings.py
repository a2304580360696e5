"""The register's settings, from ESTATE_REGISTER_* environment variables (tokens: ESTATE_AUTH_*). Unsafe
combinations fail at start-up."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from estate_runtime.auth import AuthSettings
from estate_runtime.settings import PoolSize, ServiceSettings, UploadLimit

DEFAULT_VAR_DIR = Path("var")

__all__ = ["DEFAULT_VAR_DIR", "AuthSettings", "RegisterSettings"]


class RegisterSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ESTATE_REGISTER_")

    database_url: str = "sqlite+aiosqlite:///var/register.db"
    http_port: int = 8000
    max_upload_bytes: UploadLimit = 10 * 1024 * 1024
    db_pool_size: PoolSize = 20
    ocds_ocid_prefix: str = Field(
        default="ocds-estate-",
        min_length=1,
        max_length=60,
        description="Prefix of every OCDS ocid the estate export writes (register one with OCP to publish)",
    )
    ocds_publisher_name: str = Field(
        default="Estate register", min_length=1, max_length=200, description="The OCDS package's publisher"
    )
    estate_summary_cache_seconds: float = Field(
        default=60.0,
        ge=0,
        le=3600,
        description="How long the estate summary may be reused while nothing changes (0: never)",
    )
    estate_summary_stale_seconds: float = Field(
        default=300.0,
        ge=0,
        le=3600,
        description="After a change, how long the previous estate summary may still be answered at once "
        "while the new one is computed in the background (0: a request waits for the new one), so the "
        "dashboard does not wait for the summary's SQL after every change",
    )
