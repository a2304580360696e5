"""The procurement service's FastAPI application factory."""

from __future__ import annotations

import re

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from estate_procurement.api import review, routes
from estate_procurement.bootstrap import Container
from estate_procurement.domain.errors import IncompleteRequest, InvalidValue, NotAllowed
from estate_procurement.settings import AuthSettings
from estate_runtime.http import service_app
from estate_runtime.problems import Problem, problem_response, register_domain_error

DESCRIPTION = """
Technology requests and their review by the council's **Technical Design Authority (TDA)**.

A service manager raises a request (a *draft*, which may be saved incomplete), sees the systems the
council already runs and the TDA's past decisions that look like it (`/candidates`), and submits it.
The TDA reviews it against the versioned Appendix K checklist (`/checklists`): each reviewer rates each
item met, partly met, not met or not applicable; the service scores the ratings per rule and overall and
recommends an outcome (a red line not met forces *not approved*); the chair decides — approved, approved
with conditions, or not approved — with a written rationale. Conditions have an owner and a due date
and show when they are overdue. Requests that wait too long in one state are flagged.

Lifecycle: `draft → submitted → under_review → (information_requested ↔ resubmitted) → decided`;
withdrawn before a decision; reopened only by the chair, with a reason.

* Every endpoint but `/health/*`, `/metrics` and the docs needs a bearer token; roles come from the
  token (`requester`, `tda_member`, `tda_chair`, `owner`, `contract_manager`, `admin`, `auditor`).
* Who reads what: everyone reads the checklists, the decision log (`/decisions`) and re-use candidates;
  TDA members, the chair, administrators and auditors read every request, its ratings, scores,
  recommendation, audit trail and every condition; anyone else reads the requests they raised (and
  those that give them a condition to meet), lists only their own, and reads their own audit trail.
  Requesters edit only their own drafts; TDA members review and rate; only the chair decides and
  reopens (an administrator may not).
* A request is addressed by its id or its reference (`TR-2026-0042`). Commands answer with the request
  as it now stands and its `ETag`; `PATCH` and the chair's `/decision` (which cannot be undone) need
  `If-Match` (428 without it, 412 when stale), and the other commands honour it when sent.
* Errors are RFC 9457 `application/problem+json` with an `errors` list of JSON pointers: 401 no or bad
  token, 403 a role or person that may not, 404 nothing there, 409 not allowed from the request's
  current state (the answer names it), 412 stale, 422 a value to fix (an incomplete submission lists
  every missing field), 428 If-Match needed.
* Money is a decimal string in pounds (`"1250.00"`); dates are `YYYY-MM-DD` (Europe/London); instants
  are ISO 8601 UTC.
"""

TAGS = [
    {"name": "requests", "description": "Technology requests: drafts, reading and listing"},
    {"name": "lifecycle", "description": "Submitting, reviewing, asking for information, withdrawing"},
    {"name": "review", "description": "Ratings, scores, the recommendation and the chair's decision"},
    {"name": "checklists", "description": "The versioned TDA checklist (Appendix K + supplementary checks)"},
    {"name": "conditions", "description": "Conditions of conditional approvals, and overdue ones"},
    {"name": "re-use", "description": "Existing systems and past decisions that look like a request"},
    {"name": "decisions", "description": "The TDA's decision log, readable by the whole organisation"},
    {"name": "audit", "description": "Who did what to a request, and when"},
    {"name": "identity", "description": "Who the token names"},
]

_INDEX = re.compile(r"\[(\d+)\]")
_LOCATIONS = {"item_id": "path", "condition_id": "path", "cursor": "query", "limit": "query", "sort": "query"}


def pointer(field: str) -> str:
    """A domain field name as a JSON pointer: ``conditions[0].owner`` -> ``/body/conditions/0/owner``;
    the fields that travel in the URL point into ``/path``."""
    parts = _INDEX.sub(r".\1", field).split(".")
    where = _LOCATIONS.get(parts[0], "body")
    return "/" + "/".join([where, *parts])


def install_problems() -> None:
    register_domain_error(NotAllowed, 403, "Not allowed", "forbidden")


def create_app(container: Container, auth: AuthSettings | None = None) -> FastAPI:
    install_problems()
    app = service_app(
        title="Estate procurement",
        description=DESCRIPTION,
        engine=container.engine,
        auth=auth or container.auth or AuthSettings(),
        max_upload_bytes=container.settings.max_upload_bytes,
        tags=TAGS,
        on_close=container.close,
    )
    app.state.container = container

    @app.exception_handler(IncompleteRequest)
    async def _incomplete(request: Request, exc: IncompleteRequest) -> JSONResponse:
        return problem_response(
            request,
            Problem(
                422,
                "The request is not complete",
                exc.detail,
                kind="incomplete-request",
                errors=[{"pointer": pointer(field), "detail": message} for field, message in exc.missing],
            ),
        )

    @app.exception_handler(InvalidValue)
    async def _invalid(request: Request, exc: InvalidValue) -> JSONResponse:
        errors = [{"pointer": pointer(exc.field), "detail": exc.detail}] if exc.field else None
        return problem_response(
            request,
            Problem(
                422,
                "The request has a value that cannot be accepted",
                exc.detail,
                kind="invalid-value",
                errors=errors,
            ),
        )

    app.include_router(routes.router)
    app.include_router(review.router)
    return app
