"""A decision recorded in Estate stops the term's alerts at once, and the register records it on the
contract. If the register never does (it refused the decision, or its worker is down), the alerts must not
stay silent: after ``decision_confirm_hours`` they resume, and the TDA and the decider are told why."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from notifications_support import OWNER, TDA, Service, contract, notifications_service

from estate_contracts.register_events import RenewalDecision
from estate_notifications.application.actions import Actor, record_decision
from estate_notifications.application.watch import PolicyBook

DECIDER = Actor(id="oid-priya", name=OWNER.name, email=OWNER.email)


async def decide(service: Service, outcome: str = "terminate") -> str:
    async with service.container.sessions() as session, session.begin():
        book = await PolicyBook.load(session, service.container.policy)
        recorded = await record_decision(
            session,
            contract().id,
            outcome=outcome,
            rationale="Moving to the shared 3C platform; notice to be served.",
            new_term_end=None,
            by=DECIDER,
            now=service.clock(),
            calendar=service.container.calendar,
            book=book,
        )
    return str(recorded.decision_id)


async def test_alerts_resume_and_the_tda_is_told_when_the_register_never_records_a_decision(
    database_url: str, tmp_path: Path
) -> None:
    async with notifications_service(database_url, tmp_path, today=date(2026, 6, 4)) as service:
        await service.record(contract())
        await service.sweep_and_send()
        assert len(service.inbox(OWNER.email)) == 1  # the 180-day alert

        await decide(service)
        assert (await service.watch()).decided_term_end == date(2027, 3, 31)

        service.travel(date(2026, 6, 5))  # within a day: still waiting for the register
        await service.sweep_and_send()
        assert service.inbox(TDA) == []

        service.travel(date(2026, 6, 6))
        await service.sweep_and_send()
        (notice,) = service.inbox(TDA)
        assert notice.subject == "Renewal decision not recorded: CON-0042 Benefits and council tax e-forms"
        assert "Renewal alerts for this term have started again" in notice.text
        assert any(m.subject.startswith("Renewal decision not recorded") for m in service.inbox(OWNER.email))
        watch = await service.watch()
        assert (watch.decided_term_end, watch.pending_decision_id) == (None, None)

        service.travel(date(2026, 8, 3))  # the 120-day rung: the ladder is back
        await service.sweep_and_send()
        newest = service.inbox(OWNER.email)[0]
        assert newest.subject.startswith("Act by 1 December 2026")


async def test_a_decision_the_register_records_is_no_longer_pending_and_the_ladder_stays_stopped(
    database_url: str, tmp_path: Path
) -> None:
    async with notifications_service(database_url, tmp_path, today=date(2026, 6, 4)) as service:
        await service.record(contract())
        decision_id = await decide(service)

        # The register records it: its next snapshot carries the decision.
        await service.record(
            contract(
                version=2,
                decision=RenewalDecision(
                    id=decision_id,
                    outcome="terminate",
                    rationale="Moving to the shared 3C platform; notice to be served.",
                    decided_by=OWNER.email,
                    decided_at=service.clock(),
                ),
            )
        )
        watch = await service.watch()
        assert watch.pending_decision_id is None and watch.decided_term_end == date(2027, 3, 31)

        service.travel(date(2026, 6, 4) + timedelta(days=60))
        await service.sweep_and_send()
        assert service.inbox(TDA) == []
        assert service.inbox(OWNER.email) == []  # no ladder alert for a decided term
