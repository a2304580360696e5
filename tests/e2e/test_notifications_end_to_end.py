"""Renewal alerts end to end: the register's and the notifications service's real processes, each on a
PostgreSQL database of its own, talking only through the broker, and a real SMTP server.

What a contract owner would see:

* a contract recorded in the register over HTTP, whose 180-day alert is due today, reaches the owner's
  inbox as an e-mail that says by when to act, with a personal link;
* the owner follows the link and records a renewal with a rationale; the register records the decision on
  the contract (the term moves on) and the notifications service's watch follows it, with no further
  alert for the old term;
* however often the sweep runs, the owner gets that alert once.
"""

from __future__ import annotations

import re
import uuid
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from e2e_support import NotificationsProcesses, RegisterProcesses, ServiceProcesses, eventually

from estate_runtime.auth import AuthSettings, mint_token

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

ADMIN = {"id": "e2e-admin", "name": "Estate Admin", "email": "estate.admin@cambridge.gov.uk"}
OWNER = {"id": "e2e-owner", "name": "Priya Shah", "email": "priya.shah@cambridge.gov.uk"}


def client(
    service: ServiceProcesses, who: dict[str, str], *roles: str, api: bool = True
) -> httpx.AsyncClient:
    settings = AuthSettings(dev_key_path=service.env["ESTATE_AUTH_DEV_KEY_PATH"])
    token = mint_token(settings, subject=who["id"], roles=roles, email=who["email"], name=who["name"])
    return httpx.AsyncClient(
        base_url=service.http_url + ("/api/v1" if api else ""),
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )


async def test_a_contract_recorded_in_the_register_reaches_its_owner_by_email_and_the_decision_comes_back(
    register: RegisterProcesses, notifications: NotificationsProcesses
) -> None:
    register.run("migrate")
    notifications.run("migrate")
    for name in ("http", "worker", "relay"):
        register.start(name)
    for name in ("smtp-sink", "worker", "relay", "sweep", "send", "http"):
        notifications.start(name)
    await register.wait_http_ready()
    await notifications.wait_http_ready()

    # Term end so that act-by (term end - 90 days' notice - 30 days' lead time) is 180 days from today:
    # the 180-day alert is due now.
    today = date.today()
    term_end = today + timedelta(days=180 + 120)
    async with client(register, ADMIN, "admin") as admin:
        owner = (await admin.post("/people", json={"name": OWNER["name"], "email": OWNER["email"]})).json()
        supplier = (await admin.post("/suppliers", json={"name": "IEG4"})).json()
        created = await admin.post(
            "/contracts",
            json={
                "reference": "CON-E2E-1",
                "title": "Benefits e-forms",
                "supplier_id": supplier["id"],
                "contract_type": "saas_subscription",
                "start_date": (today - timedelta(days=700)).isoformat(),
                "initial_term_end": term_end.isoformat(),
                "renewal_type": "express",
                "notice_period_days": 90,
                "internal_lead_time_days": 30,
                "annual_value": "100000.00",
                "owner_id": owner["id"],
            },
        )
        assert created.status_code == 201, created.text
        contract: dict[str, Any] = created.json()

    async with client(notifications, OWNER, "owner") as me:

        async def alert_mail() -> list[dict[str, Any]] | None:
            response = await me.get("/sink/messages", params={"to": OWNER["email"]})
            mail: list[dict[str, Any]] = response.json() if response.status_code == 200 else []
            return mail or None

        mail = await eventually(alert_mail, timeout_s=120, what="the 180-day alert in the owner's inbox")
        assert len(mail) == 1
        message = mail[0]
        assert message["subject"].startswith("Act by ")
        assert "renewal of CON-E2E-1 Benefits e-forms (IEG4)" in message["subject"]
        link = re.search(r"http://\S+/act/(\S+)", message["text"])
        assert link, message["text"]
        token = link.group(1)

        new_end = term_end + timedelta(days=365)
        async with httpx.AsyncClient(base_url=notifications.http_url, timeout=30) as public:
            page = await public.get(f"/act/{token}")
            assert page.status_code == 200 and "CON-E2E-1" in page.text
            decided = await public.post(
                f"/api/v1/links/{token}/decision",
                json={
                    "outcome": "renew",
                    "rationale": "Good value; market test showed no cheaper option.",
                    "new_term_end": new_end.isoformat(),
                },
            )
            assert decided.status_code in (200, 201, 202), decided.text

    async with client(register, ADMIN, "admin") as admin:

        async def renewed() -> dict[str, Any] | None:
            body: dict[str, Any] = (await admin.get(f"/contracts/{contract['id']}")).json()
            return body if body["current_term_end"] == new_end.isoformat() else None

        after = await eventually(renewed, timeout_s=120, what="the renewal recorded in the register")
        [decision] = after["renewal_decisions"]
        assert decision["outcome"] == "renew"
        assert decision["rationale"].startswith("Good value")

    async with client(notifications, ADMIN, "admin") as admin:

        async def watch_moved_on() -> dict[str, Any] | None:
            body: dict[str, Any] = (await admin.get(f"/renewals/{contract['id']}")).json()
            return body if body.get("term_end") == new_end.isoformat() else None

        await eventually(watch_moved_on, timeout_s=120, what="the renewal watch on the new term")
        sent = (await admin.get("/deliveries", params={"recipient": OWNER["email"]})).json()
        items = sent["items"] if isinstance(sent, dict) else sent
        assert len([d for d in items if d["status"] == "sent"]) == 1  # many sweeps later, still one alert
    assert uuid.UUID(contract["id"])
