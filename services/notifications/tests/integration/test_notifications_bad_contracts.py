"""Contract events with dates that cannot be right are kept and explained, never a crash and never a
silently lost renewal: the problem is recorded on the watch in words, and where a date can still be
worked out the owner is alerted with the problem spelled out."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from notifications_support import OWNER, contract, notifications_service


async def test_a_term_that_ends_before_it_starts_is_recorded_with_the_problem_and_raises_nothing(
    database_url: str, tmp_path: Path
) -> None:
    async with notifications_service(database_url, tmp_path, today=date(2026, 9, 1)) as service:
        await service.record(contract(start=date(2027, 4, 1), term_end=date(2027, 3, 31)))
        await service.sweep_and_send()

        watch = await service.watch()
        assert watch.problems == [
            "the term ends (2027-03-31) before the contract starts (2027-04-01): correct the dates in the register"
        ]
        assert (watch.act_by, watch.next_due_on) == (None, None)
        assert service.inbox() == []


async def test_a_notice_period_longer_than_the_term_alerts_at_once_and_says_what_to_check(
    database_url: str, tmp_path: Path
) -> None:
    async with notifications_service(database_url, tmp_path, today=date(2026, 9, 1)) as service:
        # A four-month term with 180 days' notice: act-by fell before the contract even started.
        await service.record(
            contract(start=date(2026, 6, 1), term_end=date(2026, 9, 30), notice_days=180, lead_days=0)
        )
        await service.sweep_and_send()

        watch = await service.watch()
        assert watch.problems == [
            "the notice period (180 days) is longer than the term (122 days): check the contract; alerts are "
            "sent from now on"
        ]
        (mail,) = service.inbox(OWNER.email)
        assert mail.subject.startswith("Overdue: renewal decision for CON-0042")
        assert (
            "Check the record: the notice period (180 days) is longer than the term (122 days)" in mail.text
        )
