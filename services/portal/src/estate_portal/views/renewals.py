"""Pages: renewals, for the people who must act on them.

* ``GET /renewals``: "My renewals", the contracts the person owns or holds the budget for on the
  notifications service's renewal watch, soonest act-by first; people who read the whole watch (the TDA,
  contract managers, administrators, auditors) may show every contract instead.
* ``GET /renewals/{contract_id}``: one contract's renewal: where it stands, the alerts sent and to whom,
  and the forms to acknowledge the open alert and to record the renewal decision
  (``POST /renewals/{contract_id}/acknowledge`` and ``/decision``).
* ``GET /act/{token}``: the page an alert e-mail's personal link opens. The signed link token is the
  credential, so the page works signed in or not: it calls the notifications service's public link API
  (``/api/v1/links/{token}``) with no bearer token, and whoever acts through it acts as the person the
  alert went to. Its forms post to ``/act/{token}/acknowledge`` and ``/act/{token}/decision`` and, like
  every form, carry the session's CSRF token (anonymous visitors have a session too).

Pages that hold a link token are never cached and never send a Referer, so the token does not leak.
The notifications service decides what may be done; this module only asks it, and shows its refusals
next to the field they are about.
"""

from __future__ import annotations

import base64
import json
import re
import urllib.parse
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, date, datetime
from typing import Annotated, Any, Final, Literal

import httpx
from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from estate_eventing.correlation import current_correlation_id
from estate_portal.backends import Api, Backends
from estate_portal.csrf import protect
from estate_portal.errors import ApiProblem, NotAllowed, PortalError, ServiceUnavailable
from estate_portal.session import User, session_of
from estate_portal.web import CurrentUser, FormErrors, Pages, PagesDep, SessionDep, UserApi, long_date
from estate_runtime.dates import LONDON

router = APIRouter(dependencies=[Depends(protect)])

PAGE_SIZE: Final = 25
MAX_TEXT: Final = 4000
"""The notifications service's limit on a rationale and on an acknowledgement's note."""
MAX_TOKEN: Final = 1024
TOKEN_SHAPE: Final = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")

READ_ALL: Final = ("admin", "contract_manager", "tda_member", "tda_chair", "auditor")
"""Who reads every contract on the renewal watch (the notifications service's rule)."""
ACKNOWLEDGE_ANY: Final = ("admin", "contract_manager", "tda_member", "tda_chair")
DECIDE_ANY: Final = ("admin", "contract_manager")
ALERTING: Final = ("active", "expired")
"""Contract statuses that get alerts and take a renewal decision; the others are over or not begun."""

OUTCOMES: Final[dict[str, tuple[str, str]]] = {
    "renew": ("Renew", "A new term with the same supplier. Give the date the new term ends."),
    "extend": ("Extend", "Use one of the contract's extension options. Give the date the extension ends."),
    "reprocure": ("Re-procure", "Run a new procurement. This contract ends when its term ends."),
    "terminate": ("Terminate", "Give the supplier notice. The contract ends when its term ends."),
}
KIND_WORDS: Final = {"ladder": "Reminder", "overdue": "Overdue reminder", "term_end": "End of term"}
ROLE_WORDS: Final = {
    "contract_owner": "contract owner",
    "budget_holder": "budget holder",
    "system_owner": "system owner",
    "tda": "Technical Design Authority",
}
DELIVERY_WORDS: Final = {
    "pending": "waiting to be sent",
    "sending": "being sent",
    "sent": "sent",
    "held": "held for a digest",
    "digested": "sent in a digest",
    "cancelled": "not sent",
}
CLOSE_WORDS: Final = {
    "superseded": "a later alert replaced it",
    "decided": "a decision was recorded",
    "contract_ended": "the contract ended",
    "term_moved": "the contract's term moved on",
}
DATE_FIELD: Final = "new_term_end-day"
"""The error summary links a date's error to its first box, as the GOV.UK pattern asks."""
DECISION_FIELDS: Final = ("outcome", DATE_FIELD, "rationale")
ACKNOWLEDGED: Final = "Alert acknowledged."


# --- what the pages show -----------------------------------------------------------------------------------


def london(value: Any) -> str:
    """An instant from an API (ISO 8601, UTC) as people in the council read it: 3 March 2027 at 14:05."""
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return long_date(moment.astimezone(LONDON))


def days_words(days: int | None) -> str:
    if days is None:
        return ""
    if days == 0:
        return "today"
    if days == 1:
        return "tomorrow"
    if days > 0:
        return f"in {days} days"
    return "yesterday" if days == -1 else f"{-days} days ago"


def urgency(renewal: Mapping[str, Any]) -> dict[str, str]:
    """The tag next to the act-by date; its words carry the meaning, the colour only repeats it."""
    days = renewal.get("days_to_act_by")
    if renewal.get("decided"):
        return {"text": "Decision recorded", "classes": "govuk-tag--green"}
    if days is None:
        return {"text": "No act-by date", "classes": "govuk-tag--grey"}
    if days < 0:
        return {"text": "Overdue", "classes": "govuk-tag--red"}
    if days <= 30:
        return {"text": "Act within 30 days", "classes": "govuk-tag--orange"}
    return {"text": "Due later", "classes": "govuk-tag--grey"}


def alert_words(alert: Mapping[str, Any]) -> str:
    """``Reminder, 30 days before act-by``; ``Overdue reminder, 7 days after act-by``; ``End of term``."""
    kind = str(alert.get("kind", ""))
    words = KIND_WORDS.get(kind, kind.replace("_", " ").capitalize())
    rung = alert.get("rung_days")
    if kind == "term_end" or not isinstance(rung, int):
        return words
    if rung > 0:
        return f"{words}, {rung} day{'s' if rung != 1 else ''} before act-by"
    if rung < 0:
        return f"{words}, {-rung} day{'s' if rung != -1 else ''} after act-by"
    return f"{words}, on the act-by date"


def notice_words(notice_unknown: bool, days: int | None, assumed: int | None) -> str:
    if notice_unknown:
        return f"Not recorded — {assumed or 90} days assumed"
    if days:
        return f"{days} days"
    return "Recorded on the contract"


def _may_decide(user: User, renewal: Mapping[str, Any]) -> bool:
    """Mirrors the notifications service's rule, only to leave out a form it would refuse."""
    return user.has_any(*DECIDE_ANY) or _owns(user, renewal)


def _may_acknowledge(user: User, renewal: Mapping[str, Any], alert: Mapping[str, Any]) -> bool:
    if user.has_any(*ACKNOWLEDGE_ANY) or _owns(user, renewal):
        return True
    email = (user.email or "").lower()
    return any(d.get("recipient_email") == email for d in alert.get("deliveries", []))


def _owns(user: User, renewal: Mapping[str, Any]) -> bool:
    email = (user.email or "").strip().lower()
    people = [renewal.get("owner") or {}, renewal.get("budget_holder") or {}]
    return bool(email) and any((p.get("email") or "").lower() == email for p in people)


# --- my renewals -------------------------------------------------------------------------------------------


@router.get("/renewals", summary="My renewals")
async def my_renewals(
    request: Request,
    user: CurrentUser,
    api: UserApi,
    pages: PagesDep,
    show: Annotated[Literal["mine", "all"], Query()] = "mine",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    """Everyone signed in; the API shows owners only their own contracts, whatever they ask for."""
    may_see_all = user.has_any(*READ_ALL)
    showing_all = show == "all" and may_see_all
    renewals: list[dict[str, Any]] = []
    total = 0
    assumed_notice: int | None = None
    # Without an e-mail address nobody's contracts can be told apart: show none rather than everyone's.
    if (may_see_all or user.has_any("owner")) and (showing_all or user.email):
        answer = await api.get(
            "notifications",
            "/api/v1/renewals",
            owner_email=None if showing_all else user.email,
            status=list(ALERTING),
            offset=(page - 1) * PAGE_SIZE,
            limit=PAGE_SIZE,
            count="true",
        )
        renewals = answer["items"]
        total = int(answer.get("total") or 0)
        if any(r.get("notice_unknown") for r in renewals):
            policy = await api.get("notifications", "/api/v1/policy")
            assumed_notice = int(policy["default_notice_days"])
    rows = [
        {
            **renewal,
            "tag": urgency(renewal),
            "when": days_words(renewal.get("days_to_act_by")),
            "notice": notice_words(bool(renewal.get("notice_unknown")), None, assumed_notice),
            "alert": alert_words(renewal["open_alert"]) if renewal.get("open_alert") else None,
            "alert_raised": london((renewal.get("open_alert") or {}).get("raised_at")),
        }
        for renewal in renewals
    ]
    pages_count = max(1, -(-total // PAGE_SIZE))
    query = {"show": "all"} if showing_all else {}

    def href(number: int) -> str:
        return "/renewals?" + urllib.parse.urlencode({**query, "page": number})

    pagination: dict[str, Any] = {}
    if page > 1:
        pagination["previous"] = {"href": href(page - 1)}
    if page < pages_count:
        pagination["next"] = {"href": href(page + 1)}
    return pages.render(
        request,
        "renewals/list.html",
        {
            "rows": rows,
            "total": total,
            "page": page,
            "pages_count": pages_count,
            "pagination": pagination,
            "may_see_all": may_see_all,
            "showing_all": showing_all,
            "reads_watch": may_see_all or user.has_any("owner"),
        },
    )


# --- one renewal --------------------------------------------------------------------------------------------


async def _register_contract(api: Api, contract_id: uuid.UUID) -> dict[str, Any] | None:
    """The register's record of the contract, for the decisions it has confirmed; the page stands without it
    (a person who may not read the register, or a register that is down, still sees the renewal)."""
    try:
        found: dict[str, Any] | None = await api.find("register", f"/api/v1/contracts/{contract_id}")
    except (NotAllowed, ServiceUnavailable, ApiProblem):
        return None
    return found


def decision_state(renewal: Mapping[str, Any], contract: Mapping[str, Any] | None) -> dict[str, Any]:
    """Where the running term's renewal decision stands.

    The watch knows a decision was recorded for the term, but not what it was; the register records it on
    the contract when the decision reaches it. Renew and extend move the term on once recorded (so the
    watch's next term is undecided again); terminate and re-procure stay on the term, so a terminate or
    re-procure decision on the register is the one the watch holds."""
    decisions = sorted((contract or {}).get("renewal_decisions") or [], key=lambda d: str(d["decided_at"]))
    latest = decisions[-1] if decisions else None
    if latest is not None:
        latest = {**latest, "label": OUTCOMES.get(latest["outcome"], (latest["outcome"], ""))[0]}
    if not renewal.get("decided"):
        return {"state": "none", "latest": latest}
    if latest is not None and latest["outcome"] in ("terminate", "reprocure"):
        return {"state": "confirmed", "latest": latest}
    return {"state": "pending", "latest": latest}


async def _renewal_page(
    request: Request,
    user: User,
    api: Api,
    pages: Pages,
    contract_id: uuid.UUID,
    *,
    errors: FormErrors | None = None,
    values: Mapping[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    renewal: dict[str, Any] = await api.get("notifications", f"/api/v1/renewals/{contract_id}")
    contract = await _register_contract(api, contract_id)
    position = renewal.get("position") or {}
    alerts = [
        {
            **alert,
            "words": alert_words(alert),
            "raised": london(alert["raised_at"]),
            "acknowledged": london(alert.get("acknowledged_at")),
            "closed": CLOSE_WORDS.get(alert.get("close_reason") or "", alert.get("close_reason") or ""),
            "recipients": [
                {
                    "who": d.get("recipient_name") or d["recipient_email"],
                    "email": d["recipient_email"],
                    "role": ROLE_WORDS.get(d["role"], d["role"]),
                    "channel": "Teams" if d.get("channel") == "teams" else "e-mail",
                    "status": DELIVERY_WORDS.get(d["status"], d["status"]),
                    "sent": london(d.get("sent_at")),
                }
                for d in alert.get("deliveries", [])
            ],
        }
        for alert in renewal.get("alerts", [])
    ]
    open_alert = next((a for a in alerts if a.get("open")), None)
    options_left = int(renewal.get("extension_options_left") or 0)
    decidable = renewal.get("status") in ALERTING and not renewal.get("decided") and bool(position)
    can_acknowledge = (
        open_alert is not None
        and not open_alert.get("acknowledged_at")
        and _may_acknowledge(user, renewal, open_alert)
    )
    can_decide = decidable and _may_decide(user, renewal)
    return pages.render(
        request,
        "renewals/detail.html",
        {
            "renewal": renewal,
            "tag": urgency(renewal),
            "when": days_words(renewal.get("days_to_act_by")),
            "notice": notice_words(
                bool(renewal.get("notice_unknown")),
                renewal.get("notice_period_days"),
                position.get("notice_days"),
            ),
            "decision": decision_state(renewal, contract),
            "alerts": alerts,
            "open_alert": open_alert,
            "can_acknowledge": can_acknowledge,
            "can_decide": can_decide,
            "decidable": decidable,
            "outcomes": outcome_items(options_left),
            "options_left": options_left,
            "term_end": renewal.get("term_end"),
            "errors": on_page(errors, acknowledge=can_acknowledge, decide=can_decide),
            "values": values or {},
            "action": f"/renewals/{contract_id}",
        },
        status_code=status_code,
    )


def on_page(errors: FormErrors | None, *, acknowledge: bool, decide: bool) -> FormErrors:
    """The errors to show, each linked to its field only if the page still shows that field's form (an
    alert closed, or a decision recorded, since the form was sent leaves the message without a link)."""
    shown = FormErrors()
    hidden = set() if acknowledge else {"note"}
    if not decide:
        hidden |= set(DECISION_FIELDS)
    for field, text in (errors.by_field if errors else {}).items():
        shown.add("" if field in hidden else field, text)
    return shown


def outcome_items(options_left: int, allowed: list[str] | None = None) -> list[dict[str, str]]:
    """The decision's choices, each with what it means; extend only while an extension option is left."""
    items = []
    for value, (label, hint) in OUTCOMES.items():
        if allowed is not None and value not in allowed:
            continue
        if value == "extend":
            if options_left < 1:
                continue
            hint += (
                " This uses the contract's last extension option."
                if options_left == 1
                else f" This uses one of the {options_left} extension options left."
            )
        items.append({"value": value, "label": label, "hint": hint})
    return items


@router.get("/renewals/{contract_id}", summary="One renewal")
async def renewal(
    request: Request, contract_id: uuid.UUID, user: CurrentUser, api: UserApi, pages: PagesDep
) -> Response:
    return await _renewal_page(request, user, api, pages, contract_id)


@router.post("/renewals/{contract_id}/acknowledge", summary="Acknowledge a renewal alert")
async def acknowledge(
    request: Request,
    contract_id: uuid.UUID,
    user: CurrentUser,
    api: UserApi,
    pages: PagesDep,
    session: SessionDep,
    note: Annotated[str, Form(max_length=100_000)] = "",
    alert_id: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Acknowledges the alert the page showed (else the contract's open alert); the service refuses an
    alert closed since, which the page then explains."""
    renewal: dict[str, Any] = await api.get("notifications", f"/api/v1/renewals/{contract_id}")
    alerts = {a["id"]: a for a in renewal.get("alerts", [])}
    target = alerts.get(alert_id) or next((a for a in alerts.values() if a.get("open")), None)
    errors = FormErrors()
    values = {"note": note}
    if target is None:
        errors.add("", "There is no open alert to acknowledge for this contract.")
    elif len(note.strip()) > MAX_TEXT:
        errors.add("note", f"The note must be {MAX_TEXT} characters or fewer")
    if not errors:
        assert target is not None
        try:
            await api.send(
                "notifications",
                "POST",
                f"/api/v1/alerts/{target['id']}/acknowledge",
                {"note": note.strip() or None},
            )
        except ApiProblem as problem:
            absorb(errors, problem, ("note",))
            return await _renewal_page(
                request,
                user,
                api,
                pages,
                contract_id,
                errors=errors,
                values=values,
                status_code=problem.status,
            )
        session.tell(
            f"Alert acknowledged for {renewal['reference']}. It will not be passed on to anyone else; "
            "reminders continue until the renewal decision is recorded."
        )
        return RedirectResponse(f"/renewals/{contract_id}", status_code=303)
    return await _renewal_page(
        request, user, api, pages, contract_id, errors=errors, values=values, status_code=422
    )


class DecisionForm:
    """The decision form as sent, and what the person must correct before it goes to the service."""

    def __init__(self, outcome: str, rationale: str, day: str, month: str, year: str) -> None:
        self.outcome = outcome.strip()
        self.rationale = rationale.strip()
        self.parts = (day.strip(), month.strip(), year.strip())
        self.values = {
            "outcome": self.outcome,
            "rationale": rationale,
            "new_term_end-day": self.parts[0],
            "new_term_end-month": self.parts[1],
            "new_term_end-year": self.parts[2],
        }

    def check(self, term_end: Any) -> tuple[FormErrors, date | None]:
        errors = FormErrors()
        if self.outcome not in OUTCOMES:
            errors.add("outcome", "Select what you have decided")
        new_term_end: date | None = None
        if any(self.parts):
            try:
                day, month, year = (int(part) for part in self.parts)
                if year < 1000:
                    raise ValueError("a four-digit year")
                new_term_end = date(year, month, day)
            except ValueError:
                errors.add(DATE_FIELD, "The new term end must be a real date, for example 31 3 2029")
        words = OUTCOMES.get(self.outcome, ("", ""))[0].lower()
        if self.outcome in ("renew", "extend") and not any(self.parts):
            errors.add(DATE_FIELD, f"Enter the date the new term ends, if you {words}")
        elif self.outcome in ("reprocure", "terminate") and any(self.parts):
            errors.add(DATE_FIELD, "Leave the new term end empty if you re-procure or terminate")
        elif new_term_end is not None and term_end and new_term_end <= date.fromisoformat(str(term_end)):
            errors.add(
                DATE_FIELD, f"The new term must end after the current term ends on {long_date(term_end)}"
            )
        if not self.rationale:
            errors.add("rationale", "Enter the reasons for your decision")
        elif len(self.rationale) > MAX_TEXT:
            errors.add("rationale", f"The reasons must be {MAX_TEXT} characters or fewer")
        return errors, new_term_end

    def body(self, new_term_end: date | None) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "rationale": self.rationale,
            "new_term_end": new_term_end.isoformat() if new_term_end else None,
        }

    def confirmation(self) -> str:
        label = OUTCOMES[self.outcome][0].lower()
        return f"Decision recorded: {label}. The register will update the contract."


def decision_fields(
    outcome: Annotated[str, Form(max_length=100)] = "",
    rationale: Annotated[str, Form(max_length=100_000)] = "",
    day: Annotated[str, Form(alias="new_term_end-day", max_length=20)] = "",
    month: Annotated[str, Form(alias="new_term_end-month", max_length=20)] = "",
    year: Annotated[str, Form(alias="new_term_end-year", max_length=20)] = "",
) -> DecisionForm:
    """The decision form's fields, as both forms that record a decision (signed in, or through a link) send them."""
    return DecisionForm(outcome, rationale, day, month, year)


DecisionFields = Annotated[DecisionForm, Depends(decision_fields)]


def absorb(errors: FormErrors, problem: ApiProblem, fields: tuple[str, ...]) -> None:
    """The service's refusal next to the field it names, worded as a sentence."""
    for name, message in problem.field_errors().items():
        field = DATE_FIELD if name == "new_term_end" else name
        text = message[:1].upper() + message[1:]
        errors.add(field if field in fields else "", text)


@router.post("/renewals/{contract_id}/decision", summary="Record a renewal decision")
async def decide(
    request: Request,
    contract_id: uuid.UUID,
    user: CurrentUser,
    api: UserApi,
    pages: PagesDep,
    session: SessionDep,
    form: DecisionFields,
) -> Response:
    """Checked here for what a person must fill in, then by the service for its rules (an extension option
    left, one decision a term); either refusal re-displays the page and nothing is written."""
    renewal: dict[str, Any] = await api.get("notifications", f"/api/v1/renewals/{contract_id}")
    errors, new_term_end = form.check(renewal.get("term_end"))
    if errors:
        return await _renewal_page(
            request, user, api, pages, contract_id, errors=errors, values=form.values, status_code=422
        )
    open_alert = next((a for a in renewal.get("alerts", []) if a.get("open")), None)
    body = form.body(new_term_end) | {"alert_id": open_alert["id"] if open_alert else None}
    try:
        await api.send("notifications", "POST", f"/api/v1/renewals/{contract_id}/decision", body)
    except ApiProblem as problem:
        absorb(errors, problem, DECISION_FIELDS)
        return await _renewal_page(
            request,
            user,
            api,
            pages,
            contract_id,
            errors=errors,
            values=form.values,
            status_code=problem.status,
        )
    session.tell(form.confirmation())
    return RedirectResponse(f"/renewals/{contract_id}", status_code=303)


# --- the page an alert e-mail's link opens ------------------------------------------------------------------


class LinkRefused(Exception):
    """The notifications service will not act on the link: not valid (400), expired (410) or naming an
    alert no longer on record (404)."""

    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail


def _expiry_of(token: str) -> datetime | None:
    """When a link expired, read from the token once the service has said it is genuine but expired."""
    try:
        body = token.split(".")[0]
        payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        return datetime.fromtimestamp(int(payload["x"]), tz=UTC)
    except (ValueError, KeyError, TypeError, OverflowError, OSError):
        return None


INVALID: Final = (
    "It may have been changed, or copied incompletely from the e-mail. Use the link in your most recent "
    "alert e-mail, or sign in to Estate and go to My renewals."
)


async def _link_call(
    request: Request, token: str, method: str = "GET", action: str = "", body: Any = None
) -> Any:
    """The public link API, with no bearer token: the link's token is the credential."""
    if len(token) > MAX_TOKEN or not TOKEN_SHAPE.fullmatch(token):
        raise LinkRefused(400, "This link is not valid", INVALID)
    backends: Backends = request.app.state.backends
    client = backends.clients["notifications"]
    headers = {"Accept": "application/json"}
    correlation = current_correlation_id()
    if correlation:
        headers["X-Correlation-ID"] = correlation
    path = f"/api/v1/links/{urllib.parse.quote(token, safe='')}{action}"
    try:
        answer = await client.request(method, path, json=body, headers=headers)
    except httpx.HTTPError as exc:
        raise ServiceUnavailable(
            f"The renewals service is not answering ({type(exc).__name__}). Try again in a few minutes; "
            "nothing was saved.",
            service="the renewals service",
        ) from exc
    if answer.status_code < 400:
        return answer.json() if answer.content else None
    try:
        problem = answer.json()
    except ValueError:
        problem = {}
    if not isinstance(problem, dict):
        problem = {}
    kind = str(problem.get("type", ""))
    detail = str(problem.get("detail") or answer.reason_phrase)
    if answer.status_code == 410:
        expired = _expiry_of(token)
        title = (
            f"This link has expired on {long_date(expired.astimezone(LONDON).date())}"
            if expired
            else "This link has expired"
        )
        raise LinkRefused(
            410,
            title,
            "Sign in to Estate and go to My renewals to acknowledge the alert or record the decision.",
        )
    if answer.status_code == 400 and kind.endswith("invalid-link"):
        raise LinkRefused(400, "This link is not valid", INVALID)
    if answer.status_code == 404:
        raise LinkRefused(404, "This alert is no longer on record", detail)
    if answer.status_code >= 500 or answer.status_code == 429:
        raise ServiceUnavailable(
            f"The renewals service could not complete the request (status {answer.status_code}). Nothing was "
            "saved; try again in a few minutes.",
            service="the renewals service",
        )
    errors = problem.get("errors")
    raise ApiProblem(
        answer.status_code,
        str(problem.get("title") or "There is a problem"),
        detail,
        errors if isinstance(errors, list) else [],
    )


def _private(response: Response) -> Response:
    """The token is in the address: keep it out of Referer headers and caches."""
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


async def _on_link(request: Request, pages: Pages, work: Callable[[], Awaitable[Response]]) -> Response:
    """A link page, or the page saying why the link cannot be used, never leaking the token."""
    try:
        response = await work()
    except LinkRefused as refused:
        response = pages.render(
            request,
            "renewals/link_refused.html",
            {"title": refused.title, "detail": refused.detail, "expired": refused.status == 410},
            status_code=refused.status,
        )
    except PortalError as error:
        response = pages.render(
            request,
            error.template,
            {"title": error.title, "detail": error.detail, **error.context},
            status_code=error.status,
        )
    return _private(response)


def _act_page(
    request: Request,
    pages: Pages,
    token: str,
    link: Mapping[str, Any],
    *,
    errors: FormErrors | None = None,
    values: Mapping[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    contract = link["contract"]
    alert = link["alert"]
    return pages.render(
        request,
        "renewals/act.html",
        {
            "link": link,
            "contract": contract,
            "alert": alert,
            "alert_words": alert_words(alert),
            "raised": london(alert.get("raised_at")),
            "acknowledged": london(alert.get("acknowledged_at")),
            "expires": london(link.get("expires_at")),
            "role": ROLE_WORDS.get(link.get("recipient_role", ""), link.get("recipient_role", "")),
            "tag": urgency(contract),
            "when": days_words(contract.get("days_to_act_by")),
            "outcomes": outcome_items(
                int(contract.get("extension_options_left") or 0), link.get("outcomes") or []
            ),
            "options_left": int(contract.get("extension_options_left") or 0),
            "term_end": contract.get("term_end"),
            "action": f"/act/{token}",
            "errors": on_page(
                errors, acknowledge=bool(link.get("can_acknowledge")), decide=bool(link.get("can_decide"))
            ),
            "values": values or {},
        },
        status_code=status_code,
    )


@router.get("/act/{token}", summary="The page an alert e-mail's link opens")
async def act(request: Request, token: str, pages: PagesDep) -> Response:
    async def work() -> Response:
        return _act_page(request, pages, token, await _link_call(request, token))

    return await _on_link(request, pages, work)


@router.post("/act/{token}/acknowledge", summary="Acknowledge an alert through its link")
async def act_acknowledge(
    request: Request,
    token: str,
    pages: PagesDep,
    session: SessionDep,
    note: Annotated[str, Form(max_length=100_000)] = "",
) -> Response:
    async def work() -> Response:
        errors = FormErrors()
        if len(note.strip()) > MAX_TEXT:
            errors.add("note", f"The note must be {MAX_TEXT} characters or fewer")
        else:
            try:
                await _link_call(request, token, "POST", "/acknowledge", {"note": note.strip() or None})
            except ApiProblem as problem:
                absorb(errors, problem, ("note",))
            else:
                session.tell(ACKNOWLEDGED)
                return RedirectResponse(f"/act/{token}/done", status_code=303)
        link = await _link_call(request, token)
        return _act_page(request, pages, token, link, errors=errors, values={"note": note}, status_code=422)

    return await _on_link(request, pages, work)


@router.post("/act/{token}/decision", summary="Record a renewal decision through an alert's link")
async def act_decision(
    request: Request,
    token: str,
    pages: PagesDep,
    session: SessionDep,
    form: DecisionFields,
) -> Response:
    async def work() -> Response:
        link = await _link_call(request, token)
        errors, new_term_end = form.check(link["contract"].get("term_end"))
        status_code = 422
        if not errors:
            try:
                await _link_call(request, token, "POST", "/decision", form.body(new_term_end))
            except ApiProblem as problem:
                absorb(errors, problem, DECISION_FIELDS)
                status_code = problem.status
                link = await _link_call(request, token)
            else:
                session.tell(form.confirmation())
                return RedirectResponse(f"/act/{token}/done", status_code=303)
        return _act_page(
            request, pages, token, link, errors=errors, values=form.values, status_code=status_code
        )

    return await _on_link(request, pages, work)


@router.get("/act/{token}/done", summary="What was done through an alert's link")
async def act_done(request: Request, token: str, pages: PagesDep) -> Response:
    """The confirmation after acting (post/redirect/get). What was done travels in the session's one-time
    message, so a reload, or anyone else opening this address, sees the link's page instead."""
    session = session_of(request)

    async def work() -> Response:
        told = session.take_flash()
        link = await _link_call(request, token)
        if not told:
            return RedirectResponse(f"/act/{token}", status_code=303)
        acknowledged = told[0] == ACKNOWLEDGED
        return pages.render(
            request,
            "renewals/act_done.html",
            {
                "flash": [],
                "contract": link["contract"],
                "acknowledged": acknowledged,
                "message": None if acknowledged else told[0],
                "can_decide": link.get("can_decide"),
                "action": f"/act/{token}",
            },
        )

    return await _on_link(request, pages, work)
