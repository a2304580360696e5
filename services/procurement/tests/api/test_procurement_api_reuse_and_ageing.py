"""What the TDA sees beyond one request: existing systems and past decisions like it (with reasons),
requests that have waited too long, and conditions past their due date."""

from __future__ import annotations

from datetime import UTC, datetime

from procurement_api_support import ALEX, AUD, BEA, OWEN, TARA, Procurement, complete


def street_assets(**overrides):
    fields = {
        "title": "Street asset app",
        "service_area": "Streets and Open Spaces",
        "problem_statement": "Inspectors record defects on paper; asset management of trees and highways is slow.",
        "capabilities": ["asset management"],
        "proposed_product": "Aloy",
        "proposed_supplier": "Yotta",
    }
    return complete(**{**fields, **overrides})


async def test_a_request_shows_existing_systems_with_readable_reasons(
    service: Procurement, catalogue
) -> None:
    request = await service.draft(**street_assets())

    candidates = await service.ok("GET", f"/requests/{request['reference']}/candidates", ALEX)

    assert candidates, "Alloy should be offered"
    best = candidates[0]
    assert (best["kind"], best["name"], best["reference"]) == ("system", "Alloy", "SYS-0001")
    assert 0 < best["score"] <= 1
    assert any(
        "Alloy already covers asset management for Streets and Open Spaces" in r for r in best["reasons"]
    )
    assert all(c["name"] != "Uniform" for c in candidates)


async def test_an_unsaved_form_shows_candidates_while_typing(service: Procurement, catalogue) -> None:
    before = await service.counts()

    response = await service.call(
        "POST",
        "/candidates",
        BEA,
        json={"title": "Planning casework", "text": "planning applications and appeals", "supplier": "Idox"},
    )

    assert response.status_code == 200, response.text
    assert response.json()[0]["name"] == "Uniform"
    assert any("Idox" in reason for reason in response.json()[0]["reasons"])
    assert await service.counts() == before
    unknown = await service.call("POST", "/candidates", BEA, json={"title": "x", "colour": "blue"})
    assert unknown.status_code == 422


async def test_a_past_decision_is_a_candidate_for_a_later_request(service: Procurement, catalogue) -> None:
    earlier = await service.under_review(**street_assets())
    await service.decided(earlier["id"], "not_approved", "Re-use Alloy, which Streets already run")

    later = await service.draft(BEA, **street_assets(title="Tree inspection app"))
    candidates = await service.ok("GET", f"/requests/{later['id']}/candidates", BEA)

    decision = next(c for c in candidates if c["kind"] == "decision")
    assert decision["reference"] == earlier["reference"]
    assert any("was not approved" in r and "Re-use Alloy" in r for r in decision["reasons"])
    own = await service.ok("GET", f"/requests/{earlier['id']}/candidates", ALEX)
    assert all(c["id"] != earlier["id"] for c in own), "a request is no candidate for itself"


async def test_a_request_waiting_longer_than_the_threshold_is_flagged(service: Procurement, clock) -> None:
    waiting = await service.submitted()  # Friday 20 November
    fresh = await service.draft(title="Not submitted")
    clock.set(datetime(2026, 11, 25, 9, 0, tzinfo=UTC))  # Wednesday: 3 working days later
    answered = await service.submitted(title="Submitted on Wednesday")

    not_yet = await service.ok("GET", "/requests?waiting=true", TARA)
    assert not_yet["items"] == []

    clock.set(datetime(2026, 11, 26, 9, 0, tzinfo=UTC))  # Thursday: 4 working days
    flagged = await service.ok("GET", "/requests?waiting=true&count=true", TARA)
    (row,) = flagged["items"]
    assert row["id"] == waiting["id"]
    assert row["waiting"] is True
    assert row["waiting_working_days"] == 4
    assert row["waiting_on"] == "tda"
    assert flagged["total"] == 1

    detail, _ = await service.read(waiting["id"])
    assert detail["ageing"]["waiting"] is True
    assert detail["ageing"]["working_days_in_state"] == 4
    assert "waiting on the tda" in detail["ageing"]["message"]
    assert {t["state"] for t in detail["ageing"]["time_in_states"]} == {"draft", "submitted"}
    everything = await service.ok("GET", "/requests", TARA)
    shown = {r["id"]: r["waiting"] for r in everything["items"]}
    assert shown == {waiting["id"]: True, fresh["id"]: False, answered["id"]: False}
    assert (await service.ok("GET", "/requests?waiting=true", ALEX))["items"][0]["id"] == waiting["id"]
    assert (await service.ok("GET", "/requests?waiting=true", BEA))["items"] == []


async def test_overdue_conditions_are_listed_across_requests(service: Procurement, clock) -> None:
    request = await service.rated()
    decided = await service.approved_with(
        request["id"],
        {"text": "DPIA signed off", "owner": OWEN.ref, "due_date": "2026-11-24"},
        {"text": "Exit plan", "owner": TARA.ref, "due_in_working_days": 20},
    )
    dpia, exit_plan = decided["conditions"]

    clock.set(datetime(2026, 11, 25, 9, 0, tzinfo=UTC))
    overdue = await service.ok("GET", "/conditions?overdue=true", TARA)
    every = await service.ok("GET", "/conditions", AUD)
    owens = await service.ok("GET", "/conditions", OWEN)
    detail, _ = await service.read(request["id"])

    assert [(c["id"], c["reference"], c["overdue"]) for c in overdue] == [
        (dpia["id"], request["reference"], True)
    ]
    assert [c["id"] for c in every] == [dpia["id"], exit_plan["id"]]
    assert [c["id"] for c in owens] == [dpia["id"]]
    assert [c["overdue"] for c in detail["conditions"]] == [True, False]

    await service.ok(
        "POST", f"/requests/{request['id']}/conditions/{dpia['id']}/met", OWEN, json={"evidence": "signed"}
    )
    assert await service.ok("GET", "/conditions?overdue=true", TARA) == []
