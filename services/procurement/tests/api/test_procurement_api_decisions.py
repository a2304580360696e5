"""The chair's decision over HTTP, as the portal sees it: the recommendation says whether it is complete,
an approval needs every red line rated and approving against one needs a deliberate override, the chair
decides only with the ETag they read and never their own request, and a decision replaced by a later one
shows its conditions as superseded (or met), never overdue."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from procurement_api_support import ADA, ALEX, BEA, CHRIS, OMAR, OWEN, TARA, Procurement, problem


async def rate(service: Procurement, request_id: str, item_id: str, rating: str, by=OMAR) -> None:
    body: dict[str, Any] = {"rating": rating}
    if rating in ("partly_met", "not_met"):
        body["comment"] = f"{item_id} is {rating}"
    await service.ok("PUT", f"/requests/{request_id}/ratings/{item_id}", by, json=body)


async def test_the_recommendation_says_not_yet_and_names_the_required_items_unrated(
    service: Procurement,
) -> None:
    request = await service.under_review()
    await rate(service, request["id"], "R1.1", "met")

    partial = await service.ok("GET", f"/requests/{request['id']}/recommendation", CHRIS)
    await service.rate_all(request["id"], TARA)
    whole = await service.ok("GET", f"/requests/{request['id']}/recommendation", CHRIS)

    assert partial["complete"] is False
    assert {"DE1.2", "DPIA1"} <= set(partial["unrated"])
    assert "R1.1" not in partial["unrated"]
    assert partial["reasons"][0].startswith("not yet")
    assert whole["complete"] is True
    assert whole["unrated"] == []


async def test_an_approval_with_red_lines_unrated_is_refused_naming_them(service: Procurement) -> None:
    request = await service.under_review()
    await rate(service, request["id"], "R1.1", "met")

    async with service.nothing_written(request["id"]):
        response = await service.decide(request["id"], "approved", "Looks fine")

    body = problem(response, 422)
    assert body["errors"][0]["pointer"] == "/body/outcome"
    assert "DE1.2" in body["detail"] and "DPIA1" in body["detail"]


async def test_approving_against_a_red_line_not_met_needs_the_override_which_the_decision_records(
    service: Procurement,
) -> None:
    request = await service.rated()
    await rate(service, request["id"], "DPIA1", "not_met")

    async with service.nothing_written(request["id"]):
        refused = await service.decide(request["id"], "approved", "The DPIA is in hand")
    decided = await service.decided(
        request["id"], "approved", "The DPIA is in hand; the board accepted the risk", override_red_lines=True
    )

    body = problem(refused, 422)
    assert body["errors"][0]["pointer"] == "/body/outcome"
    assert "DPIA1" in body["detail"] and "override_red_lines" in body["detail"]
    decision = decided["latest_decision"]
    assert decision["outcome"] == "approved"
    assert decision["overrode_red_lines"] == ["DPIA1"]
    assert decision["recommended_outcome"] == "not_approved"
    assert decision["differs_from_recommendation"] is True
    (logged,) = (await service.ok("GET", "/decisions", BEA))["items"]
    assert logged["overrode_red_lines"] == ["DPIA1"]


async def test_an_approval_with_every_red_line_met_overrides_nothing(service: Procurement) -> None:
    request = await service.rated()

    decided = await service.decided(request["id"], "approved", "Good value", override_red_lines=True)

    assert decided["latest_decision"]["overrode_red_lines"] == []


async def test_a_chair_cannot_decide_a_request_they_raised(service: Procurement) -> None:
    request = await service.rated(CHRIS)

    async with service.nothing_written(request["id"]):
        response = await service.decide(request["id"], "approved", "Mine, and fine")

    body = problem(response, 403)
    assert "another chair" in body["detail"]


async def test_the_decision_needs_the_etag_the_chair_read(service: Procurement) -> None:
    request = await service.rated()
    _, read = await service.read(request["id"], CHRIS)
    # A reviewer changes their mind after the chair read the ratings.
    await rate(service, request["id"], "R1.1", "partly_met", by=TARA)

    async with service.nothing_written(request["id"]):
        without = await service.decide(request["id"], "approved", "Good value", if_match=None)
        stale = await service.decide(request["id"], "approved", "Good value", if_match=read)

    problem(without, 428)
    assert "version" in problem(stale, 412)["detail"]
    assert (await service.decided(request["id"], "approved", "Good value"))["state"] == "decided"


async def test_a_superseded_decisions_conditions_show_met_or_superseded_and_never_overdue(
    service: Procurement, clock
) -> None:
    request = await service.rated()
    first = await service.approved_with(
        request["id"],
        {"text": "DPIA signed off", "owner": OWEN.ref, "due_date": "2026-11-23"},
        {"text": "Exit plan", "owner": OWEN.ref, "due_date": "2026-11-24"},
    )
    dpia, exit_plan = (c["id"] for c in first["conditions"])
    await service.ok(
        "POST", f"/requests/{request['id']}/conditions/{dpia}/met", OWEN, json={"evidence": "DPIA ref 42"}
    )
    clock.set(datetime(2026, 11, 25, 10, tzinfo=UTC))
    late, _ = await service.read(request["id"], ALEX)
    assert [(c["status"], c["overdue"]) for c in late["conditions"]] == [("met", False), ("open", True)]

    # Reopened, its conditions wait for the next decision: none can be met, none is overdue.
    await service.ok("POST", f"/requests/{request['id']}/reopen", CHRIS, json={"reason": "Scope grew"})
    reopened, _ = await service.read(request["id"], ALEX)
    assert [(c["status"], c["overdue"]) for c in reopened["conditions"]] == [("met", False), ("open", False)]

    await service.decided(request["id"], "not_approved", "Too big now")
    view, _ = await service.read(request["id"], ALEX)

    old = view["decisions"][0]["conditions"]
    assert [(c["id"], c["status"], c["overdue"]) for c in old] == [
        (dpia, "met", False),
        (exit_plan, "superseded", False),
    ]
    assert old[0]["met"]["met_by"] == OWEN.ref
    assert old[0]["met"]["evidence"] == "DPIA ref 42"
    assert old[1]["met"] is None
    assert view["latest_decision"]["round"] == 2
    assert view["conditions"] == []
    assert await service.ok("GET", f"/requests/{request['id']}/conditions", ALEX) == []
    log = (await service.ok("GET", "/decisions", BEA))["items"]
    assert [(e["round"], e["conditions"]) for e in log] == [(2, []), (1, old)]
    assert not any(c["id"] in (dpia, exit_plan) for c in await service.ok("GET", "/conditions", ADA))


async def test_a_bad_change_in_a_resubmission_points_into_changes(service: Procurement) -> None:
    request = await service.under_review()
    await service.ok(
        "POST", f"/requests/{request['id']}/information-requests", TARA, json={"questions": ["Cost?"]}
    )
    path = f"/requests/{request['id']}/resubmit"

    async with service.nothing_written(request["id"]):
        emptied = await service.call(
            "POST", path, ALEX, json={"answers": "See below", "changes": {"title": " "}}
        )
        contradicting = await service.call(
            "POST",
            path,
            ALEX,
            json={
                "answers": "See below",
                "changes": {"annual_cost": "10.00", "annual_licence_cost": "20.00"},
            },
        )

    assert [e["pointer"] for e in problem(emptied, 422)["errors"]] == ["/body/changes/title"]
    assert [e["pointer"] for e in problem(contradicting, 422)["errors"]] == ["/body/changes/annual_cost"]
