"""The TDA's review pages over the real procurement service and its demo requests.

The demo (estate_procurement.demo_data) has, oldest first: the street asset inspection app under review
(rated by two members, duplicating Alloy), fleet telematics waiting for its requester's answers, and
the IEG4 online forms submitted and not yet reviewed; the engagement platform and the CRM are decided.
"""

from __future__ import annotations

import re

import httpx
import pytest_asyncio
from portal_support import SignIn, Stack, csrf_of
from sqlalchemy import select

from estate_contracts.envelope import Envelope
from estate_contracts.register_events import (
    SupplierChanged,
    SystemChanged,
    SystemLifecycleChanged,
    SystemRecorded,
    SystemRetired,
)
from estate_contracts.registry import parse_payload
from estate_contracts.topics import REGISTER_SUPPLIERS, REGISTER_SYSTEMS
from estate_eventing.tables import outbox_table
from estate_procurement.adapters.db.reuse_store import SqlReuseStore
from estate_procurement.application.reuse import project_supplier, project_system

STREET = "Street asset inspection app"
FLEET = "Fleet telematics and vehicle sensors"
FORMS = "Online forms for council tax discounts and benefits"


@pytest_asyncio.fixture(loop_scope="session")
async def catalogue(stack: Stack) -> None:
    """The register's demo systems in procurement's re-use read model, as its worker would have put them
    there from the register's events (read here from the register's outbox, with no broker in between,
    and only the events the worker subscribes to)."""
    async with stack.register.sessions() as session:
        rows = (
            await session.execute(
                select(outbox_table.c.payload)
                .where(outbox_table.c.topic.in_([REGISTER_SYSTEMS, REGISTER_SUPPLIERS]))
                .order_by(outbox_table.c.id)
            )
        ).scalars()
        events = [parse_payload(Envelope.model_validate_json(payload)) for payload in rows]
    async with stack.procurement.sessions() as session:
        store = SqlReuseStore(session)
        for event in events:
            if isinstance(event, SupplierChanged):
                await project_supplier(store, event)
            elif isinstance(event, SystemRecorded | SystemChanged | SystemLifecycleChanged | SystemRetired):
                await project_system(store, event)
        await session.commit()


async def reference_of(portal: httpx.AsyncClient, title: str) -> str:
    queue = await portal.get("/reviews")
    assert queue.status_code == 200, queue.text
    found = re.search(r'href="/reviews/(TR-\d{4}-\d+)">' + re.escape(title), queue.text)
    assert found, f"{title} is not in the queue"
    return found.group(1)


def checked(html: str, name: str) -> str | None:
    """The value of the checked radio named ``name``, if any."""
    for tag in re.findall(r"<input[^>]*>", html):
        if f'name="{name}"' in tag and "checked" in tag:
            value = re.search(r'value="([^"]*)"', tag)
            return value.group(1) if value else None
    return None


def etag_of(html: str) -> str:
    found = re.search(r'name="etag" value="([^"]+)"', html)
    assert found, "the page has no decision form"
    return found.group(1).replace("&#34;", '"').replace("&quot;", '"')


async def open_review(
    portal: httpx.AsyncClient, sign_in: SignIn, persona: str, title: str
) -> tuple[str, httpx.Response]:
    """Signed in as ``persona``, the review screen of the demo request called ``title``: its reference
    and the page."""
    await sign_in(portal, persona)
    key = await reference_of(portal, title)
    return key, await portal.get(f"/reviews/{key}")


async def post_decision(
    portal: httpx.AsyncClient, key: str, page: httpx.Response, fields: dict[str, str]
) -> httpx.Response:
    """The decision form of ``page`` sent with ``fields`` (and the page's form token and ETag, unless
    ``fields`` gives others)."""
    data = {"csrf_token": csrf_of(page.text), **fields}
    if "etag" not in data:
        data["etag"] = etag_of(page.text)
    return await portal.post(f"/reviews/{key}/decision", data=data)


async def test_the_queue_lists_the_waiting_demo_requests_oldest_first_with_their_age(
    portal: httpx.AsyncClient, sign_in: SignIn
) -> None:
    await sign_in(portal, "tda-member")
    page = await portal.get("/reviews")
    assert page.status_code == 200
    html = page.text
    assert "<h1" in html and "Requests for review" in html
    positions = [html.index(title) for title in (STREET, FLEET, FORMS)]
    assert positions == sorted(positions), "oldest first"
    assert "Under review" in html
    assert "Information requested" in html
    assert "Awaiting review" in html
    assert re.search(r"\d+ days", html), "each request shows its age in days"
    assert "Housing repairs scheduling" not in html, "drafts are the requester's own"
    street = await reference_of(portal, STREET)
    assert f'href="/reviews/{street}"' in html
    recent = html[html.index("Recently decided") :]
    assert "Resident engagement and consultation platform" in recent
    assert "Approved with conditions" in recent


async def test_the_queue_and_the_review_screen_are_refused_to_a_requester_and_an_owner(
    portal: httpx.AsyncClient, sign_in: SignIn
) -> None:
    for persona in ("requester", "owner"):
        await sign_in(portal, persona)
        page = await portal.get("/reviews")
        assert page.status_code == 403, persona
        assert "You cannot see this page" in page.text
        assert "members of the TDA" in page.text
        assert (await portal.get("/reviews/TR-2026-0003")).status_code == 403


async def test_the_review_screen_shows_the_answers_the_duplicates_and_the_checklist_with_red_lines(
    catalogue: None, portal: httpx.AsyncClient, sign_in: SignIn
) -> None:
    street, page = await open_review(portal, sign_in, "tda-member", STREET)
    assert page.status_code == 200, page.text
    html = page.text
    # the request's answers
    assert "Highway and open-space inspectors record defects on paper" in html
    assert "InspectPro" in html
    assert "£12,000" in html
    assert f'href="/requests/{street}"' in html
    # the duplicates panel: Alloy, linked to the register's system page, with why it matched
    duplicates = html[html.index('id="duplicates"') : html.index('id="scores"')]
    alloy = re.search(
        r'<a class="govuk-link" href="/systems/([0-9a-f-]{36})">([^<]*Alloy[^<]*)</a>', duplicates
    )
    assert alloy, duplicates
    assert "Why it matched" in duplicates
    assert "asset management" in duplicates
    # the checklist as a form: every Appendix K item with the four ratings and a comment
    assert 'action="/reviews/' + street + '/scores"' in html
    for item in ("R1.1", "R5.3", "R10.2", "DE1.2", "DPIA1", "TCOP13"):
        assert f'name="rating-{item.replace(".", "-")}"' in html
        assert f'name="comment-{item.replace(".", "-")}"' in html
    assert 'value="partly_met"' in html and 'value="not_applicable"' in html
    assert "All proposed solutions must align with the strategic objectives" in html
    # red lines are marked in words, next to their items
    dpia = html[html.index('name="rating-DPIA1"') - 3000 : html.index('name="rating-DPIA1"')]
    assert "Red line" in dpia
    # the other reviewers' ratings, and the recommendation so far
    assert "Alloy already provides mobile inspections" in html
    assert "Kemi Adeyemi" in html
    assert "Scores by rule" in html
    # a member is not offered the decision
    assert f'action="/reviews/{street}/decision"' not in html
    assert "The chair of the TDA records the decision" in html


async def test_a_members_saved_scores_show_again_when_the_page_is_reloaded(
    portal: httpx.AsyncClient, sign_in: SignIn
) -> None:
    street, page = await open_review(portal, sign_in, "tda-member", STREET)
    assert checked(page.text, "rating-R1-1") != "partly_met", (
        "the demo data's rating differs from the new one"
    )
    answer = await portal.post(
        f"/reviews/{street}/scores",
        data={
            "csrf_token": csrf_of(page.text),
            "rating-R1-1": "partly_met",
            "comment-R1-1": "Aligns with channel shift, but not with re-use first.",
            "rating-DPIA1": "met",
            "rating-DE1-2": "not_applicable",
            "evidence-DE1-2": "https://intranet.cambridge.gov.uk/tda/streets",
        },
    )
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == f"/reviews/{street}#checklist"
    again = await portal.get(f"/reviews/{street}")
    assert "Scores saved" in again.text
    assert checked(again.text, "rating-R1-1") == "partly_met"
    assert checked(again.text, "rating-DPIA1") == "met"
    assert checked(again.text, "rating-DE1-2") == "not_applicable"
    assert "Aligns with channel shift, but not with re-use first." in again.text
    assert "https://intranet.cambridge.gov.uk/tda/streets" in again.text
    assert checked(again.text, "rating-R2-1") == checked(page.text, "rating-R2-1")  # not sent: unchanged


async def test_an_invalid_scoring_is_shown_again_with_an_error_summary_naming_the_item_and_saves_nothing(
    portal: httpx.AsyncClient, sign_in: SignIn
) -> None:
    street, page = await open_review(portal, sign_in, "tda-member", STREET)
    answer = await portal.post(
        f"/reviews/{street}/scores",
        data={
            "csrf_token": csrf_of(page.text),
            "rating-R1-1": "met",
            "rating-R2-1": "not_met",
            "comment-R3-1": "A comment without a rating",
            "rating-R4-1": "met",
            "evidence-R4-1": "not a link",
        },
    )
    assert answer.status_code == 422
    html = answer.text
    assert "There is a problem" in html
    assert "<title>Error: " in html
    assert 'href="#comment-R2-1"' in html and "R2.1: say why it is not met" in html
    assert 'href="#rating-R3-1"' in html and "R3.1: select a rating" in html
    assert 'href="#evidence-R4-1"' in html and "R4.1: enter the evidence link" in html
    # what was typed is kept on the form
    assert checked(html, "rating-R1-1") == "met"
    assert "A comment without a rating" in html
    # and nothing was saved: the ratings are those the page showed before
    again = await portal.get(f"/reviews/{street}")
    assert checked(again.text, "rating-R1-1") == checked(page.text, "rating-R1-1")
    assert checked(again.text, "rating-R2-1") == checked(page.text, "rating-R2-1")


async def test_a_member_cannot_record_a_decision_and_nothing_is_written(
    portal: httpx.AsyncClient, sign_in: SignIn
) -> None:
    street, page = await open_review(portal, sign_in, "tda-member", STREET)
    answer = await post_decision(
        portal, street, page, {"etag": "whatever", "outcome": "not_approved", "rationale": "Re-use Alloy."}
    )
    assert answer.status_code == 403
    assert "You cannot see this page" in answer.text
    assert "the chair of the TDA" in answer.text
    again = await portal.get(f"/reviews/{street}")
    assert "Under review" in again.text
    assert "Decided by" not in again.text
    assert STREET in (await portal.get("/reviews")).text.split("Recently decided")[0]


async def test_the_chair_approves_with_a_condition_and_the_review_and_queue_show_it_decided(
    portal: httpx.AsyncClient, sign_in: SignIn
) -> None:
    street, page = await open_review(portal, sign_in, "tda-chair", STREET)
    assert f'action="/reviews/{street}/decision"' in page.text
    for n in (1, 2, 3):
        assert f'name="condition-{n}-text"' in page.text
        assert f'name="condition-{n}-due-day"' in page.text
    answer = await post_decision(
        portal,
        street,
        page,
        {
            "condition_rows": "3",
            "action": "decide",
            "outcome": "approved_with_conditions",
            "rationale": "Approved for the pilot depot only; Alloy's mobile forms to be assessed first.",
            "condition-1-text": "Assess Alloy mobile forms against the inspectors' user stories",
            "condition-1-owner": "priya.shah@cambridge.gov.uk",
            "condition-1-due-day": "31",
            "condition-1-due-month": "3",
            "condition-1-due-year": "2027",
            "condition-2-text": "",
            "condition-2-owner": "",
        },
    )
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == f"/reviews/{street}/decided"
    confirmation = await portal.get(answer.headers["location"])
    assert confirmation.status_code == 200
    assert "Request approved with 1 condition" in confirmation.text
    assert "govuk-panel" in confirmation.text
    review = await portal.get(f"/reviews/{street}")
    html = review.text
    decision = html[html.index('id="decision"') :]
    assert "Approved with conditions (1 condition)" in decision
    assert "Assess Alloy mobile forms against the inspectors&#39; user stories" in decision
    assert "priya.shah@cambridge.gov.uk" in decision
    assert "31 March 2027" in decision
    assert "Approved for the pilot depot only" in decision
    assert 'name="outcome"' not in html, "a decided request has no decision form"
    assert 'action="/reviews/' + street + '/scores"' not in html, "nor a scoring form"
    queue = (await portal.get("/reviews")).text
    waiting, recent = queue.split("Recently decided")
    assert STREET not in waiting
    assert STREET in recent
    assert "Approved with conditions" in recent[recent.index(STREET) :]


async def test_an_impossible_due_date_names_the_conditions_date_field_and_nothing_is_decided(
    portal: httpx.AsyncClient, sign_in: SignIn
) -> None:
    street, page = await open_review(portal, sign_in, "tda-chair", STREET)
    answer = await post_decision(
        portal,
        street,
        page,
        {
            "action": "decide",
            "outcome": "approved_with_conditions",
            "rationale": "",
            "condition-1-text": "Assess Alloy first",
            "condition-1-owner": "priya.shah@cambridge.gov.uk",
            "condition-1-due-day": "31",
            "condition-1-due-month": "2",
            "condition-1-due-year": "2027",
        },
    )
    assert answer.status_code == 422
    html = answer.text
    assert "There is a problem" in html
    assert 'href="#condition-1-due-day"' in html
    assert "Condition 1&#39;s due date must be a real date" in html
    assert 'href="#rationale"' in html
    assert 'value="31"' in html and 'value="Assess Alloy first"' not in html  # textarea keeps it as text
    assert "Assess Alloy first" in html
    again = await portal.get(f"/reviews/{street}")
    assert "Under review" in again.text
    assert 'name="outcome"' in again.text


async def test_a_condition_without_an_owner_and_a_conditional_approval_without_conditions_are_errors(
    portal: httpx.AsyncClient, sign_in: SignIn
) -> None:
    street, page = await open_review(portal, sign_in, "tda-chair", STREET)
    none = await post_decision(
        portal,
        street,
        page,
        {
            "outcome": "approved_with_conditions",
            "rationale": "Subject to conditions.",
        },
    )
    assert none.status_code == 422
    assert 'href="#condition-1-text"' in none.text
    no_owner = await post_decision(
        portal,
        street,
        page,
        {
            "outcome": "approved_with_conditions",
            "rationale": "Subject to conditions.",
            "condition-2-text": "Sign the data processing agreement",
            "condition-2-due-day": "1",
            "condition-2-due-month": "6",
            "condition-2-due-year": "2027",
        },
    )
    assert no_owner.status_code == 422
    assert 'href="#condition-2-owner"' in no_owner.text
    assert "Enter the e-mail address of condition 2&#39;s owner" in no_owner.text


async def test_a_decision_on_a_stale_view_is_refused_and_shown_again(
    portal: httpx.AsyncClient, sign_in: SignIn
) -> None:
    street, page = await open_review(portal, sign_in, "tda-chair", STREET)
    stale = etag_of(page.text)
    token = csrf_of(page.text)
    # the chair rates an item meanwhile (in another tab): the request's version moves on
    saved = await portal.post(f"/reviews/{street}/scores", data={"csrf_token": token, "rating-R1-1": "met"})
    assert saved.status_code == 303
    answer = await post_decision(
        portal, street, page, {"outcome": "not_approved", "rationale": "Re-use Alloy."}
    )
    assert answer.status_code == 412
    assert "There is a problem" in answer.text
    assert "The review changed since you opened this page" in answer.text
    assert "Re-use Alloy." in answer.text, "the chair's rationale is kept"
    assert etag_of(answer.text) != stale, "the form now carries the current version"
    assert "Under review" in (await portal.get(f"/reviews/{street}")).text


async def test_an_approval_with_red_lines_unrated_is_refused_by_the_service_with_an_error_summary(
    portal: httpx.AsyncClient, sign_in: SignIn
) -> None:
    forms, page = await open_review(portal, sign_in, "tda-chair", FORMS)
    assert "Start review" in page.text
    assert 'name="outcome"' not in page.text
    started = await portal.post(f"/reviews/{forms}/start", data={"csrf_token": csrf_of(page.text)})
    assert started.status_code == 303
    page = await portal.get(f"/reviews/{forms}")
    assert "Review started" in page.text
    answer = await post_decision(
        portal,
        forms,
        page,
        {
            "outcome": "approved",
            "rationale": "Renew without the unused modules.",
        },
    )
    assert answer.status_code == 422
    assert "There is a problem" in answer.text
    assert 'href="#outcome"' in answer.text
    assert "DPIA1" in answer.text and "before approving" in answer.text
    assert "Under review" in (await portal.get(f"/reviews/{forms}")).text


async def test_a_member_asks_the_requester_for_more_information(
    portal: httpx.AsyncClient, sign_in: SignIn
) -> None:
    await sign_in(portal, "tda-member")
    forms = await reference_of(portal, FORMS)
    page = await portal.get(f"/reviews/{forms}")
    await portal.post(f"/reviews/{forms}/start", data={"csrf_token": csrf_of(page.text)})
    page = await portal.get(f"/reviews/{forms}")
    empty = await portal.post(
        f"/reviews/{forms}/information", data={"csrf_token": csrf_of(page.text), "questions": "  "}
    )
    assert empty.status_code == 422
    assert 'href="#questions"' in empty.text
    answer = await portal.post(
        f"/reviews/{forms}/information",
        data={
            "csrf_token": csrf_of(page.text),
            "questions": "Which modules are unused?\nWhat did the G-Cloud market test find?",
        },
    )
    assert answer.status_code == 303, answer.text
    again = await portal.get(f"/reviews/{forms}")
    assert "Your questions were sent to Nadia Hussain" in again.text
    assert "Information requested" in again.text
    assert "Which modules are unused?" in again.text
    assert "What did the G-Cloud market test find?" in again.text


async def test_forged_form_tokens_write_nothing(portal: httpx.AsyncClient, sign_in: SignIn) -> None:
    street, page = await open_review(portal, sign_in, "tda-chair", STREET)
    decision = await post_decision(
        portal,
        street,
        page,
        {"csrf_token": "forged", "outcome": "not_approved", "rationale": "Re-use Alloy."},
    )
    assert decision.status_code == 403
    assert "This form could not be accepted" in decision.text
    scores = await portal.post(f"/reviews/{street}/scores", data={"rating-R1-1": "met"})
    assert scores.status_code == 403
    again = await portal.get(f"/reviews/{street}")
    assert "Under review" in again.text
    assert checked(again.text, "rating-R1-1") is None
    assert 'name="outcome"' in again.text


async def test_add_another_condition_gives_a_fourth_row_keeping_what_was_typed_and_decides_nothing(
    portal: httpx.AsyncClient, sign_in: SignIn
) -> None:
    street, page = await open_review(portal, sign_in, "tda-chair", STREET)
    assert 'name="condition-4-text"' not in page.text
    more = await post_decision(
        portal,
        street,
        page,
        {
            "condition_rows": "3",
            "action": "add_condition",
            "outcome": "approved_with_conditions",
            "rationale": "Subject to conditions.",
            "condition-3-text": "Publish the API register",
        },
    )
    assert more.status_code == 200
    assert 'name="condition-4-text"' in more.text
    assert 'name="condition_rows" value="4"' in more.text
    assert "Publish the API register" in more.text
    assert "Subject to conditions." in more.text
    assert "There is a problem" not in more.text
    assert "Under review" in (await portal.get(f"/reviews/{street}")).text
