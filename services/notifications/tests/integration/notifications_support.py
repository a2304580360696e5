"""A notifications service on a real database (SQLite file or PostgreSQL), a settable clock and a real
SMTP sink, driven the way its processes drive it: project register snapshots, sweep, send."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select

from estate_contracts.register_events import ContractSnapshot, PersonRef, Ref, RenewalDecision, SystemSnapshot
from estate_eventing.clock import SettableClock
from estate_eventing.tables import outbox_table
from estate_notifications.adapters.channels.sink import SinkMessage, SmtpSink, read_sink
from estate_notifications.adapters.channels.smtp import SmtpChannel, SmtpSettings
from estate_notifications.adapters.db.migrate import upgrade
from estate_notifications.adapters.db.records import (
    AlertRecord,
    DeliveryRecord,
    PreferenceRecord,
    WatchedContractRecord,
)
from estate_notifications.application.dispatch import DispatchReport
from estate_notifications.application.sweep import SweepReport
from estate_notifications.application.watch import PolicyBook, project_contract, project_system
from estate_notifications.bootstrap import Container, bootstrap
from estate_notifications.settings import NotificationsSettings

LINK_SECRET = "test-link-secret-0123456789-abcdefghijklmnop"

OWNER = PersonRef(id=uuid.UUID(int=101), name="Priya Shah", email="priya.shah@cambridge.gov.uk")
BUDGET_HOLDER = PersonRef(id=uuid.UUID(int=102), name="Tom Reed", email="tom.reed@cambridge.gov.uk")
SYSTEM_OWNER = PersonRef(id=uuid.UUID(int=103), name="Ann Lee", email="ann.lee@cambridge.gov.uk")
TDA = "tda@cambridge.gov.uk"
SUPPLIER = Ref(id=uuid.UUID(int=201), name="IEG4")
SYSTEM_ID = uuid.UUID(int=301)


def at(day: date, hour: int = 9) -> datetime:
    """An instant on a London calendar day (UTC is within an hour of London, so the day is the same)."""
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def contract(
    *,
    contract_id: uuid.UUID | None = None,
    version: int = 1,
    start: date = date(2024, 4, 1),
    term_end: date = date(2027, 3, 31),
    notice_days: int = 90,
    lead_days: int = 30,
    renewal_type: str = "express",
    renewal_period_months: int | None = None,
    extension_options_left: int = 0,
    status: str = "active",
    owner: PersonRef | None = OWNER,
    budget_holder: PersonRef | None = BUDGET_HOLDER,
    decision: RenewalDecision | None = None,
    reference: str = "CON-0042",
    title: str = "Benefits and council tax e-forms",
    contract_type: str = "saas_subscription",
) -> ContractSnapshot:
    return ContractSnapshot(
        id=contract_id or uuid.UUID(int=1),
        version=version,
        reference=reference,
        title=title,
        supplier=SUPPLIER,
        systems=[Ref(id=SYSTEM_ID, name="OneVu e-forms")],
        contract_type=contract_type,
        start_date=start,
        initial_term_end=term_end,
        current_term_end=term_end,
        renewal_type=renewal_type,
        renewal_period_months=renewal_period_months,
        extension_options_left=extension_options_left,
        notice_period_days=notice_days,
        internal_lead_time_days=lead_days,
        annual_value=Decimal("100000.00"),
        status=status,
        owner=owner,
        budget_holder=budget_holder,
        latest_renewal_decision=decision,
        updated_at=datetime(2026, 1, 5, tzinfo=UTC),
    )


def system(*, version: int = 1, owner: PersonRef | None = SYSTEM_OWNER) -> SystemSnapshot:
    return SystemSnapshot(
        id=SYSTEM_ID,
        version=version,
        reference="SYS-0007",
        name="OneVu e-forms",
        lead_council="CCC",
        lifecycle_stage="live",
        system_owner=owner,
        updated_at=datetime(2026, 1, 5, tzinfo=UTC),
    )


class Service:
    def __init__(self, container: Container, clock: SettableClock, sink: SmtpSink) -> None:
        self.container = container
        self.clock = clock
        self.sink = sink

    def travel(self, day: date, hour: int = 9) -> None:
        self.clock.set(at(day, hour))

    def wait(self, seconds: float) -> None:
        """Move the clock on by ``seconds``."""
        self.clock.set(self.clock() + timedelta(seconds=seconds))

    def use_smtp(self, port: int, *, timeout_seconds: float = 5) -> None:
        """Send e-mail through the SMTP server at ``port`` on 127.0.0.1 from now on, instead of the sink."""
        self.container.email = SmtpChannel(
            SmtpSettings(
                host="127.0.0.1",
                port=port,
                from_address=self.container.settings.mail_from,
                security="none",
                timeout_seconds=timeout_seconds,
            )
        )

    def use_sink(self) -> None:
        """Send e-mail to the service's SMTP sink again."""
        self.container.email = None

    @asynccontextmanager
    async def another_process(self, **overrides: Any) -> AsyncIterator[Container]:
        """A second container on the same database, with its own engine and connections (as a second
        sweep or sender process has), the same clock and SMTP sink, and ``overrides`` to its settings."""
        settings = self.container.settings.model_copy(update=overrides)
        other = bootstrap(settings, clock=self.clock)
        try:
            yield other
        finally:
            await other.close()

    async def walk(self, first: date, last: date, hour: int = 9) -> None:
        """Sweep and send every day from ``first`` to ``last`` (both included), as the processes would."""
        day = first
        while day <= last:
            self.travel(day, hour)
            await self.sweep_and_send()
            day += timedelta(days=1)

    async def delivery(self, delivery_id: uuid.UUID) -> DeliveryRecord:
        async with self.container.sessions() as session:
            return await session.get_one(DeliveryRecord, delivery_id)

    async def prefer(self, email: str, frequency: str) -> None:
        """``email`` chose how often to hear of alerts (immediate, daily, weekly)."""
        async with self.container.sessions() as session, session.begin():
            session.add(
                PreferenceRecord(email=email, frequency=frequency, updated_by=email, updated_at=self.clock())
            )

    async def record(self, *snapshots: ContractSnapshot | SystemSnapshot) -> None:
        async with self.container.sessions() as session, session.begin():
            book = await PolicyBook.load(session, self.container.policy)
            for snapshot in snapshots:
                if isinstance(snapshot, SystemSnapshot):
                    await project_system(session, snapshot)
                else:
                    await project_contract(
                        session, snapshot, now=self.clock(), book=book, calendar=self.container.calendar
                    )

    async def sweep(self) -> SweepReport:
        return await self.container.sweeper().run(self.clock())

    async def send(self) -> DispatchReport:
        return await self.container.dispatcher().run_once(self.clock())

    async def sweep_and_send(self) -> tuple[SweepReport, DispatchReport]:
        return await self.sweep(), await self.send()

    def inbox(self, to: str | None = None) -> list[SinkMessage]:
        return read_sink(self.sink.directory, to=to, limit=1000)

    async def events(self, event_type: str | None = None) -> list[dict[str, Any]]:
        async with self.container.sessions() as session:
            query = select(outbox_table.c.event_type, outbox_table.c.payload).order_by(outbox_table.c.id)
            if event_type:
                query = query.where(outbox_table.c.event_type == event_type)
            rows = (await session.execute(query)).all()
        import json

        return [{"type": row.event_type, **json.loads(row.payload)} for row in rows]

    async def alerts(self) -> list[AlertRecord]:
        async with self.container.sessions() as session:
            return list((await session.scalars(select(AlertRecord).order_by(AlertRecord.raised_at))).all())

    async def deliveries(self) -> list[DeliveryRecord]:
        async with self.container.sessions() as session:
            return list(
                (await session.scalars(select(DeliveryRecord).order_by(DeliveryRecord.created_at))).all()
            )

    async def watch(self, contract_id: uuid.UUID = uuid.UUID(int=1)) -> WatchedContractRecord:
        async with self.container.sessions() as session:
            return await session.get_one(WatchedContractRecord, contract_id)


def settings_for(url: str, sink_port: int, sink_dir: Path, **overrides: Any) -> NotificationsSettings:
    values: dict[str, Any] = {
        "database_url": url,
        "smtp_host": "127.0.0.1",
        "smtp_port": sink_port,
        "smtp_security": "none",
        "smtp_timeout_seconds": 5,
        "sink_dir": sink_dir,
        "tda_email": TDA,
        "link_secret": LINK_SECRET,
        "public_url": "https://estate.example.gov.uk",
        "environment": "test",
    }
    return NotificationsSettings(**(values | overrides))


@asynccontextmanager
async def notifications_service(
    url: str, tmp_path: Path, *, today: date = date(2026, 9, 1), **overrides: Any
) -> AsyncIterator[Service]:
    """A migrated database at ``url``, a running SMTP sink and a container whose clock is ``today``."""
    await asyncio.to_thread(upgrade, url)
    sink = SmtpSink(tmp_path / "mail", port=0)
    await sink.start()
    clock = SettableClock(at(today))
    container = bootstrap(settings_for(url, sink.port, tmp_path / "mail", **overrides), clock=clock)
    try:
        yield Service(container, clock, sink)
    finally:
        await container.close()
        await sink.stop()
