"""Every main page of the portal, reached by keyboard from the menu, passes axe-core's WCAG 2.2 AA rules with
nothing in the console, for the people who use it; the README's screenshots of them are taken here."""

from __future__ import annotations

import re

import pytest
from browser_support import (
    Screenshots,
    SignIn,
    activate,
    check_page,
    follow_link,
    heading,
    pick,
    press_button,
    type_into,
)
from playwright.async_api import Page, expect

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1200)]


async def test_the_dashboard_and_every_estate_list_pass_axe(
    sign_in: SignIn, screenshots: Screenshots
) -> None:
    page = await sign_in("tda-chair")
    await expect(page).to_have_url(re.compile(r"/dashboard$"))
    await heading(page, "The council's IT estate")
    await screenshots.take(page, "dashboard", full_page=False)

    # The spend tabs work with the arrow keys (GOV.UK tabs), and each panel passes too.
    first_tab = page.get_by_role("tab").first
    await activate(page, first_tab)
    await page.keyboard.press("ArrowRight")
    await expect(page.get_by_role("tab", selected=True)).not_to_have_text(await first_tab.inner_text())
    await check_page(page)

    lists = sorted(
        set(
            await page.locator('a[href^="/dashboard/lists/"]').evaluate_all(
                "links => links.map(a => a.getAttribute('href'))"
            )
        )
    )
    assert len(lists) >= 5, lists
    for href in lists:
        await page.goto(href)
        await expect(page.get_by_role("heading", level=1)).to_be_visible()
        await check_page(page)


async def test_the_register_pages_pass_axe_and_filter_by_keyboard(
    sign_in: SignIn, screenshots: Screenshots
) -> None:
    page = await sign_in("contract-manager")
    await follow_link(page, "Register")
    await heading(page, "Register of systems")
    await type_into(page, page.get_by_label("Capability"), "case management")
    await press_button(page, "Apply filters")
    await expect(page.get_by_role("link", name=re.compile(r"^Complaints Tracker"))).to_be_visible()
    await expect(page.get_by_role("link", name=re.compile(r"^Orchard"))).to_have_count(0)
    await check_page(page)
    await screenshots.take(page, "register-systems")

    await activate(page, page.get_by_role("link", name=re.compile(r"^Storm")).first)
    await heading(page, "Storm")
    await expect(page.get_by_text("CCC-ICT-0004").first).to_be_visible()
    await screenshots.take(page, "system")

    await activate(page, page.get_by_role("link", name=re.compile(r"^CCC-ICT-0004")).first)
    await heading(page, "Storm contact centre platform")
    await screenshots.take(page, "contract")

    await follow_link(page, "Contracts")
    await heading(page, "Contract register")
    await pick(page, page.get_by_label("Supplier"), "IEG4")
    await press_button(page, "Apply filters")
    await expect(page.get_by_role("link", name=re.compile(r"^CCC-ICT-0002"))).to_be_visible()
    await check_page(page)


async def test_the_exports_and_calendar_pages_pass_axe(sign_in: SignIn, screenshots: Screenshots) -> None:
    page = await sign_in("contract-manager")
    await follow_link(page, "Exports")
    await heading(page, "Exports")
    await screenshots.take(page, "exports")
    download = page.get_by_role("link", name="Download the Transparency Code contracts list as CSV")
    async with page.expect_download() as downloaded:
        await activate(page, download)
    assert (await downloaded.value).suggested_filename.endswith(".csv")

    # A calendar subscription link for the person's renewals, made by keyboard.
    await type_into(page, page.get_by_label("Name for the link"), "My renewals in Outlook")
    await press_button(page, "Make a calendar link")
    await expect(page.get_by_text("My renewals in Outlook").first).to_be_visible()
    await check_page(page)

    await page.goto("/calendar")
    await heading(page, "Calendar subscription links")
    await expect(page.get_by_text("My renewals in Outlook").first).to_be_visible()


async def test_the_request_and_review_lists_pass_axe(sign_in: SignIn) -> None:
    requester = await sign_in("requester")
    await heading(requester, re.compile(r"request", re.IGNORECASE))

    member = await sign_in("tda-member")
    await follow_link(member, "Requests")
    await heading(member, re.compile(r"request", re.IGNORECASE))
    await follow_link(member, "Reviews")
    await heading(member, "Requests for review")

    auditor = await sign_in("auditor")
    await follow_link(auditor, "Dashboard")
    await heading(auditor, "The council's IT estate")
    await follow_link(auditor, "My renewals")
    await heading(auditor, re.compile(r"renewals", re.IGNORECASE))


async def test_the_footers_accessibility_statement_and_help_pass_axe(anonymous: Page) -> None:
    for href, title in (
        ("/accessibility", "Accessibility statement for Estate"),
        ("/help", "Help using Estate"),
    ):
        await anonymous.goto(href)
        await heading(anonymous, title)
