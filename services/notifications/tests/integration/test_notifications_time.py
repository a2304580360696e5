"""A contract's renewal over months, with the service's clock moved day by day (or jumped, as after an
outage) on a real database and a real SMTP sink: what the owner, the budget holder and the TDA receive,
and which renewal facts are published, as the term runs out, is decided, renewed, rolls over or ends."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from notifications_support import BUDGET_HOLDER, OWNER, TDA, Service, contract, notifications_service

from estate_contracts.register_events import RenewalDecision
from estate_notifications.adapters.channels.sink import SinkMessage

NAME = "CON-0042 Benefits and council tax e-forms (IEG4)"
WINDOW_OPENED = "estate.notifications.renewal.notice_window_opened"
ACT_BY_APPROACHING = "estate.notifications.renewal.act_by_approaching"
OVERDUE = "estate.notifications.renewal.overdue"
ESCALATED = "estate.notifications.alert.escalated"
ALERT_SENT = "estate.notifications.alert.sent"

# A short ladder keeps the walk short: 30 and 7 days before act-by, then overdue reminders every 7 days.
SHORT_LADDER: dict[str, Any] = {"ladder": [30, 7], "overdue_every_days": 7}
# The contract of most tests: its term ends Thu 31 Dec 2026, 30 days' notice and no lead time, so the
# council must act by Tue 1 Dec 2026. Rungs: Fri 30 Oct, Tue 24 Nov. Overdue from Wed 2 Dec, weekly.
TERM_END = date(2026, 12, 31)
ACT_BY = date(2026, 12, 1)
RUNG_30 = date(2026, 10, 30)
RUNG_7 = date(2026, 11, 24)
OVERDUE_DAYS = [
    date(2026, 12, 2),
    date(2026, 12, 9),
    date(2026, 12, 16),
    date(2026, 12, 23),
    date(2026, 12, 30),
]


def short_contract(**changes: Any) -> Any:
    values: dict[str, Any] = {"term_end": TERM_END, "notice_days": 30, "lead_days": 0, **changes}
    return contract(**values)


def decision(outcome: str, *, on: date, new_term_end: date | None = None) -> RenewalDecision:
    return RenewalDecision(
        id=uuid.uuid4(),
        outcome=outcome,
        rationale="Agreed with the service manager after the market review",
        decided_by=OWNER.email,
        decided_at=datetime(on.year, on.month, on.day, 11, tzinfo=UTC),
        new_term_end=new_term_end,
    )


def subjects(messages: Sequence[SinkMessage]) -> list[str]:
    """Subjects in the order the messages arrived."""
    return [
        m.subject for m in sorted(messages, key=lambda m: m.received_at or datetime.min.replace(tzinfo=UTC))
    ]


async def facts(service: Service, event_type: str) -> list[dict[str, Any]]:
    return [event["data"] for event in await service.events(event_type)]


async def test_the_owner_hears_each_rung_then_weekly_overdue_reminders_then_the_end_of_term_once_each(
    database_url: str, tmp_path: Path
) -> None:
    async with notifications_service(database_url, tmp_path, today=RUNG_30, **SHORT_LADDER) as service:
        await service.record(short_contract())
        await service.walk(RUNG_30 - timedelta(days=3), TERM_END + timedelta(days=3))

        ladder = f"Act by 1 December 2026: renewal of {NAME}"
        overdue = f"Overdue: renewal decision for {NAME} was due 1 December 2026"
        assert subjects(service.inbox(OWNER.email)) == [
            ladder,
            ladder,
            *[overdue] * len(OVERDUE_DAYS),
            f"Contract ends today: {NAME}",
        ]
        by_subject = {m.subject: m for m in service.inbox(OWNER.email)}  # the first of each, newest first
        assert "was due by 1 December 2026, 1 day ago, and none is recorded" in by_subject[overdue].text
        assert "The current term of CON-0042" in by_subject[f"Contract ends today: {NAME}"].text
        assert "ends today, 31 December 2026." in by_subject[f"Contract ends today: {NAME}"].text

        opened = await facts(service, WINDOW_OPENED)
        assert [(f["as_of"], f["act_by"]) for f in opened] == [("2026-10-30", "2026-12-01")]  # once a term
        assert [(f["as_of"], f["days_left"]) for f in await facts(service, ACT_BY_APPROACHING)] == [
            ("2026-10-30", 32),
            ("2026-11-24", 7),
        ]
        overdue_facts = await facts(service, OVERDUE)
        assert [f["as_of"] for f in overdue_facts] == [d.isoformat() for d in [*OVERDUE_DAYS, TERM_END]]
        assert [f["days_overdue"] for f in overdue_facts] == [1, 8, 15, 22, 29, 30]
        assert all(
            f["days_overdue"] == (date.fromisoformat(f["as_of"]) - ACT_BY).days
            and f["act_by"] == "2026-12-01"
            for f in overdue_facts
        )
        alerts = await service.alerts()
        assert [(a.kind, a.due_on) for a in alerts] == [
            ("ladder", RUNG_30),
            ("ladder", RUNG_7),
            *[("overdue", day) for day in OVERDUE_DAYS],
            ("term_end", TERM_END),
        ]
        assert (await service.watch()).next_due_on is None  # an express contract simply ends


async def test_a_terminate_decision_stops_the_ladder_and_the_overdue_reminders_but_not_the_end_of_term_alert(
    database_url: str, tmp_path: Path
) -> None:
    # A tacit contract: without the decision it would renew by itself for another 12 months.
    terms: dict[str, Any] = {"renewal_type": "tacit", "renewal_period_months": 12}
    async with notifications_service(database_url, tmp_path, today=RUNG_30, **SHORT_LADDER) as service:
        await service.record(short_contract(**terms))
        await service.sweep()  # the first rung is raised; the sender has not run yet
        await service.record(short_contract(version=2, decision=decision("terminate", on=RUNG_30), **terms))
        report = await service.send()
        assert report.claimed == 0
        (cancelled,) = await service.deliveries()
        assert cancelled.status == "cancelled"
        assert cancelled.last_error == "not sent: the alert closed (decided)"
        assert [a.close_reason for a in await service.alerts()] == ["decided"]

        for day in [RUNG_7, *OVERDUE_DAYS, TERM_END, TERM_END + timedelta(days=1), date(2027, 1, 11)]:
            service.travel(day)
            await service.sweep_and_send()
        assert subjects(service.inbox(OWNER.email)) == [f"Contract ends today: {NAME}"]
        assert await facts(service, OVERDUE) == []
        assert [f["as_of"] for f in await facts(service, ACT_BY_APPROACHING)] == ["2026-10-30"]
        # The owner decided: nobody up the chain is asked about the contract ending.
        assert service.inbox(BUDGET_HOLDER.email) == [] and service.inbox(TDA) == []

        # Terminated with notice, it does not roll into another term: nothing more is scheduled.
        assert (await service.watch()).next_due_on is None
        for day in [date(2027, 11, 1), date(2027, 11, 24), date(2027, 12, 2), date(2027, 12, 31)]:
            service.travel(day)
            await service.sweep_and_send()
        assert len(service.inbox()) == 1
        assert len(await service.alerts()) == 2


async def test_a_renew_decision_closes_the_old_terms_alerts_and_starts_the_next_terms_ladder(
    database_url: str, tmp_path: Path
) -> None:
    next_end = date(2027, 12, 31)
    async with notifications_service(database_url, tmp_path, today=RUNG_30, **SHORT_LADDER) as service:
        await service.record(short_contract())
        await service.sweep()
        await service.record(
            short_contract(
                version=2, term_end=next_end, decision=decision("renew", on=RUNG_30, new_term_end=next_end)
            )
        )
        assert (await service.send()).claimed == 0
        (cancelled,) = await service.deliveries()
        assert (cancelled.status, cancelled.last_error) == (
            "cancelled",
            "not sent: the alert closed (term moved)",
        )
        assert [a.close_reason for a in await service.alerts()] == ["term_moved"]
        watch = await service.watch()
        assert (watch.term_end, watch.act_by, watch.next_due_on) == (
            next_end,
            date(2027, 12, 1),
            date(2027, 11, 1),
        )

        for day in [RUNG_7, OVERDUE_DAYS[0], TERM_END, date(2027, 10, 29), date(2027, 11, 1)]:
            service.travel(day)
            await service.sweep_and_send()
        (mail,) = service.inbox(OWNER.email)
        assert mail.subject == f"Act by 1 December 2027: renewal of {NAME}"
        assert "The current term ends on 31 December 2027." in mail.text
        assert [(f["as_of"], f["current_term_end"]) for f in await facts(service, WINDOW_OPENED)] == [
            ("2026-10-30", "2026-12-31"),
            ("2027-11-01", "2027-12-31"),
        ]


async def test_a_tacit_renewal_rolls_the_term_and_the_next_terms_ladder_follows(
    database_url: str, tmp_path: Path
) -> None:
    terms: dict[str, Any] = {"renewal_type": "tacit", "renewal_period_months": 12}
    async with notifications_service(database_url, tmp_path, today=RUNG_30, **SHORT_LADDER) as service:
        await service.record(short_contract(**terms))
        rolled = TERM_END + timedelta(days=1)
        # Wed 6 Jan 2027 is three working days after the term end (Fri 1 Jan is a bank holiday).
        for day in [RUNG_30, TERM_END, rolled, date(2027, 1, 6), date(2027, 1, 11), date(2027, 11, 1)]:
            service.travel(day)
            await service.sweep_and_send()
        first, ends, renewed = sorted(service.inbox(OWNER.email), key=lambda m: m.received_at or 0)
        assert first.subject == f"Act by 1 December 2026: renewal of {NAME}"
        assert "It renews automatically for 12 months unless the supplier is given notice" in first.text
        assert ends.subject == f"Contract ends today: {NAME}"
        assert renewed.subject == f"Act by 1 December 2027: renewal of {NAME}"
        assert "The current term ends on 31 December 2027." in renewed.text
        assert "It renews automatically for 12 months" in renewed.text
        assert [f["current_term_end"] for f in await facts(service, WINDOW_OPENED)] == [
            "2026-12-31",
            "2027-12-31",
        ]
        watch = await service.watch()
        assert (watch.term_end, watch.current_term_end) == (date(2027, 12, 31), TERM_END)
        # Once the term has rolled over, nobody up the chain is chased about the day it ended.
        assert service.inbox(BUDGET_HOLDER.email) == [] and service.inbox(TDA) == []
        assert [(a.kind, a.close_reason) for a in await service.alerts()] == [
            ("ladder", "superseded"),
            ("term_end", "term_moved"),
            ("ladder", None),
        ]


async def test_a_retired_contract_hears_nothing_more_and_its_unsent_messages_are_cancelled(
    database_url: str, tmp_path: Path
) -> None:
    async with notifications_service(database_url, tmp_path, today=RUNG_30, **SHORT_LADDER) as service:
        await service.record(short_contract())
        await service.sweep()
        await service.record(short_contract(version=2, status="terminated"))
        for day in [RUNG_30, RUNG_7, *OVERDUE_DAYS, TERM_END]:
            service.travel(day)
            await service.sweep_and_send()
        assert service.inbox() == []
        (cancelled,) = await service.deliveries()
        assert (cancelled.status, cancelled.last_error) == (
            "cancelled",
            "not sent: the alert closed (contract ended)",
        )
        assert [a.close_reason for a in await service.alerts()] == ["contract_ended"]
        assert (await service.watch()).next_due_on is None


async def test_a_contract_with_no_notice_period_uses_the_default_and_the_email_says_so(
    database_url: str, tmp_path: Path
) -> None:
    # 31 Mar 2027 less the default 60 days' notice and 30 days' lead time: act by Thu 31 Dec 2026; the
    # 180-day rung (Sat 4 Jul) goes out on Fri 3 Jul.
    async with notifications_service(
        database_url, tmp_path, today=date(2026, 7, 3), default_notice_days=60
    ) as service:
        await service.record(contract(notice_days=0))
        await service.sweep_and_send()
        (mail,) = service.inbox(OWNER.email)
        assert mail.subject == f"Act by 31 December 2026: renewal of {NAME}"
        assert (
            "No notice period is recorded for this contract, so the date assumes 60 days' notice. Check the "
            "contract and record the notice period in the register." in mail.text
        )
        watch = await service.watch()
        assert (watch.notice_unknown, watch.act_by) == (True, date(2026, 12, 31))
        (opened,) = await facts(service, WINDOW_OPENED)
        assert (opened["notice_period_days"], opened["act_by"]) == (60, "2026-12-31")


async def test_a_contract_with_no_owner_goes_straight_to_the_budget_holder_and_says_why(
    database_url: str, tmp_path: Path
) -> None:
    async with notifications_service(database_url, tmp_path, today=RUNG_30, **SHORT_LADDER) as service:
        await service.record(short_contract(owner=None))
        await service.sweep_and_send()
        (mail,) = service.inbox(BUDGET_HOLDER.email)
        assert mail.subject == f"Escalated: Act by 1 December 2026: renewal of {NAME}"
        assert "Dear Tom Reed" in mail.text
        (escalated,) = await facts(service, ESCALATED)
        assert (escalated["from_role"], escalated["to_role"], escalated["reason"]) == (
            "contract_owner",
            "budget_holder",
            "recipient_missing",
        )
        (alert,) = await service.alerts()
        assert (alert.level, alert.role) == (1, "budget_holder")
        assert [m.to for m in service.inbox()] == [[BUDGET_HOLDER.email]]


async def test_after_forty_days_down_the_service_raises_only_the_latest_step_that_came_due(
    database_url: str, tmp_path: Path
) -> None:
    # The default ladder (180 ... 1 days) of a contract that must be acted on by Tue 1 Dec 2026.
    async with notifications_service(database_url, tmp_path, today=date(2026, 10, 30)) as service:
        await service.record(contract())
        await service.sweep_and_send()  # the 30-day rung
        service.travel(date(2026, 10, 30) + timedelta(days=40))  # Wed 9 Dec: missed 14, 7, 1 and overdue
        await service.sweep_and_send()
        await service.sweep_and_send()

        assert subjects(service.inbox(OWNER.email)) == [
            f"Act by 1 December 2026: renewal of {NAME}",
            f"Overdue: renewal decision for {NAME} was due 1 December 2026",
        ]
        assert "1 December 2026, 8 days ago" in service.inbox(OWNER.email)[0].text
        assert service.inbox(BUDGET_HOLDER.email) == []  # the stale alert did not escalate on the way
        alerts = await service.alerts()
        assert [(a.kind, a.rung_days, a.close_reason) for a in alerts] == [
            ("ladder", 30, "superseded"),
            ("overdue", -8, None),
        ]
        assert [f["days_overdue"] for f in await facts(service, OVERDUE)] == [8]
        assert [f["days_left"] for f in await facts(service, ACT_BY_APPROACHING)] == [32]


async def test_a_daily_digest_holds_routine_alerts_for_the_next_morning_while_urgent_ones_go_at_once(
    database_url: str, tmp_path: Path
) -> None:
    # Fri 2 Oct 2026: the 60-day rung of two contracts that must be acted on by 1 Dec 2026, and the 7-day
    # rung of one that must be acted on by Fri 9 Oct (31 Jan 2027's term end less 120 days).
    day = date(2026, 10, 2)
    routine = [
        contract(contract_id=uuid.UUID(int=11), reference="CON-0011"),
        contract(contract_id=uuid.UUID(int=12), reference="CON-0012"),
    ]
    urgent = contract(contract_id=uuid.UUID(int=13), reference="CON-0013", term_end=date(2027, 2, 6))
    async with notifications_service(database_url, tmp_path, today=day, digest_hour=8) as service:
        await service.prefer(OWNER.email, "daily")
        await service.prefer(BUDGET_HOLDER.email, "daily")
        await service.record(*routine, urgent)
        service.travel(day, hour=9)  # 10:00 in London
        await service.sweep_and_send()
        (at_once,) = service.inbox(OWNER.email)
        assert at_once.subject.startswith("Act by 9 October 2026: renewal of CON-0013")
        held = [d for d in await service.deliveries() if d.status == "held"]
        assert sorted(d.subject.split(" ")[7] for d in held) == ["CON-0011", "CON-0012"]
        assert [e["data"]["contract_reference"] for e in await service.events(ALERT_SENT)] == ["CON-0013"]

        service.travel(day + timedelta(days=1), hour=6)  # 07:00 in London: not yet
        await service.sweep_and_send()
        assert len(service.inbox(OWNER.email)) == 1

        service.travel(day + timedelta(days=1), hour=7)  # 08:00 in London, the digest hour
        await service.sweep_and_send()
        await service.sweep_and_send()
        digest = next(m for m in service.inbox(OWNER.email) if m.subject != at_once.subject)
        assert len(service.inbox(OWNER.email)) == 2
        assert digest.subject == "Your daily renewal digest: 2 alerts"
        assert "1. Act by 1 December 2026: renewal of CON-0011" in digest.text
        assert "2. Act by 1 December 2026: renewal of CON-0012" in digest.text
        sent = await service.events(ALERT_SENT)
        assert sorted(e["data"]["contract_reference"] for e in sent) == ["CON-0011", "CON-0012", "CON-0013"]
        assert {d.status for d in await service.deliveries() if d.kind == "renewal_alert"} == {
            "sent",
            "digested",
        }

        # Escalated and overdue alerts are urgent too: they go at once even to people who chose a digest.
        service.travel(date(2026, 10, 7))  # three working days on: the alerts move to the budget holder
        await service.sweep_and_send()
        assert sorted(m.subject for m in service.inbox(BUDGET_HOLDER.email)) == sorted(
            [
                f"Escalated: Act by 1 December 2026: renewal of CON-0011 {NAME[9:]}",
                f"Escalated: Act by 1 December 2026: renewal of CON-0012 {NAME[9:]}",
                f"Escalated: Act by 9 October 2026: renewal of CON-0013 {NAME[9:]}",
            ]
        )
        service.travel(date(2026, 10, 12))  # Mon: the first working day after CON-0013's act-by
        await service.sweep_and_send()
        assert service.inbox(OWNER.email)[0].subject.startswith("Overdue: renewal decision for CON-0013")
        assert not [d for d in await service.deliveries() if d.status == "held"]
