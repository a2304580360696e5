"""The renewal ladder on a real database and a real SMTP server: what a contract owner receives as time
passes, and that nothing is sent twice."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from notifications_support import (
    BUDGET_HOLDER,
    OWNER,
    SYSTEM_OWNER,
    TDA,
    contract,
    notifications_service,
    system,
)

# Term ends Wed 31 Mar 2027; 90 days' notice + 30 days' lead time = 120 days before: Tue 1 Dec 2026.
# The 180-day rung is Thu 4 Jun 2026.
ACT_BY = date(2026, 12, 1)


async def test_the_owner_hears_on_each_rung_once_with_the_act_by_date_and_a_personal_link(
    database_url: str, tmp_path: Path
) -> None:
    async with notifications_service(database_url, tmp_path, today=date(2026, 5, 20)) as service:
        await service.record(system(), contract())
        assert (await service.watch()).act_by == ACT_BY

        await service.sweep_and_send()
        assert service.inbox() == []  # nothing is due before the 180-day rung

        service.travel(date(2026, 6, 4))
        await service.sweep_and_send()
        await service.sweep_and_send()  # a second sweep and send on the same day changes nothing
        owner_mail = service.inbox(OWNER.email)
        assert [m.subject for m in owner_mail] == [
            "Act by 1 December 2026: renewal of CON-0042 Benefits and council tax e-forms (IEG4)"
        ]
        assert "Decide by 1 December 2026 (in 180 days)" in owner_mail[0].text
        assert "https://estate.example.gov.uk/act/" in owner_mail[0].text
        assert "You are receiving this as the contract owner." in owner_mail[0].text
        copy = service.inbox(SYSTEM_OWNER.email)
        assert len(copy) == 1 and "owner of a system this contract covers" in copy[0].text
        assert service.inbox(BUDGET_HOLDER.email) == []

        types = [e["type"] for e in await service.events()]
        assert types.count("estate.notifications.renewal.notice_window_opened") == 1
        assert types.count("estate.notifications.renewal.act_by_approaching") == 1
        assert types.count("estate.notifications.alert.sent") == 2


async def test_with_an_action_url_the_alert_links_open_the_staff_portal(
    database_url: str, tmp_path: Path
) -> None:
    portal = "https://portal.estate.example.gov.uk"
    async with notifications_service(database_url, tmp_path, today=ACT_BY, action_url=portal) as service:
        await service.record(contract())
        await service.sweep_and_send()
        (mail,) = service.inbox(OWNER.email)
        assert f"{portal}/act/" in mail.text
        assert "https://estate.example.gov.uk/act/" not in mail.text


async def test_an_alert_nobody_acknowledges_goes_to_the_budget_holder_then_the_tda(
    database_url: str, tmp_path: Path
) -> None:
    async with notifications_service(database_url, tmp_path, today=date(2026, 6, 4)) as service:
        await service.record(contract())
        await service.sweep_and_send()
        assert len(service.inbox(OWNER.email)) == 1

        service.travel(date(2026, 6, 9))  # Thu 4 Jun + 3 working days = Tue 9 Jun
        await service.sweep_and_send()
        escalated = service.inbox(BUDGET_HOLDER.email)
        assert [m.subject.split(":")[0] for m in escalated] == ["Escalated"]
        assert "the budget holder" in escalated[0].text

        service.travel(date(2026, 6, 12))
        await service.sweep_and_send()
        assert len(service.inbox(TDA)) == 1
        service.travel(date(2026, 6, 20))
        await service.sweep_and_send()
        assert len(service.inbox(TDA)) == 1  # the top of the chain is told once
        escalations = await service.events("estate.notifications.alert.escalated")
        assert [(e["data"]["from_role"], e["data"]["to_role"]) for e in escalations] == [
            ("contract_owner", "budget_holder"),
            ("budget_holder", "tda"),
        ]
