"""The notifications service's settings, from ESTATE_NOTIFICATIONS_* environment variables (tokens:
ESTATE_AUTH_*). Unsafe combinations fail at start-up with a message that says what to set."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Literal, Self

from pydantic import Field, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from estate_notifications.domain.renewal import DEFAULT_LADDER, MAX_RUNG_DAYS
from estate_runtime.auth import AuthSettings
from estate_runtime.secrets import file_secret
from estate_runtime.settings import PoolSize, ServiceSettings, UploadLimit

__all__ = ["AuthSettings", "NotificationsSettings"]

DEV_LINK_SECRET_FILE = Path("var/notifications-link-secret")


class NotificationsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ESTATE_NOTIFICATIONS_")

    database_url: str = "sqlite+aiosqlite:///var/notifications.db"
    http_port: int = 8002
    max_upload_bytes: UploadLimit = 256 * 1024
    db_pool_size: PoolSize = 10
    public_url: str = Field(
        default="http://127.0.0.1:8002",
        description="Where people reach this service: the base of calendar feed links, and of the links in "
        "alerts unless action_url says otherwise.",
    )
    action_url: str = Field(
        default="",
        description="The base of the personal links in alert e-mails, {action_url}/act/{token}: the staff "
        "portal's address where it runs (it serves /act/{token} with the same signed token). Unset: "
        "public_url, this service's own page.",
    )

    # The alert policy (domain.renewal.AlertPolicy); per contract type and per contract through the API.
    ladder: list[int] = Field(
        default=list(DEFAULT_LADDER),
        description="Days before act-by on which alerts go out (default ladder).",
    )
    default_notice_days: int = Field(
        default=90, ge=0, le=3650, description="Notice assumed when the register records none."
    )
    overdue_every_days: int = Field(
        default=7, ge=1, le=90, description="Overdue reminders repeat this often."
    )
    escalate_after_working_days: int = Field(
        default=3, ge=1, le=30, description="An alert nobody acknowledges moves up the chain after this."
    )
    tda_email: str = Field(
        default="tda@cambridge.gov.uk", description="The TDA's shared mailbox: the last step of escalation."
    )
    tda_name: str = "Technical Design Authority"
    urgent_within_days: int = Field(
        default=14,
        ge=0,
        le=MAX_RUNG_DAYS,
        description="Alerts this close to act-by (and every overdue or escalated one) are sent at once, "
        "even to people who chose a digest.",
    )
    digest_hour: int = Field(default=8, ge=0, le=23, description="Local (Europe/London) hour digests go out.")
    decision_confirm_hours: float = Field(
        default=24.0,
        gt=0,
        le=24 * 30,
        description="A renewal decision the register has not recorded after this long resumes the term's "
        "alerts, and the TDA and the decider are told.",
    )

    # Time.
    sweep_interval_seconds: float = Field(default=60.0, gt=0, le=3600)
    sweep_batch: int = Field(default=1000, ge=1, le=50_000)

    clock_offset_seconds: float = Field(
        default=0.0,
        description="Moves this service's clock (sweeps, sends, links) by this many seconds: for rehearsals "
        "and tests that travel in time. Refused in production.",
    )

    # Delivery.
    worker_id: str = Field(default_factory=lambda: f"sender-{secrets.token_hex(4)}")
    lease_seconds: float = Field(default=120.0, ge=1, le=3600, description="How long a claimed send is held.")
    send_batch: int = Field(default=50, ge=1, le=1000)
    retry_first_seconds: float = Field(default=60.0, gt=0)
    retry_max_seconds: float = Field(default=6 * 3600.0, gt=0)
    dispatch_interval_seconds: float = Field(default=2.0, gt=0, le=600)

    # Channels.
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=8025, ge=1, le=65535)
    smtp_security: Literal["none", "starttls", "tls"] = "none"
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    smtp_validate_certs: bool = True
    mail_from: str = "estate-renewals@cambridge.gov.uk"
    mail_from_name: str = "Estate renewals"
    sink_dir: Path | None = Field(
        default=None,
        description="The embedded SMTP sink's Maildir: when set, GET /api/v1/sink/messages reads it "
        "(development and test stacks only).",
    )
    teams_webhook_url: str | None = Field(
        default=None, description="A Teams incoming webhook of the TDA's channel; no Teams messages if unset."
    )

    # Signed links in alerts.
    link_secret: str | None = Field(
        default=None,
        min_length=32,
        description="HMAC key of the action links in alerts; a development key is made under var/ if unset.",
    )
    link_secret_file: Path = Field(
        default=DEV_LINK_SECRET_FILE,
        description="Outside production, where the development link secret is kept when none is set.",
    )
    link_valid_days: int = Field(default=60, ge=1, le=366)

    @field_validator("smtp_username", "smtp_password", "teams_webhook_url", "link_secret", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        # Compose and Kubernetes pass an unset optional value as an empty string.
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _safe(self) -> Self:
        sorted_ladder = sorted(set(self.ladder), reverse=True)
        if not self.ladder or any(not 1 <= rung <= MAX_RUNG_DAYS for rung in self.ladder):
            raise ValueError(f"ESTATE_NOTIFICATIONS_LADDER: days before act-by, each 1 to {MAX_RUNG_DAYS}")
        self.ladder = sorted_ladder
        if self.smtp_username and not self.smtp_password:
            raise ValueError(
                "ESTATE_NOTIFICATIONS_SMTP_PASSWORD is needed with ESTATE_NOTIFICATIONS_SMTP_USERNAME"
            )
        if (
            self.smtp_username
            and self.smtp_security == "none"
            and self.smtp_host not in ("127.0.0.1", "localhost")
        ):
            raise ValueError(
                "SMTP credentials would be sent in clear: set ESTATE_NOTIFICATIONS_SMTP_SECURITY to starttls or tls"
            )
        # Unset, or blank as Compose and Kubernetes pass it: the links open this service's own page.
        self.action_url = self.action_url.strip() or self.public_url
        if self.clock_offset_seconds and self.environment == "production":
            raise ValueError(
                "ESTATE_NOTIFICATIONS_CLOCK_OFFSET_SECONDS is for rehearsals and tests, not production"
            )
        return self

    def link_key(self) -> str:
        """The link secret; outside production a development secret is made once and kept under var/."""
        if self.link_secret:
            return self.link_secret
        if self.environment == "production":
            raise ValueError(
                "ESTATE_NOTIFICATIONS_LINK_SECRET must be set in production (at least 32 characters; "
                'python -c "import secrets; print(secrets.token_urlsafe(48))")'
            )
        # Several processes (HTTP, sweep) may start together: every one reads the same secret.
        return file_secret(self.link_secret_file)
