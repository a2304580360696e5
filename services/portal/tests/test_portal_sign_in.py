"""Signing in and out, sessions, form tokens and the error pages people see."""

from __future__ import annotations

import httpx
from portal_support import SignIn, csrf_of


async def test_the_start_page_offers_sign_in_and_every_page_behind_it_asks_for_it(
    portal: httpx.AsyncClient,
) -> None:
    start = await portal.get("/")
    assert start.status_code == 200
    assert "Start now" in start.text
    dashboard = await portal.get("/dashboard?x=1")
    assert dashboard.status_code == 303
    assert dashboard.headers["location"] == "/sign-in?next=/dashboard?x=1"


async def test_the_demo_sign_in_lists_each_persona_and_signs_in_with_an_httponly_samesite_cookie(
    portal: httpx.AsyncClient,
) -> None:
    page = await portal.get("/sign-in")
    for name in ("Sam Patel", "Tom Reid", "Alex Morgan", "Ravi Patel", "Priya Shah", "Grace Okafor"):
        assert name in page.text
    answer = await portal.post(
        "/sign-in/dev", data={"persona": "tda-chair", "next": "/systems", "csrf_token": csrf_of(page.text)}
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/systems"
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    home = await portal.get("/")
    assert home.status_code == 303
    assert home.headers["location"] == "/dashboard"


async def test_a_sign_in_without_a_choice_redisplays_the_form_with_an_error_summary(
    portal: httpx.AsyncClient,
) -> None:
    page = await portal.get("/sign-in")
    answer = await portal.post("/sign-in/dev", data={"csrf_token": csrf_of(page.text)})
    assert answer.status_code == 422
    assert "There is a problem" in answer.text
    assert 'href="#persona"' in answer.text
    assert "Select who to sign in as" in answer.text


async def test_a_form_without_its_token_is_refused_with_a_clear_page_and_signs_nobody_in(
    portal: httpx.AsyncClient,
) -> None:
    await portal.get("/sign-in")
    answer = await portal.post("/sign-in/dev", data={"persona": "admin", "csrf_token": "forged"})
    assert answer.status_code == 403
    assert "This form could not be accepted" in answer.text
    assert "Traceback" not in answer.text
    assert (await portal.get("/")).status_code == 200  # still the start page: nobody signed in


async def test_a_tampered_session_cookie_is_an_ended_session_not_a_fault(
    portal: httpx.AsyncClient, sign_in: SignIn
) -> None:
    await sign_in(portal, "owner")
    portal.cookies.set("estate_session", "gAAAAABnot-a-real-session")
    answer = await portal.get("/renewals")
    assert answer.status_code == 401
    assert "Your session has ended" in answer.text


async def test_sign_out_ends_the_session(portal: httpx.AsyncClient, sign_in: SignIn) -> None:
    token = await sign_in(portal, "requester")
    answer = await portal.post("/sign-out", data={"csrf_token": token})
    assert answer.status_code == 303
    page = await portal.get("/sign-in")
    assert "You have signed out." in page.text
    assert (await portal.get("/requests")).status_code == 303


async def test_an_unknown_page_is_a_page_not_found(portal: httpx.AsyncClient) -> None:
    answer = await portal.get("/no-such-page")
    assert answer.status_code == 404
    assert "Page not found" in answer.text


async def test_the_footers_accessibility_statement_and_help_pages_are_there_for_everyone(
    portal: httpx.AsyncClient,
) -> None:
    statement = await portal.get("/accessibility")
    assert statement.status_code == 200
    assert "WCAG" in statement.text and "2.2" in statement.text
    help_page = await portal.get("/help")
    assert help_page.status_code == 200
    assert "Renewal alerts" in help_page.text


async def test_every_page_ends_with_the_councils_name_and_no_gov_uk_branding(
    portal: httpx.AsyncClient,
) -> None:
    page = await portal.get("/sign-in")
    footer = page.text[page.text.index('<footer class="govuk-footer">') :]
    assert "Cambridge City Council" in footer
    assert "Crown copyright" not in footer and "Open Government Licence" not in footer
    assert 'href="/accessibility"' in footer
