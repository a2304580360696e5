"""The renewal watch through the API: every contract's act-by date and its schedule, what each reader
sees, and ladders that change the schedule at once."""

from __future__ import annotations

import pytest
from notifications_api_support import (
    ADA,
    AUD,
    BOB,
    C1,
    C2,
    C3,
    CARL,
    OLIVE,
    OTTO,
    RITA,
    TARA,
    Notifications,
    otto_contract,
    problem,
    problem_contract,
    snapshot,
)


async def test_the_watch_lists_contracts_soonest_act_by_first_with_their_open_alert(
    service: Notifications,
) -> None:
    await service.seed(snapshot(), otto_contract(), problem_contract())
    await service.sweep()

    page = await service.ok("GET", "/renewals", TARA)

    assert [row["reference"] for row in page["items"]] == ["CON-0001", "CON-0003", "CON-0002"]
    first = page["items"][0]
    assert first["act_by"] == "2026-12-01"
    assert first["days_to_act_by"] == 11
    assert first["term_end"] == "2027-03-31"
    assert first["supplier"] == "Acme Software Ltd"
    assert first["owner"] == {"name": "Olive Owner", "email": "olive@cambridge.gov.uk"}
    assert first["budget_holder"] == {"name": "Bob Budget", "email": "bob@cambridge.gov.uk"}
    assert first["ladder"] == [180, 120, 90, 60, 30, 14, 7, 1]
    assert first["ladder_source"] == "default"
    assert first["open_alert"]["rung_days"] == 14
    assert first["open_alert"]["role"] == "contract_owner"
    assert first["open_alert"]["acknowledged"] is False
    assert first["next_due_on"] == "2026-11-24"
    unknown = page["items"][1]
    assert unknown["notice_unknown"] is True
    assert any("tacit renewal needs a renewal period" in p for p in unknown["problems"])
    assert page["items"][2]["open_alert"] is None


@pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)
async def test_filters_narrow_the_watch(service: Notifications) -> None:
    await service.seed(snapshot(), otto_contract(), problem_contract())

    async def references(**params: object) -> list[str]:
        page = await service.ok("GET", "/renewals", ADA, params=params)
        return [row["reference"] for row in page["items"]]

    assert await references(due_within_days=30) == ["CON-0001"]
    assert await references(notice_unknown="true") == ["CON-0003"]
    assert await references(has_problems="true") == ["CON-0003"]
    assert await references(has_problems="false") == ["CON-0001", "CON-0002"]
    assert await references(owner_email="OTTO@cambridge.gov.uk") == ["CON-0003", "CON-0002"]
    assert await references(owner_email="bob@cambridge.gov.uk") == ["CON-0001"]


@pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)
async def test_pages_follow_the_cursor_or_the_offset_without_repeats(service: Notifications) -> None:
    await service.seed(snapshot(), otto_contract(), problem_contract())

    first = await service.ok("GET", "/renewals", ADA, params={"limit": 2, "count": "true"})
    second = await service.ok("GET", "/renewals", ADA, params={"limit": 2, "cursor": first["next_cursor"]})
    by_offset = await service.ok("GET", "/renewals", ADA, params={"limit": 2, "offset": 2})

    assert first["total"] == 3
    assert [r["reference"] for r in first["items"]] == ["CON-0001", "CON-0003"]
    assert [r["reference"] for r in second["items"]] == ["CON-0002"]
    assert second["next_cursor"] is None
    assert by_offset["items"] == second["items"]


async def test_a_cursor_this_api_did_not_give_is_refused(service: Notifications) -> None:
    response = await service.call("GET", "/renewals", ADA, params={"cursor": "bm90LWEtY3Vyc29y"})

    problem(response, 422, pointer="/query/cursor")


async def test_the_detail_shows_the_whole_schedule_and_what_was_raised(service: Notifications) -> None:
    await service.seed(snapshot())

    before = await service.ok("GET", f"/renewals/{C1}", CARL)
    await service.sweep()
    after = await service.ok("GET", f"/renewals/{C1}", CARL)

    ladder = {s["rung_days"]: s for s in before["schedule"] if s["kind"] == "ladder"}
    assert ladder[180]["due_on"] == "2026-06-04"
    assert ladder[30]["due_on"] == "2026-10-30"  # 1 November is a Sunday: the Friday before
    assert ladder[14] | {"status": "due", "raised": False} == ladder[14]
    assert ladder[7]["status"] == "upcoming"
    assert before["schedule"][-1] == {
        "due_on": "2027-03-31",
        "rung_days": -120,
        "kind": "term_end",
        "raised": False,
        "status": "upcoming",
        "alert_id": None,
    }
    assert before["position"] == {
        "term_end": "2027-03-31",
        "act_by": "2026-12-01",
        "unadjusted_act_by": "2026-12-01",
        "notice_days": 90,
        "notice_unknown": False,
        "tacit_renewals": 0,
    }
    assert before["annual_value"] == "120000.00"
    raised = {s["rung_days"]: s for s in after["schedule"] if s["kind"] == "ladder"}
    assert raised[14]["status"] == "raised"
    assert raised[14]["alert_id"] == after["alerts"][0]["id"]
    assert raised[30]["status"] == "skipped"  # the owner hears the most urgent step only
    [alert] = after["alerts"]
    assert alert["open"] is True
    assert [(d["recipient_email"], d["status"], d["attempts"]) for d in alert["deliveries"]] == [
        ("olive@cambridge.gov.uk", "pending", 0)
    ]


async def test_an_owner_sees_only_the_contracts_they_own_or_hold_the_budget_for(
    service: Notifications,
) -> None:
    await service.seed(snapshot(), otto_contract(), problem_contract())

    olive = await service.ok("GET", "/renewals", OLIVE)
    bob = await service.ok("GET", "/renewals", BOB)
    otto = await service.ok("GET", "/renewals", OTTO, params={"owner_email": "olive@cambridge.gov.uk"})

    assert [r["reference"] for r in olive["items"]] == ["CON-0001"]
    assert [r["reference"] for r in bob["items"]] == ["CON-0001"]
    assert otto["items"] == []
    assert (await service.call("GET", f"/renewals/{C1}", BOB)).status_code == 200
    problem(await service.call("GET", f"/renewals/{C2}", OLIVE), 403)


@pytest.mark.parametrize("person", [RITA])
async def test_a_requester_reads_nothing_of_renewals(service: Notifications, person: object) -> None:
    await service.seed(snapshot())

    for path in ("/renewals", f"/renewals/{C1}", "/policy"):
        problem(await service.call("GET", path, RITA), 403)


async def test_an_unknown_contract_is_404(service: Notifications) -> None:
    problem(await service.call("GET", f"/renewals/{C3}", AUD), 404)


async def test_a_contract_ladder_changes_its_schedule_at_once_and_clearing_it_restores_the_default(
    service: Notifications,
) -> None:
    await service.seed(snapshot())

    changed = await service.ok("PUT", f"/renewals/{C1}/ladder", CARL, json={"rungs": [5, 21]})

    assert changed["ladder"] == [21, 5]
    assert changed["ladder_source"] == "contract"
    ladder = [
        (s["rung_days"], s["due_on"], s["status"]) for s in changed["schedule"] if s["kind"] == "ladder"
    ]
    assert ladder == [(21, "2026-11-10", "due"), (5, "2026-11-26", "upcoming")]
    assert changed["next_due_on"] == "2026-11-10"
    [entry] = await service.audit(str(C1))
    assert (entry.actor, entry.action, entry.detail["rungs"]) == (
        "carl@cambridge.gov.uk",
        "contract_ladder_set",
        [21, 5],
    )

    cleared = await service.ok("DELETE", f"/renewals/{C1}/ladder", ADA)
    again = await service.ok("DELETE", f"/renewals/{C1}/ladder", ADA)

    assert cleared["ladder_source"] == again["ladder_source"] == "default"
    assert len([s for s in cleared["schedule"] if s["kind"] == "ladder"]) == 8
    assert [e.action for e in await service.audit(str(C1))] == [
        "contract_ladder_set",
        "contract_ladder_cleared",
    ]


async def test_a_contract_type_ladder_applies_to_its_contracts_without_their_own(
    service: Notifications,
) -> None:
    await service.seed(snapshot(), otto_contract())
    await service.ok("PUT", f"/renewals/{C2}/ladder", ADA, json={"rungs": [100]})

    policy = await service.ok("PUT", "/policy/contract-types/software/ladder", CARL, json={"rungs": [45, 10]})
    await service.ok("PUT", "/policy/contract-types/saas/ladder", CARL, json={"rungs": [60]})

    assert policy["contract_types"][0]["contract_type"] == "software"
    assert policy["contract_types"][0]["rungs"] == [45, 10]
    assert policy["default_ladder"] == [180, 120, 90, 60, 30, 14, 7, 1]
    c1 = await service.ok("GET", f"/renewals/{C1}", ADA)
    c2 = await service.ok("GET", f"/renewals/{C2}", ADA)
    assert (c1["ladder"], c1["ladder_source"]) == ([45, 10], "type")
    assert (c2["ladder"], c2["ladder_source"]) == ([100], "contract")
    assert c1["next_due_on"] == "2026-11-20"  # the 10-day rung falls on Saturday 21st: due today

    policy = await service.ok("DELETE", "/policy/contract-types/software/ladder", ADA)

    assert [t["contract_type"] for t in policy["contract_types"]] == ["saas"]
    assert (await service.ok("GET", f"/renewals/{C1}", ADA))["ladder_source"] == "default"
    assert (await service.ok("GET", "/policy", OLIVE))["contract_types"][0]["rungs"] == [60]


@pytest.mark.parametrize(
    ("rungs", "pointer"),
    [
        ([0], "/body/rungs"),
        ([5, 5], "/body/rungs"),
        ([731], "/body/rungs"),
        ([], "/body/rungs"),
        (["x"], "/body/rungs/0"),
    ],
)
async def test_a_ladder_must_be_distinct_days_from_1_to_730(
    service: Notifications, rungs: list[object], pointer: str
) -> None:
    await service.seed(snapshot())

    async with service.nothing_written():
        response = await service.call("PUT", f"/renewals/{C1}/ladder", ADA, json={"rungs": rungs})

    problem(response, 422, pointer=pointer)
