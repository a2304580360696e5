"""Signing in, signing out and the error pages, in a real browser against the whole stack: each page passes
axe-core (WCAG 2.2 AA) with nothing in the console, and signing in works by keyboard alone."""

from __future__ import annotations

import re

import pytest
from browser_support import PERSONAS, Screenshots, SignIn, Stack, check_page, choose, press_button, tab_to
from playwright.async_api import Page, expect

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]


async def test_the_start_and_sign_in_pages_pass_axe_and_offer_every_demo_person(
    anonymous: Page, screenshots: Screenshots
) -> None:
    page = anonymous
    await page.goto("/")
    await check_page(page)
    await expect(page.get_by_role("heading", level=1)).to_have_text("The council's IT estate")

    await page.get_by_role("button", name=re.compile("Start now")).click()
    await expect(page).to_have_url(re.compile(r"/sign-in"))
    await check_page(page)
    for name, _ in PERSONAS.values():
        await expect(page.get_by_role("radio", name=name, exact=True)).to_be_attached()
    await screenshots.take(page, "sign-in")


async def test_signing_in_by_keyboard_alone_lands_each_person_on_their_start_page(
    anonymous: Page, estate_stack: Stack
) -> None:
    page = anonymous
    await page.goto("/sign-in")
    await check_page(page)
    await choose(page, page.get_by_role("radio", name="Alex Morgan", exact=True))
    await press_button(page, "Sign in", exact=True)
    await expect(page.locator(".estate-signed-in")).to_contain_text("Signed in as Alex Morgan")
    await check_page(page)

    # Signing out is a button in the header; a keyboard reaches it too.
    await tab_to(page, page.get_by_role("button", name=re.compile("^Sign out")))
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(re.compile(r"/sign-in"))
    await expect(page.get_by_text("You have signed out.")).to_be_visible()
    await check_page(page)


async def test_signing_in_without_choosing_anyone_shows_an_error_summary_that_links_to_the_question(
    anonymous: Page,
) -> None:
    page = anonymous
    await page.goto("/sign-in")
    await page.get_by_role("button", name="Sign in", exact=True).click()
    summary = page.locator(".govuk-error-summary")
    await expect(summary).to_be_visible()
    await expect(summary.get_by_role("link", name="Select who to sign in as")).to_be_visible()
    await check_page(page, error_status=True)


@pytest.mark.parametrize("persona", sorted(PERSONAS))
async def test_every_demo_person_signs_in_and_their_start_page_passes_axe(
    sign_in: SignIn, persona: str
) -> None:
    page = await sign_in(persona)
    await check_page(page)
    assert page.url.rstrip("/").rsplit("/", 1)[-1] in {"dashboard", "requests", "renewals"}, page.url


async def test_a_page_that_does_not_exist_is_a_clear_not_found_page(sign_in: SignIn) -> None:
    page = await sign_in("requester")
    response = await page.goto("/no-such-page")
    assert response is not None and response.status == 404
    await expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")
    await check_page(page, error_status=True)


async def test_a_person_without_the_role_for_a_page_is_told_so(sign_in: SignIn) -> None:
    page = await sign_in("requester")
    response = await page.goto("/dashboard")
    assert response is not None and response.status == 403
    await expect(page.get_by_role("heading", level=1)).to_have_text("You cannot see this page")
    await expect(page.locator(".estate-signed-in")).to_contain_text("Signed in as Sam Patel")
    await check_page(page, error_status=True)


async def test_a_page_asked_for_before_signing_in_is_shown_after_signing_in(anonymous: Page) -> None:
    page = anonymous
    await page.goto("/systems")
    await expect(page).to_have_url(re.compile(r"/sign-in\?next="))
    await page.get_by_role("radio", name="Tom Reid", exact=True).check()
    await page.get_by_role("button", name="Sign in", exact=True).click()
    await expect(page).to_have_url(re.compile(r"/systems"))
    await check_page(page)


async def test_a_form_sent_with_a_forged_token_is_refused_with_a_clear_page(sign_in: SignIn) -> None:
    page = await sign_in("owner")
    await page.locator('form[action="/sign-out"] input[name="csrf_token"]').evaluate(
        "el => { el.value = 'forged' }"
    )
    await page.get_by_role("button", name=re.compile("^Sign out")).click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("This form could not be accepted")
    await check_page(page, error_status=True)
    # Nothing happened: still signed in.
    await page.goto("/")
    await expect(page.locator(".estate-signed-in")).to_contain_text("Signed in as Ravi Patel")


async def test_a_session_that_has_ended_is_a_clear_page_and_sign_in_is_offered(sign_in: SignIn) -> None:
    page = await sign_in("contract-manager")
    # A cookie the portal cannot read (expired, or from before its key changed) is an ended session.
    await page.context.add_cookies([{"name": "estate_session", "value": "ended", "url": page.url}])
    response = await page.goto("/contracts")
    assert response is not None and response.status == 401
    await expect(page.get_by_role("heading", level=1)).to_have_text("Your session has ended")
    await expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    await check_page(page, error_status=True)


async def test_a_form_with_missing_answers_leads_the_keyboard_from_its_error_summary_to_each_field(
    sign_in: SignIn,
) -> None:
    page = await sign_in("requester")
    await press_button(page, "Start a new request")
    await expect(page.get_by_role("heading", level=1)).to_have_text("The need")
    await press_button(page, "Save and continue")

    summary = page.locator(".govuk-error-summary")
    await expect(summary).to_be_visible()
    await expect(page).to_have_title(re.compile(r"^Error: "))
    await expect(summary).to_be_focused()  # GOV.UK Frontend moves the focus to the summary
    await check_page(page, error_status=True)
    title_error = summary.get_by_role("link", name="Enter a short title for your request")
    await expect(title_error).to_be_visible()
    await expect(summary.get_by_role("link")).to_have_count(4)  # title, service area, problem, user need

    await tab_to(page, title_error)
    await page.keyboard.press("Enter")
    await expect(page.get_by_label("Give your request a short title")).to_be_focused()
    # Nothing was saved: the requester has no draft.
    await page.goto("/requests")
    await expect(page.get_by_role("link", name=re.compile("Untitled request"))).to_have_count(0)
