"""Rendering pages, and what every page needs to know: who is signed in, what they may see, the form
token and any confirmation to show once.

Templates are Jinja2 with GOV.UK Frontend's macros (govuk-frontend-jinja, under the
``govuk_frontend_jinja/`` prefix); autoescaping is on for every template.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from jinja2 import ChoiceLoader, Environment, PackageLoader, PrefixLoader, select_autoescape

from estate_portal.backends import Api, Backends
from estate_portal.errors import ApiProblem, NotAllowed, NotSignedIn, SessionEnded
from estate_portal.session import Session, User, session_of
from estate_runtime import dates

TDA = ("tda_member", "tda_chair")
ESTATE_READERS = ("tda_member", "tda_chair", "contract_manager", "admin", "auditor")
"""Who sees the TDA's single view (the register's estate API allows the same roles)."""


@dataclass(frozen=True, slots=True)
class NavItem:
    href: str
    text: str
    roles: tuple[str, ...] | None
    """Who sees it; ``None``: everyone signed in."""


NAVIGATION: tuple[NavItem, ...] = (
    NavItem("/dashboard", "Dashboard", ESTATE_READERS),
    NavItem("/systems", "Register", None),
    NavItem("/contracts", "Contracts", None),
    NavItem("/requests", "Requests", None),
    NavItem("/reviews", "Reviews", TDA),
    NavItem("/renewals", "My renewals", None),
    NavItem("/exports", "Exports", ESTATE_READERS),
)


def long_date(value: Any) -> str:
    """3 March 2027, as GOV.UK writes dates."""
    if value in (None, ""):
        return ""
    if isinstance(value, str):
        text = value
        try:
            value = datetime.fromisoformat(text) if "T" in text else date.fromisoformat(text)
        except ValueError:
            return text
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dates.LONDON)  # times as the council's clocks show them
        return f"{dates.long_date(value.date())} at {value:%H:%M}"
    if isinstance(value, date):
        return dates.long_date(value)
    return str(value)


def pounds(value: Any, pence: bool = False) -> str:
    """£12,345 (or £12,345.67); blank when there is no figure."""
    if value in (None, ""):
        return ""
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    return f"£{amount:,.2f}" if pence else f"£{amount:,.0f}"


def words(value: Any) -> str:
    """``re_procure`` → ``Re procure``: an enumerated value as words, where no label is given."""
    if value in (None, ""):
        return ""
    text = str(value).replace("_", " ").replace("-", " ")
    return text[:1].upper() + text[1:]


def build_environment() -> Environment:
    env = Environment(
        loader=ChoiceLoader(
            [
                PackageLoader("estate_portal", "templates"),
                PrefixLoader({"govuk_frontend_jinja": PackageLoader("govuk_frontend_jinja")}),
            ]
        ),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
        enable_async=False,
    )
    env.filters.update(long_date=long_date, pounds=pounds, words=words)
    return env


class Pages:
    """Renders templates with the context every page has."""

    def __init__(self, env: Environment, *, service_name: str = "Estate", organisation: str = "") -> None:
        self.env = env
        self.service_name = service_name
        self.organisation = organisation

    def render(
        self,
        request: Request,
        template: str,
        context: Mapping[str, Any] | None = None,
        *,
        status_code: int = 200,
    ) -> HTMLResponse:
        session = session_of(request)
        nonce = secrets.token_urlsafe(16)
        user = session.user
        values: dict[str, Any] = {
            "request": request,
            "user": user,
            "csrf_token": session.csrf,
            "navigation": navigation_for(user, request.url.path),
            "flash": session.take_flash(),
            "service_name": self.service_name,
            "organisation": self.organisation,
            "cspNonce": nonce,
            "assetPath": "/assets",
        }
        values.update(context or {})
        body = self.env.get_template(template).render(values)
        response = HTMLResponse(body, status_code=status_code)
        response.headers["Content-Security-Policy"] = (
            f"default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self'; img-src 'self' data:; "
            "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        )
        response.headers["Cache-Control"] = "no-store"
        return response


def navigation_for(user: User | None, path: str) -> list[dict[str, Any]]:
    if user is None:
        return []
    items = []
    for item in NAVIGATION:
        if item.roles is None or user.has_any(*item.roles):
            items.append({"href": item.href, "text": item.text, "active": path.startswith(item.href)})
    return items


def pages_of(request: Request) -> Pages:
    pages: Pages = request.app.state.pages
    return pages


def current_session(request: Request) -> Session:
    return session_of(request)


def signed_in(request: Request) -> User:
    session = session_of(request)
    if session.user is None:
        if session.ended:
            raise SessionEnded("Your session has ended. Sign in again to carry on; nothing was saved.")
        raise NotSignedIn("Sign in to use Estate.", next=request.url.path)
    return session.user


def api_for(request: Request, user: Annotated[User, Depends(signed_in)]) -> Api:
    backends: Backends = request.app.state.backends
    return backends.as_user(user.token)


def require(*roles: str) -> Any:
    """A dependency: the signed-in person holds one of ``roles`` (else a 'you cannot see this' page)."""

    def check(user: Annotated[User, Depends(signed_in)]) -> User:
        if not user.has_any(*roles):
            raise NotAllowed(
                "This page is for " + _role_words(roles) + ". Ask the TDA if you need access.",
            )
        return user

    return Depends(check)


ROLE_WORDS = {
    "requester": "service managers",
    "tda_member": "members of the TDA",
    "tda_chair": "the chair of the TDA",
    "owner": "system and contract owners",
    "contract_manager": "ICT contract management",
    "admin": "administrators",
    "auditor": "auditors",
}


def _role_words(roles: Iterable[str]) -> str:
    names = [ROLE_WORDS.get(role, role) for role in roles]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


CurrentUser = Annotated[User, Depends(signed_in)]
UserApi = Annotated[Api, Depends(api_for)]
PagesDep = Annotated[Pages, Depends(pages_of)]
SessionDep = Annotated[Session, Depends(current_session)]


class FormErrors:
    """A form's errors for the GOV.UK error summary and each field's error message, in field order."""

    def __init__(self) -> None:
        self.by_field: dict[str, str] = {}

    def add(self, field: str, message: str) -> None:
        self.by_field.setdefault(field, message)

    def absorb(self, problem: ApiProblem, known_fields: Iterable[str] = ()) -> None:
        """An API's refusal, each error next to its field (or at the top if it names none we show)."""
        known = set(known_fields)
        for name, message in problem.field_errors().items():
            self.add(name if name in known else "", message)

    def __bool__(self) -> bool:
        return bool(self.by_field)

    def message(self, field: str) -> dict[str, str] | None:
        text = self.by_field.get(field)
        return {"text": text} if text else None

    def summary(self) -> list[dict[str, str]]:
        return [
            {"text": text, "href": f"#{field}"} if field else {"text": text}
            for field, text in self.by_field.items()
        ]
