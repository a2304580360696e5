"""A renewal alert, end to end, by keyboard alone, in a real browser against the whole stack:

1. ICT contract management records a contract whose act-by date is ten days away (through the register's
   API: the portal's contract pages are read-only). The dashboard's renewal pipeline lists it.
2. The notifications service's sweep raises the alert and e-mails the owner, Ravi Patel (the stack's SMTP
   sink keeps the message). The e-mail's personal link opens the portal's /act/ page.
3. Following the link, without signing in, Ravi acknowledges the alert and records his decision to renew.
4. The register records the decision on the contract; Ravi's "My renewals" shows the new term, the
   contract's page shows the decision, and the dashboard's pipeline moves to the new act-by date.

Every page visited passes axe-core's WCAG 2.2 AA rules with nothing in the console; nobody clicks.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from typing import Any

import pytest
from browser_support import (
    PERSONAS,
    Screenshots,
    SignIn,
    Stack,
    activate,
    check_page,
    choose,
    eventually,
    follow_link,
    heading,
    press_button,
    reload_until,
    type_date,
    type_into,
    watch,
)
from playwright.async_api import BrowserContext, expect

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1500)]

REFERENCE = "CCC-ICT-0901"
TITLE = "Council tax e-billing service"
SUPPLIER = "Billsmart Ltd"
NOTICE_DAYS = 90
LEAD_DAYS = 30
OWNER_NAME, OWNER_EMAIL = PERSONAS["owner"]


def long_date(value: date) -> str:
    return f"{value.day} {value:%B %Y}"


async def record_contract(stack: Stack) -> dict[str, Any]:
    """The contract, owned by Ravi Patel, with an act-by date ten days from today: inside the alert ladder."""
    today = date.today()
    term_end = today + timedelta(days=NOTICE_DAYS + LEAD_DAYS + 10)
    async with stack.api("register", "contract_manager", email="priya.shah@cambridge.gov.uk") as register:
        people = (await register.get("/people", params={"q": OWNER_EMAIL})).json()["items"]
        owner = next(p for p in people if p["email"] == OWNER_EMAIL)
        supplier = await register.post("/suppliers", json={"name": SUPPLIER, "products": ["e-billing"]})
        assert supplier.status_code == 201, supplier.text
        created = await register.post(
            "/contracts",
            json={
                "reference": REFERENCE,
                "title": TITLE,
                "supplier_id": supplier.json()["id"],
                "contract_type": "saas_subscription",
                "start_date": (today - timedelta(days=700)).isoformat(),
                "initial_term_end": term_end.isoformat(),
                "renewal_type": "express",
                "notice_period_days": NOTICE_DAYS,
                "internal_lead_time_days": LEAD_DAYS,
                "annual_value": "42000.00",
                "councils": ["CCC"],
                "owner_id": owner["id"],
            },
        )
        assert created.status_code == 201, created.text
        contract: dict[str, Any] = created.json()
    return contract


async def alert_link(stack: Stack) -> str:
    """The personal link in the alert e-mail the owner received about the contract."""
    async with stack.api("notifications", "admin") as notifications:

        async def mail() -> dict[str, Any] | None:
            answer = await notifications.get("/sink/messages", params={"to": OWNER_EMAIL, "limit": 100})
            messages: list[dict[str, Any]] = answer.json() if answer.status_code == 200 else []
            return next((m for m in messages if REFERENCE in m["subject"]), None)

        message = await eventually(mail, what=f"the renewal alert about {REFERENCE} in {OWNER_EMAIL}'s inbox")
    assert message["subject"].startswith("Act by "), message["subject"]
    link = re.search(r"(https?://\S+/act/[A-Za-z0-9_.~%-]+)", message["text"])
    assert link, message["text"]
    assert link.group(1).startswith(stack.portal), f"the alert links to {link.group(1)}, not the portal"
    return link.group(1)


async def test_an_alert_email_leads_the_owner_to_acknowledge_and_decide_by_keyboard_alone(
    sign_in: SignIn,
    new_context: Callable[[], Awaitable[BrowserContext]],
    estate_stack: Stack,
    screenshots: Screenshots,
) -> None:
    contract = await record_contract(estate_stack)
    first_act_by = date.fromisoformat(contract["act_by"])

    # The dashboard's renewal pipeline lists it, with its act-by date.
    manager = await sign_in("contract-manager")
    row = manager.get_by_role("row").filter(has_text=REFERENCE)

    async def in_pipeline(act_by: date) -> bool:
        return await row.count() > 0 and long_date(act_by) in await row.first.inner_text()

    await reload_until(
        manager,
        "/dashboard/lists/pipeline",
        lambda: in_pipeline(first_act_by),
        what="the contract in the pipeline",
    )
    await check_page(manager)

    link = await alert_link(estate_stack)

    # Ravi follows the link from his e-mail, in a browser that has not signed in.
    context = await new_context()
    page = await context.new_page()
    watch(page, None)
    await page.goto(link)
    await expect(page.get_by_role("heading", level=1)).to_have_text(f"{REFERENCE} {TITLE}")
    await expect(page.get_by_text(long_date(first_act_by)).first).to_be_visible()
    await check_page(page)
    await screenshots.take(page, "renewal-alert-link")

    await type_into(page, page.get_by_label("Note (optional)"), "Testing the market before deciding.")
    await press_button(page, "Acknowledge the alert")
    await expect(page.locator(".govuk-panel__title")).to_have_text("Alert acknowledged")
    await check_page(page)

    await follow_link(page, "Record the renewal decision now")
    await expect(page.get_by_role("heading", level=1)).to_have_text(f"{REFERENCE} {TITLE}")
    await expect(page.get_by_text(re.compile(r"acknowledged by", re.IGNORECASE)).first).to_be_visible()
    await check_page(page)
    term_end = date.fromisoformat(contract["current_term_end"])
    new_end = term_end + timedelta(days=365)
    await choose(page, page.get_by_role("radio", name="Renew", exact=True))
    await type_date(page, page.get_by_role("group", name="When will the new term end?"), new_end)
    await type_into(
        page,
        page.get_by_label("Why have you decided this?"),
        "Good value: the market test found nothing cheaper that meets the need.",
    )
    await press_button(page, "Record the decision")
    await expect(page.locator(".govuk-panel__title")).to_have_text("Decision recorded")
    await check_page(page)

    # The register records the decision on the contract, and the term moves on.
    async with estate_stack.api("register", "admin") as register:

        async def renewed() -> dict[str, Any] | None:
            body: dict[str, Any] = (await register.get(f"/contracts/{contract['id']}")).json()
            return body if body["current_term_end"] == new_end.isoformat() else None

        after = await eventually(renewed, what="the renewal decision recorded in the register")
    [decision] = after["renewal_decisions"]
    assert decision["outcome"] == "renew"
    new_act_by = date.fromisoformat(after["act_by"])

    # Ravi's renewals show the new term.
    owner = await sign_in("owner")
    await expect(owner.get_by_role("heading", level=1)).to_have_text("My renewals")
    mine = owner.get_by_role("row").filter(has_text=REFERENCE)

    async def new_term_shown() -> bool:
        return await mine.count() > 0 and long_date(new_end) in await mine.first.inner_text()

    await reload_until(owner, "/renewals", new_term_shown, what="the new term on My renewals")
    await check_page(owner)
    await screenshots.take(owner, "my-renewals")

    # The contract's page in the register shows the decision; found by keyboard from the menu.
    await follow_link(owner, "Contracts")
    await heading(owner, "Contract register")
    await type_into(owner, owner.get_by_label("Search contracts"), REFERENCE)
    await press_button(owner, "Apply filters")
    found = owner.get_by_role("link", name=re.compile(rf"^{re.escape(REFERENCE)}"))
    await expect(found.first).to_be_visible()
    await activate(owner, found.first)
    await expect(owner.get_by_role("heading", level=1)).to_have_text(TITLE)
    decisions = owner.get_by_role("table", name=re.compile("Renewal decisions"))
    await expect(decisions).to_contain_text("Renew")
    await expect(decisions).to_contain_text("Good value")
    await check_page(owner)

    # The dashboard's pipeline follows: the contract is now due on its new act-by date.
    await reload_until(
        manager,
        "/dashboard/lists/pipeline",
        lambda: in_pipeline(new_act_by),
        what="the new act-by in the pipeline",
    )
    await check_page(manager)
