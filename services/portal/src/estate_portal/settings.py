"""The portal's settings, from ESTATE_PORTAL_* environment variables (token checks: ESTATE_AUTH_*).

Sign-in is either the council's identity provider (OIDC authorisation-code flow: set the issuer, client
id and secret) or, on a development stack only, a choice of demo people. Unsafe combinations fail at
start-up with a message that says what to set.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from estate_runtime.secrets import file_secret

DEV_SESSION_SECRET_FILE = Path("var/portal-session-secret")


class PortalSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ESTATE_PORTAL_", extra="ignore")

    http_host: str = "127.0.0.1"
    http_port: int = 8080
    http_workers: int = Field(default=1, ge=1, le=64)
    environment: Literal["development", "test", "production"] = "development"
    public_url: str = Field(
        default="http://127.0.0.1:8080",
        description="Where people reach the portal: the base of sign-in redirects and links in exports.",
    )

    organisation_name: str = Field(
        default="Cambridge City Council",
        min_length=1,
        max_length=200,
        description="Who runs this Estate (a council or a shared service): shown at the foot of every page",
    )

    register_url: str = Field(default="http://127.0.0.1:8000", description="The register's API")
    procurement_url: str = Field(default="http://127.0.0.1:8001", description="The procurement API")
    notifications_url: str = Field(default="http://127.0.0.1:8002", description="The notifications API")
    api_timeout_seconds: float = Field(default=10.0, gt=0, le=120)

    session_secret: str | None = Field(
        default=None,
        min_length=32,
        description="Key that encrypts and signs session cookies; a development key is made under var/ "
        "if unset (never in production).",
    )
    session_secret_file: Path = DEV_SESSION_SECRET_FILE
    session_hours: float = Field(
        default=8.0, gt=0, le=24, description="A session ends this long after sign-in (or with its token)."
    )
    cookie_secure: bool | None = Field(
        default=None,
        description="Send the session cookie over HTTPS only; by default, when public_url is https.",
    )

    dev_sign_in: bool = Field(
        default=False,
        description="Offer the demo people as a sign-in (development stacks only; refused in production).",
    )

    oidc_issuer: str | None = Field(
        default=None,
        description="The identity provider (e.g. https://login.microsoftonline.com/<tenant>/v2.0); its "
        "/.well-known/openid-configuration is read at start-up.",
    )
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = None
    oidc_client_secret_file: Path | None = None
    oidc_scopes: str = Field(
        default="openid profile email",
        description="Scopes asked for. With Entra ID add the Estate API's scope (api://<app>/access) so "
        "the access token is one the services accept.",
    )
    oidc_provider_name: str = Field(default="your council account", description="Words on the sign-in button")

    @field_validator("session_secret", "oidc_issuer", "oidc_client_id", "oidc_client_secret", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        # Compose and Kubernetes pass an unset optional value as an empty string.
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _safe(self) -> Self:
        if self.dev_sign_in and self.environment == "production":
            raise ValueError("ESTATE_PORTAL_DEV_SIGN_IN is for development stacks, not production")
        if self.oidc_issuer and not self.oidc_client_id:
            raise ValueError("ESTATE_PORTAL_OIDC_CLIENT_ID is needed with ESTATE_PORTAL_OIDC_ISSUER")
        if not self.oidc_issuer and not self.dev_sign_in:
            raise ValueError(
                "nobody could sign in: set ESTATE_PORTAL_OIDC_ISSUER and ESTATE_PORTAL_OIDC_CLIENT_ID "
                "(the council's identity provider), or ESTATE_PORTAL_DEV_SIGN_IN=true on a development stack"
            )
        if self.environment == "production" and not self.session_secret:
            raise ValueError(
                "ESTATE_PORTAL_SESSION_SECRET must be set in production (at least 32 characters; "
                'python -c "import secrets; print(secrets.token_urlsafe(48))")'
            )
        return self

    @property
    def secure_cookies(self) -> bool:
        if self.cookie_secure is not None:
            return self.cookie_secure
        return self.public_url.startswith("https://")

    def session_key(self) -> str:
        return self.session_secret or file_secret(self.session_secret_file)

    def oidc_secret(self) -> str | None:
        if self.oidc_client_secret:
            return self.oidc_client_secret
        if self.oidc_client_secret_file is not None:
            return self.oidc_client_secret_file.read_text(encoding="utf-8").strip()
        return None
