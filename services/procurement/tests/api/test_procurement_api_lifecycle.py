"""A technology request through its whole life over HTTP, as the portal drives it: draft, submission,
review, a question and its answer, ratings, scores and the recommendation, the chair's conditional
approval, and a condition met; plus reading, listing and the decision log."""

from __future__ import annotations

import pytest
from procurement_api_support import (
    ADA,
    ALEX,
    AUD,
    BEA,
    CHRIS,
    OMAR,
    OWEN,
    TARA,
    Procurement,
    complete,
    problem,
    succeeded,
)


@pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)
async def test_a_request_goes_from_draft_to_a_conditional_approval_with_its_condition_met(
    service: Procurement,
) -> None:
    # Alex starts a draft with only a title: it is saved, with everything submission will need listed.
    response = await service.call("POST", "/requests", ALEX, json={"title": "Housing repairs scheduling"})
    assert response.status_code == 201, response.text
    draft = response.json()
    assert response.headers["Location"] == f"/api/v1/requests/{draft['id']}"
    assert response.headers["ETag"] == f'"{draft["id"]}:1"'
    assert draft["state"] == "draft"
    assert draft["reference"] == "TR-2026-0001"
    assert draft["requester"] == ALEX.ref
    assert {"problem_statement", "user_stories", "hosting"} <= {m["field"] for m in draft["missing"]}
    assert set(draft["actions"]) == {"edit", "submit", "withdraw"}

    # ... fills in the rest (PATCH with the ETag), then submits.
    rest = {k: v for k, v in complete().items() if k != "title"}
    edited = await service.ok(
        "PATCH", f"/requests/{draft['id']}", ALEX, json=rest, if_match=f'"{draft["id"]}:1"'
    )
    assert edited["missing"] == []
    assert edited["annual_cost"] == "18000.00"
    assert edited["version"] == 2
    submitted = await service.ok(
        "POST", f"/requests/{draft['reference']}/submit", ALEX, if_match=f'"{draft["id"]}:2"'
    )
    assert submitted["state"] == "submitted"
    assert submitted["ageing"]["waiting_on"] == "tda"

    # Tara starts the review (round 1 pins tda-review@1) and asks a question.
    reviewing = await service.ok("POST", f"/requests/{draft['id']}/review", TARA)
    assert reviewing["state"] == "under_review"
    assert reviewing["rounds"][0]["checklist_version"] == "tda-review@1"
    asked = await service.ok(
        "POST",
        f"/requests/{draft['id']}/information-requests",
        TARA,
        json={"questions": ["Who supports it out of hours?"], "due_date": "2026-11-27"},
    )
    assert asked["state"] == "information_requested"
    assert asked["ageing"]["waiting_on"] == "requester"
    assert asked["information_requests"][0]["questions"] == ["Who supports it out of hours?"]

    # Alex answers, changing the pilot plan at the same time; Tara resumes the same round.
    answered = await service.ok(
        "POST",
        f"/requests/{draft['id']}/resubmit",
        ALEX,
        json={"answers": "The supplier's 24/7 desk.", "changes": {"pilot_plan": "Pilot in one estate"}},
    )
    assert answered["state"] == "resubmitted"
    assert answered["pilot_plan"] == "Pilot in one estate"
    assert answered["information_requests"][0]["answers"] == "The supplier's 24/7 desk."
    resumed = await service.ok("POST", f"/requests/{draft['id']}/review", TARA)
    assert [r["number"] for r in resumed["rounds"]] == [1]

    # Two reviewers rate every item; Omar thinks the accessibility rule is only partly met.
    await service.rate_all(draft["id"], TARA)
    await service.rate_all(draft["id"], OMAR)
    rated = await service.ok(
        "PUT",
        f"/requests/{draft['id']}/ratings/R8.1",
        OMAR,
        json={
            "rating": "not_met",
            "comment": "No accessibility audit yet",
            "evidence_url": "https://x.example/a",
        },
    )
    assert rated["reviewer"] == OMAR.ref
    assert rated["rating"] == "not_met"

    ratings = await service.ok("GET", f"/requests/{draft['id']}/ratings", CHRIS)
    assert ratings["checklist_version"] == "tda-review@1"
    assert len(ratings["ratings"]) == 2 * 51

    scores = await service.ok("GET", f"/requests/{draft['id']}/scores", CHRIS)
    assert scores["coverage"] == "1.000"
    assert scores["reviewers"] == ["Omar Member", "Tara Member"]
    rule = next(r for r in scores["rules"] if r["rule_id"] == "R8")
    assert rule["score"] is not None and rule["score"] != "1.000"
    assert scores["overall"] is not None

    advice = await service.ok("GET", f"/requests/{draft['id']}/recommendation", CHRIS)
    assert advice["outcome"] == "approved_with_conditions"
    assert advice["red_lines_hit"] == []
    assert any("R8.1" in reason for reason in advice["reasons"])

    # The chair approves with a condition owned by Owen, due in five working days.
    decided = await service.decided(
        draft["id"],
        "approved_with_conditions",
        "Meets the need; accessibility must be audited before go-live.",
        conditions=[
            {"text": "Commission an accessibility audit", "owner": OWEN.ref, "due_in_working_days": 5}
        ],
    )
    assert decided["state"] == "decided"
    decision = decided["latest_decision"]
    assert decision["outcome"] == "approved_with_conditions"
    assert decision["recommended_outcome"] == "approved_with_conditions"
    assert decision["differs_from_recommendation"] is False
    assert decision["decided_by"] == CHRIS.ref
    assert decision["proposed_system"]["supplier_name"] == "Hub Software Ltd"
    (condition,) = decided["conditions"]
    assert condition["owner"] == OWEN.ref
    assert condition["due_date"] == "2026-11-27"  # Friday 20th + 5 working days
    assert condition["status"] == "open"
    assert condition["overdue"] is False

    # Owen, the condition's owner, reads the request and records the condition as met.
    seen, etag = await service.read(draft["id"], OWEN)
    assert "meet_condition" in seen["actions"]
    met = await service.ok(
        "POST",
        f"/requests/{draft['id']}/conditions/{condition['id']}/met",
        OWEN,
        json={"evidence": "https://x.example/audit-report"},
    )
    assert met["status"] == "met"
    assert met["met"]["met_by"] == OWEN.ref
    conditions = await service.ok("GET", f"/requests/{draft['id']}/conditions", ALEX)
    assert conditions[0]["status"] == "met"

    # The audit trail tells the whole story, newest first.
    audit = await service.call("GET", f"/requests/{draft['id']}/audit", AUD)
    assert audit.status_code == 200, audit.text
    actions = [entry["action"] for entry in audit.json()]
    assert actions[0] == "condition_met"
    assert actions[-1] == "created"
    assert {"submitted", "information_requested", "resubmitted", "item_rated", "decided"} <= set(actions)
    assert etag != (await service.read(draft["id"]))[1]


async def test_a_request_is_read_by_id_or_reference_with_its_etag(service: Procurement) -> None:
    created = await service.draft(title="Street lighting sensors")

    by_id, etag = await service.read(created["id"], ALEX)
    by_reference, same = await service.read(created["reference"].lower(), ALEX)

    assert by_id == by_reference
    assert etag == same == f'"{created["id"]}:1"'
    missing = await service.call("GET", "/requests/TR-2026-9999", ADA)
    assert missing.status_code == 404
    nonsense = await service.call("GET", "/requests/not-a-request", ADA)
    assert nonsense.status_code == 404


async def test_a_requester_sees_only_their_own_requests_and_the_tda_sees_all(service: Procurement) -> None:
    mine = await service.draft(ALEX, title="Mine")
    theirs = await service.draft(BEA, title="Theirs")

    for_alex = await service.ok("GET", "/requests", ALEX)
    for_tara = await service.ok("GET", "/requests", TARA)
    bea_reads_alex = await service.call("GET", f"/requests/{mine['id']}", BEA)

    assert [r["id"] for r in for_alex["items"]] == [mine["id"]]
    assert {r["id"] for r in for_tara["items"]} == {mine["id"], theirs["id"]}
    assert bea_reads_alex.status_code == 403
    assert (await service.call("GET", f"/requests/{mine['id']}", AUD)).status_code == 200


@pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)
async def test_requests_are_listed_by_state_page_by_page_with_a_count(service: Procurement) -> None:
    drafts = [await service.draft(title=f"Draft {n}") for n in range(3)]
    submitted = await service.submitted()

    first = await service.call("GET", "/requests", TARA, params={"limit": 2, "count": "true"})
    assert first.status_code == 200, first.text
    page = first.json()
    assert page["total"] == 4
    assert len(page["items"]) == 2
    second = await service.ok("GET", f"/requests?limit=2&cursor={page['next_cursor']}", TARA)
    assert second["next_cursor"] is None
    seen = [r["id"] for r in page["items"] + second["items"]]
    assert sorted(seen) == sorted([d["id"] for d in drafts] + [submitted["id"]])

    only_submitted = await service.ok("GET", "/requests?state=submitted&state=under_review", TARA)
    assert [r["reference"] for r in only_submitted["items"]] == [submitted["reference"]]
    assert only_submitted["items"][0]["waiting_on"] == "tda"
    by_area = await service.ok("GET", "/requests?service_area=housing-repairs&category=it", TARA)
    assert [r["id"] for r in by_area["items"]] == [submitted["id"]]

    bad_cursor = await service.call("GET", "/requests", TARA, params={"cursor": "garbage"})
    assert bad_cursor.status_code == 422


@pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)
async def test_the_decision_log_lists_every_decision_newest_first_for_everyone(
    service: Procurement, clock
) -> None:
    from datetime import timedelta

    first = await service.under_review(title="First")
    await service.decided(first["id"], "not_approved", "Re-use Orchard")
    clock.set(clock.now + timedelta(hours=1))
    second = await service.rated(title="Second")
    await service.decided(second["id"], "approved", "Good value")

    log = await service.ok("GET", "/decisions", BEA)

    assert [(e["title"], e["outcome"]) for e in log["items"]] == [
        ("Second", "approved"),
        ("First", "not_approved"),
    ]
    assert log["items"][1]["rationale"] == "Re-use Orchard"
    assert log["items"][0]["decided_by"] == CHRIS.ref
    approved = await service.ok("GET", "/decisions?outcome=approved", AUD)
    assert [e["reference"] for e in approved["items"]] == [second["reference"]]


async def test_the_chair_reopens_a_decision_which_stays_on_record(service: Procurement) -> None:
    request = await service.under_review()
    await service.decided(request["id"], "not_approved", "Too dear")

    reopened = await service.ok(
        "POST", f"/requests/{request['id']}/reopen", CHRIS, json={"reason": "The supplier cut the price"}
    )

    assert reopened["state"] == "under_review"
    assert [r["number"] for r in reopened["rounds"]] == [1, 2]
    assert [d["outcome"] for d in reopened["decisions"]] == ["not_approved"]
    assert reopened["history"][-1]["note"] == "The supplier cut the price"


async def test_the_requester_withdraws_an_undecided_request(service: Procurement) -> None:
    request = await service.submitted()

    withdrawn = await service.ok(
        "POST", f"/requests/{request['id']}/withdraw", ALEX, json={"reason": "Budget moved to next year"}
    )

    assert withdrawn["state"] == "withdrawn"
    assert withdrawn["actions"] == []
    assert withdrawn["ageing"]["waiting"] is False


async def test_checklists_are_readable_by_everyone(service: Procurement) -> None:
    listed = await service.ok("GET", "/checklists", BEA)
    assert listed == [
        {
            "key": "tda-review@1",
            "id": "tda-review",
            "version": 1,
            "title": listed[0]["title"],
            "current": True,
        }
    ]

    checklist = await service.ok("GET", "/checklists/tda-review@1", BEA)
    assert checklist["red_lines"] == ["DE1.2", "DPIA1"]
    assert checklist["threshold_approve"] == "0.8"
    assert checklist["sections"][0]["rules"][0]["items"][0]["id"] == "R1.1"
    assert (await service.ok("GET", "/checklists/current", BEA))["key"] == "tda-review@1"
    assert (await service.call("GET", "/checklists/tda-review@9", BEA)).status_code == 404


async def test_me_says_who_the_token_names_and_what_they_may_do(service: Procurement) -> None:
    me = await service.ok("GET", "/me", CHRIS)

    assert me["id"] == CHRIS.subject
    assert me["email"] == CHRIS.email
    assert me["roles"] == ["tda_chair"]
    assert set(me["can"]) == {"raise_requests", "review", "decide", "read_all_requests", "read_audit"}


async def test_the_owner_roles_round_trip_and_the_system_owner_and_budget_holder_are_needed_to_submit(
    service: Procurement,
) -> None:
    # R22: a request without owners is saved, but submission names the two roles it still needs.
    draft = await service.draft(
        **complete(system_owner=None, contract_owner=None, budget_holder=None, signatory=None)
    )
    assert [m["field"] for m in draft["missing"]] == ["system_owner", "budget_holder"]
    refused = await service.call("POST", f"/requests/{draft['id']}/submit", ALEX)
    body = problem(refused, 422, field="system_owner")
    assert {e["pointer"] for e in body["errors"]} == {"/body/system_owner", "/body/budget_holder"}

    # A role without an e-mail address is refused by name.
    bad = await service.edit(draft["id"], ALEX, {"signatory": {"id": "oid-s", "name": "Jo Reeves"}})
    problem(bad, 422, field="email")

    owners = {
        role: complete()[role] for role in ("system_owner", "contract_owner", "budget_holder", "signatory")
    }
    edited = succeeded(await service.edit(draft["id"], ALEX, owners))
    assert {role: edited[role] for role in owners} == owners
    assert edited["missing"] == []
    read = await service.ok("GET", f"/requests/{draft['id']}", ALEX)
    assert {role: read[role] for role in owners} == owners
    submitted = await service.ok("POST", f"/requests/{draft['id']}/submit", ALEX)
    assert submitted["state"] == "submitted"
