"""A technology request from need to planned system, by keyboard alone, in a real browser against the whole
stack (``estate up`` on PostgreSQL and the session's broker):

1. Sam Patel (requester) describes a need; as he types, the form shows the systems the council already
   runs that do the job (Complaints Tracker, CaseTracker); he answers every step and submits.
2. The TDA's dashboard shows the request waiting for a decision.
3. Tom Reid (TDA member) starts the review and rates the checklist.
4. Alex Morgan (chair) approves it with a condition.
5. The register shows the planned system (its page says so), and the dashboard no longer lists the request
   as waiting.

Every page visited passes axe-core's WCAG 2.2 AA rules with nothing in the console. Nobody clicks: Tab,
Shift+Tab, the arrow keys, Space, typing and Enter only.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import pytest
from browser_support import (
    Screenshots,
    SignIn,
    Stack,
    activate,
    check_page,
    choose,
    eventually,
    follow_link,
    heading,
    pick,
    press_button,
    reload_until,
    tick,
    type_date,
    type_into,
)
from playwright.async_api import Page, expect

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1500)]

TITLE = "Corporate complaints case management"
PRODUCT = "ResolveHub"
SUPPLIER = "Casebridge Ltd"
CONDITION = "Complete the DPIA before any resident data is loaded"


async def save_and_continue(page: Page, next_title: str) -> None:
    await press_button(page, "Save and continue")
    await heading(page, next_title)


async def requester_submits(page: Page, screenshots: Screenshots) -> str:
    """Sam Patel's part, by keyboard: every step of the form, check your answers, submit. The reference."""
    await expect(page).to_have_url(re.compile(r"/requests$"))
    await check_page(page)
    await press_button(page, "Start a new request")
    await heading(page, "The need")

    await type_into(page, page.get_by_label("Give your request a short title"), TITLE)
    await pick(page, page.get_by_label("Which service area is asking?"), "Customer Services")
    await type_into(
        page,
        page.get_by_label("What problem are you trying to solve?"),
        "Complaints arrive by web form and e-mail and are logged in spreadsheets, so case management is "
        "slow and nobody can see which complaints are overdue.",
    )
    await type_into(
        page,
        page.get_by_label("Who has the problem, and what do they need?"),
        "Customer services officers need to log complaints, track each case to a response and report on "
        "response times.",
    )
    # The as-you-type panel (a polite live region) names the systems that already do this.
    suggestions = page.locator("#suggestions")
    await expect(
        suggestions.get_by_text("The council may already have something that does this")
    ).to_be_visible()
    await expect(suggestions.get_by_role("link", name="Complaints Tracker")).to_be_visible()
    await check_page(page)
    await screenshots.take(page, "request-need-with-suggestions")
    await save_and_continue(page, "What it must do")
    reference = re.search(r"/requests/([^/]+)/steps/", page.url)
    assert reference, page.url

    await type_into(
        page,
        page.get_by_label("What must the solution do?"),
        "Log complaints from every channel, assign them, track them to a response within 10 working days.",
    )
    story = page.get_by_role("group", name="User story 1", exact=True)
    await type_into(
        page,
        story.get_by_label("Story"),
        "As a customer services officer I need to see overdue complaints so that residents get an answer in time",
    )
    await pick(page, story.get_by_label("Priority"), "Must have")
    await type_into(
        page, page.get_by_label("Which capabilities must it provide?"), "complaints\ncase management"
    )
    await type_into(
        page,
        page.get_by_label("What is known of its technical specification?"),
        "Software as a service, single sign-on with the council's identity provider, REST APIs.",
    )
    await type_into(
        page,
        page.get_by_label("How does it support the council's objectives?"),
        "Better customer experience and less double keying, as the Target Operating Model asks.",
    )
    await save_and_continue(page, "Options considered")

    for number, (description, kind, reason) in enumerate(
        [
            (f"Buy {PRODUCT}", "Buy a product", "Meets every must-have at the lowest cost."),
            (
                "Extend Complaints Tracker",
                "Re-use a system the council has",
                "On premises, no API, no reporting.",
            ),
        ],
        start=1,
    ):
        option = page.get_by_role("group", name=f"Option {number}", exact=True)
        await type_into(page, option.get_by_label("What is the option?"), description)
        await pick(page, option.get_by_label("Is it to buy, build or re-use?"), kind)
        await type_into(page, option.get_by_label("Why was it chosen or rejected?"), reason)
    proposal = page.get_by_role("group", name="Which option do you propose?")
    await choose(page, proposal.get_by_role("radio", name="Option 1", exact=True))
    await type_into(page, page.get_by_label("Which product do you propose? (optional)"), PRODUCT)
    await type_into(page, page.get_by_label("Who supplies it? (optional)"), SUPPLIER)
    await save_and_continue(page, "Costs, benefits and timing")

    await type_into(page, page.get_by_label("What is the one-off cost?"), "8000")
    await type_into(page, page.get_by_label("What will it cost each year?"), "24000")
    await type_into(page, page.get_by_label("How much will it save each year?"), "15000")
    await save_and_continue(page, "Data and hosting")

    await choose(
        page, page.get_by_role("group", name="Will it hold personal data?").get_by_role("radio", name="Yes")
    )
    await type_into(
        page, page.get_by_label("What kinds of personal data will it hold?"), "complainant contact details"
    )
    dpia = page.get_by_role("group", name="Is a data protection impact assessment (DPIA) needed?")
    await choose(page, dpia.get_by_role("radio", name="Yes"))
    hosting = page.get_by_role("group", name="Where will it run?")
    await choose(page, hosting.get_by_role("radio", name="Software as a service (the supplier runs it)"))
    await save_and_continue(page, "Integration and quality")

    integration = page.get_by_role(
        "group", name="How will it exchange data with the council's other systems?"
    )
    await choose(page, integration.get_by_role("radio", name="Through RESTful APIs"))
    await type_into(
        page, page.get_by_label("How accessible is it?"), "The supplier's audit says it meets WCAG 2.2 AA."
    )
    await save_and_continue(page, "Risks and delivery")

    risk = page.get_by_role("group", name="Risk 1", exact=True)
    await type_into(page, risk.get_by_label("What is the risk?"), "Complaints data migrated with errors")
    await type_into(page, risk.get_by_label("How will it be mitigated?"), "Reconcile counts before go-live")
    await pick(page, risk.get_by_label("Rating"), "Amber")
    await type_into(page, page.get_by_label("Who have you engaged?"), "Customer Services\n3C ICT")
    await type_into(
        page, page.get_by_label("How will you know it worked?"), "95% of complaints answered within 10 days."
    )
    await save_and_continue(page, "Scope, contract and people")

    councils = page.get_by_role("group", name="Which councils is it for?")
    await tick(page, councils.get_by_role("checkbox", name=re.compile(r"\(CCC\)$")))
    technology = page.get_by_role("group", name="What kind of technology is it?")
    await choose(page, technology.get_by_role("radio", name="Traditional IT"))
    extraction = page.get_by_role("group", name="Will the tender include the data extraction clauses?")
    await choose(page, extraction.get_by_role("radio", name="Yes"))
    await choose(
        page,
        page.get_by_role("group", name="Will the tender include the API clauses?").get_by_role(
            "radio", name="Yes"
        ),
    )
    charging = page.get_by_role(
        "group", name="Will those data and API features be free, or their charges itemised?"
    )
    await choose(page, charging.get_by_role("radio", name="Free, without additional charge"))
    owner = page.get_by_role("group", name="Who will own the system once it is in use?")
    await type_into(page, owner.get_by_label("Full name"), "Sam Patel")
    await type_into(page, owner.get_by_label("Email address"), "sam.patel@cambridge.gov.uk")
    budget = page.get_by_role("group", name="Who holds the budget that pays for it?")
    await type_into(page, budget.get_by_label("Full name"), "Tom Ellis")
    await type_into(page, budget.get_by_label("Email address"), "tom.ellis@cambridge.gov.uk")
    await press_button(page, "Save and continue")

    await expect(page).to_have_url(re.compile(r"/check$"))
    await check_page(page)
    await expect(page.get_by_text("You cannot submit this request until you answer these")).to_have_count(0)
    await screenshots.take(page, "request-check-answers")
    await press_button(page, "Submit request")
    await expect(page.locator(".govuk-panel__title")).to_have_text("Request submitted")
    await check_page(page)
    return reference.group(1)


async def open_from_review_queue(page: Page, link_name: str) -> None:
    """From the menu to the review queue, then the request whose link names ``link_name``."""
    await follow_link(page, "Reviews")
    await heading(page, "Requests for review")
    await activate(page, page.get_by_role("link", name=re.compile(re.escape(link_name))).first)
    await heading(page, TITLE)


async def member_rates(page: Page, reference: str, screenshots: Screenshots) -> None:
    """Tom Reid's part, by keyboard: open the request from the review queue, start the review, rate every
    item the recommendation needs (Appendix K and the red lines): one partly met, with a comment."""
    await open_from_review_queue(page, TITLE)
    # The duplicates panel names the systems that already do this.
    duplicates = page.locator(".estate-candidates")
    await expect(duplicates.get_by_role("link", name="Complaints Tracker")).to_be_visible()

    await press_button(page, "Start review")
    await expect(page.get_by_role("button", name="Save scores")).to_be_visible()
    await check_page(page)

    await follow_link(page, "Checklist")
    items = page.locator(".estate-checklist-item")
    must_rate: list[str] = []
    for index in range(await items.count()):
        item = items.nth(index)
        legend = (await item.locator("legend").first.inner_text()).strip()
        item_id = legend.split(":", 1)[0]
        red_line = "estate-checklist-item--red-line" in (await item.get_attribute("class") or "")
        if re.fullmatch(r"R\d+\.\d+", item_id) or red_line:
            must_rate.append(item_id)
    assert "R1.1" in must_rate and len(must_rate) > 20, must_rate
    partly = must_rate[-3]
    for item_id in must_rate:
        group = page.get_by_role("group", name=re.compile(rf"^{re.escape(item_id)}: "))
        rating = "Partly met" if item_id == partly else "Met"
        await choose(page, group.get_by_role("radio", name=rating, exact=True))
        if item_id == partly:
            await type_into(
                page, page.get_by_label(f"Comment on {item_id}", exact=True), "Only partly evidenced so far."
            )
    await press_button(page, "Save scores")
    await expect(page.locator(".govuk-notification-banner--success")).to_contain_text("Scores saved")
    await check_page(page)
    await screenshots.take(page, "review-screen")


async def chair_decides(page: Page, reference: str) -> None:
    """Alex Morgan's part, by keyboard: approve with one condition (owner, due date) and a rationale."""
    await open_from_review_queue(page, reference)
    await follow_link(page, "Decision")
    decision = page.get_by_role("group", name="What has the TDA decided?")
    await choose(page, decision.get_by_role("radio", name="Approve with conditions"))
    await type_into(
        page,
        page.get_by_label("Rationale", exact=True),
        "Meets the TDA's rules; Complaints Tracker cannot be extended. Approved once the DPIA is done.",
    )
    await type_into(page, page.get_by_label("What condition 1 requires"), CONDITION)
    await type_into(
        page, page.get_by_label("Condition 1 owner's e-mail address"), "sam.patel@cambridge.gov.uk"
    )
    await type_date(
        page, page.get_by_role("group", name="Condition 1 due date"), date.today() + timedelta(days=60)
    )
    await press_button(page, "Record the decision")
    await expect(page.locator(".govuk-panel__title")).to_contain_text("approved", ignore_case=True)
    await expect(page.get_by_text(CONDITION)).to_be_visible()
    await check_page(page)


async def test_a_request_becomes_a_planned_system_by_keyboard_alone(
    sign_in: SignIn, estate_stack: Stack, screenshots: Screenshots
) -> None:
    requester = await sign_in("requester")
    reference = await requester_submits(requester, screenshots)

    # The requester tracks it.
    await follow_link(requester, f"Track request {reference}")
    await heading(requester, TITLE)

    chair = await sign_in("tda-chair")
    waiting = chair.locator("#requests ~ table").get_by_role("link", name=TITLE)

    async def listed_as_waiting() -> bool:
        return await waiting.count() > 0

    await reload_until(
        chair, "/dashboard", listed_as_waiting, what="the request on the dashboard's waiting list"
    )
    await check_page(chair)

    member = await sign_in("tda-member")
    await member_rates(member, reference, screenshots)

    await chair_decides(chair, reference)

    # The register's worker turns the approval into a planned system with a draft contract.
    async with estate_stack.api("register", "admin") as register:

        async def planned() -> dict[str, Any] | None:
            answer = await register.get("/systems", params={"q": PRODUCT, "limit": 10})
            items: list[dict[str, Any]] = answer.json().get("items", []) if answer.status_code == 200 else []
            return next(
                (s for s in items if s["name"] == PRODUCT and s["lifecycle_stage"] == "planned"), None
            )

        system = await eventually(planned, what=f"{PRODUCT} planned in the register")

    # The chair finds it in the register, by keyboard.
    await follow_link(chair, "Register")
    await heading(chair, "Register of systems")
    await type_into(chair, chair.get_by_label("Search systems"), PRODUCT)
    await press_button(chair, "Apply filters")
    result = chair.get_by_role("link", name=re.compile(rf"^{PRODUCT}"))
    await expect(result).to_be_visible()
    await check_page(chair)
    await activate(chair, result.first)
    await expect(chair.get_by_role("heading", level=1)).to_have_text(PRODUCT)
    await expect(chair.get_by_text("Planned").first).to_be_visible()
    await expect(chair.get_by_text(system["reference"]).first).to_be_visible()
    await check_page(chair)

    # The dashboard no longer lists the request as waiting.
    async def no_longer_waiting() -> bool:
        await expect(chair.get_by_role("heading", level=1)).to_be_visible()
        return await waiting.count() == 0

    await reload_until(
        chair, "/dashboard", no_longer_waiting, what="the decided request off the waiting list"
    )
    await check_page(chair)
