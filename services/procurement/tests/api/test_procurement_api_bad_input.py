"""Bad input is a clear 4xx problem naming what to fix, and nothing is written: no row in any table, no
audit entry, no event, and the request reads exactly as before (same body, same ETag)."""

from __future__ import annotations

from typing import Any

from procurement_api_support import ADA, ALEX, BEA, CHRIS, OWEN, TARA, Procurement, complete, problem


async def _decided_with_condition(service: Procurement) -> tuple[dict[str, Any], dict[str, Any]]:
    request = await service.under_review()
    await service.rate_all(request["id"], TARA)
    decided = await service.ok(
        "POST",
        f"/requests/{request['id']}/decision",
        CHRIS,
        json={
            "outcome": "approved_with_conditions",
            "rationale": "Fine with an audit",
            "conditions": [{"text": "Audit it", "owner": OWEN.ref, "due_date": "2026-11-30"}],
        },
    )
    return decided, decided["conditions"][0]


async def test_an_incomplete_submission_lists_every_missing_field(service: Procurement) -> None:
    draft = await service.draft(title="Half a request", hosting="saas")

    async with service.nothing_written(draft["id"]):
        response = await service.call("POST", f"/requests/{draft['id']}/submit", ALEX)

    body = problem(response, 422, field="problem_statement")
    pointers = {e["pointer"] for e in body["errors"]}
    assert {
        "/body/service_area",
        "/body/problem_statement",
        "/body/user_need",
        "/body/user_stories",
        "/body/capabilities",
        "/body/initial_cost",
        "/body/annual_cost",
        "/body/councils_in_scope",
    } <= pointers
    assert "/body/title" not in pointers
    assert "/body/hosting" not in pointers
    assert len(body["errors"]) == len(draft["missing"])
    assert body["title"] == "The request is not complete"


async def test_a_missing_part_deep_inside_a_list_points_at_it(service: Procurement) -> None:
    risky = complete(risks=[{"risk": "Supplier goes bust", "rag": "red"}])
    draft = await service.draft(**risky)

    async with service.nothing_written(draft["id"]):
        response = await service.call("POST", f"/requests/{draft['id']}/submit", ALEX)

    body = problem(response, 422)
    assert [e["pointer"] for e in body["errors"]] == ["/body/risks/0/mitigation"]


async def test_a_tda_member_cannot_decide(service: Procurement) -> None:
    request = await service.under_review()

    async with service.nothing_written(request["id"]):
        response = await service.call(
            "POST",
            f"/requests/{request['id']}/decision",
            TARA,
            json={"outcome": "approved", "rationale": "Looks fine"},
        )

    body = problem(response, 403)
    assert "chair" in body["detail"]
    assert body["title"] == "Not allowed"


async def test_an_administrator_cannot_decide_or_reopen(service: Procurement) -> None:
    request = await service.under_review()

    async with service.nothing_written(request["id"]):
        decide = await service.call(
            "POST",
            f"/requests/{request['id']}/decision",
            ADA,
            json={"outcome": "approved", "rationale": "ok"},
        )
        reopen = await service.call("POST", f"/requests/{request['id']}/reopen", ADA, json={"reason": "why"})

    problem(decide, 403)
    problem(reopen, 403)


async def test_a_transition_from_the_wrong_state_is_a_conflict_naming_the_state(service: Procurement) -> None:
    draft = await service.draft(**complete())

    async with service.nothing_written(draft["id"]):
        review = await service.call("POST", f"/requests/{draft['id']}/review", TARA)
        decide = await service.call(
            "POST",
            f"/requests/{draft['id']}/decision",
            CHRIS,
            json={"outcome": "approved", "rationale": "ok"},
        )
        resubmit = await service.call(
            "POST", f"/requests/{draft['id']}/resubmit", ALEX, json={"answers": "x"}
        )

    for response in (review, decide, resubmit):
        body = problem(response, 409)
        assert "draft" in body["detail"]


async def test_a_decided_request_cannot_be_decided_again_or_withdrawn(service: Procurement) -> None:
    decided, _ = await _decided_with_condition(service)

    async with service.nothing_written(decided["id"]):
        again = await service.call(
            "POST",
            f"/requests/{decided['id']}/decision",
            CHRIS,
            json={"outcome": "not_approved", "rationale": "Changed my mind"},
        )
        withdraw = await service.call(
            "POST", f"/requests/{decided['id']}/withdraw", ALEX, json={"reason": "no"}
        )

    assert "decided" in problem(again, 409)["detail"]
    assert "decided" in problem(withdraw, 409)["detail"]


async def test_rating_an_item_not_in_the_pinned_checklist_names_the_item_and_version(
    service: Procurement,
) -> None:
    request = await service.under_review()

    async with service.nothing_written(request["id"]):
        response = await service.call(
            "PUT", f"/requests/{request['id']}/ratings/R99.9", TARA, json={"rating": "met"}
        )

    body = problem(response, 422, field="item_id")
    assert "R99.9" in body["detail"]
    assert "tda-review@1" in body["detail"]


async def test_a_rating_needs_a_comment_when_not_met_and_a_known_rating(service: Procurement) -> None:
    request = await service.under_review()

    async with service.nothing_written(request["id"]):
        no_comment = await service.call(
            "PUT", f"/requests/{request['id']}/ratings/R1.1", TARA, json={"rating": "not_met"}
        )
        unknown = await service.call(
            "PUT", f"/requests/{request['id']}/ratings/R1.1", TARA, json={"rating": "great"}
        )
        bad_link = await service.call(
            "PUT",
            f"/requests/{request['id']}/ratings/R1.1",
            TARA,
            json={"rating": "met", "evidence_url": "javascript:alert(1)"},
        )
        requester = await service.call(
            "PUT", f"/requests/{request['id']}/ratings/R1.1", ALEX, json={"rating": "met"}
        )

    problem(no_comment, 422, field="comment")
    problem(unknown, 422, field="rating")
    problem(bad_link, 422, field="evidence_url")
    problem(requester, 403)


async def test_a_condition_without_an_owner_is_refused(service: Procurement) -> None:
    request = await service.under_review()
    await service.rate_all(request["id"], TARA)
    decision = {
        "outcome": "approved_with_conditions",
        "rationale": "With an audit",
        "conditions": [{"text": "Audit it", "due_in_working_days": 5}],
    }

    async with service.nothing_written(request["id"]):
        no_owner = await service.call("POST", f"/requests/{request['id']}/decision", CHRIS, json=decision)
        no_due = await service.call(
            "POST",
            f"/requests/{request['id']}/decision",
            CHRIS,
            json={**decision, "conditions": [{"text": "Audit it", "owner": OWEN.ref}]},
        )
        none_at_all = await service.call(
            "POST", f"/requests/{request['id']}/decision", CHRIS, json={**decision, "conditions": []}
        )

    assert problem(no_owner, 422, field="owner")["errors"][0]["pointer"] == "/body/conditions/0/owner"
    problem(no_due, 422, field="due_date")
    problem(none_at_all, 422, field="conditions")


async def test_an_unknown_field_is_refused_by_name(service: Procurement) -> None:
    draft = await service.draft(title="Typos")

    async with service.nothing_written(draft["id"]):
        create = await service.call("POST", "/requests", ALEX, json={"title": "x", "anual_cost": "10.00"})
        patch = await service.call(
            "PATCH", f"/requests/{draft['id']}", ALEX, json={"titel": "y"}, if_match=f'"{draft["id"]}:1"'
        )
        decide = await service.call(
            "POST",
            f"/requests/{draft['id']}/decision",
            CHRIS,
            json={"outcome": "approved", "rationale": "x", "votes": 3},
        )

    assert "anual_cost" in problem(create, 422, field="anual_cost")["detail"]
    problem(patch, 422, field="titel")
    problem(decide, 422, field="votes")


async def test_bad_values_are_refused_with_their_field(service: Procurement) -> None:
    async with service.nothing_written():
        money = await service.call("POST", "/requests", ALEX, json={"annual_cost": "12.345"})
        negative = await service.call("POST", "/requests", ALEX, json={"initial_cost": "-1"})
        council = await service.call("POST", "/requests", ALEX, json={"councils_in_scope": ["cambridge"]})
        contradiction = await service.call(
            "POST", "/requests", ALEX, json={"annual_cost": "10.00", "annual_licence_cost": "20.00"}
        )
        not_json = await service.client.post(
            "/api/v1/requests",
            content=b"{nope",
            headers={**service.auth(ALEX), "Content-Type": "application/json"},
        )

    problem(money, 422, field="annual_cost")
    problem(negative, 422, field="initial_cost")
    problem(council, 422)
    problem(contradiction, 422, field="annual_cost")
    problem(not_json, 422)


async def test_editing_without_if_match_needs_one_and_a_stale_one_is_refused(service: Procurement) -> None:
    draft = await service.draft(title="Concurrent edits")
    await service.ok(
        "PATCH", f"/requests/{draft['id']}", ALEX, json={"user_need": "x"}, if_match=f'"{draft["id"]}:1"'
    )

    async with service.nothing_written(draft["id"]):
        missing = await service.call("PATCH", f"/requests/{draft['id']}", ALEX, json={"title": "Mine"})
        stale = await service.call(
            "PATCH", f"/requests/{draft['id']}", ALEX, json={"title": "Mine"}, if_match=f'"{draft["id"]}:1"'
        )
        other_record = await service.call(
            "PATCH",
            f"/requests/{draft['id']}",
            ALEX,
            json={"title": "Mine"},
            if_match='"00000000-0000-0000-0000-000000000001:2"',
        )
        stale_submit = await service.call(
            "POST", f"/requests/{draft['id']}/submit", ALEX, if_match=f'"{draft["id"]}:1"'
        )

    problem(missing, 428)
    assert "version 1" in problem(stale, 412)["detail"]
    problem(other_record, 412)
    problem(stale_submit, 412)


async def test_a_requester_cannot_edit_submit_or_withdraw_someone_elses_draft(service: Procurement) -> None:
    draft = await service.draft(ALEX, **complete())

    async with service.nothing_written(draft["id"]):
        edit = await service.call(
            "PATCH",
            f"/requests/{draft['id']}",
            BEA,
            json={"title": "Mine now"},
            if_match=f'"{draft["id"]}:1"',
        )
        submit = await service.call("POST", f"/requests/{draft['id']}/submit", BEA)
        withdraw = await service.call(
            "POST", f"/requests/{draft['id']}/withdraw", BEA, json={"reason": "spite"}
        )

    assert "Alex Requester" in problem(edit, 403)["detail"]
    problem(submit, 403)
    problem(withdraw, 403)


async def test_a_submitted_request_can_no_longer_be_edited(service: Procurement) -> None:
    request = await service.submitted()

    async with service.nothing_written(request["id"]):
        response = await service.call(
            "PATCH",
            f"/requests/{request['id']}",
            ALEX,
            json={"title": "Late change"},
            if_match=f'"{request["id"]}:2"',
        )

    assert "submitted" in problem(response, 409)["detail"]


async def test_a_condition_is_met_once_by_its_owner_or_the_tda_only(service: Procurement) -> None:
    decided, condition = await _decided_with_condition(service)
    path = f"/requests/{decided['id']}/conditions/{condition['id']}/met"

    async with service.nothing_written(decided["id"]):
        stranger = await service.call("POST", path, BEA, json={"evidence": "trust me"})
        no_evidence = await service.call("POST", path, OWEN, json={"evidence": "  "})
        unknown = await service.call(
            "POST",
            f"/requests/{decided['id']}/conditions/00000000-0000-0000-0000-000000000009/met",
            TARA,
            json={"evidence": "done"},
        )
    await service.ok("POST", path, OWEN, json={"evidence": "audit report"})
    async with service.nothing_written(decided["id"]):
        twice = await service.call("POST", path, TARA, json={"evidence": "again"})

    problem(stranger, 403)
    problem(no_evidence, 422, field="evidence")
    problem(unknown, 422, field="condition_id")
    problem(twice, 409)


async def test_reopening_needs_a_reason_and_a_questions_list_needs_a_question(service: Procurement) -> None:
    request = await service.under_review()

    async with service.nothing_written(request["id"]):
        no_questions = await service.call(
            "POST", f"/requests/{request['id']}/information-requests", TARA, json={"questions": []}
        )
        past_due = await service.call(
            "POST",
            f"/requests/{request['id']}/information-requests",
            TARA,
            json={"questions": ["Why?"], "due_date": "2026-11-01"},
        )
        blank_reason = await service.call(
            "POST", f"/requests/{request['id']}/withdraw", ALEX, json={"reason": " "}
        )

    problem(no_questions, 422, field="questions")
    problem(past_due, 422, field="due_date")
    problem(blank_reason, 422, field="reason")


async def test_scores_of_a_request_never_reviewed_are_a_conflict(service: Procurement) -> None:
    request = await service.submitted()

    response = await service.call("GET", f"/requests/{request['id']}/scores", TARA)

    assert "submitted" in problem(response, 409)["detail"]
