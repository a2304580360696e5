"""Delivery channels against real servers: aiosmtpd SMTP servers, raw TCP servers, and an HTTP server.

What an operator relies on: a delivered alert looks right in a mail client (subject, names, both parts);
a retried send carries the same Message-ID; a failure says which server and what it answered, and is
permanent only when retrying cannot help; the development sink shows what was sent.
"""

from __future__ import annotations

import asyncio
import json
import mailbox
import re
import sys
import time
import uuid
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from notifications_channel_servers import (
    HOST,
    HttpScript,
    SmtpScript,
    http_server,
    refusing_port,
    self_signed_tls,
    silent_server,
    smtp_server,
)

from estate_notifications.adapters.channels import (
    Channel,
    DeliveryFailed,
    OutgoingMessage,
    SmtpChannel,
    SmtpSettings,
    SmtpSink,
    TeamsCard,
    TeamsChannel,
    read_sink,
)

FROM = "renewals@estate.example.gov.uk"


def smtp_settings(port: int, **overrides: object) -> SmtpSettings:
    values: dict[str, object] = {
        "host": HOST,
        "port": port,
        "from_address": FROM,
        "security": "none",
        "timeout_seconds": 5.0,
    }
    values.update(overrides)
    return SmtpSettings(**values)  # type: ignore[arg-type]


def alert(
    to_email: str = "ann.owner@example.gov.uk", *, html: str | None = "<p>Renew <b>Mosaic</b> by 1 May</p>"
) -> OutgoingMessage:
    return OutgoingMessage(
        delivery_id=uuid.uuid4(),
        to_email=to_email,
        to_name="Ann Owner",
        subject="Mosaic: notice period ends in 30 days",
        text="Renew Mosaic by 1 May.\nDecide before the notice period ends.",
        html=html,
        headers={"X-Estate-Contract": "C-0042"},
    )


# --- SMTP: delivery --------------------------------------------------------------------------------


async def test_an_alert_arrives_with_both_parts_and_a_message_id_from_its_delivery_id() -> None:
    script = SmtpScript()
    message = alert()
    async with smtp_server(script) as port:
        channel = SmtpChannel(smtp_settings(port))
        assert isinstance(channel, Channel)
        provider_id = await channel.send(message)

    expected_id = f"<{message.delivery_id}@estate.notifications>"
    assert provider_id == expected_id
    [mail] = script.received
    assert mail.mail_from == FROM
    assert mail.rcpt_tos == ["ann.owner@example.gov.uk"]
    received = mail.message
    assert received["Subject"] == "Mosaic: notice period ends in 30 days"
    assert received["From"] == f"Estate renewals <{FROM}>"
    assert received["To"] == "Ann Owner <ann.owner@example.gov.uk>"
    assert received["Message-ID"] == expected_id
    assert received["X-Estate-Delivery-Id"] == str(message.delivery_id)
    assert received["X-Estate-Contract"] == "C-0042"
    assert received["Auto-Submitted"] == "auto-generated"
    assert received["Date"].datetime.tzinfo is not None
    assert received.get_content_type() == "multipart/alternative"
    text = received.get_body(preferencelist=("plain",))
    html = received.get_body(preferencelist=("html",))
    assert text is not None
    assert html is not None
    assert text.get_content() == "Renew Mosaic by 1 May.\nDecide before the notice period ends.\n"
    assert html.get_content() == "<p>Renew <b>Mosaic</b> by 1 May</p>\n"


async def test_a_retried_send_carries_the_same_message_id_so_mail_systems_can_drop_the_duplicate() -> None:
    script = SmtpScript()
    message = alert()
    async with smtp_server(script) as port:
        channel = SmtpChannel(smtp_settings(port))
        first = await channel.send(message)
        second = await channel.send(message)

    assert first == second
    assert [mail.message["Message-ID"] for mail in script.received] == [first, first]


async def test_a_text_only_alert_is_a_single_plain_part_and_non_ascii_survives() -> None:
    script = SmtpScript()
    message = OutgoingMessage(
        delivery_id=uuid.uuid4(),
        to_email="sian.jones@example.gov.uk",
        to_name="Siân Jones",
        subject="Cyngor: £12,500 renewal for Mosaic — decide by 1 May",
        text="Annual cost £12,500. Perchennog: Siân.",
        html=None,
    )
    async with smtp_server(script) as port:
        await SmtpChannel(smtp_settings(port, from_name="Adnewyddu Estate")).send(message)

    received = script.received[0].message
    assert received.get_content_type() == "text/plain"
    assert received["Subject"] == "Cyngor: £12,500 renewal for Mosaic — decide by 1 May"
    assert received["To"] == "Siân Jones <sian.jones@example.gov.uk>"
    assert received["From"] == f"Adnewyddu Estate <{FROM}>"
    assert received.get_content() == "Annual cost £12,500. Perchennog: Siân.\n"


# --- SMTP: failures an operator sees ---------------------------------------------------------------


async def test_a_550_for_the_recipient_is_permanent_and_quotes_the_server() -> None:
    async with smtp_server(SmtpScript(rcpt_reply="550 5.1.1 no such user")) as port:
        with pytest.raises(DeliveryFailed) as failed:
            await SmtpChannel(smtp_settings(port)).send(alert("gone@example.gov.uk"))

    assert failed.value.permanent is True
    assert failed.value.reason == (
        f"SMTP server {HOST}:{port} refused the recipient gone@example.gov.uk: 550 5.1.1 no such user"
    )
    assert str(failed.value) == failed.value.reason


async def test_a_451_for_the_recipient_is_transient() -> None:
    async with smtp_server(SmtpScript(rcpt_reply="451 4.7.1 greylisted, try again later")) as port:
        with pytest.raises(DeliveryFailed) as failed:
            await SmtpChannel(smtp_settings(port)).send(alert())

    assert failed.value.permanent is False
    assert "451 4.7.1 greylisted, try again later" in failed.value.reason
    assert f"{HOST}:{port}" in failed.value.reason


async def test_a_554_refusing_the_message_content_is_permanent() -> None:
    async with smtp_server(SmtpScript(data_reply="554 5.7.1 message content rejected")) as port:
        with pytest.raises(DeliveryFailed) as failed:
            await SmtpChannel(smtp_settings(port)).send(alert())

    assert failed.value.permanent is True
    assert failed.value.reason == (
        f"SMTP server {HOST}:{port} refused the message: 554 5.7.1 message content rejected"
    )


async def test_a_server_that_never_answers_fails_transiently_within_the_timeout() -> None:
    async with silent_server() as port:
        channel = SmtpChannel(smtp_settings(port, timeout_seconds=0.5))
        started = time.monotonic()
        with pytest.raises(DeliveryFailed) as failed:
            await channel.send(alert())
        elapsed = time.monotonic() - started

    assert failed.value.permanent is False
    assert failed.value.reason.startswith(f"SMTP server {HOST}:{port} did not answer within 0.5 s")
    assert 0.4 < elapsed < 2.0


async def test_a_refused_connection_is_transient_and_names_the_server() -> None:
    with refusing_port() as port, pytest.raises(DeliveryFailed) as failed:
        await SmtpChannel(smtp_settings(port)).send(alert())

    assert failed.value.permanent is False
    assert failed.value.reason == f"Could not connect to SMTP server {HOST}:{port}: connection refused"


async def test_an_address_that_cannot_be_e_mailed_fails_permanently_without_contacting_the_server() -> None:
    script = SmtpScript()
    async with smtp_server(script) as port:
        with pytest.raises(DeliveryFailed) as failed:
            await SmtpChannel(smtp_settings(port)).send(alert("ann owner at example"))

    assert failed.value.permanent is True
    assert "'ann owner at example'" in failed.value.reason
    assert script.connections == 0


async def test_a_line_break_in_the_subject_cannot_inject_headers() -> None:
    script = SmtpScript()
    injected = OutgoingMessage(
        delivery_id=uuid.uuid4(),
        to_email="ann.owner@example.gov.uk",
        to_name=None,
        subject="Renewal\r\nBcc: everyone@example.gov.uk",
        text="x",
    )
    async with smtp_server(script) as port:
        with pytest.raises(DeliveryFailed) as failed:
            await SmtpChannel(smtp_settings(port)).send(injected)

    assert failed.value.permanent is True
    assert "cannot be encoded as e-mail" in failed.value.reason
    assert script.received == []


def test_a_message_cannot_override_the_headers_the_channel_owns() -> None:
    with pytest.raises(ValueError, match="'Message-ID' is set by the channel"):
        OutgoingMessage(uuid.uuid4(), "a@example.gov.uk", None, "s", "t", headers={"Message-ID": "<x@y>"})


# --- SMTP: login and TLS ---------------------------------------------------------------------------


# The plain-text AUTH tests need a server that allows AUTH without TLS, which aiosmtpd rightly warns about.
plain_text_auth = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")


@plain_text_auth
async def test_configured_credentials_are_sent_with_auth() -> None:
    script = SmtpScript(credentials=("estate-relay", "s3cret"))
    async with smtp_server(script, auth_require_tls=False) as port:
        await SmtpChannel(smtp_settings(port, username="estate-relay", password="s3cret")).send(alert())

    assert script.logins
    mechanism, login, password = script.logins[-1]
    assert mechanism in {"PLAIN", "LOGIN"}
    assert (login, password) == ("estate-relay", "s3cret")
    assert script.received[0].login == "estate-relay"


@plain_text_auth
async def test_a_refused_login_is_transient_and_names_the_user_but_not_the_password() -> None:
    script = SmtpScript(credentials=("estate-relay", "s3cret"))
    async with smtp_server(script, auth_require_tls=False) as port:
        with pytest.raises(DeliveryFailed) as failed:
            await SmtpChannel(smtp_settings(port, username="estate-relay", password="wrong")).send(alert())

    assert failed.value.permanent is False
    assert failed.value.reason.startswith(
        f"SMTP server {HOST}:{port} refused the login for user 'estate-relay'"
    )
    assert "535" in failed.value.reason
    assert "wrong" not in failed.value.reason
    assert script.received == []


def test_the_password_is_not_in_the_settings_repr() -> None:
    settings = smtp_settings(587, username="estate-relay", password="s3cret")
    assert "s3cret" not in repr(settings)


async def test_starttls_then_login_as_on_a_submission_port(tmp_path: Path) -> None:
    tls = self_signed_tls(tmp_path)
    script = SmtpScript(credentials=("estate-relay", "s3cret"))
    async with smtp_server(script, starttls_context=tls.server_context) as port:
        await SmtpChannel(
            smtp_settings(
                port, security="starttls", validate_certs=False, username="estate-relay", password="s3cret"
            )
        ).send(alert())

    [mail] = script.received
    assert mail.tls is True
    assert mail.login == "estate-relay"


async def test_an_untrusted_certificate_is_refused_when_certificates_are_validated(tmp_path: Path) -> None:
    tls = self_signed_tls(tmp_path)
    script = SmtpScript()
    async with smtp_server(script, starttls_context=tls.server_context) as port:
        with pytest.raises(DeliveryFailed) as failed:
            await SmtpChannel(smtp_settings(port, security="starttls", validate_certs=True)).send(alert())

    assert failed.value.permanent is False
    assert f"{HOST}:{port}" in failed.value.reason
    assert "CERTIFICATE_VERIFY_FAILED" in failed.value.reason
    assert script.received == []


async def test_starttls_is_required_when_configured_never_silently_skipped() -> None:
    script = SmtpScript()
    async with smtp_server(script) as port:  # offers no STARTTLS
        with pytest.raises(DeliveryFailed) as failed:
            await SmtpChannel(smtp_settings(port, security="starttls")).send(alert())

    assert failed.value.permanent is False
    assert "STARTTLS" in failed.value.reason
    assert script.received == []


async def test_implicit_tls(tmp_path: Path) -> None:
    tls = self_signed_tls(tmp_path)
    script = SmtpScript()
    async with smtp_server(script, implicit_tls_context=tls.server_context) as port:
        await SmtpChannel(smtp_settings(port, security="tls", validate_certs=False)).send(alert())

    assert len(script.received) == 1


# --- The development SMTP sink ---------------------------------------------------------------------


async def test_the_sink_stores_what_the_channel_sends_and_lists_it_newest_first(tmp_path: Path) -> None:
    maildir = tmp_path / "mail"
    first, second, third = (
        alert("ann.owner@example.gov.uk"),
        alert("bob@example.gov.uk"),
        alert("Ann.Owner@Example.gov.uk", html=None),
    )
    async with SmtpSink(maildir, port=0) as sink:
        assert sink.port != 0
        channel = SmtpChannel(smtp_settings(sink.port))
        for message in (first, second, third):
            await channel.send(message)

    listed = read_sink(maildir)
    assert [m.message_id for m in listed] == [
        f"<{m.delivery_id}@estate.notifications>" for m in (third, second, first)
    ]
    newest_with_html = listed[2]
    assert newest_with_html.from_address == FROM
    assert newest_with_html.to == ["ann.owner@example.gov.uk"]
    assert newest_with_html.subject == "Mosaic: notice period ends in 30 days"
    assert newest_with_html.text == "Renew Mosaic by 1 May.\nDecide before the notice period ends.\n"
    assert newest_with_html.html == "<p>Renew <b>Mosaic</b> by 1 May</p>\n"
    assert newest_with_html.headers == {"X-Estate-Delivery-Id": str(first.delivery_id)}
    assert isinstance(newest_with_html.date, datetime)
    assert newest_with_html.date.tzinfo is not None
    assert listed[0].html is None
    assert listed[0].received_at is not None
    assert listed[2].received_at is not None
    assert listed[0].received_at > listed[2].received_at

    for_ann = read_sink(maildir, to="ANN.OWNER@example.GOV.uk")
    assert [m.message_id for m in for_ann] == [listed[0].message_id, listed[2].message_id]
    assert [m.message_id for m in read_sink(maildir, limit=1)] == [listed[0].message_id]
    assert read_sink(maildir, to="nobody@example.gov.uk") == []
    # A standard Maildir: any mail tool can read it.
    assert {str(m["Message-ID"]) for m in mailbox.Maildir(maildir, create=False)} == {
        m.message_id for m in listed
    }


def test_reading_a_sink_that_never_received_anything_gives_nothing(tmp_path: Path) -> None:
    assert read_sink(tmp_path / "not-created-yet") == []


async def test_a_stopped_sink_refuses_connections(tmp_path: Path) -> None:
    sink = SmtpSink(tmp_path, port=0)
    await sink.start()
    port = sink.port
    await sink.stop()

    with pytest.raises(DeliveryFailed) as failed:
        await SmtpChannel(smtp_settings(port, timeout_seconds=2)).send(alert())
    assert failed.value.reason.startswith(f"Could not connect to SMTP server {HOST}:{port}")


async def test_the_sink_command_logs_where_it_listens_and_stops_on_sigterm(tmp_path: Path) -> None:
    maildir = tmp_path / "sink"
    program = (
        "import logging, sys\n"
        "from pathlib import Path\n"
        "from estate_notifications.adapters.channels import run_sink\n"
        "logging.basicConfig(level=logging.INFO, format='%(message)s', stream=sys.stdout)\n"
        f"run_sink('{HOST}', 0, Path({str(maildir)!r}))\n"
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", program, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    try:
        assert process.stdout is not None
        ready = (await asyncio.wait_for(process.stdout.readline(), timeout=30)).decode().strip()
        match = re.fullmatch(rf"SMTP sink listening on {re.escape(HOST)}:(\d+), writing to (.+)", ready)
        assert match is not None, ready
        assert match.group(2) == str(maildir)
        message = alert()
        await SmtpChannel(smtp_settings(int(match.group(1)))).send(message)
        process.terminate()
        assert await asyncio.wait_for(process.wait(), timeout=30) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()

    [stored] = read_sink(maildir)
    assert stored.headers["X-Estate-Delivery-Id"] == str(message.delivery_id)


# --- Microsoft Teams -------------------------------------------------------------------------------

WEBHOOK_PATH = "/webhookb2/council-estate/IncomingWebhook/abc123?sig=SECRET-SIGNATURE"

CARD = TeamsCard(
    title="Mosaic: notice period ends in 30 days",
    facts=[("Supplier", "Servelec"), ("Annual cost", "£12,500"), ("Notice by", "1 May 2026")],
    text="Decide whether to renew before the notice period ends.",
    actions=[("Open in Estate", "https://estate.example.gov.uk/contracts/C-0042")],
)


async def test_a_teams_alert_posts_an_adaptive_card() -> None:
    script = HttpScript(status=200, body=b"1")
    delivery_id = uuid.uuid4()
    async with http_server(script) as base, TeamsChannel(base + WEBHOOK_PATH) as teams:
        provider_id = await teams.post(CARD, delivery_id=delivery_id)

    assert provider_id == f"teams:{delivery_id}"
    [request] = script.requests
    assert request.method == "POST"
    assert request.target == WEBHOOK_PATH
    assert request.headers["content-type"] == "application/json; charset=utf-8"
    assert request.headers["x-estate-delivery-id"] == str(delivery_id)
    assert json.loads(request.body) == {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": [
                        {
                            "type": "TextBlock",
                            "text": "Mosaic: notice period ends in 30 days",
                            "size": "Large",
                            "weight": "Bolder",
                            "wrap": True,
                        },
                        {
                            "type": "TextBlock",
                            "text": "Decide whether to renew before the notice period ends.",
                            "wrap": True,
                        },
                        {
                            "type": "FactSet",
                            "facts": [
                                {"title": "Supplier", "value": "Servelec"},
                                {"title": "Annual cost", "value": "£12,500"},
                                {"title": "Notice by", "value": "1 May 2026"},
                            ],
                        },
                    ],
                    "actions": [
                        {
                            "type": "Action.OpenUrl",
                            "title": "Open in Estate",
                            "url": "https://estate.example.gov.uk/contracts/C-0042",
                        }
                    ],
                    "msteams": {"width": "Full"},
                },
            }
        ],
    }


async def test_a_teams_500_is_transient_and_the_webhook_secret_stays_out_of_the_reason() -> None:
    script = HttpScript(status=500, body=b"upstream failure")
    async with http_server(script) as base, TeamsChannel(base + WEBHOOK_PATH) as teams:
        with pytest.raises(DeliveryFailed) as failed:
            await teams.post(CARD, delivery_id=uuid.uuid4())

    assert failed.value.permanent is False
    assert failed.value.reason == f"Teams webhook at {HOST} answered HTTP 500: upstream failure"
    assert "SECRET" not in failed.value.reason
    assert "SECRET" not in repr(teams)


async def test_a_teams_400_is_permanent() -> None:
    script = HttpScript(status=400, body=b"Bad payload received by generic incoming webhook.")
    async with http_server(script) as base, TeamsChannel(base + WEBHOOK_PATH) as teams:
        with pytest.raises(DeliveryFailed) as failed:
            await teams.post(CARD, delivery_id=uuid.uuid4())

    assert failed.value.permanent is True
    assert failed.value.reason == (
        f"Teams webhook at {HOST} answered HTTP 400: Bad payload received by generic incoming webhook."
    )


async def test_a_teams_429_is_transient_and_passes_on_retry_after() -> None:
    script = HttpScript(status=429, body=b"", headers={"Retry-After": "30"})
    async with http_server(script) as base, TeamsChannel(base + WEBHOOK_PATH) as teams:
        with pytest.raises(DeliveryFailed) as failed:
            await teams.post(CARD, delivery_id=uuid.uuid4())

    assert failed.value.permanent is False
    assert failed.value.retry_after_seconds == 30.0
    assert failed.value.reason == f"Teams webhook at {HOST} answered HTTP 429 (retry after 30 s)"


async def test_a_connector_error_hidden_in_a_200_is_still_a_failure() -> None:
    script = HttpScript(
        status=200,
        body=b"Microsoft Teams endpoint returned HTTP error 429 with ContextId tcid=0,server=msgapi",
    )
    async with http_server(script) as base, TeamsChannel(base + WEBHOOK_PATH) as teams:
        with pytest.raises(DeliveryFailed) as failed:
            await teams.post(CARD, delivery_id=uuid.uuid4())

    assert failed.value.permanent is False
    assert failed.value.reason.startswith(f"Teams webhook at {HOST} answered HTTP 429:")


async def test_a_teams_webhook_that_does_not_answer_fails_transiently_within_the_timeout() -> None:
    script = HttpScript(delay_seconds=5)
    async with http_server(script) as base, TeamsChannel(base + WEBHOOK_PATH, timeout_seconds=0.5) as teams:
        started = time.monotonic()
        with pytest.raises(DeliveryFailed) as failed:
            await teams.post(CARD, delivery_id=uuid.uuid4())
        elapsed = time.monotonic() - started

    assert failed.value.permanent is False
    assert failed.value.reason == f"Teams webhook at {HOST} did not answer within 0.5 s"
    assert elapsed < 2.0


async def test_an_unreachable_teams_webhook_is_transient() -> None:
    with refusing_port() as port:
        async with TeamsChannel(f"http://{HOST}:{port}{WEBHOOK_PATH}") as teams:
            with pytest.raises(DeliveryFailed) as failed:
                await teams.post(CARD, delivery_id=uuid.uuid4())

    assert failed.value.permanent is False
    assert failed.value.reason.startswith(f"Could not reach the Teams webhook at {HOST}")
    assert "SECRET" not in failed.value.reason


async def test_a_card_too_large_for_teams_fails_permanently_before_posting() -> None:
    script = HttpScript()
    huge = TeamsCard(title="Many contracts", facts=[(f"Contract {n}", "x" * 200) for n in range(200)])
    async with http_server(script) as base, TeamsChannel(base + WEBHOOK_PATH) as teams:
        with pytest.raises(DeliveryFailed) as failed:
            await teams.post(huge, delivery_id=uuid.uuid4())

    assert failed.value.permanent is True
    assert "webhook limit" in failed.value.reason
    assert script.requests == []


async def test_a_shared_http_client_is_used_and_left_open() -> None:
    script = HttpScript()
    async with http_server(script) as base, httpx.AsyncClient() as client:
        async with TeamsChannel(base + WEBHOOK_PATH, client=client) as teams:
            await teams.post(CARD, delivery_id=uuid.uuid4())
        assert not client.is_closed
    assert len(script.requests) == 1
