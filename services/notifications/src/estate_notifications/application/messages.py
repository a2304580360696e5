"""What alerts and notices say, in plain English for a busy contract owner (GOV.UK style: the date and
the action first, no jargon), as a plain-text body, an HTML body and a Teams card.

Every renewal alert says which contract, what happens at the end of the term, by when the council must
act and what the person is asked to do, with a personal link to acknowledge or record the decision.
"""

from __future__ import annotations

import html
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from estate_notifications.adapters.db.records import AlertRecord, DeliveryRecord, WatchedContractRecord
from estate_notifications.application.links import LinkClaims, LinkSigner
from estate_notifications.domain.dates import london_today, long_date

__all__ = [
    "AlertContext",
    "Rendered",
    "alert_subject",
    "context_detail",
    "context_from",
    "long_date",
    "render_alert",
    "render_digest",
    "render_notice",
]

ROLE_WORDS = {
    "contract_owner": "the contract owner",
    "system_owner": "the owner of a system this contract covers",
    "budget_holder": "the budget holder (the contract owner has not acknowledged earlier alerts)",
    "tda": "the Technical Design Authority (nobody else has acknowledged this alert)",
    "ict_contract_management": "ICT contract management",
    "contract_signatory": "the contract's signatory",
    "requester": "the requester",
    "condition_owner": "the owner of the condition",
}


def _money(value: Decimal) -> str:
    return f"£{value:,.0f}" if value == value.to_integral() else f"£{value:,.2f}"


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    text: str
    html: str
    card: dict[str, object] = field(default_factory=dict)
    """Title, facts and actions of the Teams card (adapters.channels.teams.TeamsCard's fields)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertContext:
    reference: str
    title: str
    supplier: str | None
    annual_value: Decimal | None
    term_end: date
    act_by: date
    today: date
    kind: str
    renewal_type: str
    renewal_period_months: int | None
    extension_options_left: int
    notice_days: int
    notice_unknown: bool
    role: str
    recipient_name: str | None
    link: str | None
    link_expires: date | None
    problems: Sequence[str] = ()
    escalated: bool = False
    decided: bool = False
    """A terminate or re-procure decision is recorded for this term (only its end-of-term alert is sent)."""


def alert_subject(ctx: AlertContext) -> str:
    """The subject line alone (the sweep stores it; the body is written when the message is sent)."""
    name = f"{ctx.reference} {ctx.title}" + (f" ({ctx.supplier})" if ctx.supplier else "")
    if ctx.kind == "term_end":
        when = "today" if ctx.today <= ctx.term_end else f"ended {long_date(ctx.term_end)}"
        subject = f"Contract ends today: {name}" if when == "today" else f"Contract term {when}: {name}"
    elif ctx.act_by < ctx.today:
        subject = f"Overdue: renewal decision for {name} was due {long_date(ctx.act_by)}"
    else:
        subject = f"Act by {long_date(ctx.act_by)}: renewal of {name}"
    return f"Escalated: {subject}" if ctx.escalated else subject


def context_detail(ctx: AlertContext) -> dict[str, Any]:
    """An alert's context as JSON, kept on its message until the message is written and sent."""
    return {
        "reference": ctx.reference,
        "title": ctx.title,
        "supplier": ctx.supplier,
        "annual_value": None if ctx.annual_value is None else str(ctx.annual_value),
        "term_end": ctx.term_end.isoformat(),
        "act_by": ctx.act_by.isoformat(),
        "today": ctx.today.isoformat(),
        "kind": ctx.kind,
        "renewal_type": ctx.renewal_type,
        "renewal_period_months": ctx.renewal_period_months,
        "extension_options_left": ctx.extension_options_left,
        "notice_days": ctx.notice_days,
        "notice_unknown": ctx.notice_unknown,
        "role": ctx.role,
        "recipient_name": ctx.recipient_name,
        "problems": list(ctx.problems),
        "escalated": ctx.escalated,
        "decided": ctx.decided,
    }


def context_from(detail: dict[str, Any], *, link: str | None, link_expires: date | None) -> AlertContext:
    value = detail.get("annual_value")
    return AlertContext(
        reference=detail["reference"],
        title=detail["title"],
        supplier=detail.get("supplier"),
        annual_value=None if value is None else Decimal(value),
        term_end=date.fromisoformat(detail["term_end"]),
        act_by=date.fromisoformat(detail["act_by"]),
        today=date.fromisoformat(detail["today"]),
        kind=detail["kind"],
        renewal_type=detail["renewal_type"],
        renewal_period_months=detail.get("renewal_period_months"),
        extension_options_left=int(detail.get("extension_options_left") or 0),
        notice_days=int(detail["notice_days"]),
        notice_unknown=bool(detail["notice_unknown"]),
        role=detail["role"],
        recipient_name=detail.get("recipient_name"),
        link=link,
        link_expires=link_expires,
        problems=tuple(detail.get("problems") or ()),
        escalated=bool(detail.get("escalated")),
        decided=bool(detail.get("decided")),
    )


def render_alert(ctx: AlertContext) -> Rendered:
    days_left = (ctx.act_by - ctx.today).days
    name = f"{ctx.reference} {ctx.title}" + (f" ({ctx.supplier})" if ctx.supplier else "")
    subject = alert_subject(ctx)
    if ctx.kind == "term_end" and ctx.today > ctx.term_end:
        headline = f"The term of {name} ended on {long_date(ctx.term_end)}."
    elif ctx.kind == "term_end":
        headline = f"The current term of {name} ends today, {long_date(ctx.term_end)}."
    elif days_left < 0:
        headline = (
            f"The renewal decision for {name} was due by {long_date(ctx.act_by)}, "
            f"{-days_left} day{'s' if days_left != -1 else ''} ago, and none is recorded. "
            f"The current term ends on {long_date(ctx.term_end)}."
        )
    else:
        when = "today" if days_left == 0 else f"in {days_left} day{'s' if days_left != 1 else ''}"
        headline = (
            f"Decide by {long_date(ctx.act_by)} ({when}) whether to renew, extend, re-procure or terminate "
            f"{name}. The current term ends on {long_date(ctx.term_end)}."
        )
    lines = [f"Dear {ctx.recipient_name or 'colleague'},", "", headline, ""]
    if ctx.annual_value is not None:
        lines.append(f"It costs {_money(ctx.annual_value)} a year.")
    if ctx.decided:
        lines.append("A renewal decision is recorded for this term: this is the end-of-term reminder.")
    elif ctx.renewal_type == "tacit":
        months = ctx.renewal_period_months or 0
        lines.append(
            f"It renews automatically for {months} months unless the supplier is given notice: "
            "doing nothing commits the council to another term."
        )
    else:
        lines.append(
            "It does not renew by itself: without a decision the service stops at the end of the term."
        )
    if ctx.extension_options_left:
        left = ctx.extension_options_left
        lines.append("One extension option is left." if left == 1 else f"{left} extension options are left.")
    if ctx.notice_unknown:
        lines.append(
            f"No notice period is recorded for this contract, so the date assumes {ctx.notice_days} days' "
            "notice. Check the contract and record the notice period in the register."
        )
    else:
        lines.append(f"The supplier must be given {ctx.notice_days} days' notice.")
    for problem in ctx.problems:
        lines.append(f"Check the record: {problem}.")
    lines += ["", f"You are receiving this as {ROLE_WORDS.get(ctx.role, ctx.role)}."]
    if ctx.link:
        lines += [
            "",
            "Acknowledge this alert, or record the decision (renew, extend, re-procure or terminate, with your "
            "reasons), here:",
            ctx.link,
        ]
        if ctx.link_expires:
            lines.append(f"The link is personal to you and works until {long_date(ctx.link_expires)}.")
    lines += ["", "Estate, for the Technical Design Authority"]
    text = "\n".join(lines)
    facts = [
        ("Contract", name),
        ("Act by", long_date(ctx.act_by)),
        ("Term ends", long_date(ctx.term_end)),
        ("Renewal", "automatic (tacit)" if ctx.renewal_type == "tacit" else "needs a decision"),
    ]
    card: dict[str, object] = {
        "title": subject,
        "facts": facts,
        "text": headline,
        "actions": [("Acknowledge or decide", ctx.link)] if ctx.link else [],
    }
    return Rendered(subject=subject, text=text, html=_html(lines, ctx.link), card=card)


def _html(lines: Sequence[str], link: str | None) -> str:
    parts: list[str] = []
    for line in lines:
        if not line:
            continue
        if link and line == link:
            parts.append(
                f'<p><a href="{html.escape(link, quote=True)}">Acknowledge or record the decision</a></p>'
            )
        else:
            parts.append(f"<p>{html.escape(line)}</p>")
    return (
        '<!doctype html><html lang="en"><body style="font-family: Arial, sans-serif; font-size: 16px">'
        + "".join(parts)
        + "</body></html>"
    )


def render_notice(
    subject: str, paragraphs: Sequence[str], *, recipient_name: str | None, link: str | None = None
) -> Rendered:
    """A one-off notice (a request submitted, information asked for, a decision, a condition due)."""
    lines = [f"Dear {recipient_name or 'colleague'},", "", *paragraphs]
    if link:
        lines += ["", link]
    lines += ["", "Estate, for the Technical Design Authority"]
    card: dict[str, object] = {"title": subject, "facts": [], "text": "\n".join(paragraphs), "actions": []}
    return Rendered(subject=subject, text="\n".join(lines), html=_html(lines, link), card=card)


def render_digest(items: Sequence[tuple[str, str]], *, recipient_name: str | None, period: str) -> Rendered:
    """A digest of held alerts: each item's subject and body, most urgent first as given."""
    subject = f"Your {period} renewal digest: {len(items)} alert{'s' if len(items) != 1 else ''}"
    lines = [
        f"Dear {recipient_name or 'colleague'},",
        "",
        f"{len(items)} renewal alert(s) since your last digest:",
    ]
    for number, (item_subject, item_text) in enumerate(items, start=1):
        body = item_text.split("\n", 2)[-1]  # without the salutation
        lines += ["", f"{number}. {item_subject}", body]
    lines += ["", "Estate, for the Technical Design Authority"]
    card: dict[str, object] = {"title": subject, "facts": [], "text": subject, "actions": []}
    return Rendered(subject=subject, text="\n".join(lines), html=_html(lines, None), card=card)


class Composer:
    """Writes a renewal alert's message when it is sent: its words, and a personal action link,
    ``{action_url}/act/{token}`` (the portal's page where one runs), valid for ``link_valid_days`` from
    that moment. The sweep stores only the alert's context, which keeps
    it cheap over a national estate and lets a message delayed by a digest or an outage carry a fresh link.
    """

    def __init__(
        self, signer: LinkSigner, *, action_url: str, link_valid_days: int, default_notice_days: int = 90
    ) -> None:
        self.signer = signer
        self.default_notice_days = default_notice_days
        self.action_url = action_url.rstrip("/")
        self.link_valid_days = link_valid_days

    async def alert(self, session: AsyncSession, delivery: DeliveryRecord, *, now: datetime) -> Rendered:
        """The words of one renewal alert message, from its alert and the contract's watch as they are
        now, with a link valid from ``now``."""
        detail = {
            **await alert_context(session, delivery, default_notice_days=self.default_notice_days),
            **delivery.detail,
        }
        # Escalated or not as the message was queued, whatever level the alert has reached since.
        detail["escalated"] = int(delivery.detail.get("level") or 0) > 0
        expires = now + timedelta(days=self.link_valid_days)
        token = self.signer.sign(
            LinkClaims(
                alert_id=uuid.UUID(detail["alert_id"]),
                contract_id=uuid.UUID(detail["contract_id"]),
                recipient_email=delivery.recipient_email,
                recipient_role=detail["role"],
                expires_at=expires,
                purpose="act",
            )
        )
        link_expires = london_today(expires)
        return render_alert(
            context_from(detail, link=f"{self.action_url}/act/{token}", link_expires=link_expires)
        )


async def alert_context(
    session: AsyncSession, delivery: DeliveryRecord, *, default_notice_days: int
) -> dict[str, Any]:
    """What an alert message says of its contract, read from the alert and the watch (context_detail's
    shape); a contract no longer watched (the watch is being rebuilt) is named by its reference."""
    alert = await session.get(AlertRecord, delivery.alert_id) if delivery.alert_id else None
    watch = await session.get(WatchedContractRecord, delivery.contract_id) if delivery.contract_id else None
    if alert is None:
        raise LookupError(f"delivery {delivery.id} names no alert: it cannot be written as a renewal alert")
    reference = watch.reference if watch else alert.contract_reference
    return context_detail(
        AlertContext(
            reference=reference,
            title=watch.title if watch else reference,
            supplier=watch.supplier_name if watch else None,
            annual_value=watch.annual_value if watch else None,
            term_end=alert.term_end,
            act_by=alert.act_by,
            today=london_today(alert.raised_at),
            kind=alert.kind,
            renewal_type=watch.renewal_type if watch else "none",
            renewal_period_months=watch.renewal_period_months if watch else None,
            extension_options_left=watch.extension_options_left if watch else 0,
            notice_days=(watch.notice_period_days or default_notice_days) if watch else default_notice_days,
            notice_unknown=watch.notice_unknown if watch else False,
            role=delivery.role,
            recipient_name=delivery.recipient_name,
            link=None,
            link_expires=None,
            problems=tuple(watch.problems) if watch else (),
            escalated=alert.level > 0,
            decided=watch is not None and watch.decided_term_end == alert.term_end,
        )
    )
