"""What every service's settings hold: its database, its HTTP server, its metrics port, its page sizes and
upload limit. Each service subclasses :class:`ServiceSettings` with its own environment prefix
(``ESTATE_<SERVICE>_``) and defaults, and adds its own settings; tokens are :class:`~estate_runtime.auth.
AuthSettings` (``ESTATE_AUTH_*``). Every bound is checked when the settings are read, so an unsafe value
fails at start-up."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

UploadLimit = Annotated[int, Field(ge=1024, description="The largest upload accepted, in bytes")]
"""A service's ``max_upload_bytes`` (its default is its own)."""

PoolSize = Annotated[int, Field(ge=1, description="Database connections per process (and as many overflow)")]
"""A service's ``db_pool_size`` (its default is its own)."""


class ServiceSettings(BaseSettings):
    """The settings every service has. A subclass sets ``model_config = SettingsConfigDict(env_prefix=...)``
    and gives its defaults for ``database_url``, ``http_port``, ``max_upload_bytes`` and ``db_pool_size``
    (declared with :data:`UploadLimit` and :data:`PoolSize`, so the bounds stay these)."""

    model_config = SettingsConfigDict(extra="ignore")

    database_url: str
    http_host: str = "127.0.0.1"
    http_port: int
    http_workers: int = Field(default=1, ge=1, le=64, description="HTTP worker processes (one per core)")
    max_upload_bytes: UploadLimit
    page_size_default: int = Field(default=50, ge=1, le=500)
    page_size_max: int = Field(default=500, ge=1, le=5000)
    environment: Literal["development", "test", "production"] = "development"
    db_pool_size: PoolSize
    metrics_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="Where the worker and relay serve Prometheus metrics (the HTTP process serves /metrics)",
    )

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


__all__ = ["PoolSize", "ServiceSettings", "UploadLimit"]
