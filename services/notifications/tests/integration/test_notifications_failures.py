"""When mail cannot be delivered, against real SMTP servers: a refused recipient, a server that defers or is
down, a server that never answers. A message is never dropped, the reason is recorded in words, retries
back off, somebody else hears of the renewal when the owner cannot be reached, and the message arrives
once when the server is back."""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta
from pathlib import Path

from notifications_channel_servers import SmtpScript, refusing_port, silent_server, smtp_server
from notifications_support import BUDGET_HOLDER, OWNER, Service, contract, notifications_service

from estate_notifications.adapters.db.records import DeliveryRecord

FIRST_RUNG = date(2026, 6, 4)  # the 180-day rung of contract() (act by 1 December 2026)
SUBJECT = "Act by 1 December 2026: renewal of CON-0042 Benefits and council tax e-forms (IEG4)"
RETRY_FIRST = 60.0
RETRY_MAX = 6 * 3600.0


async def owner_message(service: Service) -> DeliveryRecord:
    (row,) = [d for d in await service.deliveries() if d.role == "contract_owner"]
    return row


def waited(row: DeliveryRecord, attempted_at: datetime) -> float:
    assert row.next_attempt_at is not None
    return (row.next_attempt_at - attempted_at).total_seconds()


async def test_a_refused_owner_address_keeps_the_message_pending_with_the_reason_and_tells_the_budget_holder(
    database_url: str, tmp_path: Path
) -> None:
    script = SmtpScript(rcpt_reply="550 5.1.1 <priya.shah@cambridge.gov.uk>: Recipient address rejected")
    async with (
        smtp_server(script) as port,
        notifications_service(database_url, tmp_path, today=FIRST_RUNG) as service,
    ):
        await service.record(contract())
        await service.sweep()
        service.use_smtp(port)
        attempted_at = service.clock()
        report = await service.send()
        assert (report.claimed, report.sent, report.failed) == (1, 0, 1)
        assert script.received == []

        row = await owner_message(service)
        assert (row.status, row.attempts) == ("pending", 1)
        assert row.last_error is not None
        assert "refused the recipient priya.shah@cambridge.gov.uk: 550 5.1.1" in row.last_error
        assert row.last_error.startswith("attempt 1: SMTP server 127.0.0.1:")
        assert RETRY_MAX <= waited(row, attempted_at) < RETRY_MAX + 5  # a refusal is not retried soon

        # The next sweep tells the budget holder at once, not three working days later.
        service.use_sink()
        service.wait(60)
        await service.sweep_and_send()
        (escalated,) = service.inbox(BUDGET_HOLDER.email)
        assert escalated.subject == f"Escalated: {SUBJECT}"
        assert "the budget holder" in escalated.text
        (event,) = await service.events("estate.notifications.alert.escalated")
        assert (event["data"]["from_role"], event["data"]["to_role"]) == ("contract_owner", "budget_holder")
        assert service.inbox(OWNER.email) == []
        assert (await owner_message(service)).status == "pending"  # still waiting, not dropped

        # Once the address is put right, the retry delivers the owner's message, once.
        service.wait(RETRY_MAX)
        await service.sweep_and_send()
        service.wait(RETRY_MAX)
        await service.sweep_and_send()
        (delivered,) = service.inbox(OWNER.email)
        assert delivered.subject == SUBJECT
        row = await owner_message(service)
        assert (row.status, row.attempts, row.last_error) == ("sent", 2, None)


async def test_a_deferring_or_unreachable_server_is_retried_with_doubling_waits_and_delivers_once_when_back(
    database_url: str, tmp_path: Path
) -> None:
    script = SmtpScript(rcpt_reply="451 4.3.0 Temporary lookup failure, try again later")
    async with (
        smtp_server(script) as deferring,
        notifications_service(database_url, tmp_path, today=FIRST_RUNG) as service,
    ):
        await service.record(contract())
        await service.sweep()
        waits: list[float] = []
        reasons: list[str] = []

        async def attempt() -> None:
            attempted_at = service.clock()
            report = await service.send()
            assert (report.claimed, report.failed) == (1, 1)
            row = await owner_message(service)
            assert row.status == "pending" and row.last_error is not None
            waits.append(waited(row, attempted_at))
            reasons.append(row.last_error)
            service.clock.set(row.next_attempt_at)

        service.use_smtp(deferring)
        await attempt()
        with refusing_port() as down:
            service.use_smtp(down)
            await attempt()
        service.use_smtp(deferring)
        await attempt()

        assert [round(w) for w in waits] == [RETRY_FIRST, 2 * RETRY_FIRST, 4 * RETRY_FIRST]
        assert "refused the recipient priya.shah@cambridge.gov.uk: 451 4.3.0" in reasons[0]
        assert reasons[1].startswith("attempt 2: Could not connect to SMTP server 127.0.0.1:")
        assert reasons[1].endswith("connection refused")
        assert reasons[2].startswith("attempt 3: ")
        assert script.received == []

        # Not due yet: a sender running a moment early sends nothing.
        row = await owner_message(service)
        service.clock.set(row.next_attempt_at - timedelta(seconds=1))
        assert (await service.send()).claimed == 0
        service.clock.set(row.next_attempt_at)

        service.use_sink()
        report = await service.send()
        assert (report.claimed, report.sent) == (1, 1)
        service.wait(RETRY_MAX)
        await service.sweep_and_send()
        (delivered,) = service.inbox(OWNER.email)
        assert delivered.subject == SUBJECT
        row = await owner_message(service)
        assert (row.status, row.attempts, row.last_error) == ("sent", 4, None)
        assert len(await service.events("estate.notifications.alert.sent")) == 1


async def test_a_server_that_never_answers_is_a_failed_attempt_with_the_timeout_in_its_reason(
    database_url: str, tmp_path: Path
) -> None:
    async with (
        silent_server() as silent,
        notifications_service(
            database_url, tmp_path, today=FIRST_RUNG, smtp_port=silent, smtp_timeout_seconds=0.5
        ) as service,
    ):
        await service.record(contract())
        await service.sweep()
        attempted_at = service.clock()
        started = time.monotonic()
        report = await service.send()
        assert time.monotonic() - started < 5  # the sender is not held by the silent server
        assert (report.claimed, report.failed) == (1, 1)
        row = await owner_message(service)
        assert (row.status, row.attempts) == ("pending", 1)
        assert row.last_error is not None
        assert row.last_error.startswith(
            f"attempt 1: SMTP server 127.0.0.1:{silent} did not answer within 0.5 s"
        )
        assert RETRY_FIRST <= waited(row, attempted_at) < RETRY_FIRST + 5
        assert report.errors == [f"{OWNER.email}: {row.last_error.removeprefix('attempt 1: ')}"]
