"""The register's settings, from ESTATE_* environment variables. Unsafe combinations fail at start-up."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_VAR_DIR = Path("var")


class AuthSettings(BaseSettings):
    """Bearer-token checks. Either a JWKS URL (an OIDC issuer such as Entra ID) or the local development
    key, never neither: a service with no way to check tokens refuses to start."""

    model_config = SettingsConfigDict(env_prefix="ESTATE_AUTH_", extra="ignore")

    issuer: str = "https://estate.local/dev-issuer"
    audience: str = "estate"
    jwks_url: str | None = None
    dev_key_path: Path | None = Field(default=None, description="PEM private key of the local issuer")
    algorithms: tuple[str, ...] = ("RS256",)
    roles_claim: str = "roles"
    leeway_seconds: int = Field(default=30, ge=0, le=300)

    @model_validator(mode="after")
    def _one_key_source(self) -> Self:
        if not self.jwks_url and self.dev_key_path is None:
            raise ValueError("set ESTATE_AUTH_JWKS_URL (an OIDC issuer) or ESTATE_AUTH_DEV_KEY_PATH")
        if any(a.lower() == "none" or a.upper().startswith("HS") for a in self.algorithms):
            raise ValueError("only asymmetric algorithms are accepted (RS256, ES256, ...)")
        return self


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
