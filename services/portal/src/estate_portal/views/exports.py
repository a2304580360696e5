"""Pages: exports and calendar subscription links.

* ``GET /exports``: every estate list as CSV and XLSX, the Local Government Transparency Code contracts
  list, the OCDS release package, and the signed-in person's calendar links (the estate roles).
* ``GET /exports/lists/{name}.{csv|xlsx}``, ``GET /exports/transparency.{csv|xlsx}``,
  ``GET /exports/ocds.json``: the register's file, passed through as it came (its ``Content-Type`` and
  ``Content-Disposition``), fetched as the signed-in person, so the register decides who may have it.
* ``GET /calendar``: the calendar links alone, for everyone signed in (owners and requesters too).
* ``POST /calendar/feeds`` and ``POST /calendar/feeds/{id}/revoke``: make and revoke a link through the
  notifications API.

The notifications service shows a calendar link's address once, in its answer to the ``POST``, and
keeps only a hash. The portal carries it to the next page (post/redirect/get) in the session's one-time
confirmations, which live in the encrypted, HttpOnly session cookie and are dropped once shown; the
calendar page lifts it out of them to show it with the instructions (any other page would show it as a
plain confirmation, so it is never lost between the two).
"""

from __future__ import annotations

import contextlib
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from estate_portal.backends import Api
from estate_portal.csrf import protect
from estate_portal.errors import ApiProblem, PageNotFound
from estate_portal.session import Session, User
from estate_portal.views.dashboard import LISTS
from estate_portal.web import (
    ESTATE_READERS,
    CurrentUser,
    FormErrors,
    Pages,
    PagesDep,
    SessionDep,
    UserApi,
    require,
)
from estate_runtime.dates import LONDON

router = APIRouter(dependencies=[Depends(protect)])

TDA_FEED_ROLES = ("tda_member", "tda_chair", "contract_manager", "admin")
"""Who may subscribe to every contract's dates (the notifications API's rule)."""

LABEL_LIMIT = 200
BACK_TO = {"/exports": "/exports#calendar", "/calendar": "/calendar"}
"""Where a calendar form returns to: only these two pages (never an address a form names)."""

_FRESH = re.compile(
    r"^Calendar link “(?P<label>.*)” created\. Its address, shown only this once: (?P<url>\S+)$"
)


@dataclass(frozen=True, slots=True)
class FreshFeed:
    """A calendar link made a moment ago, with the address the notifications service gave once."""

    label: str
    url: str

    @property
    def webcal(self) -> str:
        """The same address for calendar apps that subscribe on a click (Outlook, Apple Calendar)."""
        return re.sub(r"^https?://", "webcal://", self.url)


def fresh_feed_message(label: str, url: str) -> str:
    return f"Calendar link “{label}” created. Its address, shown only this once: {url}"


def take_fresh_feeds(session: Session) -> list[FreshFeed]:
    """The calendar links made just before this page, taken out of the session's confirmations."""
    fresh: list[FreshFeed] = []
    rest: list[str] = []
    for message in session.flash:
        found = _FRESH.match(message)
        if found:
            fresh.append(FreshFeed(found["label"], found["url"]))
        else:
            rest.append(message)
    if fresh:
        session.flash = rest
        session.dirty = True
    return fresh


INSTANTS = ("created_at", "revoked_at", "last_used_at")


def _local_times(feed: dict[str, Any]) -> dict[str, Any]:
    """The feed with its instants as the council's clock shows them (the API gives UTC)."""
    shown = dict(feed)
    for key in INSTANTS:
        value = feed.get(key)
        if isinstance(value, str) and value:
            with contextlib.suppress(ValueError):  # not an instant: shown as it came
                shown[key] = datetime.fromisoformat(value).astimezone(LONDON).replace(tzinfo=None)
    return shown


def may_subscribe_to_everything(user: User) -> bool:
    return user.has_any(*TDA_FEED_ROLES)


async def calendar_context(
    api: Api,
    user: User,
    session: Session,
    *,
    back: str,
    errors: FormErrors | None = None,
    values: dict[str, str] | None = None,
) -> dict[str, Any]:
    """What the calendar section needs: the person's links (newest first), any link just made, the form."""
    feeds = [_local_times(feed) for feed in await api.get("notifications", "/api/v1/calendar-feeds")]
    return {
        "feeds": [feed for feed in feeds if feed.get("revoked_at") is None],
        "revoked_feeds": [feed for feed in feeds if feed.get("revoked_at") is not None],
        "fresh_feeds": take_fresh_feeds(session),
        "may_subscribe_to_everything": may_subscribe_to_everything(user),
        "show_owner": "admin" in user.roles,
        "errors": errors or FormErrors(),
        "values": values or {"label": "", "scope": "person"},
        "back": back,
    }


# --- the exports page -----------------------------------------------------------------------------


@router.get("/exports", summary="Exports")
async def exports_page(
    request: Request,
    pages: PagesDep,
    api: UserApi,
    session: SessionDep,
    user: Annotated[User, require(*ESTATE_READERS)],
) -> Response:
    return await _render_exports(request, pages, api, session, user)


async def _render_exports(
    request: Request,
    pages: Pages,
    api: Api,
    session: Session,
    user: User,
    *,
    errors: FormErrors | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    context = await calendar_context(api, user, session, back="/exports", errors=errors, values=values)
    context["lists"] = [{"name": name, **details} for name, details in LISTS.items()]
    return pages.render(request, "exports/exports.html", context, status_code=status_code)


# --- files, passed through from the register ---------------------------------------------------------

_LIST_NAME = re.compile(r"^[a-z][a-z0-9-]{0,79}$")


def _file(download: Any, fallback_name: str) -> Response:
    return Response(
        content=download.content,
        media_type=download.media_type,
        headers={
            "Content-Disposition": download.disposition or f'attachment; filename="{fallback_name}"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/exports/lists/{name}.{fmt}", summary="A list as a file")
async def list_file(
    name: str, fmt: str, api: UserApi, _: Annotated[User, require(*ESTATE_READERS)]
) -> Response:
    if fmt not in ("csv", "xlsx") or not _LIST_NAME.match(name):
        raise PageNotFound("There is no such list or file type: lists come as .csv or .xlsx.")
    download = await api.download("register", f"/api/v1/estate/lists/{name}", format=fmt)
    return _file(download, f"{name}.{fmt}")


@router.get("/exports/transparency.{fmt}", summary="The Transparency Code contracts list")
async def transparency_file(fmt: str, api: UserApi, _: Annotated[User, require(*ESTATE_READERS)]) -> Response:
    if fmt not in ("csv", "xlsx"):
        raise PageNotFound("The Transparency Code contracts list comes as .csv or .xlsx.")
    download = await api.download("register", f"/api/v1/estate/exports/transparency.{fmt}")
    return _file(download, f"transparency-contracts.{fmt}")


@router.get("/exports/ocds.json", summary="Contracts as an OCDS release package")
async def ocds_file(api: UserApi, _: Annotated[User, require(*ESTATE_READERS)]) -> Response:
    download = await api.download("register", "/api/v1/estate/exports/ocds.json")
    return _file(download, "ocds.json")


# --- calendar links ------------------------------------------------------------------------------------


@router.get("/calendar", summary="Calendar subscription links")
async def calendar_page(
    request: Request, pages: PagesDep, api: UserApi, session: SessionDep, user: CurrentUser
) -> Response:
    context = await calendar_context(api, user, session, back="/calendar")
    return pages.render(request, "exports/calendar.html", context)


def _back(value: str | None) -> str:
    return value if value in BACK_TO else "/calendar"


@router.post("/calendar/feeds", summary="Make a calendar link")
async def create_feed(
    request: Request,
    pages: PagesDep,
    api: UserApi,
    session: SessionDep,
    user: CurrentUser,
    label: Annotated[str, Form()] = "",
    scope: Annotated[str, Form()] = "person",
    back: Annotated[str | None, Form()] = None,
) -> Response:
    page = _back(back)
    values = {"label": label, "scope": scope}
    errors = FormErrors()
    name = label.strip()
    if not name:
        errors.add("label", "Enter a name for the calendar link, such as the calendar it is for")
    elif len(name) > LABEL_LIMIT:
        errors.add("label", f"The name must be {LABEL_LIMIT} characters or fewer")
    if scope not in ("person", "tda") or (scope == "tda" and not may_subscribe_to_everything(user)):
        errors.add("scope", "Select which contracts' dates the calendar shows")
    if not errors:
        try:
            made = await api.send(
                "notifications", "POST", "/api/v1/calendar-feeds", {"label": name, "scope": scope}
            )
        except ApiProblem as problem:
            errors.absorb(problem, ("label", "scope"))
        else:
            session.tell(fresh_feed_message(str(made["label"]), str(made["url"])))
            return RedirectResponse(BACK_TO[page], status_code=303)
    if page == "/exports" and user.has_any(*ESTATE_READERS):
        return await _render_exports(
            request, pages, api, session, user, errors=errors, values=values, status_code=422
        )
    context = await calendar_context(api, user, session, back="/calendar", errors=errors, values=values)
    return pages.render(request, "exports/calendar.html", context, status_code=422)


@router.post("/calendar/feeds/{feed_id}/revoke", summary="Revoke a calendar link")
async def revoke_feed(
    feed_id: uuid.UUID,
    api: UserApi,
    session: SessionDep,
    _: CurrentUser,
    back: Annotated[str | None, Form()] = None,
) -> Response:
    revoked = await api.send("notifications", "DELETE", f"/api/v1/calendar-feeds/{feed_id}")
    session.tell(
        f"Calendar link “{revoked['label']}” revoked: calendars subscribed to it will no longer update."
    )
    return RedirectResponse(BACK_TO[_back(back)], status_code=303)
