"""Bad input is a clear 4xx problem naming what to fix, and nothing is written: no row in any table, no
audit entry, no event, and the request reads exactly as before (same body, same ETag)."""

from __future__ import annotations

from typing import Any

import pytest
from procurement_api_support import (
    ADA,
    ALEX,
    BEA,
    OWEN,
    TARA,
    Person,
    Procurement,
    complete,
    problem,
    succeeded,
)


async def _decided_with_condition(service: Procurement) -> tuple[dict[str, Any], dict[str, Any]]:
    request = await service.rated()
    decided = await service.decided(
        request["id"],
        "approved_with_conditions",
        "Fine with an audit",
        conditions=[{"text": "Audit it", "owner": OWEN.ref, "due_date": "2026-11-30"}],
    )
    return decided, decided["conditions"][0]


@pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)
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


@pytest.mark.parametrize("someone", [TARA, ADA], ids=["tda_member", "administrator"])
async def test_only_the_chair_can_decide_or_reopen(service: Procurement, someone: Person) -> None:
    request = await service.under_review()

    async with service.nothing_written(request["id"]):
        decide = await service.decide(request["id"], "approved", "Looks fine", person=someone)
        reopen = await service.call(
            "POST", f"/requests/{request['id']}/reopen", someone, json={"reason": "why"}
        )

    body = problem(decide, 403)
    assert "chair" in body["detail"]
    assert body["title"] == "Not allowed"
    problem(reopen, 403)


async def test_a_transition_from_the_wrong_state_is_a_conflict_naming_the_state(service: Procurement) -> None:
    draft = await service.draft(**complete())

    async with service.nothing_written(draft["id"]):
        review = await service.call("POST", f"/requests/{draft['id']}/review", TARA)
        decide = await service.decide(draft["id"], "approved", "ok")
        resubmit = await service.call(
            "POST", f"/requests/{draft['id']}/resubmit", ALEX, json={"answers": "x"}
        )

    for response in (review, decide, resubmit):
        body = problem(response, 409)
        assert "draft" in body["detail"]


async def test_a_decided_request_cannot_be_decided_again_or_withdrawn(service: Procurement) -> None:
    decided, _ = await _decided_with_condition(service)

    async with service.nothing_written(decided["id"]):
        again = await service.decide(decided["id"], "not_approved", "Changed my mind")
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


@pytest.mark.parametrize(
    ("rater", "rating", "status", "field"),
    [
        (TARA, {"rating": "not_met"}, 422, "comment"),
        (TARA, {"rating": "great"}, 422, "rating"),
        (TARA, {"rating": "met", "evidence_url": "javascript:alert(1)"}, 422, "evidence_url"),
        (ALEX, {"rating": "met"}, 403, None),
    ],
    ids=["not_met_without_comment", "unknown_rating", "evidence_not_a_web_link", "by_the_requester"],
)
async def test_a_rating_needs_a_comment_when_not_met_a_known_rating_and_a_tda_rater(
    service: Procurement, rater: Person, rating: dict[str, Any], status: int, field: str | None
) -> None:
    request = await service.under_review()

    async with service.nothing_written(request["id"]):
        response = await service.call("PUT", f"/requests/{request['id']}/ratings/R1.1", rater, json=rating)

    problem(response, status, field=field)


@pytest.mark.parametrize(
    ("conditions", "pointer"),
    [
        ([{"text": "Audit it", "due_in_working_days": 5}], "/body/conditions/0/owner"),
        ([{"text": "Audit it", "owner": OWEN.ref}], "/body/conditions/0/due_date"),
        ([], "/body/conditions"),
    ],
    ids=["without_an_owner", "without_a_due_date", "none_at_all"],
)
async def test_a_condition_without_an_owner_or_due_date_is_refused(
    service: Procurement, conditions: list[dict[str, Any]], pointer: str
) -> None:
    request = await service.rated()

    async with service.nothing_written(request["id"]):
        response = await service.decide(
            request["id"], "approved_with_conditions", "With an audit", conditions=conditions
        )

    body = problem(response, 422, field=pointer.rsplit("/", 1)[-1])
    assert body["errors"][0]["pointer"] == pointer


async def test_an_unknown_field_is_refused_by_name(service: Procurement) -> None:
    draft = await service.draft(title="Typos")

    async with service.nothing_written(draft["id"]):
        create = await service.call("POST", "/requests", ALEX, json={"title": "x", "anual_cost": "10.00"})
        patch = await service.edit(draft["id"], ALEX, {"titel": "y"})
        decide = await service.decide(draft["id"], "approved", "x", votes=3)

    assert "anual_cost" in problem(create, 422, field="anual_cost")["detail"]
    problem(patch, 422, field="titel")
    problem(decide, 422, field="votes")


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"annual_cost": "12.345"}, "annual_cost"),
        ({"initial_cost": "-1"}, "initial_cost"),
        ({"councils_in_scope": ["cambridge"]}, None),
        ({"annual_cost": "10.00", "annual_licence_cost": "20.00"}, "annual_cost"),
    ],
    ids=["money_with_three_decimals", "negative_money", "unknown_council", "licence_above_annual_cost"],
)
async def test_a_bad_value_is_refused_with_its_field(
    service: Procurement, fields: dict[str, Any], field: str | None
) -> None:
    async with service.nothing_written():
        response = await service.call("POST", "/requests", ALEX, json=fields)

    problem(response, 422, field=field)


async def test_a_body_that_is_not_json_is_refused(service: Procurement) -> None:
    async with service.nothing_written():
        response = await service.client.post(
            "/api/v1/requests",
            content=b"{nope",
            headers={**service.auth(ALEX), "Content-Type": "application/json"},
        )

    problem(response, 422)


@pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)
async def test_editing_without_if_match_needs_one_and_a_stale_one_is_refused(service: Procurement) -> None:
    draft = await service.draft(title="Concurrent edits")
    succeeded(await service.edit(draft["id"], ALEX, {"user_need": "x"}))

    async with service.nothing_written(draft["id"]):
        missing = await service.edit(draft["id"], ALEX, {"title": "Mine"}, version=None)
        stale = await service.edit(draft["id"], ALEX, {"title": "Mine"}, version=1)
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
        edit = await service.edit(draft["id"], BEA, {"title": "Mine now"})
        submit = await service.call("POST", f"/requests/{draft['id']}/submit", BEA)
        withdraw = await service.call(
            "POST", f"/requests/{draft['id']}/withdraw", BEA, json={"reason": "spite"}
        )

    detail = problem(edit, 403)["detail"]
    assert detail == f"only the person who raised {draft['reference']} can edit this draft"
    assert "Alex" not in detail  # a refusal names no one
    problem(submit, 403)
    problem(withdraw, 403)


async def test_a_submitted_request_can_no_longer_be_edited(service: Procurement) -> None:
    request = await service.submitted()

    async with service.nothing_written(request["id"]):
        response = await service.edit(request["id"], ALEX, {"title": "Late change"}, version=2)

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
