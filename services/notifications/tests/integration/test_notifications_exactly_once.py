"""Exactly once, against the real pieces: two sweepers and two senders on one database at the same time, a
sender process killed while it holds a message, a mail server slower than the sender's lease, and the
register's events replayed, out of order, and into a rebuilt watch. Each step is raised once, each message
is written once, and each message arrives in the mailbox once."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
import uuid
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session
from notifications_channel_servers import SmtpScript, silent_server, smtp_server
from notifications_support import (
    LINK_SECRET,
    OWNER,
    SYSTEM_OWNER,
    Service,
    contract,
    notifications_service,
    system,
)

from estate_contracts.register_events import RenewalDecision
from estate_eventing.clock import utc_now
from estate_eventing.testing import PROCESS_LOGS
from estate_notifications.adapters.channels.smtp import DELIVERY_ID_HEADER, message_id_for
from estate_notifications.adapters.db.records import DeliveryRecord
from estate_notifications.application.maintenance import rebuild_watch

# Every contract below ends its term on Wed 31 Mar 2027 with 90 days' notice and 30 days' lead time:
# act by Tue 1 Dec 2026; the 180-day rung is Thu 4 Jun 2026 and the 120-day rung Mon 3 Aug 2026.
FIRST_RUNG = date(2026, 6, 4)
SECOND_RUNG = date(2026, 8, 3)
CONTRACTS = 200
WINDOW_OPENED = "estate.notifications.renewal.notice_window_opened"
ACT_BY_APPROACHING = "estate.notifications.renewal.act_by_approaching"
ALERT_SENT = "estate.notifications.alert.sent"


def contract_ids() -> list[uuid.UUID]:
    return [uuid.UUID(int=10_000 + number) for number in range(CONTRACTS)]


async def test_two_sweepers_and_two_senders_at_once_raise_every_step_once_and_deliver_every_message_once(
    database_url: str, tmp_path: Path
) -> None:
    ids = contract_ids()
    # Small batches, so that the two sweepers and the two senders really interleave on the same rows.
    async with notifications_service(
        database_url, tmp_path, today=FIRST_RUNG, sweep_batch=25, send_batch=20
    ) as service:
        await service.record(
            *(
                contract(contract_id=contract_id, reference=f"CON-{1000 + number}")
                for number, contract_id in enumerate(ids)
            )
        )

        async with service.another_process() as second:
            reports = await asyncio.gather(
                service.container.sweeper().run(service.clock()), second.sweeper().run(service.clock())
            )
        assert sum(report.alerts_raised for report in reports) == CONTRACTS
        alerts = await service.alerts()
        assert sorted(alert.contract_id for alert in alerts) == sorted(ids)  # each contract's step, once
        written = await service.deliveries()
        assert sorted(d.contract_id for d in written if d.contract_id) == sorted(ids)
        assert {d.dedupe_key for d in written} == {
            f"alert:{a.id}:0:contract_owner:{OWNER.email}:email" for a in alerts
        }
        events = Counter(event["type"] for event in await service.events())
        assert events[WINDOW_OPENED] == CONTRACTS
        assert events[ACT_BY_APPROACHING] == CONTRACTS
        again = await service.sweep()
        assert (again.alerts_raised, again.deliveries, again.events) == (0, 0, 0)

        async with service.another_process(worker_id="sender-b") as second:
            first_sender, second_sender = service.container.dispatcher(), second.dispatcher()
            assert first_sender.worker_id != second_sender.worker_id
            claimed_by: Counter[str] = Counter()
            while True:
                one, two = await asyncio.gather(
                    first_sender.run_once(service.clock()), second_sender.run_once(service.clock())
                )
                assert one.errors == [] and two.errors == []
                claimed_by.update({first_sender.worker_id: one.claimed, second_sender.worker_id: two.claimed})
                if not one.claimed and not two.claimed:
                    break
        assert sum(claimed_by.values()) == CONTRACTS

        # What the owner's mailbox holds: each message once, each with the Message-ID of its delivery.
        mailbox = service.inbox()
        assert {address for m in mailbox for address in m.to} == {OWNER.email}
        assert Counter(m.headers[DELIVERY_ID_HEADER] for m in mailbox) == Counter(
            {str(d.id): 1 for d in written}
        )
        assert sorted(m.message_id or "" for m in mailbox) == sorted(message_id_for(d.id) for d in written)
        assert sorted(m.subject.split(": renewal of ")[1].split(" ")[0] for m in mailbox) == sorted(
            f"CON-{1000 + number}" for number in range(CONTRACTS)
        )
        sent = await service.deliveries()
        assert {(d.status, d.attempts) for d in sent} == {("sent", 1)}
        assert len(await service.events(ALERT_SENT)) == CONTRACTS


class SlowScript(SmtpScript):
    """A mail server that takes ``delay`` seconds to accept each message."""

    delay: float = 0.3

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        await asyncio.sleep(self.delay)
        return await super().handle_DATA(server, session, envelope)


async def test_a_batch_slower_than_the_lease_is_not_sent_twice_when_a_second_sender_starts_meanwhile(
    database_url: str, tmp_path: Path
) -> None:
    """A sender holds a whole batch under one lease; with a slow mail server the batch's tail outlives the
    lease. A second sender starting then may take over what the first has not reached, but nothing is
    sent by both."""
    script = SlowScript()
    ids = [uuid.UUID(int=20_000 + number) for number in range(6)]
    async with (
        smtp_server(script) as port,
        notifications_service(database_url, tmp_path, today=FIRST_RUNG, lease_seconds=1) as service,
    ):
        await service.record(*(contract(contract_id=i, reference=f"CON-{n}") for n, i in enumerate(ids)))
        await service.sweep()
        service.use_smtp(port)
        started, start = service.clock(), time.monotonic()
        first = asyncio.create_task(service.container.dispatcher().run_once(started))
        await asyncio.sleep(1.2)  # the first sender is half way through its batch; its lease has passed
        async with service.another_process(worker_id="sender-b") as second:
            second.email = service.container.email
            late = await second.dispatcher().run_once(started + timedelta(seconds=time.monotonic() - start))
        early = await first

        written = await service.deliveries()
        received = Counter(mail.message[DELIVERY_ID_HEADER] for mail in script.received)
        assert received == Counter({str(d.id): 1 for d in written})
        assert early.sent + late.sent == len(ids)
        assert {d.status for d in written} == {"sent"}
        assert len(await service.events(ALERT_SENT)) == len(ids)


async def wait_for_claim(service: Service, delivery_id: uuid.UUID, worker_id: str) -> DeliveryRecord:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        row = await service.delivery(delivery_id)
        if row.status == "sending" and row.claimed_by == worker_id:
            return row
        await asyncio.sleep(0.1)
    raise AssertionError(f"the sender process never claimed delivery {delivery_id}")


async def test_a_sender_killed_between_claiming_and_sending_leaves_the_message_to_the_next_sender_once(
    database_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    async with (
        silent_server() as black_hole,
        notifications_service(database_url, tmp_path, today=FIRST_RUNG) as service,
    ):
        await service.record(contract())
        await service.sweep()
        (delivery,) = await service.deliveries()

        # A real sender process whose mail server accepts the connection and then never answers, so it
        # is stuck after claiming the message and before the server has it.
        offset = (service.clock() - utc_now()).total_seconds()
        environment = {
            **os.environ,
            "ESTATE_NOTIFICATIONS_DATABASE_URL": database_url,
            "ESTATE_NOTIFICATIONS_SMTP_HOST": "127.0.0.1",
            "ESTATE_NOTIFICATIONS_SMTP_PORT": str(black_hole),
            "ESTATE_NOTIFICATIONS_SMTP_SECURITY": "none",
            "ESTATE_NOTIFICATIONS_SMTP_TIMEOUT_SECONDS": "600",
            "ESTATE_NOTIFICATIONS_LEASE_SECONDS": "2",
            "ESTATE_NOTIFICATIONS_WORKER_ID": "sender-doomed",
            "ESTATE_NOTIFICATIONS_CLOCK_OFFSET_SECONDS": str(offset),
            "ESTATE_NOTIFICATIONS_LINK_SECRET": LINK_SECRET,
            "ESTATE_NOTIFICATIONS_ENVIRONMENT": "test",
            "ESTATE_AUTH_DEV_KEY_PATH": str(tmp_path / "dev-key.pem"),
        }
        log = tmp_path / "sender.log"
        request.node.stash[PROCESS_LOGS] = {"sender": log}
        with log.open("wb") as output:
            sender = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "estate_notifications.entrypoints.cli",
                "send",
                env=environment,
                cwd=tmp_path,
                stdout=output,
                stderr=output,
            )
            try:
                held = await wait_for_claim(service, delivery.id, "sender-doomed")
                sender.send_signal(signal.SIGKILL)
                assert await sender.wait() == -signal.SIGKILL
            finally:
                if sender.returncode is None:
                    sender.kill()
                    await sender.wait()
        assert held.attempts == 1 and held.lease_until is not None
        assert (await service.delivery(delivery.id)).status == "sending"  # the dead sender's claim stays

        # Before the lease has passed, another sender leaves the message alone.
        service.clock.set(held.lease_until - timedelta(seconds=0.5))
        early = await service.send()
        assert early.claimed == 0
        assert service.inbox() == []

        # After it, the next sender claims it again and the owner gets it once.
        service.clock.set(held.lease_until + timedelta(seconds=1))
        late = await service.send()
        assert (late.claimed, late.sent) == (1, 1)
        assert await service.send() == type(late)()  # nothing more to send
        (mail,) = service.inbox()
        assert mail.to == [OWNER.email]
        assert mail.headers[DELIVERY_ID_HEADER] == str(delivery.id)
        assert mail.subject.startswith("Act by 1 December 2026: renewal of CON-0042")
        row = await service.delivery(delivery.id)
        assert (row.status, row.attempts) == ("sent", 2)
        assert row.claimed_by == service.container.settings.worker_id
        assert len(await service.events(ALERT_SENT)) == 1


async def test_replayed_out_of_order_and_rebuilt_snapshots_raise_nothing_and_send_nothing_again(
    database_url: str, tmp_path: Path
) -> None:
    v1 = contract(version=1)
    v2 = contract(version=2, title="Benefits e-forms (renamed)")
    async with notifications_service(database_url, tmp_path, today=FIRST_RUNG) as service:
        await service.record(system(), v1)
        await service.sweep_and_send()
        assert len(service.inbox(OWNER.email)) == 1 and len(service.inbox(SYSTEM_OWNER.email)) == 1

        # The same snapshots again, a newer one, then the older one arriving late.
        await service.record(system(), v1, v2, v1, v2)
        watch = await service.watch()
        assert (watch.version, watch.title) == (2, "Benefits e-forms (renamed)")

        service.travel(SECOND_RUNG)
        await service.sweep_and_send()
        assert len(service.inbox(OWNER.email)) == 2

        async def snapshot() -> tuple[object, ...]:
            watch = await service.watch()
            return (
                [(a.id, a.closed_at, a.level) for a in await service.alerts()],
                [(d.id, d.status) for d in await service.deliveries()],
                len(await service.events()),
                len(service.inbox()),
                (watch.version, watch.term_end, watch.act_by, watch.last_raised_on, watch.next_due_on),
            )

        before = await snapshot()
        service.travel(SECOND_RUNG + timedelta(days=1))
        assert await rebuild_watch(service.container) == (1, 1)
        await service.record(system(), v1, v2, v1)
        await service.sweep_and_send()
        service.travel(SECOND_RUNG + timedelta(days=2))
        await service.sweep_and_send()
        assert await snapshot() == before

        # The owner renews: the old term's alerts close and the new term's ladder is a year on.
        v3 = contract(
            version=3,
            title="Benefits e-forms (renamed)",
            term_end=date(2028, 3, 31),
            decision=RenewalDecision(
                id=uuid.UUID(int=901),
                outcome="renew",
                rationale="Still the best value after the market test",
                decided_by=OWNER.email,
                decided_at=datetime(2026, 8, 5, 10, tzinfo=service.clock().tzinfo),
                new_term_end=date(2028, 3, 31),
            ),
        )
        service.travel(date(2026, 8, 5))
        await service.record(v3)
        await service.sweep_and_send()
        assert {a.close_reason for a in await service.alerts()} == {"superseded", "term_moved"}
        before = await snapshot()
        await rebuild_watch(service.container)
        await service.record(v1, v2, v3, system(), v2)
        await service.sweep_and_send()
        assert await snapshot() == before
        assert (await service.watch()).act_by == date(2027, 12, 2)  # 2028 is a leap year
