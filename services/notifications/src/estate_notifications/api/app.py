"""The notifications service's FastAPI application factory."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from estate_notifications.api import links, routes
from estate_notifications.application.actions import FeedRevoked
from estate_notifications.bootstrap import Container
from estate_notifications.settings import AuthSettings
from estate_runtime.errors import DomainError
from estate_runtime.http import service_app
from estate_runtime.problems import Problem, from_domain, problem_response, register_domain_error

DESCRIPTION = """
Renewal alerts for the council's contracts, so that no renewal slips by again.

The service keeps a **renewal watch**: a copy of every contract in the register (from the register's
events), with the date by which the council must act,
`act_by = term end - supplier notice - internal lead time`, moved back to the previous working day in
England and Wales. Alerts go out on a **ladder** of days before act-by (by default 180, 120, 90, 60, 30,
14, 7 and 1; per contract type and per contract overridable) to the contract owner; an alert nobody
acknowledges moves up to the budget holder, then to the TDA. Reminders continue after act-by until the
owner records a **renewal decision** (renew, extend, re-procure or terminate, with reasons), which this
service sends to the register. Each alert's e-mail carries a personal, signed, expiring **link** to a
page where its recipient acknowledges the alert or records the decision without signing in. People
choose immediate alerts or a daily or weekly digest (urgent alerts always come at once) and subscribe to
their renewal dates as a **calendar feed** in Outlook.

* Every `/api/v1` endpoint needs a bearer token, except `/api/v1/links/{token}`: the token of an alert's
  link is its credential, as it is for `/act/{token}` (the HTML page) and for calendar feeds
  (`/calendar/{token}.ics`). Roles come from the token (`requester`, `tda_member`, `tda_chair`,
  `owner`, `contract_manager`, `admin`, `auditor`).
* Who reads what: administrators, contract managers, TDA members, the chair and auditors read every
  contract on the watch; a contract owner (role `owner`) reads the contracts whose owner or budget
  holder has their e-mail address; a requester reads none. The alert's recipients (and administrators,
  contract managers and the TDA) acknowledge it; a contract's owner or budget holder (and contract
  managers and administrators) record its decision; administrators and contract managers set ladders
  and read deliveries; administrators, auditors and the TDA read the audit trail.
* Errors are RFC 9457 `application/problem+json` with an `errors` list of JSON pointers: 400 a link that
  is not valid, 401 no or bad token, 403 a role or person that may not, 404 nothing there, 409 not
  allowed in the contract's or alert's current state (the answer says why), 410 an expired link or a
  revoked calendar feed, 422 a value to fix.
* Dates are `YYYY-MM-DD` (Europe/London calendar days); instants are ISO 8601 UTC; money is a decimal
  string in pounds.
"""

TAGS = [
    {
        "name": "renewals",
        "description": "The renewal watch: every contract's act-by date, schedule and alerts",
    },
    {"name": "alerts", "description": "Acknowledging alerts"},
    {"name": "decisions", "description": "Renewal decisions, sent to the register"},
    {"name": "policy", "description": "Alert ladders: the default, per contract type and per contract"},
    {"name": "preferences", "description": "How often each person hears"},
    {"name": "calendar", "description": "Renewal dates as calendar feeds"},
    {
        "name": "links",
        "description": "The personal links in alert e-mails (public: the link is the credential)",
    },
    {"name": "deliveries", "description": "Every message and its state"},
    {"name": "sink", "description": "The development SMTP sink"},
    {"name": "audit", "description": "Who changed what, and when"},
]

_BODY_FIELDS = frozenset(
    {"rungs", "note", "outcome", "rationale", "new_term_end", "alert_id", "frequency", "scope", "label"}
)
_QUERY_FIELDS = frozenset({"cursor", "limit", "offset", "status"})
_PATH_FIELDS = frozenset({"contract_type"})


def pointer(field: str | None, request: Request) -> str | None:
    """Where a domain error's field is in the request: ``rationale`` -> ``/body/rationale``; the paging
    parameters in ``/query``; none for facts of the record rather than of the request (a contract's
    status)."""
    if field is None:
        return None
    if field in _BODY_FIELDS and request.method in ("POST", "PUT", "PATCH"):
        return f"/body/{field}"
    if field in _QUERY_FIELDS and field in request.query_params:
        return f"/query/{field}"
    if field in _PATH_FIELDS:
        return f"/path/{field}"
    return None


def install_problems() -> None:
    register_domain_error(FeedRevoked, 410, "Gone", "gone")


def create_app(container: Container, auth: AuthSettings | None = None) -> FastAPI:
    install_problems()
    app = service_app(
        title="Estate notifications",
        description=DESCRIPTION,
        engine=container.engine,
        auth=auth or container.auth or AuthSettings(),
        max_upload_bytes=container.settings.max_upload_bytes,
        tags=TAGS,
        on_close=container.close,
    )
    app.state.container = container

    # Replaces the runtime's handler for domain errors: the same statuses and titles, with pointers that
    # say where in the request the value to fix is.
    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        problem = from_domain(exc)
        where = pointer(exc.field, request)
        errors = [{"pointer": where, "detail": exc.detail}] if where else None
        return problem_response(
            request, Problem(problem.status, problem.title, problem.detail, kind=problem.kind, errors=errors)
        )

    app.include_router(routes.router)
    app.include_router(links.router)
    return app
