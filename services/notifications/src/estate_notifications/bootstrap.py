"""The notifications service's composition root: the one place that builds infrastructure from settings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from estate_eventing.clock import utc_now
from estate_notifications.adapters.channels.message import Channel
from estate_notifications.adapters.channels.smtp import SmtpChannel, SmtpSettings
from estate_notifications.adapters.channels.teams import TeamsChannel
from estate_notifications.application.dispatch import Dispatcher
from estate_notifications.application.links import LinkSigner, link_secret_from
from estate_notifications.application.messages import Composer
from estate_notifications.application.notices import NoticeConfig
from estate_notifications.application.sweep import AlertConfig, Sweeper
from estate_notifications.domain.renewal import AlertPolicy, Ladder
from estate_notifications.settings import AuthSettings, NotificationsSettings
from estate_runtime.calendar import EnglandAndWalesCalendar
from estate_runtime.db import make_engine, make_sessionmaker
from estate_runtime.workdays import WorkingCalendar

Clock = Callable[[], datetime]


@dataclass
class Container:
    settings: NotificationsSettings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    signer: LinkSigner
    clock: Clock = utc_now
    calendar: WorkingCalendar = field(default_factory=EnglandAndWalesCalendar)
    auth: AuthSettings | None = None
    email: Channel | None = None
    teams: TeamsChannel | None = None

    @property
    def policy(self) -> AlertPolicy:
        return AlertPolicy(
            ladder=Ladder(rungs=tuple(self.settings.ladder)),
            overdue_every_days=self.settings.overdue_every_days,
            default_notice_days=self.settings.default_notice_days,
        )

    @property
    def alert_config(self) -> AlertConfig:
        s = self.settings
        return AlertConfig(
            policy=self.policy,
            escalate_after_working_days=s.escalate_after_working_days,
            tda_email=s.tda_email,
            tda_name=s.tda_name,
            urgent_within_days=s.urgent_within_days,
            digest_hour=s.digest_hour,
            decision_confirm_hours=s.decision_confirm_hours,
            action_url=s.action_url,
            link_valid_days=s.link_valid_days,
            teams=bool(s.teams_webhook_url),
            batch=s.sweep_batch,
        )

    @property
    def notice_config(self) -> NoticeConfig:
        s = self.settings
        return NoticeConfig(tda_email=s.tda_email, tda_name=s.tda_name, teams=bool(s.teams_webhook_url))

    def sweeper(self) -> Sweeper:
        return Sweeper(self.sessions, config=self.alert_config, calendar=self.calendar, signer=self.signer)

    def dispatcher(self) -> Dispatcher:
        s = self.settings
        email = self.email or SmtpChannel(
            SmtpSettings(
                host=s.smtp_host,
                port=s.smtp_port,
                from_address=s.mail_from,
                from_name=s.mail_from_name,
                security=s.smtp_security,
                username=s.smtp_username,
                password=s.smtp_password,
                timeout_seconds=s.smtp_timeout_seconds,
                validate_certs=s.smtp_validate_certs,
            )
        )
        teams = self.teams
        if teams is None and s.teams_webhook_url:
            teams = TeamsChannel(s.teams_webhook_url)
        return Dispatcher(
            self.sessions,
            email=email,
            teams=teams,
            worker_id=s.worker_id,
            lease_seconds=s.lease_seconds,
            batch=s.send_batch,
            retry_first_seconds=s.retry_first_seconds,
            retry_max_seconds=s.retry_max_seconds,
            composer=Composer(
                self.signer,
                action_url=s.action_url,
                link_valid_days=s.link_valid_days,
                default_notice_days=s.default_notice_days,
            ),
        )

    async def close(self) -> None:
        if self.teams is not None:
            await self.teams.aclose()
        await self.engine.dispose()


def _offset_clock(seconds: float) -> Clock:
    offset = timedelta(seconds=seconds)

    def now() -> datetime:
        return utc_now() + offset

    return now


def bootstrap(
    settings: NotificationsSettings | None = None,
    *,
    auth: AuthSettings | None = None,
    clock: Clock = utc_now,
    calendar: WorkingCalendar | None = None,
) -> Container:
    settings = settings or NotificationsSettings()
    if settings.clock_offset_seconds and clock is utc_now:
        clock = _offset_clock(settings.clock_offset_seconds)
    engine = make_engine(settings.database_url, pool_size=settings.db_pool_size)
    return Container(
        settings=settings,
        engine=engine,
        sessions=make_sessionmaker(engine),
        signer=LinkSigner(link_secret_from(settings.link_key())),
        clock=clock,
        calendar=calendar or EnglandAndWalesCalendar(),
        auth=auth,
    )
