"""The exports page, files passed through from the register, and calendar subscription links."""

from __future__ import annotations

import csv
import io
import re

import httpx
import openpyxl
from portal_support import SignIn, Stack

from estate_portal.personas import BY_KEY
from estate_runtime.auth import AuthSettings, mint_token


def _token(auth: AuthSettings, persona: str) -> str:
    who = BY_KEY[persona]
    return mint_token(auth, subject=f"demo-{who.key}", roles=who.roles, email=who.email, name=who.name)


async def _feeds(stack: Stack, auth: AuthSettings, persona: str) -> list[dict[str, object]]:
    answer = await stack.clients["notifications"].get(
        "/api/v1/calendar-feeds", headers={"Authorization": f"Bearer {_token(auth, persona)}"}
    )
    assert answer.status_code == 200, answer.text
    feeds: list[dict[str, object]] = answer.json()
    return feeds


async def _register(
    stack: Stack, auth: AuthSettings, persona: str, path: str, **params: str
) -> httpx.Response:
    answer = await stack.clients["register"].get(
        path, params=params, headers={"Authorization": f"Bearer {_token(auth, persona)}"}
    )
    assert answer.status_code == 200, answer.text
    return answer


def _sheet(content: bytes) -> list[list[object]]:
    book = openpyxl.load_workbook(io.BytesIO(content), read_only=True)
    return [list(row) for row in book.worksheets[0].iter_rows(values_only=True)]


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# --- the page and its files -----------------------------------------------------------------------------


async def test_the_exports_page_offers_every_list_and_the_published_formats(
    portal: httpx.AsyncClient, sign_in: SignIn
) -> None:
    await sign_in(portal, "contract-manager")
    page = await portal.get("/exports")
    assert page.status_code == 200
    for name in ("systems", "contracts", "pipeline", "requests-pending", "no-owner", "spend-by-council"):
        assert f'href="/exports/lists/{name}.csv"' in page.text
        assert f'href="/exports/lists/{name}.xlsx"' in page.text
    for href in ("/exports/transparency.csv", "/exports/transparency.xlsx", "/exports/ocds.json"):
        assert f'href="{href}"' in page.text
    assert "Local Government Transparency Code" in page.text
    assert "Calendar subscription links" in page.text


async def test_a_list_downloads_as_the_registers_csv_and_xlsx(
    portal: httpx.AsyncClient, sign_in: SignIn, stack: Stack, portal_auth: AuthSettings
) -> None:
    await sign_in(portal, "tda-chair")
    answer = await portal.get("/exports/lists/systems.csv")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert re.match(
        r'attachment; filename="estate-systems-[0-9-]+\.csv"', answer.headers["content-disposition"]
    )
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    listed = (
        await _register(stack, portal_auth, "tda-chair", "/api/v1/estate/lists/systems", page_size="500")
    ).json()
    assert rows[0][:3] == ["System id", "System reference", "Name"]
    assert sorted(row[2] for row in rows[1:]) == sorted(item["name"] for item in listed["items"])
    direct = await _register(stack, portal_auth, "tda-chair", "/api/v1/estate/lists/systems", format="csv")
    assert answer.content == direct.content

    workbook = await portal.get("/exports/lists/contracts.xlsx")
    assert workbook.status_code == 200
    assert workbook.headers["content-type"] == XLSX
    assert workbook.headers["content-disposition"].endswith('.xlsx"')
    sheet = _sheet(workbook.content)
    contracts = (await _register(stack, portal_auth, "tda-chair", "/api/v1/estate/lists/contracts")).json()
    assert sheet[0][:3] == ["Contract id", "Contract reference", "Title"]
    assert [row[1] for row in sheet[1:]] == [item["reference"] for item in contracts["items"]]


async def test_the_transparency_code_list_and_ocds_come_through_as_the_register_made_them(
    portal: httpx.AsyncClient, sign_in: SignIn, stack: Stack, portal_auth: AuthSettings
) -> None:
    await sign_in(portal, "auditor")
    for suffix, media_type in (("csv", "text/csv"), ("xlsx", XLSX)):
        answer = await portal.get(f"/exports/transparency.{suffix}")
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith(media_type)
        assert re.match(
            rf'attachment; filename="transparency-contracts-[0-9-]+\.{suffix}"',
            answer.headers["content-disposition"],
        )
        direct = await _register(
            stack, portal_auth, "auditor", f"/api/v1/estate/exports/transparency.{suffix}"
        )
        if suffix == "csv":
            assert answer.content == direct.content
            assert "Reference number" in answer.text and "Title of agreement" in answer.text
        else:
            assert _sheet(answer.content) == _sheet(direct.content)
            assert len(_sheet(answer.content)) > 1  # the demo estate has contracts over £5,000

    ocds = await portal.get("/exports/ocds.json")
    assert ocds.status_code == 200
    assert ocds.headers["content-type"].startswith("application/json")
    direct = (await _register(stack, portal_auth, "auditor", "/api/v1/estate/exports/ocds.json")).json()
    assert ocds.json()["releases"] == direct["releases"]
    assert ocds.json()["version"] == "1.1"


async def test_unknown_files_are_pages_not_found(portal: httpx.AsyncClient, sign_in: SignIn) -> None:
    await sign_in(portal, "tda-chair")
    for path in (
        "/exports/lists/systems.pdf",
        "/exports/lists/no-such-list.csv",
        "/exports/transparency.json",
    ):
        answer = await portal.get(path)
        assert answer.status_code == 404, path
        assert "Page not found" in answer.text


# --- calendar links ---------------------------------------------------------------------------------


async def test_an_owner_makes_a_calendar_link_sees_its_address_once_and_revokes_it(
    portal: httpx.AsyncClient, sign_in: SignIn, stack: Stack, portal_auth: AuthSettings
) -> None:
    token = await sign_in(portal, "owner")
    page = await portal.get("/calendar")
    assert page.status_code == 200
    assert "<h1" in page.text and "Calendar subscription links" in page.text
    assert "You have no calendar links that work now." in page.text
    assert 'value="tda"' not in page.text  # only the TDA and contract management may subscribe to everything

    made = await portal.post(
        "/calendar/feeds",
        data={"csrf_token": token, "label": "Outlook at work", "scope": "person", "back": "/calendar"},
    )
    assert made.status_code == 303
    assert made.headers["location"] == "/calendar"

    shown = await portal.get("/calendar")
    assert "Your calendar link “Outlook at work” is ready" in shown.text
    address = re.search(r'value="(http://notifications\.test/calendar/[^"]+\.ics)"', shown.text)
    assert address, shown.text
    assert f'href="webcal://{address.group(1).removeprefix("http://")}"' in shown.text
    assert "Subscribe in Outlook" in shown.text and "Subscribe in Google Calendar" in shown.text
    ics = await stack.clients["notifications"].get(address.group(1).removeprefix("http://notifications.test"))
    assert ics.status_code == 200
    assert "BEGIN:VCALENDAR" in ics.text

    again = await portal.get("/calendar")  # the address is shown only once
    assert address.group(1) not in again.text
    assert "Outlook at work" in again.text

    feeds = await _feeds(stack, portal_auth, "owner")
    assert [(feed["label"], feed["scope"], feed["revoked_at"]) for feed in feeds] == [
        ("Outlook at work", "person", None)
    ]
    revoked = await portal.post(
        f"/calendar/feeds/{feeds[0]['id']}/revoke", data={"csrf_token": token, "back": "/calendar"}
    )
    assert revoked.status_code == 303
    after = await portal.get("/calendar")
    assert "Calendar link “Outlook at work” revoked" in after.text
    assert "You have no calendar links that work now." in after.text
    assert "Revoked links" in after.text
    assert (await _feeds(stack, portal_auth, "owner"))[0]["revoked_at"] is not None
    gone = await stack.clients["notifications"].get(
        address.group(1).removeprefix("http://notifications.test")
    )
    assert gone.status_code == 410


async def test_a_calendar_form_without_its_token_writes_nothing(
    portal: httpx.AsyncClient, sign_in: SignIn, stack: Stack, portal_auth: AuthSettings
) -> None:
    token = await sign_in(portal, "tda-chair")
    refused = await portal.post(
        "/calendar/feeds", data={"csrf_token": "forged", "label": "Mine", "scope": "tda", "back": "/exports"}
    )
    assert refused.status_code == 403
    assert "This form could not be accepted" in refused.text
    assert await _feeds(stack, portal_auth, "tda-chair") == []

    await portal.post(
        "/calendar/feeds", data={"csrf_token": token, "label": "TDA", "scope": "tda", "back": "/exports"}
    )
    [feed] = await _feeds(stack, portal_auth, "tda-chair")
    refused = await portal.post(f"/calendar/feeds/{feed['id']}/revoke", data={"back": "/exports"})
    assert refused.status_code == 403
    [still] = await _feeds(stack, portal_auth, "tda-chair")
    assert still["revoked_at"] is None


async def test_a_calendar_link_without_a_name_is_refused_with_the_field_named(
    portal: httpx.AsyncClient, sign_in: SignIn, stack: Stack, portal_auth: AuthSettings
) -> None:
    token = await sign_in(portal, "contract-manager")
    answer = await portal.post(
        "/calendar/feeds", data={"csrf_token": token, "label": "  ", "scope": "tda", "back": "/exports"}
    )
    assert answer.status_code == 422
    assert "<title>Error: Exports" in answer.text
    assert "There is a problem" in answer.text
    assert 'href="#label"' in answer.text
    assert "Enter a name for the calendar link" in answer.text
    assert await _feeds(stack, portal_auth, "contract-manager") == []


async def test_the_tda_chair_makes_a_tda_wide_link_from_the_exports_page(
    portal: httpx.AsyncClient, sign_in: SignIn, stack: Stack, portal_auth: AuthSettings
) -> None:
    token = await sign_in(portal, "tda-chair")
    page = await portal.get("/exports")
    assert 'value="tda"' in page.text
    made = await portal.post(
        "/calendar/feeds",
        data={"csrf_token": token, "label": "Every renewal", "scope": "tda", "back": "/exports"},
    )
    assert made.headers["location"] == "/exports#calendar"
    shown = await portal.get("/exports")
    assert "Your calendar link “Every renewal” is ready" in shown.text
    assert "Every contract that gets renewal alerts" in shown.text
    [feed] = await _feeds(stack, portal_auth, "tda-chair")
    assert feed["scope"] == "tda"


async def test_a_requester_has_calendar_links_but_not_the_exports_page(
    portal: httpx.AsyncClient, sign_in: SignIn
) -> None:
    await sign_in(portal, "requester")
    assert (await portal.get("/calendar")).status_code == 200
    refused = await portal.get("/exports")
    assert refused.status_code == 403
    assert "You cannot see this page" in refused.text
    assert (await portal.get("/exports/transparency.csv")).status_code == 403
