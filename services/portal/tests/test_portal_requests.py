"""Technology requests from the requester's side: the question pages that save a draft, "Check your
answers" and submission, the suggestions of existing systems while typing the need, request tracking and
the request page with its history and actions; over the real procurement and register APIs."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest_asyncio
from portal_support import SignIn, Stack, csrf_of
from sqlalchemy import select

from estate_contracts.envelope import Envelope
from estate_contracts.register_events import (
    SystemChanged,
    SystemLifecycleChanged,
    SystemRecorded,
    SystemRetired,
)
from estate_contracts.registry import parse_payload
from estate_contracts.topics import REGISTER_SYSTEMS
from estate_eventing.tables import outbox_table
from estate_procurement.adapters.messaging.subscribers import on_system
from estate_runtime.auth import AuthSettings, mint_token

ETAG = re.compile(r'name="etag" value="([^"]*)"')

COMPLETE: dict[str, dict[str, str | list[str]]] = {
    "need": {
        "title": "Tree inspection records",
        "service_area": "Streets and Open Spaces",
        "problem_statement": "Tree officers keep inspection notes in spreadsheets; nobody can see which trees are due.",
        "user_need": "Tree officers need to record an inspection on site and see which trees are due next.",
    },
    "requirements": {
        "business_requirements": "Record inspections on a phone, schedule re-inspections, report to managers.",
        "user_stories-1-text": "As a tree officer I need to record an inspection on site",
        "user_stories-1-priority": "must",
        "user_stories-2-text": "As a manager I would like a map of trees due for inspection",
        "user_stories-2-priority": "could",
        "capabilities": "tree inspections\nasset management",
        "technical_specification": "Phone app that works offline, sign-in with Entra ID, REST API.",
        "strategic_alignment": "Efficiency and safer streets in the Target Operating Model.",
    },
    "options": {
        "options_considered-1-kind": "buy",
        "options_considered-1-description": "TreeWise inspections",
        "options_considered-1-reason": "Meets every must-have",
        "options_considered-2-kind": "reuse",
        "options_considered-2-description": "Alloy",
        "options_considered-2-reason": "No tree survey module",
        "options_considered-chosen": "1",
        "proposed_product": "TreeWise",
        "proposed_supplier": "Arbor Software Ltd",
    },
    "costs": {
        "initial_cost": "£5,000",
        "annual_cost": "3000",
        "expected_annual_savings": "4000.50",
        "expected_start_date-day": "1",
        "expected_start_date-month": "4",
        "expected_start_date-year": "2027",
        "term_months": "36",
    },
    "data": {"holds_personal_data": "no", "hosting": "saas"},
    "technical": {
        "integration_approach": "restful_api",
        "accessibility_assessment": "The supplier's statement says WCAG 2.2 AA; we will test it with officers.",
        "wcag_level": "AA",
    },
    "delivery": {
        "risks-1-risk": "Officers without signal lose records",
        "risks-1-mitigation": "The app works offline and syncs later",
        "risks-1-rag": "amber",
        "stakeholders_engaged": "Streets and Open Spaces\n3C ICT",
        "success_criteria": "Every inspection recorded on the day it is done.",
    },
    "scope": {
        "councils_in_scope": ["CCC"],
        "category": "it",
        "data_extraction_clauses": "yes",
        "api_clauses": "yes",
        "clause_charging": "free",
        "system_owner-name": "Owen Price",
        "system_owner-email": "owen.price@cambridge.gov.uk",
        "budget_holder-name": "Tom Ellis",
        "budget_holder-email": "tom.ellis@cambridge.gov.uk",
    },
}
ORDER = list(COMPLETE)


def etag_of(page: str) -> str:
    found = ETAG.search(page)
    assert found, "the page has no ETag field"
    return html.unescape(found.group(1))


async def post_step(
    portal: httpx.AsyncClient, url: str, answers: dict[str, Any], *, action: str = "continue"
) -> httpx.Response:
    """Fill in a question page as a person would: open it, then send it with the answers."""
    page = await portal.get(url)
    assert page.status_code == 200, page.text
    form = {"csrf_token": csrf_of(page.text), "etag": etag_of(page.text), "action": action, **answers}
    if 'name="return_to" value="check"' in page.text:  # the page came from a Change link
        form["return_to"] = "check"
    return await portal.post(url, data=form)


async def start(
    portal: httpx.AsyncClient, answers: dict[str, Any], *, action: str = "continue"
) -> httpx.Response:
    return await post_step(portal, "/requests/new", answers, action=action)


def reference_in(answer: httpx.Response) -> str:
    """The reference of the request a saved page redirected to (``/requests/TR-2026-0012/...``)."""
    return answer.headers["location"].split("/")[2]


async def newest_reference(portal: httpx.AsyncClient) -> str:
    """The reference of the first request in the signed-in person's list."""
    listing = await portal.get("/requests")
    found = re.search(r'href="/requests/(TR-\d{4}-\d+)"', listing.text)
    assert found, "the list has no request"
    return found.group(1)


async def complete_draft(portal: httpx.AsyncClient) -> str:
    """Every question page answered with "Save and continue"; returns the draft's reference."""
    answer = await start(portal, COMPLETE["need"])
    assert answer.status_code == 303, answer.text
    reference = reference_in(answer)
    for slug in ORDER[1:]:
        url = f"/requests/{reference}/steps/{slug}"
        answer = await post_step(portal, url, COMPLETE[slug])
        assert answer.status_code == 303, (slug, answer.text)
    assert answer.headers["location"] == f"/requests/{reference}/check"
    return reference


async def submit(portal: httpx.AsyncClient, reference: str) -> tuple[httpx.Response, httpx.Response]:
    """Open "Check your answers" and press Submit: the check page and the answer."""
    check = await portal.get(f"/requests/{reference}/check")
    answer = await portal.post(
        f"/requests/{reference}/submit", data={"csrf_token": csrf_of(check.text), "etag": etag_of(check.text)}
    )
    return check, answer


def tda_member_headers(auth: AuthSettings) -> dict[str, str]:
    """Headers to call the procurement API directly as Tom Reid, a member of the TDA."""
    token = mint_token(
        auth, subject="tom.reid", roles=("tda_member",), email="tom.reid@cambridge.gov.uk", name="Tom Reid"
    )
    return {"Authorization": f"Bearer {token}"}


@pytest_asyncio.fixture(loop_scope="session")
async def register_systems(stack: Stack) -> AsyncIterator[dict[str, str]]:
    """The register's demo systems in the procurement service's re-use read model, as its worker would
    have kept them: the register's own outbox events, handed to the worker's projection. (Nothing flows
    between the services in process.) Yields each system's register id by name."""
    async with stack.register.sessions() as session:
        rows = (
            await session.execute(
                select(outbox_table.c.payload)
                .where(outbox_table.c.topic == REGISTER_SYSTEMS)
                .order_by(outbox_table.c.id)
            )
        ).scalars()
        envelopes = [Envelope.model_validate_json(raw) for raw in rows]
    ids: dict[str, str] = {}
    async with stack.procurement.sessions.begin() as session:
        for envelope in envelopes:
            payload = parse_payload(envelope)
            assert isinstance(
                payload, SystemRecorded | SystemChanged | SystemLifecycleChanged | SystemRetired
            )
            await on_system(session, payload, envelope)
            ids[payload.system.name] = str(payload.system.id)
    assert "Alloy" in ids
    yield ids


# --- starting, saving and submitting a request ------------------------------------------------------


async def listed_requests(portal: httpx.AsyncClient) -> int:
    """How many requests the signed-in person's list shows (the demo requester has some already)."""
    page = await portal.get("/requests")
    assert page.status_code == 200
    return page.text.count('class="govuk-table__row"')


async def test_the_first_page_saved_as_a_draft_appears_in_the_requesters_list_as_draft(
    portal: httpx.AsyncClient, sign_in: SignIn
) -> None:
    await sign_in(portal, "requester")
    before = await portal.get("/requests")
    assert "Start a new request" in before.text
    assert "Bin sensor pilot" not in before.text

    answer = await start(
        portal, {"title": "Bin sensor pilot", "problem_statement": "Bins overflow."}, action="draft"
    )

    assert answer.status_code == 303
    assert answer.headers["location"] == "/requests"
    listing = await portal.get("/requests")
    assert "Draft saved" in listing.text
    assert "Bin sensor pilot" in listing.text
    assert ">Draft</strong>" in listing.text
    assert "Not yet" in listing.text  # not submitted


async def test_each_question_page_saves_the_draft_and_check_your_answers_shows_every_answer(
    portal: httpx.AsyncClient, sign_in: SignIn
) -> None:
    await sign_in(portal, "requester")
    reference = await complete_draft(portal)

    check = await portal.get(f"/requests/{reference}/check")

    assert check.status_code == 200
    assert "Check your answers before submitting your request" in check.text
    for shown in (
        "Tree inspection records",
        "Streets and Open Spaces",
        "TreeWise inspections",
        "£5,000.00",
        "£4,000.50",
        "1 April 2027",
        "36 months",
        "Software as a service",
        "Owen Price",
        "tom.ellis@cambridge.gov.uk",
        "Cambridge City Council (CCC)",
        "tree inspections",
    ):
        assert shown in check.text, shown
    assert "You cannot submit this request until" not in check.text
    change = f'href="/requests/{reference}/steps/costs?return=check#initial_cost"'
    assert change in check.text
    assert 'Change<span class="govuk-visually-hidden"> one-off cost</span>' in check.text

    # A Change link returns to "Check your answers" after saving.
    answer = await post_step(
        portal,
        f"/requests/{reference}/steps/costs?return=check",
        {**COMPLETE["costs"], "annual_cost": "3500"},
    )
    assert answer.headers["location"] == f"/requests/{reference}/check"
    assert "£3,500.00" in (await portal.get(f"/requests/{reference}/check")).text


async def test_submitting_shows_the_reference_and_the_request_becomes_submitted(
    portal: httpx.AsyncClient, sign_in: SignIn
) -> None:
    await sign_in(portal, "requester")
    reference = await complete_draft(portal)

    _, answer = await submit(portal, reference)

    assert answer.status_code == 303
    assert answer.headers["location"] == f"/requests/{reference}/submitted"
    confirmation = await portal.get(answer.headers["location"])
    assert "Request submitted" in confirmation.text
    assert reference in confirmation.text
    assert "What happens next" in confirmation.text
    page = await portal.get(f"/requests/{reference}")
    assert ">Submitted</strong>" in page.text
    assert "Submitted to the TDA" in page.text
    listing = await portal.get("/requests")
    assert ">Submitted</strong>" in listing.text
    # A submitted request's question pages are closed: they lead back to the request.
    closed = await portal.get(f"/requests/{reference}/steps/need")
    assert closed.status_code == 303
    assert closed.headers["location"] == f"/requests/{reference}"


async def test_an_incomplete_draft_submitted_lists_every_missing_answer_linked_to_its_page(
    portal: httpx.AsyncClient, sign_in: SignIn
) -> None:
    await sign_in(portal, "requester")
    answer = await start(portal, {"title": "Half a request"}, action="draft")
    assert answer.status_code == 303
    reference = await newest_reference(portal)

    check, refused = await submit(portal, reference)

    assert "You cannot submit this request until you answer these" in check.text
    assert refused.status_code == 422
    assert "There is a problem" in refused.text
    assert "<title>Error: " in refused.text
    assert f'href="/requests/{reference}/steps/need?return=check#problem_statement"' in refused.text
    assert f'href="/requests/{reference}/steps/scope?return=check#system_owner-name"' in refused.text
    assert "Select where it will run" in refused.text
    assert ">Draft</strong>" in (await portal.get("/requests")).text


async def test_a_missing_title_shows_the_need_page_again_with_an_error_summary_and_saves_nothing(
    portal: httpx.AsyncClient, sign_in: SignIn
) -> None:
    await sign_in(portal, "requester")
    before = await listed_requests(portal)

    answer = await start(portal, {"title": "  ", "problem_statement": "Paper forms get lost."})

    assert answer.status_code == 422
    assert "There is a problem" in answer.text
    assert 'href="#title"' in answer.text
    assert "Enter a short title for your request" in answer.text
    assert "Paper forms get lost." in answer.text  # what was typed is kept
    assert await listed_requests(portal) == before


async def test_bad_amounts_dates_and_rows_are_named_and_nothing_is_changed(
    portal: httpx.AsyncClient, sign_in: SignIn
) -> None:
    await sign_in(portal, "requester")
    answer = await start(portal, COMPLETE["need"])
    reference = answer.headers["location"].split("/")[2]

    refused = await post_step(
        portal,
        f"/requests/{reference}/steps/costs",
        {
            "initial_cost": "a lot",
            "annual_cost": "100",
            "annual_licence_cost": "200",
            "expected_start_date-day": "31",
            "expected_start_date-month": "2",
            "expected_start_date-year": "2027",
        },
        action="draft",
    )

    assert refused.status_code == 422
    assert 'href="#initial_cost"' in refused.text
    assert "One-off cost must be an amount in pounds" in refused.text
    assert 'href="#expected_start_date-day"' in refused.text
    assert "must be a real date" in refused.text
    assert 'href="#annual_cost"' in refused.text
    check = await portal.get(f"/requests/{reference}/check")
    assert "£100.00" not in check.text  # the valid answers on the refused page were not saved either

    rows = await post_step(
        portal,
        f"/requests/{reference}/steps/options",
        {"options_considered-1-kind": "buy", "options_considered-2-description": "Alloy"},
    )
    assert rows.status_code == 422
    assert 'href="#options_considered-1-description"' in rows.text
    assert 'href="#options_considered-2-kind"' in rows.text


async def test_a_page_saved_in_another_tab_meanwhile_is_refused_rather_than_overwritten(
    portal: httpx.AsyncClient, sign_in: SignIn
) -> None:
    await sign_in(portal, "requester")
    reference = reference_in(await start(portal, COMPLETE["need"]))
    url = f"/requests/{reference}/steps/need"
    first_tab = await portal.get(url)
    await post_step(portal, url, {**COMPLETE["need"], "title": "Changed in the second tab"}, action="draft")

    stale = await portal.post(
        url,
        data={
            "csrf_token": csrf_of(first_tab.text),
            "etag": etag_of(first_tab.text),
            "action": "draft",
            **COMPLETE["need"],
            "title": "Changed in the first tab",
        },
    )

    assert stale.status_code == 412
    assert "changed since you opened this page" in stale.text
    assert "Changed in the second tab" in (await portal.get(f"/requests/{reference}")).text


async def test_a_forged_form_token_writes_nothing(portal: httpx.AsyncClient, sign_in: SignIn) -> None:
    await sign_in(portal, "requester")
    before = await listed_requests(portal)
    page = await portal.get("/requests/new")

    forged = await portal.post(
        "/requests/new", data={"csrf_token": "forged", "etag": "", "action": "continue", **COMPLETE["need"]}
    )

    assert forged.status_code == 403
    assert "This form could not be accepted" in forged.text
    assert await listed_requests(portal) == before
    assert csrf_of(page.text)  # the real token was there to be sent

    reference = reference_in(await start(portal, COMPLETE["need"]))
    step = await portal.get(f"/requests/{reference}/steps/need")
    forged_edit = await portal.post(
        f"/requests/{reference}/steps/need",
        data={
            "csrf_token": "forged",
            "etag": etag_of(step.text),
            "action": "draft",
            **COMPLETE["need"],
            "title": "Forged",
        },
    )
    assert forged_edit.status_code == 403
    assert "Forged" not in (await portal.get(f"/requests/{reference}")).text


async def test_a_role_that_cannot_raise_requests_is_told_so(
    portal: httpx.AsyncClient, sign_in: SignIn
) -> None:
    await sign_in(portal, "auditor")
    answer = await portal.get("/requests/new")
    assert answer.status_code == 403
    assert "You cannot see this page" in answer.text
    assert "Start a new request" not in (await portal.get("/requests")).text


# --- existing systems that already do the job ------------------------------------------------------

STREET_NEED = {
    "title": "Street defects app",
    "problem_statement": "Asset management and inspections for streets and open spaces are done on paper.",
}


async def test_typing_a_need_like_alloy_shows_alloy_on_the_page_and_as_json(
    portal: httpx.AsyncClient, sign_in: SignIn, register_systems: dict[str, str]
) -> None:
    await sign_in(portal, "requester")
    before = await listed_requests(portal)
    alloy = f'href="/systems/{register_systems["Alloy"]}"'

    checked = await start(portal, STREET_NEED, action="check")

    assert checked.status_code == 200
    assert "The council may already have something that does this" in checked.text
    assert alloy in checked.text
    assert 'aria-live="polite"' in checked.text
    assert "Street defects app" in checked.text  # the answers stay in the form
    assert await listed_requests(portal) == before  # checking saves nothing

    found = await portal.get(
        "/requests/suggestions",
        params={"title": STREET_NEED["title"], "text": STREET_NEED["problem_statement"]},
    )
    assert found.status_code == 200
    candidates = found.json()["candidates"]
    first = candidates[0]
    assert (first["name"], first["href"]) == ("Alloy", f"/systems/{register_systems['Alloy']}")
    assert any("Alloy" in reason for reason in first["reasons"])

    # After the need is saved, the next page and "Check your answers" show them too.
    saved = await start(
        portal,
        {
            **STREET_NEED,
            "service_area": "Streets and Open Spaces",
            "user_need": "Inspectors need to log defects.",
        },
    )
    assert saved.status_code == 303
    following = await portal.get(saved.headers["location"])
    assert alloy in following.text
    assert alloy in (await portal.get(f"/requests/{reference_in(saved)}/check")).text


async def test_the_need_page_loads_its_script_from_a_file_and_has_no_inline_script(
    portal: httpx.AsyncClient, sign_in: SignIn
) -> None:
    await sign_in(portal, "requester")
    page = await portal.get("/requests/new")
    assert '<script type="module" src="/static/estate/requests.js"></script>' in page.text
    # Only GOV.UK's own template script runs inline, with the nonce the Content-Security-Policy names.
    nonce = re.search(r"'nonce-([^']+)'", page.headers["content-security-policy"]).group(1)  # type: ignore[union-attr]
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", page.text) == [f'<script nonce="{nonce}">']
    assert " style=" not in page.text
    assert 'data-suggestions="/requests/suggestions"' in page.text
    script = await portal.get("/static/estate/requests.js")
    assert script.status_code == 200
    assert "setTimeout(update, DELAY_MS)" in script.text


async def test_suggestions_need_a_signed_in_person(portal: httpx.AsyncClient) -> None:
    answer = await portal.get("/requests/suggestions", params={"title": "Street defects"})
    assert answer.status_code == 401
    assert answer.headers["content-type"].startswith("application/json")


# --- tracking and the request page -------------------------------------------------------------------


async def test_a_requester_cannot_see_another_requesters_request(
    portal: httpx.AsyncClient, sign_in: SignIn, stack: Stack, portal_auth: AuthSettings
) -> None:
    found = await stack.clients["procurement"].get(
        "/api/v1/requests", headers=tda_member_headers(portal_auth)
    )
    theirs = next(r for r in found.json()["items"] if r["requester"]["name"] == "Nadia Hussain")
    await sign_in(portal, "requester")

    answer = await portal.get(f"/requests/{theirs['reference']}")

    assert answer.status_code == 403
    assert "You cannot see this page" in answer.text
    assert theirs["title"] not in answer.text
    assert theirs["reference"] not in (await portal.get("/requests")).text
    assert (await portal.get("/requests/not-a-reference")).status_code == 404


async def test_the_tda_sees_every_request_and_can_filter_by_state(
    portal: httpx.AsyncClient, sign_in: SignIn
) -> None:
    await sign_in(portal, "tda-member")

    everything = await portal.get("/requests")
    decided = await portal.get("/requests", params={"state": "decided"})

    assert everything.status_code == 200
    assert "Nadia Hussain" in everything.text and "Jo Evans" in everything.text
    assert ">Information requested</strong>" in everything.text
    assert ">Draft</strong>" in everything.text
    assert "Approved with conditions" in decided.text
    assert ">Information requested</strong>" not in decided.text
    assert '<option value="decided" selected>' in decided.text


async def test_the_request_page_tells_the_history_with_questions_decision_and_conditions(
    portal: httpx.AsyncClient, sign_in: SignIn, stack: Stack, portal_auth: AuthSettings
) -> None:
    tda = tda_member_headers(portal_auth)
    items = (await stack.clients["procurement"].get("/api/v1/requests", headers=tda)).json()["items"]
    conditional = next(r for r in items if r["latest_outcome"] == "approved_with_conditions")
    asked = next(r for r in items if r["state"] == "information_requested")
    await sign_in(portal, "tda-chair")

    page = await portal.get(f"/requests/{conditional['reference']}")

    assert page.status_code == 200
    for text in (
        "Submitted to the TDA",
        "Review started",
        "Decided: Approved with conditions",
        "DPIA signed off by the Data Protection Officer",
        "Conditions of the approval",
        "Overdue",
    ):
        assert text in page.text, text
    questions = await portal.get(f"/requests/{asked['reference']}")
    assert "Information requested" in questions.text
    assert "Has the DPIA been started" in questions.text


async def test_a_requester_answers_the_tdas_questions_and_resubmits(
    portal: httpx.AsyncClient, sign_in: SignIn, stack: Stack, portal_auth: AuthSettings
) -> None:
    await sign_in(portal, "requester")
    reference = await complete_draft(portal)
    await submit(portal, reference)
    tda = tda_member_headers(portal_auth)
    procurement = stack.clients["procurement"]
    assert (await procurement.post(f"/api/v1/requests/{reference}/review", headers=tda)).status_code == 200
    asked = await procurement.post(
        f"/api/v1/requests/{reference}/information-requests",
        headers=tda,
        json={"questions": ["Which trees are in scope: the council's or also private ones?"]},
    )
    assert asked.status_code == 200, asked.text

    page = await portal.get(f"/requests/{reference}")
    assert "The TDA has asked for more information" in page.text
    assert "Which trees are in scope" in page.text
    empty = await portal.post(
        f"/requests/{reference}/resubmit",
        data={"csrf_token": csrf_of(page.text), "etag": etag_of(page.text), "answers": ""},
    )
    assert empty.status_code == 422
    assert 'href="#answers"' in empty.text

    answer = await portal.post(
        f"/requests/{reference}/resubmit",
        data={
            "csrf_token": csrf_of(page.text),
            "etag": etag_of(page.text),
            "answers": "Only the council's trees.",
        },
    )

    assert answer.status_code == 303
    after = await portal.get(f"/requests/{reference}")
    assert "Your answers were sent to the TDA" in after.text
    assert ">Resubmitted</strong>" in after.text
    assert "Resubmitted with answers" in after.text
    assert "Only the council&#39;s trees." in after.text


async def test_a_requester_withdraws_a_draft_with_a_reason(
    portal: httpx.AsyncClient, sign_in: SignIn
) -> None:
    await sign_in(portal, "requester")
    saved = await start(portal, COMPLETE["need"], action="draft")
    assert saved.status_code == 303
    reference = await newest_reference(portal)
    page = await portal.get(f"/requests/{reference}")
    assert "Continue your request" in page.text
    assert "Withdraw this request" in page.text

    no_reason = await portal.post(
        f"/requests/{reference}/withdraw", data={"csrf_token": csrf_of(page.text), "reason": ""}
    )
    assert no_reason.status_code == 422
    assert 'href="#reason"' in no_reason.text

    done = await portal.post(
        f"/requests/{reference}/withdraw",
        data={"csrf_token": csrf_of(page.text), "reason": "Alloy already does it."},
    )

    assert done.status_code == 303
    after = await portal.get(f"/requests/{reference}")
    assert ">Withdrawn</strong>" in after.text
    assert "Alloy already does it." in after.text
    assert "Withdraw this request" not in after.text
