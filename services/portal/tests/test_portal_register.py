"""The register's pages: browsing, searching and filtering systems and contracts, and each system's and
contract's own page with its history, as each person sees them (over the real register API and demo data)."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from portal_support import SignIn, Stack

from estate_portal.views import register
from estate_runtime.auth import AuthSettings, mint_token

LIVE_SAAS = {"Storm", "Tascomi", "Alloy", "IEG4 online forms", "Proactis", "Miro", "Power BI"}
"""The demo systems that are live and hosted as SaaS (services/register/src/estate_register/demo_data.py)."""


def text_of(html: str) -> str:
    """What a person reads: tags dropped, white space squeezed."""
    main = html[html.index("<main") : html.index("</main>")]
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", main))).strip()


def system_names(html: str) -> list[str]:
    return [
        unescape(n)
        for n in re.findall(r'<a class="govuk-link" href="/systems/[0-9a-f-]{36}">([^<]+)</a>', html)
    ]


def link_to(html: str, name: str, kind: str = "systems") -> str:
    found = re.search(rf'href="(/{kind}/[0-9a-f-]{{36}})">{re.escape(name)}', html)
    assert found, f"no link to {name}"
    return found.group(1)


def pagination_link(html: str, rel: str) -> str | None:
    found = re.search(rf'href="([^"]+)" rel="{rel}"', html)
    return unescape(found.group(1)) if found else None


def summary_value(html: str, key: str) -> str:
    """The value next to ``key`` in a summary list, as text."""
    found = re.search(
        rf'<dt class="govuk-summary-list__key">\s*{re.escape(key)}\s*</dt>\s*<dd class="govuk-summary-list__value">(.*?)</dd>',
        html,
        re.S,
    )
    assert found, f"no summary row {key!r}"
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", found.group(1)))).strip()


async def test_someone_not_signed_in_is_sent_to_sign_in_and_brought_back(portal: httpx.AsyncClient) -> None:
    for path in ("/systems?q=orchard", "/contracts"):
        answer = await portal.get(path)
        assert answer.status_code == 303
        assert answer.headers["location"] == f"/sign-in?next={path}"


async def test_the_register_lists_every_demo_system_with_its_supplier_stage_owner_and_service_area(
    portal: httpx.AsyncClient, sign_in: SignIn
) -> None:
    await sign_in(portal, "tda-chair")
    page = await portal.get("/systems")
    assert page.status_code == 200
    text = text_of(page.text)
    assert "12 systems" in text
    assert {"Orchard", "Storm", "Tascomi", "AccuServe", "govmetric"} <= set(system_names(page.text))
    assert "SYS-00001 Orchard MRI Software Live Sam Whitfield Housing Services (City Homes)" in text
    assert "Retired" in text
    assert "Apply filters" in text
    assert "Selected filters" not in text


async def test_a_search_narrows_the_register_and_says_what_it_searched_for(
    portal: httpx.AsyncClient, sign_in: SignIn
) -> None:
    await sign_in(portal, "tda-member")
    page = await portal.get("/systems", params={"q": "housing management"})
    names = system_names(page.text)
    assert "Orchard" in names
    assert "Storm" not in names
    text = text_of(page.text)
    assert f"{len(names)} system" in text
    assert "Remove filter Search: housing management" in text
    assert 'href="/systems">Clear filters</a>' in page.text
    assert 'value="housing management"' in page.text  # the search box keeps what was typed

    nothing = await portal.get("/systems", params={"q": "no such system anywhere"})
    assert "No systems match these filters" in text_of(nothing.text)


async def test_filters_and_pagination_keep_the_query_from_page_to_page(
    portal: httpx.AsyncClient, sign_in: SignIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(register, "PAGE_SIZE", 3)
    await sign_in(portal, "auditor")
    page = await portal.get("/systems", params={"lifecycle_stage": "live", "hosting": "saas"})
    assert page.status_code == 200
    assert "Remove filter Lifecycle stage: Live" in text_of(page.text)
    assert "Remove filter Hosting: Software as a service (SaaS)" in text_of(page.text)
    assert pagination_link(page.text, "prev") is None
    seen = system_names(page.text)
    addresses = []
    while (following := pagination_link(page.text, "next")) is not None:
        query = parse_qs(urlsplit(following).query)
        assert query["lifecycle_stage"] == ["live"]
        assert query["hosting"] == ["saas"]
        addresses.append(following)
        page = await portal.get(following)
        assert page.status_code == 200
        assert "7 systems" in text_of(page.text)
        seen += system_names(page.text)
    assert len(addresses) == 2  # 7 systems, 3 to a page
    assert sorted(seen) == sorted(LIVE_SAAS)

    # The last page's "Previous" leads back to the second, filters and all.
    back = pagination_link(page.text, "prev")
    assert back is not None
    assert parse_qs(urlsplit(back).query)["hosting"] == ["saas"]
    second = await portal.get(back)
    assert system_names(second.text) == system_names((await portal.get(addresses[0])).text)
    first = pagination_link(second.text, "prev")
    assert first is not None and "cursor" not in first and "lifecycle_stage=live" in first


async def test_a_filter_the_register_cannot_read_is_shown_against_its_field(
    portal: httpx.AsyncClient, sign_in: SignIn
) -> None:
    await sign_in(portal, "tda-chair")
    page = await portal.get("/systems", params={"supplier_id": "not-a-supplier"})
    assert page.status_code == 400
    assert "There is a problem" in page.text
    assert 'href="#supplier_id"' in page.text
    assert "<title>Error: Register of systems" in page.text


async def test_an_owner_can_list_only_the_systems_and_contracts_they_own(
    portal: httpx.AsyncClient, sign_in: SignIn
) -> None:
    await sign_in(portal, "owner")  # Ravi Patel owns the IEG4 forms and their contract
    systems = await portal.get("/systems", params={"mine": "yes"})
    assert system_names(systems.text) == ["IEG4 online forms"]
    assert "Remove filter Owner: Systems I own" in text_of(systems.text)
    contracts = await portal.get("/contracts", params={"mine": "yes"})
    assert "1 contract" in text_of(contracts.text)
    assert "CCC-ICT-0002" in contracts.text
    assert "CCC-ICT-0003" not in contracts.text


async def test_the_system_page_shows_its_owners_data_protection_contracts_and_history(
    portal: httpx.AsyncClient, sign_in: SignIn, stack: Stack, portal_auth: AuthSettings
) -> None:
    await sign_in(portal, "tda-chair")
    address = link_to((await portal.get("/systems")).text, "Storm")
    system_id = address.rsplit("/", 1)[1]

    # Someone records the completed DPIA through the register's API: the history says who and what.
    token = mint_token(
        portal_auth, subject="tom", roles=["tda_member"], email="tom.reid@cambridge.gov.uk", name="Tom Reid"
    )
    api = stack.clients["register"]
    headers = {"Authorization": f"Bearer {token}"}
    current = await api.get(f"/api/v1/systems/{system_id}", headers=headers)
    changed = await api.patch(
        f"/api/v1/systems/{system_id}",
        json={"dpia_status": "completed", "dpia_date": "2026-11-02"},
        headers={**headers, "If-Match": current.headers["etag"]},
    )
    assert changed.status_code == 200, changed.text

    page = await portal.get(address)
    assert page.status_code == 200
    assert '<h1 class="govuk-heading-l">Storm</h1>' in page.text
    assert 'href="/systems">Register of systems</a>' in page.text  # breadcrumbs
    assert summary_value(page.text, "System owner").startswith("Nadia Begum nadia.begum@cambridge.gov.uk")
    assert summary_value(page.text, "Holds personal data") == "Yes"
    assert summary_value(page.text, "DPIA (data protection impact assessment)") == "Completed 2 November 2026"
    assert summary_value(page.text, "RoPA (record of processing activities)") == "Completed"
    assert summary_value(page.text, "Hosting") == "Software as a service (SaaS)"
    assert summary_value(page.text, "Contract owner (CCC-ICT-0004)").startswith("Nadia Begum")
    assert summary_value(page.text, "Budget holder (CCC-ICT-0004)").startswith("Tom Ellis")
    contract = link_to(page.text, "CCC-ICT-0004", "contracts")
    assert contract.startswith("/contracts/")
    text = text_of(page.text)
    assert "Storm contact centre platform" in text
    assert "£96,000" in text
    history = text[text.rindex("History") :]
    assert "tom.reid@cambridge.gov.uk Changed" in history
    assert "DPIA status: In progress → changed to Completed" in history
    assert "DPIA date: (blank) → changed to 2 November 2026" in history
    assert "demo-data@estate.local Recorded" in history
    assert history.index("Changed") < history.index("Recorded")  # newest first


async def test_a_system_page_for_a_requester_leaves_out_what_the_register_keeps_from_them(
    portal: httpx.AsyncClient, sign_in: SignIn
) -> None:
    await sign_in(portal, "requester")
    browse = await portal.get("/systems")
    assert browse.status_code == 200
    assert "12 systems" in text_of(browse.text)
    assert ">Owner</th>" not in browse.text  # the register does not show people to requesters
    page = await portal.get(link_to(browse.text, "Orchard"))
    assert page.status_code == 200
    text = text_of(page.text)
    assert "Recorded (people's details are not shown to your role)" in text
    assert "Contracts are shown to staff who manage the estate" in text
    assert "The history of changes is shown to the TDA, auditors and administrators." in text
    refused = await portal.get("/contracts")
    assert refused.status_code == 403
    assert "You cannot see this page" in refused.text


async def test_the_contract_register_lists_contracts_and_filters_by_supplier_and_search(
    portal: httpx.AsyncClient, sign_in: SignIn
) -> None:
    await sign_in(portal, "contract-manager")
    page = await portal.get("/contracts")
    assert page.status_code == 200
    text = text_of(page.text)
    assert "8 contracts" in text
    assert "CCC-ICT-0001 : 3C ICT shared-service agreement" in text
    assert "£3,007,092" in text
    supplier = re.search(r'<option value="([0-9a-f-]{36})">MRI Software</option>', page.text)
    assert supplier
    mri = await portal.get("/contracts", params={"supplier_id": supplier.group(1), "status": "active"})
    mri_text = text_of(mri.text)
    assert "1 contract" in mri_text
    assert "CCC-ICT-0003" in mri_text
    assert "Remove filter Supplier: MRI Software" in mri_text
    assert "Remove filter Status: Active" in mri_text
    search = await portal.get("/contracts", params={"q": "storm"})
    assert "CCC-ICT-0004" in search.text
    assert "CCC-ICT-0002" not in search.text


async def test_the_contract_page_shows_terms_money_people_and_history_and_says_when_notice_is_not_recorded(
    portal: httpx.AsyncClient, sign_in: SignIn
) -> None:
    await sign_in(portal, "auditor")
    listing = await portal.get("/contracts")
    miro = await portal.get(link_to(listing.text, "CCC-ICT-0007", "contracts"))
    assert miro.status_code == 200
    assert summary_value(miro.text, "Notice period") == "Not recorded"  # the demo data gives Miro none
    assert summary_value(miro.text, "Annual value") == "£2,400"
    assert summary_value(miro.text, "Contract owner") == "Not recorded"
    assert summary_value(miro.text, "Systems covered") == "Miro (SYS-00008)"
    assert 'href="/contracts">Contract register</a>' in miro.text  # breadcrumbs

    orchard = await portal.get(link_to(listing.text, "CCC-ICT-0003", "contracts"))
    assert summary_value(orchard.text, "Notice period") == "90 days"
    assert summary_value(orchard.text, "Annual value") == "£184,500"
    assert summary_value(orchard.text, "Total value") == "£553,500"
    assert summary_value(orchard.text, "Renewal type") == "Tacit: renews automatically unless notice is given"
    assert summary_value(orchard.text, "Budget holder").startswith("Tom Ellis tom.ellis@cambridge.gov.uk")
    assert summary_value(orchard.text, "Signatory").startswith("Alex Morgan")
    covered = summary_value(orchard.text, "Systems covered")
    assert "Orchard (SYS-00001)" in covered and "AccuServe (SYS-00005)" in covered
    assert re.search(r'href="/systems/[0-9a-f-]{36}">AccuServe</a>', orchard.text)
    text = text_of(orchard.text)
    assert "No renewal decision has been recorded for this contract." in text
    assert "demo-data@estate.local Recorded" in text


async def test_an_unknown_system_or_contract_is_a_page_not_found(
    portal: httpx.AsyncClient, sign_in: SignIn
) -> None:
    await sign_in(portal, "tda-chair")
    for path in (
        "/systems/6b1f3b1e-0000-4000-8000-000000000000",
        "/contracts/6b1f3b1e-0000-4000-8000-000000000000",
        "/systems/not-an-id",
    ):
        answer = await portal.get(path)
        assert answer.status_code == 404, path
        assert "Page not found" in answer.text
        assert "Traceback" not in answer.text
