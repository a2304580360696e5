"""The public routes: calendar feeds and the action links of alert e-mails. None takes a bearer token;
each is guarded by the secret in its URL instead.

* ``GET /calendar/{token}.ics``: a calendar feed (``text/calendar``). The token is random and only its
  hash is stored; an unknown token is 404, a revoked feed 410 (a calendar client then stops asking).
* ``/act/{token}``: the page an alert's link opens, in the GOV.UK style, with no JavaScript: the
  contract, the alert, a form to acknowledge it and a form to record the renewal decision. Forms post
  back to ``/act/{token}/acknowledge`` and ``/act/{token}/decision`` and are answered with a
  confirmation page, or the page again with an error summary (422 for input to correct, 409 when the
  contract's state does not allow it).
* ``/api/v1/links/{token}`` (GET, and POST ``/acknowledge`` and ``/decision``): the same, in JSON, for
  the portal.

The link's signed token is the credential: it names one alert of one contract and one recipient, and
expires. A token that is not exactly one this service signed is refused (400, saying only that the link
is not valid); a genuine one past its expiry is 410. Whoever acts through a link acts as the link's
recipient (``recipient_email``), and the audit trail says it was through a link.

Pages that hold a token are never cached and never send a Referer, so the token does not leak to
another site or a shared cache.
"""

from __future__ import annotations

import html
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

from fastapi import APIRouter, Request, Response, status
from fastapi.responses import HTMLResponse
from sqlalchemy import Text, cast, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from estate_notifications.adapters.db.records import (
    AlertRecord,
    CalendarFeedRecord,
    DeliveryRecord,
    WatchedContractRecord,
    WatchedSystemRecord,
)
from estate_notifications.api.deps import ContainerDep, SessionDep
from estate_notifications.api.routes import alert_out, decision_out
from estate_notifications.api.schemas import (
    AlertOut,
    DecisionOut,
    LinkAcknowledgeIn,
    LinkContractOut,
    LinkDecisionIn,
    LinkOut,
)
from estate_notifications.application import actions
from estate_notifications.application.calendar_feed import FeedEntry, build_feed
from estate_notifications.application.links import ExpiredLink, InvalidLink, LinkClaims
from estate_notifications.application.messages import long_date
from estate_notifications.application.watch import PolicyBook
from estate_notifications.bootstrap import Container
from estate_notifications.domain.dates import london_today
from estate_notifications.domain.renewal import ALERTING_STATUSES, RenewalPosition
from estate_runtime.errors import DomainError, NotFound
from estate_runtime.problems import Problem, from_domain

router = APIRouter()

OUTCOMES: Final = ("renew", "extend", "reprocure", "terminate")
OUTCOME_WORDS: Final = {
    "renew": ("Renew", "A new term with the same supplier."),
    "extend": ("Extend", "Use one of the contract's extension options."),
    "reprocure": ("Re-procure", "Run a new procurement; this contract ends when its term ends."),
    "terminate": ("Terminate", "Give the supplier notice; the contract ends when its term ends."),
}
KIND_WORDS: Final = {"ladder": "Reminder", "overdue": "Overdue reminder", "term_end": "End of term"}
ROLE_WORDS: Final = {
    "contract_owner": "the contract owner",
    "budget_holder": "the budget holder",
    "system_owner": "the owner of a system this contract covers",
    "tda": "the Technical Design Authority",
}
MAX_FORM_BYTES: Final = 64 * 1024
# Nothing on these pages comes from elsewhere; forms post only back here; the token in the URL must not
# travel in a Referer header or sit in a shared cache.
HTML_HEADERS: Final = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'",
}


class LinkTargetGone(NotFound):
    """The alert or contract a genuine link names is no longer on record (the watch was rebuilt)."""

    def __init__(self) -> None:
        super().__init__(
            "The alert this link is for is no longer on record. Sign in to Estate to see the contract."
        )


# --- calendar feeds ------------------------------------------------------------------------------------


async def feed_entries(session: AsyncSession, feed: CalendarFeedRecord) -> list[FeedEntry]:
    """The contracts a feed shows: those that get alerts (active or expired), of the feed's owner (as
    contract owner, budget holder or owner of a system the contract covers) or, for the TDA, all."""
    query = select(WatchedContractRecord).where(WatchedContractRecord.status.in_(sorted(ALERTING_STATUSES)))
    if feed.scope == "person":
        email = (feed.owner_email or "").lower()
        systems = (
            await session.scalars(
                select(WatchedSystemRecord.system_id).where(
                    WatchedSystemRecord.owner_email == email, WatchedSystemRecord.retired.is_(False)
                )
            )
        ).all()
        owned: list[Any] = [
            WatchedContractRecord.owner_email == email,
            WatchedContractRecord.budget_holder_email == email,
        ]
        # system_ids is a JSON list of UUID strings; a text match works on every database, and a UUID
        # holds no LIKE wildcard.
        owned += [
            cast(WatchedContractRecord.system_ids, Text).like(f'%"{system_id}"%') for system_id in systems
        ]
        query = query.where(or_(*owned))
    rows = (await session.scalars(query.order_by(WatchedContractRecord.contract_id))).all()
    entries = []
    for row in rows:
        term_end = row.term_end or row.current_term_end
        entries.append(
            FeedEntry(
                contract_id=row.contract_id,
                contract_reference=row.reference,
                title=row.title,
                supplier=row.supplier_name,
                act_by=row.act_by,
                term_end=term_end,
                notice_unknown=row.notice_unknown,
                decided=row.decided_term_end == term_end,
                url=None,
                owner_name=row.owner_name,
            )
        )
    return entries


@router.get(
    "/calendar/{token}.ics",
    tags=["calendar"],
    summary="A calendar feed (public: the URL is the credential)",
    response_class=Response,
    responses={200: {"content": {"text/calendar": {}}, "description": "An iCalendar (RFC 5545) feed"}},
)
async def calendar_feed(token: str, session: SessionDep, container: ContainerDep) -> Response:
    """All-day events on each contract's act-by and term-end dates, rebuilt on every read. 404 for a URL
    never given out, 410 once the feed is revoked."""
    now = container.clock()
    async with session.begin():
        feed = await actions.open_feed(session, token, now=now)
        entries = await feed_entries(session, feed)
    body = build_feed(entries, name=f"Estate renewals: {feed.label}", generated_at=now)
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={
            "Cache-Control": "private, max-age=300",
            "Content-Disposition": 'inline; filename="estate-renewals.ics"',
            "Referrer-Policy": "no-referrer",
        },
    )


# --- what a link names --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LinkState:
    """A verified link, what it names, and what its holder may do now."""

    claims: LinkClaims
    alert: AlertRecord
    record: WatchedContractRecord
    today: date
    position: RenewalPosition | None

    @property
    def decided(self) -> bool:
        return self.position is not None and self.record.decided_term_end == self.position.term_end

    @property
    def outcomes(self) -> list[str]:
        if self.record.status not in ALERTING_STATUSES or self.decided:
            return []
        return [o for o in OUTCOMES if o != "extend" or self.record.extension_options_left > 0]

    @property
    def can_acknowledge(self) -> bool:
        return self.alert.closed_at is None and self.alert.acknowledged_at is None

    @property
    def term_end(self) -> date:
        if self.position is not None:
            return self.position.term_end
        return self.record.term_end or self.record.current_term_end

    @property
    def act_by(self) -> date | None:
        return self.position.act_by if self.position is not None else self.record.act_by


def verify(container: Container, token: str) -> LinkClaims:
    """The claims of a genuine, unexpired link (InvalidLink or ExpiredLink otherwise)."""
    return container.signer.verify(token, now=container.clock())


async def link_state(session: AsyncSession, container: Container, claims: LinkClaims) -> LinkState:
    alert = await session.get(AlertRecord, claims.alert_id)
    record = await session.get(WatchedContractRecord, claims.contract_id)
    if alert is None or record is None or alert.contract_id != record.contract_id:
        raise LinkTargetGone()
    today = london_today(container.clock())
    position = None
    if record.status in ALERTING_STATUSES:
        book = await PolicyBook.load(session, container.policy)
        position = actions.current_position(record, book, today=today, calendar=container.calendar)
    return LinkState(claims=claims, alert=alert, record=record, today=today, position=position)


async def link_actor(session: AsyncSession, state: LinkState) -> actions.Actor:
    """The link's recipient, named as the contract or the message named them."""
    email = state.claims.recipient_email.strip().lower()
    record = state.record
    name: str | None = None
    if email == record.owner_email:
        name = record.owner_name
    elif email == record.budget_holder_email:
        name = record.budget_holder_name
    else:
        name = await session.scalar(
            select(DeliveryRecord.recipient_name)
            .where(DeliveryRecord.alert_id == state.alert.id, DeliveryRecord.recipient_email == email)
            .limit(1)
        )
    return actions.Actor(id=f"link:{email}", name=name or email, email=email, via="link")


async def acknowledge_by_link(
    session: AsyncSession, container: Container, claims: LinkClaims, note: str | None
) -> tuple[LinkState, AlertRecord]:
    async with session.begin():
        state = await link_state(session, container, claims)
        actor = await link_actor(session, state)
        alert = await actions.acknowledge(session, state.alert.id, by=actor, note=note, now=container.clock())
    return state, alert


async def decide_by_link(
    session: AsyncSession,
    container: Container,
    claims: LinkClaims,
    *,
    outcome: str,
    rationale: str,
    new_term_end: date | None,
) -> tuple[LinkState, actions.DecisionRecorded]:
    async with session.begin():
        state = await link_state(session, container, claims)
        actor = await link_actor(session, state)
        decision = await actions.record_decision(
            session,
            state.record.contract_id,
            outcome=outcome,
            rationale=rationale,
            new_term_end=new_term_end,
            by=actor,
            now=container.clock(),
            calendar=container.calendar,
            book=await PolicyBook.load(session, container.policy),
            alert_id=state.alert.id,
        )
    return state, decision


# --- the JSON link API -----------------------------------------------------------------------------------


def link_problem(error: InvalidLink) -> Problem:
    if isinstance(error, ExpiredLink):
        return Problem(410, "This link has expired", error.detail, kind="expired-link")
    return Problem(400, "This link is not valid", error.detail, kind="invalid-link")


def verified(container: Container, token: str) -> LinkClaims:
    try:
        return verify(container, token)
    except InvalidLink as error:
        raise link_problem(error) from None


def link_out(state: LinkState) -> LinkOut:
    record, act_by = state.record, state.act_by
    return LinkOut(
        recipient_email=state.claims.recipient_email,
        recipient_role=state.claims.recipient_role,
        expires_at=state.claims.expires_at,
        contract=LinkContractOut(
            contract_id=record.contract_id,
            reference=record.reference,
            title=record.title,
            supplier=record.supplier_name,
            status=record.status,
            term_end=state.term_end,
            act_by=act_by,
            days_to_act_by=(act_by - state.today).days if act_by else None,
            notice_unknown=record.notice_unknown,
            renewal_type=record.renewal_type,
            extension_options_left=record.extension_options_left,
            decided=state.decided,
        ),
        alert=alert_out(state.alert),
        can_acknowledge=state.can_acknowledge,
        can_decide=bool(state.outcomes),
        outcomes=state.outcomes,  # type: ignore[arg-type]
    )


@router.get(
    "/api/v1/links/{token}", response_model=LinkOut, tags=["links"], summary="What an alert's link names"
)
async def read_link(token: str, session: SessionDep, container: ContainerDep) -> LinkOut:
    """Public: the token from the alert e-mail is the credential. The contract, the alert, and what the
    link's holder may do now (acknowledge; the outcomes a decision may have). 400 for a link that is not
    valid, 410 for an expired one."""
    claims = verified(container, token)
    return link_out(await link_state(session, container, claims))


@router.post(
    "/api/v1/links/{token}/acknowledge",
    response_model=AlertOut,
    tags=["links"],
    summary="Acknowledge the alert of a link",
)
async def acknowledge_link(
    token: str, session: SessionDep, container: ContainerDep, body: LinkAcknowledgeIn | None = None
) -> AlertOut:
    """Public, as the link's recipient: as ``POST /api/v1/alerts/{alert_id}/acknowledge``."""
    claims = verified(container, token)
    _, alert = await acknowledge_by_link(session, container, claims, body.note if body else None)
    return alert_out(alert)


@router.post(
    "/api/v1/links/{token}/decision",
    status_code=status.HTTP_201_CREATED,
    response_model=DecisionOut,
    tags=["links"],
    summary="Record the renewal decision through a link",
)
async def decide_link(
    token: str, body: LinkDecisionIn, session: SessionDep, container: ContainerDep
) -> DecisionOut:
    """Public, as the link's recipient: as ``POST /api/v1/renewals/{contract_id}/decision``."""
    claims = verified(container, token)
    _, decision = await decide_by_link(
        session,
        container,
        claims,
        outcome=body.outcome,
        rationale=body.rationale,
        new_term_end=body.new_term_end,
    )
    return decision_out(decision)


# --- the HTML pages ----------------------------------------------------------------------------------

STYLE: Final = """
body{margin:0;font-family:Arial,sans-serif;font-size:19px;line-height:1.32;color:#0b0c0c;background:#fff}
.govuk-skip-link{position:absolute;left:-9999px}.govuk-skip-link:focus{position:static;background:#fd0}
.govuk-header{background:#0b0c0c;color:#fff;border-bottom:10px solid #1d70b8;padding:10px 0}
.govuk-header__service-name{font-weight:700;font-size:24px}
.govuk-width-container{max-width:960px;margin:0 15px}@media(min-width:990px){.govuk-width-container{margin:0 auto}}
.govuk-main-wrapper{padding:40px 0}
.govuk-heading-l{font-size:36px;margin:0 0 30px}.govuk-heading-m{font-size:24px;margin:30px 0 15px}
.govuk-caption-l{display:block;color:#505a5f;font-size:24px;margin-bottom:5px}
.govuk-body,.govuk-hint{margin:0 0 20px}.govuk-hint{color:#505a5f}
.govuk-summary-list{margin:0 0 30px}.govuk-summary-list__row{display:flex;border-bottom:1px solid #b1b4b6;padding:10px 0}
.govuk-summary-list__key{font-weight:700;width:35%;margin:0}.govuk-summary-list__value{margin:0}
.govuk-inset-text{border-left:10px solid #b1b4b6;padding:15px;margin:20px 0}
.govuk-form-group{margin-bottom:30px}.govuk-form-group--error{border-left:5px solid #d4351c;padding-left:15px}
.govuk-label{display:block;margin-bottom:5px}.govuk-fieldset{border:0;margin:0;padding:0}
.govuk-fieldset__legend{font-weight:700;margin-bottom:10px}
.govuk-textarea,.govuk-input{font:inherit;border:2px solid #0b0c0c;padding:5px;box-sizing:border-box}
.govuk-textarea{width:100%}.govuk-input--width-2{width:5.5ex}.govuk-input--width-4{width:9ex}
.govuk-textarea:focus,.govuk-input:focus,.govuk-radios__input:focus,.govuk-button:focus{outline:3px solid #fd0}
.govuk-date-input__item{display:inline-block;margin-right:20px}
.govuk-radios__item{margin-bottom:10px}.govuk-radios__input{width:24px;height:24px;vertical-align:middle}
.govuk-radios__label{display:inline-block}.govuk-radios__hint{margin:0 0 0 34px}
.govuk-button{font:inherit;background:#00703c;color:#fff;border:0;box-shadow:0 2px 0 #002d18;padding:8px 10px;cursor:pointer}
.govuk-error-summary{border:5px solid #d4351c;padding:20px;margin-bottom:30px}
.govuk-error-summary__title{margin-top:0}.govuk-error-summary a,.govuk-error-message{color:#d4351c;font-weight:700}
.govuk-panel--confirmation{background:#00703c;color:#fff;padding:35px;text-align:center;margin-bottom:30px}
.govuk-panel__title{font-size:48px;margin:0 0 20px}
.govuk-link{color:#1d70b8}.govuk-visually-hidden{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}
.govuk-footer{border-top:1px solid #b1b4b6;background:#f3f2f1;padding:25px 0;font-size:16px}
"""


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def html_page(title: str, main: str, *, status_code: int = 200, error: bool = False) -> HTMLResponse:
    """A whole GOV.UK-style page; ``error`` prefixes the title, as the GOV.UK pattern asks."""
    shown = f"Error: {title}" if error else title
    document = f"""<!DOCTYPE html>
<html lang="en" class="govuk-template">
<head>
<meta charset="utf-8">
<title>{esc(shown)} &ndash; Estate renewals</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<meta name="referrer" content="no-referrer">
<style>{STYLE}</style>
</head>
<body class="govuk-template__body">
<a href="#main-content" class="govuk-skip-link">Skip to main content</a>
<header class="govuk-header" role="banner"><div class="govuk-width-container">
<span class="govuk-header__service-name">Estate renewals</span>
</div></header>
<div class="govuk-width-container">
<main class="govuk-main-wrapper" id="main-content" role="main">
{main}
</main>
</div>
<footer class="govuk-footer" role="contentinfo"><div class="govuk-width-container">
<p class="govuk-body">This page was opened from a personal link in an Estate renewal alert. Do not share it.</p>
</div></footer>
</body>
</html>
"""
    return HTMLResponse(document, status_code=status_code, headers=dict(HTML_HEADERS))


def error_page(error: InvalidLink | DomainError) -> HTMLResponse:
    """The page for a link that cannot be used (not valid, expired, or naming nothing any more)."""
    if isinstance(error, ExpiredLink):
        title, code, detail = "This link has expired", 410, error.detail
    elif isinstance(error, InvalidLink):
        title, code, detail = "This link is not valid", 400, error.detail
    else:
        title, code, detail = "This alert is no longer on record", from_domain(error).status, error.detail
    main = f'<h1 class="govuk-heading-l">{esc(title)}</h1>\n<p class="govuk-body">{esc(detail)}</p>'
    return html_page(title, main, status_code=code)


def summary_list(rows: Sequence[tuple[str, str]]) -> str:
    items = "".join(
        f'<div class="govuk-summary-list__row"><dt class="govuk-summary-list__key">{esc(key)}</dt>'
        f'<dd class="govuk-summary-list__value">{esc(value)}</dd></div>'
        for key, value in rows
    )
    return f'<dl class="govuk-summary-list">{items}</dl>'


def error_summary(errors: Sequence[tuple[str, str]]) -> str:
    if not errors:
        return ""
    items = "".join(f'<li><a href="#{esc(anchor)}">{esc(message)}</a></li>' for anchor, message in errors)
    return (
        '<div class="govuk-error-summary" data-module="govuk-error-summary"><div role="alert">'
        '<h2 class="govuk-error-summary__title">There is a problem</h2>'
        f'<div class="govuk-error-summary__body"><ul class="govuk-list govuk-error-summary__list">{items}</ul>'
        "</div></div></div>"
    )


def _field_error(errors: dict[str, str], anchor: str) -> tuple[str, str, str]:
    """(group class, error message HTML, error id) for the field whose error anchor is ``anchor``."""
    message = errors.get(anchor)
    if message is None:
        return "govuk-form-group", "", ""
    error_id = f"{anchor.split('-')[0]}-error"
    return (
        "govuk-form-group govuk-form-group--error",
        f'<p id="{error_id}" class="govuk-error-message"><span class="govuk-visually-hidden">Error:</span> '
        f"{esc(message)}</p>",
        error_id,
    )


def _days(count: int) -> str:
    return f"{count} day{'s' if count != 1 else ''}"


def act_page(
    request: Request,
    token: str,
    state: LinkState,
    *,
    errors: Sequence[tuple[str, str]] = (),
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """The contract, the alert, and the forms to acknowledge it and record the decision."""
    record, alert = state.record, state.alert
    values = values or {}
    # An error about a form the page no longer shows (the decision was recorded meanwhile) points at
    # its section instead, so every link in the error summary lands somewhere.
    hidden = set()
    if not state.can_acknowledge:
        hidden.add("note")
    if not state.outcomes:
        hidden.update(("outcome", "rationale", "new_term_end-day"))
    errors = [(SECTION_OF[anchor] if anchor in hidden else anchor, message) for anchor, message in errors]
    by_anchor = dict(errors)
    base = f"{request.scope.get('root_path', '')}/act/{urllib.parse.quote(token, safe='')}"
    act_by = state.act_by
    rows = [
        ("Supplier", record.supplier_name or "Not recorded"),
        ("Current term ends", long_date(state.term_end)),
    ]
    if act_by is not None:
        left = (act_by - state.today).days
        when = (
            "today"
            if left == 0
            else f"in {_days(left)}"
            if left > 0
            else f"{_days(-left)} ago, and it has passed"
        )
        rows.append(("Decide by", f"{long_date(act_by)} ({when})"))
    if state.position is not None:
        notice = f"{_days(state.position.notice_days)}"
        if state.position.notice_unknown:
            notice += " (assumed: no notice period is recorded; check the contract)"
        rows.append(("Supplier notice", notice))
    rows += [
        (
            "Renewal",
            "Renews automatically unless notice is given"
            if record.renewal_type == "tacit"
            else "Ends at the end of the term unless renewed",
        ),
        ("Extension options left", str(record.extension_options_left)),
        (
            "This alert",
            f"{KIND_WORDS.get(alert.kind, alert.kind)}, raised {long_date(london_today(alert.raised_at))}",
        ),
        ("Sent to you as", ROLE_WORDS.get(state.claims.recipient_role, state.claims.recipient_role)),
    ]
    parts = [
        error_summary(errors),
        f'<span class="govuk-caption-l">{esc(record.reference)}</span>',
        f'<h1 class="govuk-heading-l">{esc(record.title)}</h1>',
        summary_list(rows),
    ]
    for problem in record.problems or []:
        parts.append(f'<div class="govuk-inset-text">Check the record: {esc(problem)}.</div>')

    # Acknowledge.
    parts.append('<h2 class="govuk-heading-m" id="acknowledge">Acknowledge this alert</h2>')
    if alert.acknowledged_at is not None:
        parts.append(
            f'<div class="govuk-inset-text">This alert was acknowledged by {esc(alert.acknowledged_by or "someone")} '
            f"on {esc(long_date(london_today(alert.acknowledged_at)))}.</div>"
        )
    elif alert.closed_at is not None:
        parts.append(
            f'<div class="govuk-inset-text">This alert was closed '
            f"({esc(actions.close_reason_words(alert.close_reason))}), so it cannot be acknowledged.</div>"
        )
    else:
        group, message, error_id = _field_error(by_anchor, "note")
        described = " ".join(filter(None, ["note-hint", error_id]))
        parts.append(
            '<p class="govuk-body">Acknowledging tells Estate you have seen this alert, so it is not passed '
            "on to the next person. It does not record a decision: reminders continue until one is recorded."
            "</p>"
            f'<form method="post" action="{esc(base)}/acknowledge" novalidate>'
            f'<div class="{group}"><label class="govuk-label" for="note">Note (optional)</label>'
            '<div id="note-hint" class="govuk-hint">For example, what you will do and by when.</div>'
            f"{message}"
            f'<textarea class="govuk-textarea" id="note" name="note" rows="3" aria-describedby="{described}">'
            f"{esc(values.get('note', ''))}</textarea></div>"
            '<button type="submit" class="govuk-button" data-module="govuk-button">Acknowledge alert</button>'
            "</form>"
        )

    # Decide.
    parts.append('<h2 class="govuk-heading-m" id="decision">Record the renewal decision</h2>')
    if state.decided:
        parts.append(
            '<div class="govuk-inset-text">A renewal decision for the term ending '
            f"{esc(long_date(state.term_end))} is already recorded.</div>"
        )
    elif not state.outcomes:
        parts.append(
            f'<div class="govuk-inset-text">This contract is {esc(record.status)}, so no renewal decision can be '
            "recorded for it.</div>"
        )
    else:
        parts.append(decision_form(base, state, by_anchor, values))
    return html_page(
        f"{record.reference} {record.title}", "\n".join(parts), status_code=status_code, error=bool(errors)
    )


def decision_form(base: str, state: LinkState, errors: dict[str, str], values: dict[str, str]) -> str:
    group, message, error_id = _field_error(errors, "outcome")
    radios = []
    for index, outcome in enumerate(state.outcomes):
        label, hint = OUTCOME_WORDS[outcome]
        # GOV.UK: the first radio carries the group's id, so the error summary's link lands on it.
        radio_id = "outcome" if index == 0 else f"outcome-{outcome}"
        checked = " checked" if values.get("outcome") == outcome else ""
        radios.append(
            f'<div class="govuk-radios__item"><input class="govuk-radios__input" id="{radio_id}" name="outcome" '
            f'type="radio" value="{outcome}"{checked} aria-describedby="{radio_id}-item-hint">'
            f'<label class="govuk-label govuk-radios__label" for="{radio_id}">{label}</label>'
            f'<div id="{radio_id}-item-hint" class="govuk-hint govuk-radios__hint">{esc(hint)}</div></div>'
        )
    outcome_described = " ".join(filter(None, ["outcome-hint", error_id]))
    no_extension = (
        " The contract has no extension options left." if state.record.extension_options_left < 1 else ""
    )
    outcome_group = (
        f'<div class="{group}"><fieldset class="govuk-fieldset" aria-describedby="{outcome_described}">'
        '<legend class="govuk-fieldset__legend govuk-fieldset__legend--s">What have you decided for the end of '
        f"the term on {esc(long_date(state.term_end))}?</legend>"
        f'<div id="outcome-hint" class="govuk-hint">Select one option.{esc(no_extension)}</div>{message}'
        f'<div class="govuk-radios" data-module="govuk-radios">{"".join(radios)}</div></fieldset></div>'
    )
    group, message, error_id = _field_error(errors, "new_term_end-day")
    date_described = " ".join(filter(None, ["new_term_end-hint", error_id]))
    error_class = " govuk-input--error" if message else ""
    inputs = "".join(
        f'<div class="govuk-date-input__item"><div class="govuk-form-group">'
        f'<label class="govuk-label govuk-date-input__label" for="new_term_end-{part}">{part.capitalize()}</label>'
        f'<input class="govuk-input govuk-date-input__input govuk-input--width-{width}{error_class}" '
        f'id="new_term_end-{part}" name="new_term_end-{part}" type="text" inputmode="numeric" '
        f'value="{esc(values.get(f"new_term_end-{part}", ""))}"></div></div>'
        for part, width in (("day", 2), ("month", 2), ("year", 4))
    )
    date_group = (
        f'<div class="{group}"><fieldset class="govuk-fieldset" role="group" aria-describedby="{date_described}">'
        '<legend class="govuk-fieldset__legend govuk-fieldset__legend--s">When will the new term end?</legend>'
        '<div id="new_term_end-hint" class="govuk-hint">Only if you renew or extend. For example, 31 3 2029'
        f'</div>{message}<div class="govuk-date-input" id="new_term_end">{inputs}</div></fieldset></div>'
    )
    group, message, error_id = _field_error(errors, "rationale")
    rationale_described = " ".join(filter(None, ["rationale-hint", error_id]))
    rationale_group = (
        f'<div class="{group}"><label class="govuk-label govuk-label--s" for="rationale">Why?</label>'
        '<div id="rationale-hint" class="govuk-hint">Value for money, how well it fits the need, the options '
        f"you considered. At most {actions.MAX_RATIONALE} characters.</div>{message}"
        f'<textarea class="govuk-textarea" id="rationale" name="rationale" rows="5" '
        f'aria-describedby="{rationale_described}">{esc(values.get("rationale", ""))}</textarea></div>'
    )
    return (
        f'<form method="post" action="{esc(base)}/decision" novalidate>{outcome_group}{date_group}'
        f'{rationale_group}<button type="submit" class="govuk-button" data-module="govuk-button">'
        "Record decision</button></form>"
    )


def confirmation_page(
    title: str, summary: str, paragraphs: Sequence[str], *, back: str | None = None
) -> HTMLResponse:
    parts = [
        '<div class="govuk-panel govuk-panel--confirmation">'
        f'<h1 class="govuk-panel__title">{esc(title)}</h1><div class="govuk-panel__body">{esc(summary)}</div></div>',
        '<h2 class="govuk-heading-m">What happens next</h2>',
        *(f'<p class="govuk-body">{esc(p)}</p>' for p in paragraphs),
    ]
    if back:
        parts.append(
            f'<p class="govuk-body"><a class="govuk-link" href="{esc(back)}">Back to the contract</a></p>'
        )
    return html_page(title, "\n".join(parts))


async def form_of(request: Request) -> dict[str, str]:
    """The fields of an HTML form post (``application/x-www-form-urlencoded``, what a form without
    ``enctype`` sends), each field's last value. Parsed here with the standard library: these forms need
    nothing more."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise Problem(
            415,
            "Unsupported media type",
            "send the form as application/x-www-form-urlencoded",
            kind="http-415",
        )
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise Problem(413, "Too large", f"a form is at most {MAX_FORM_BYTES} bytes", kind="too-large")
    try:
        fields = urllib.parse.parse_qs(
            body.decode("utf-8", errors="replace"), keep_blank_values=True, max_num_fields=20
        )
    except ValueError:
        raise Problem(
            400, "The form is not valid", "the form has too many fields", kind="bad-request"
        ) from None
    return {name: values[-1] for name, values in fields.items()}


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text


SECTION_OF: Final = {
    "note": "acknowledge",
    "outcome": "decision",
    "rationale": "decision",
    "new_term_end-day": "decision",
}
DOMAIN_ANCHORS: Final = {
    "note": "note",
    "outcome": "outcome",
    "rationale": "rationale",
    "new_term_end": "new_term_end-day",
}


def domain_errors(error: DomainError, section: str) -> list[tuple[str, str]]:
    return [(DOMAIN_ANCHORS.get(error.field or "", section), _sentence(error.detail))]


def parse_decision_form(
    values: dict[str, str], state: LinkState
) -> tuple[list[tuple[str, str]], date | None]:
    """What the person must correct (GOV.UK error messages, anchored to the field), and the new term end."""
    errors: list[tuple[str, str]] = []
    outcome = values.get("outcome", "")
    if outcome not in OUTCOMES:
        errors.append(("outcome", "Select what you have decided"))
    parts = [values.get(f"new_term_end-{p}", "").strip() for p in ("day", "month", "year")]
    new_term_end: date | None = None
    if any(parts):
        try:
            day, month, year = (int(p) for p in parts)
            if year < 1000:
                raise ValueError("a four-digit year")
            new_term_end = date(year, month, day)
        except ValueError:
            errors.append(("new_term_end-day", "The new term end must be a real date, for example 31 3 2029"))
    if outcome in ("renew", "extend") and not any(parts):
        errors.append(("new_term_end-day", f"Enter the date the new term ends, if you {outcome}"))
    elif outcome in ("reprocure", "terminate") and any(parts):
        errors.append(("new_term_end-day", "Leave the new term end empty if you re-procure or terminate"))
    elif new_term_end is not None and outcome in ("renew", "extend") and new_term_end <= state.term_end:
        errors.append(
            (
                "new_term_end-day",
                f"The new term must end after the current term ends on {long_date(state.term_end)}",
            )
        )
    rationale = values.get("rationale", "").strip()
    if not rationale:
        errors.append(("rationale", "Enter the reasons for your decision"))
    elif len(rationale) > actions.MAX_RATIONALE:
        errors.append(("rationale", f"The reasons must be {actions.MAX_RATIONALE} characters or fewer"))
    return errors, new_term_end


@router.get(
    "/act/{token}", response_class=HTMLResponse, tags=["links"], summary="The page an alert's link opens"
)
async def act_page_route(
    token: str, request: Request, session: SessionDep, container: ContainerDep
) -> HTMLResponse:
    """Public (the link is the credential): the contract, the alert, and forms to acknowledge the alert
    and record the renewal decision. No JavaScript."""
    try:
        claims = verify(container, token)
        state = await link_state(session, container, claims)
    except (InvalidLink, LinkTargetGone) as error:
        return error_page(error)
    return act_page(request, token, state)


@router.post(
    "/act/{token}/acknowledge",
    response_class=HTMLResponse,
    tags=["links"],
    summary="Acknowledge from the page",
)
async def act_acknowledge(
    token: str, request: Request, session: SessionDep, container: ContainerDep
) -> HTMLResponse:
    """A form post (``note``): a confirmation page, or the page again with what to correct."""
    try:
        claims = verify(container, token)
    except InvalidLink as error:
        return error_page(error)
    values = await form_of(request)
    note = values.get("note", "")
    if len(note.strip()) > actions.MAX_NOTE:
        errors = [("note", f"The note must be {actions.MAX_NOTE} characters or fewer")]
        return await _again(request, token, session, container, claims, errors, values, 422)
    try:
        state, _ = await acknowledge_by_link(session, container, claims, note)
    except LinkTargetGone as error:
        return error_page(error)
    except DomainError as error:
        return await _again(
            request,
            token,
            session,
            container,
            claims,
            domain_errors(error, "acknowledge"),
            values,
            from_domain(error).status,
        )
    return confirmation_page(
        "Alert acknowledged",
        f"{state.record.reference} {state.record.title}",
        [
            "The alert will not be passed on to anyone else.",
            "You will still get reminders until the renewal decision is recorded. You can record it now.",
        ],
        back=f"{request.scope.get('root_path', '')}/act/{urllib.parse.quote(token, safe='')}#decision",
    )


@router.post(
    "/act/{token}/decision", response_class=HTMLResponse, tags=["links"], summary="Decide from the page"
)
async def act_decision(
    token: str, request: Request, session: SessionDep, container: ContainerDep
) -> HTMLResponse:
    """A form post (``outcome``, ``rationale``, ``new_term_end-day``/``-month``/``-year``): a
    confirmation page, or the page again with a GOV.UK error summary of what to correct (422; 409 when
    the contract's state does not allow the decision)."""
    try:
        claims = verify(container, token)
    except InvalidLink as error:
        return error_page(error)
    values = await form_of(request)
    try:
        async with session.begin():
            state = await link_state(session, container, claims)
            errors, new_term_end = parse_decision_form(values, state)
            if errors:
                # Rendered inside the transaction, which writes nothing: ending it first would expire
                # what the page shows.
                return act_page(request, token, state, errors=errors, values=values, status_code=422)
            outcome = values["outcome"]
            decision = await actions.record_decision(
                session,
                state.record.contract_id,
                outcome=outcome,
                rationale=values.get("rationale", ""),
                new_term_end=new_term_end,
                by=await link_actor(session, state),
                now=container.clock(),
                calendar=container.calendar,
                book=await PolicyBook.load(session, container.policy),
                alert_id=state.alert.id,
            )
    except LinkTargetGone as error:
        return error_page(error)
    except DomainError as error:
        return await _again(
            request,
            token,
            session,
            container,
            claims,
            domain_errors(error, "decision"),
            values,
            from_domain(error).status,
        )
    label = OUTCOME_WORDS[outcome][0]
    paragraphs = [
        "Your decision has been sent to the contract register, which records it on the contract.",
        f"Alerts for the term ending {long_date(decision.term_end)} have stopped.",
    ]
    if decision.new_term_end is not None:
        paragraphs.append(
            f"The new term ends on {long_date(decision.new_term_end)}. Alerts for it start once the register "
            "records the new term."
        )
    else:
        paragraphs.append("You will still get a reminder on the day the term ends.")
    return confirmation_page(
        "Decision recorded", f"{label}: {state.record.reference} {state.record.title}", paragraphs
    )


async def _again(
    request: Request,
    token: str,
    session: AsyncSession,
    container: Container,
    claims: LinkClaims,
    errors: list[tuple[str, str]],
    values: dict[str, str],
    status_code: int,
) -> HTMLResponse:
    """The page again, as things stand now, with what to correct."""
    try:
        state = await link_state(session, container, claims)
    except LinkTargetGone as error:
        return error_page(error)
    return act_page(request, token, state, errors=errors, values=values, status_code=status_code)


__all__ = ["LinkTargetGone", "feed_entries", "router"]
