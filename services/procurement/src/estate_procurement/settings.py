"""The procurement service's settings, from ESTATE_PROCUREMENT_* environment variables (tokens: ESTATE_AUTH_*).
Unsafe combinations fail at start-up."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from estate_runtime.auth import AuthSettings
from estate_runtime.settings import PoolSize, ServiceSettings, UploadLimit

__all__ = ["AuthSettings", "ProcurementSettings"]


class ProcurementSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ESTATE_PROCUREMENT_")

    database_url: str = "sqlite+aiosqlite:///var/procurement.db"
    http_port: int = 8001
    max_upload_bytes: UploadLimit = 2 * 1024 * 1024
    db_pool_size: PoolSize = 10
    checklist_version: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9-]+@[1-9][0-9]*$",
        description="The checklist version new review rounds pin, e.g. tda-review@1; by default the newest "
        "version shipped. A round keeps the version it started with.",
    )
    waiting_flag_working_days: int = Field(
        default=3,
        ge=1,
        le=60,
        description="A request waiting longer than this many working days in one state is flagged",
    )
    reuse_candidates: int = Field(default=10, ge=1, le=50, description="Candidates shown per request")
