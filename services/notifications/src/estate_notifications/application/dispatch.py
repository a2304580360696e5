"""The sender: claims messages that are due, hands each to its channel, and records the outcome.

A message is sent at most once, and never lost:

1. **Claim** (one short transaction): the row moves from ``pending`` to ``sending`` with a lease
   (``lease_until``) and the sender's id, in one conditional UPDATE. Two senders cannot both claim a row:
   the UPDATE re-checks the status, and on PostgreSQL the candidate rows are taken with SKIP LOCKED, so
   the senders share the work.
2. **Send**, outside any transaction: the channel either returns or raises ``DeliveryFailed``.
3. **Record** (one transaction): ``sent``, with ``alert.sent`` events in the same commit; or, on failure,
   back to ``pending`` with the reason and a later ``next_attempt_at`` (doubling from
   ``retry_first_seconds`` up to ``retry_max_seconds``). A failed message is retried for as long as it
   takes; it is never dropped. A recipient's server refusing an owner's address also moves the alert
   up the escalation chain at once, so somebody hears of the renewal while the address is fixed.

A sender renews its lease on a message just before sending it, so a batch that takes longer than the
lease (a slow mail server) never has its tail claimed by a second sender while the first still means to
send it: whichever of the two holds the row when the send starts sends it, and the other skips it.

A sender killed after claiming leaves the row ``sending``; once the lease has passed another sender
claims it again. If it was killed *between* the channel accepting the message and step 3, the retry
sends it a second time: no protocol can close that gap with an external mail server, so every attempt
carries the same Message-ID (derived from the delivery id), which lets mail systems recognise the
repeat. The gap is the length of one database commit.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from estate_contracts import notification_events as ev
from estate_eventing.outbox import add_event
from estate_notifications.adapters.channels.message import Channel, DeliveryFailed, OutgoingMessage
from estate_notifications.adapters.channels.teams import TeamsCard, TeamsChannel
from estate_notifications.adapters.db.records import AlertRecord, DeliveryRecord
from estate_notifications.application.messages import Composer, Rendered

log = logging.getLogger(__name__)


@dataclass(slots=True)
class DispatchReport:
    claimed: int = 0
    sent: int = 0
    failed: int = 0
    lost_lease: int = 0
    errors: list[str] = field(default_factory=list)


class Dispatcher:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        email: Channel,
        teams: TeamsChannel | None = None,
        worker_id: str,
        lease_seconds: float = 120.0,
        batch: int = 50,
        retry_first_seconds: float = 60.0,
        retry_max_seconds: float = 6 * 3600.0,
        composer: Composer | None = None,
    ) -> None:
        self.sessions = sessions
        self.email = email
        self.teams = teams
        self.worker_id = worker_id
        self.lease = timedelta(seconds=lease_seconds)
        self.batch = batch
        self.retry_first = retry_first_seconds
        self.retry_max = retry_max_seconds
        self.composer = composer

    async def claim(self, now: datetime) -> list[DeliveryRecord]:
        """Claim up to ``batch`` messages that are due; committed before anything is sent."""
        ready = or_(
            and_(DeliveryRecord.status == "pending", DeliveryRecord.next_attempt_at <= now),
            and_(DeliveryRecord.status == "sending", DeliveryRecord.lease_until < now),
        )
        candidates = (
            select(DeliveryRecord.id)
            .where(ready)
            .order_by(DeliveryRecord.next_attempt_at)
            .limit(self.batch)
            .with_for_update(skip_locked=True)
        )
        async with self.sessions() as session, session.begin():
            claimed = (
                await session.scalars(
                    update(DeliveryRecord)
                    .where(DeliveryRecord.id.in_(candidates.scalar_subquery()), ready)
                    .values(
                        status="sending",
                        lease_until=now + self.lease,
                        claimed_by=self.worker_id,
                        attempts=DeliveryRecord.attempts + 1,
                    )
                    .returning(DeliveryRecord)
                    .execution_options(synchronize_session=False)
                )
            ).all()
        return list(claimed)

    async def run_once(self, now: datetime) -> DispatchReport:
        """Claim what is due at ``now`` and send it. Sends take real time: each later step is dated
        ``now`` plus the time elapsed since the call (so an offset or travelled clock stays consistent)."""
        report = DispatchReport()
        started = time.monotonic()
        claimed = await self.claim(now)
        report.claimed = len(claimed)
        for delivery in claimed:
            current = now + timedelta(seconds=time.monotonic() - started)
            if not await self._hold(delivery, current):
                log.warning("delivery %s: its lease passed and another sender took it first", delivery.id)
                report.lost_lease += 1
                continue
            rendered = await self._compose(delivery, current)
            try:
                provider_id = await self._send(delivery, rendered)
            except DeliveryFailed as failure:
                await self._failed(delivery, failure, now + timedelta(seconds=time.monotonic() - started))
                report.failed += 1
                report.errors.append(f"{delivery.recipient_email}: {failure.reason}")
                continue
            if await self._sent(
                delivery, provider_id, now + timedelta(seconds=time.monotonic() - started), rendered
            ):
                report.sent += 1
            else:
                report.lost_lease += 1
        return report

    async def _hold(self, delivery: DeliveryRecord, now: datetime) -> bool:
        """Make sure this sender still holds ``delivery`` for a whole lease from ``now``, before sending.

        A lease with more than half of its time left is kept as it is (no write per message); otherwise
        it is renewed by one conditional UPDATE, which fails if another sender has claimed the row since.
        """
        if delivery.lease_until is not None and delivery.lease_until - now > self.lease / 2:
            return True
        async with self.sessions() as session, session.begin():
            result = await session.execute(
                update(DeliveryRecord).where(*self._still_mine(delivery)).values(lease_until=now + self.lease)
            )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            return False
        delivery.lease_until = now + self.lease
        return True

    async def _compose(self, delivery: DeliveryRecord, now: datetime) -> Rendered:
        """The message's words: as stored, or (a renewal alert) written now with a fresh link."""
        if delivery.body_text is not None:
            card = delivery.detail.get("card") or {}
            return Rendered(
                subject=delivery.subject, text=delivery.body_text, html=delivery.body_html or "", card=card
            )
        if self.composer is None:
            raise RuntimeError(
                "a renewal alert's message is written at send time: give the dispatcher a Composer"
            )
        async with self.sessions() as session:
            return await self.composer.alert(session, delivery, now=now)

    async def _send(self, delivery: DeliveryRecord, rendered: Rendered) -> str:
        if delivery.channel == "teams":
            if self.teams is None:
                raise DeliveryFailed(
                    "no Teams webhook is configured (ESTATE_NOTIFICATIONS_TEAMS_WEBHOOK_URL)", permanent=False
                )
            card = rendered.card
            return await self.teams.post(
                TeamsCard(
                    title=str(card.get("title") or delivery.subject),
                    facts=[(str(k), str(v)) for k, v in card.get("facts", [])],  # type: ignore[attr-defined]
                    text=str(card.get("text") or ""),
                    actions=[(str(t), str(u)) for t, u in card.get("actions", []) if u],  # type: ignore[attr-defined]
                ),
                delivery_id=delivery.id,
            )
        return await self.email.send(
            OutgoingMessage(
                delivery_id=delivery.id,
                to_email=delivery.recipient_email,
                to_name=delivery.recipient_name,
                subject=rendered.subject,
                text=rendered.text,
                html=rendered.html or None,
            )
        )

    def _still_mine(self, delivery: DeliveryRecord) -> tuple[ColumnElement[bool], ...]:
        """The row is still being sent by this sender: not sent, cancelled or taken over meanwhile."""
        return (
            DeliveryRecord.id == delivery.id,
            DeliveryRecord.status == "sending",
            DeliveryRecord.claimed_by == self.worker_id,
        )

    async def _sent(
        self, delivery: DeliveryRecord, provider_id: str, now: datetime, rendered: Rendered
    ) -> bool:
        async with self.sessions() as session, session.begin():
            result = await session.execute(
                update(DeliveryRecord)
                .where(*self._still_mine(delivery))
                .values(
                    status="sent",
                    sent_at=now,
                    provider_id=provider_id[:300],
                    lease_until=None,
                    last_error=None,
                )
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                log.warning(
                    "delivery %s was sent after its lease passed and another sender took it", delivery.id
                )
                return False
            for item in await self._alert_items(session, delivery):
                await _alert_sent(session, item, delivery, now)
        return True

    async def _alert_items(self, session: AsyncSession, delivery: DeliveryRecord) -> Sequence[DeliveryRecord]:
        if delivery.kind == "digest":
            ids = [uuid.UUID(i) for i in delivery.detail.get("items", [])]
            return (
                (await session.scalars(select(DeliveryRecord).where(DeliveryRecord.id.in_(ids)))).all()
                if ids
                else []
            )
        return [delivery] if delivery.alert_id else []

    async def _failed(self, delivery: DeliveryRecord, failure: DeliveryFailed, now: datetime) -> None:
        delay = min(self.retry_max, self.retry_first * 2 ** max(0, delivery.attempts - 1))
        if failure.permanent:
            delay = self.retry_max
        elif failure.retry_after_seconds:
            delay = max(delay, min(self.retry_max, failure.retry_after_seconds))
        async with self.sessions() as session, session.begin():
            # Only a row this sender still holds: one cancelled meanwhile (its alert closed) stays cancelled,
            # and one another sender took over is that sender's to record.
            await session.execute(
                update(DeliveryRecord)
                .where(*self._still_mine(delivery))
                .values(
                    status="pending",
                    lease_until=None,
                    next_attempt_at=now + timedelta(seconds=delay),
                    last_error=f"attempt {delivery.attempts}: {failure.reason}"[:4000],
                )
            )
            if failure.permanent and delivery.alert_id and delivery.role == "contract_owner":
                # The owner cannot be reached: the next in the chain is told now, not in three days.
                await session.execute(
                    update(AlertRecord)
                    .where(
                        AlertRecord.id == delivery.alert_id,
                        AlertRecord.level == 0,
                        AlertRecord.closed_at.is_(None),
                        AlertRecord.acknowledged_at.is_(None),
                    )
                    .values(escalate_at=now)
                )
        log.warning(
            "delivery %s to %s failed (%s); next attempt in %.0f s",
            delivery.id,
            delivery.recipient_email,
            failure.reason,
            delay,
        )


async def _alert_sent(
    session: AsyncSession, item: DeliveryRecord, carrier: DeliveryRecord, now: datetime
) -> None:
    detail: dict[str, Any] = item.detail
    if item.alert_id is None or item.contract_id is None:
        return
    await add_event(
        session,
        ev.AlertSent(
            alert_id=item.alert_id,
            contract_id=item.contract_id,
            contract_reference=str(detail.get("contract_reference", "")) or "unknown",
            recipient_role=item.role,  # type: ignore[arg-type]
            recipient=ev.Recipient(person_id=None, name=item.recipient_name, email=item.recipient_email),
            rung_days=int(detail.get("rung_days", 0)),
            act_by=date.fromisoformat(str(detail["act_by"])),
            channel=carrier.channel,  # type: ignore[arg-type]
            sent_at=now,
        ),
        source=ev.SOURCE,
        time=now,
    )
