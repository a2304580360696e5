"""Small values of the procurement domain: states, enumerations, people, and the parts of a request.

The enumerations are ``StrEnum`` so that a value read from JSON compares equal to the member, and the
limits below are those of the published message contracts (a title is at most 300 characters, a
paragraph at most 20,000, money has at most two decimal places): a request that passes these checks can
always be published.
"""

from __future__ import annotations

import dataclasses
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import Enum, StrEnum
from typing import Any, TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from estate_procurement.domain.errors import InvalidValue

LONDON = ZoneInfo("Europe/London")
"""Calendar dates (due dates, working days) are Europe/London days."""

SHORT_TEXT = 300
LONG_TEXT = 20_000
CODE_TEXT = 100
URL_TEXT = 2_000
MAX_MONEY = Decimal("10") ** 13
PENCE = Decimal("0.01")
MONEY_EXAMPLE = "18000.50"


def local_date(at: datetime) -> date:
    """The Europe/London calendar day of an instant; ``at`` must be timezone-aware."""
    if at.tzinfo is None:
        raise ValueError("a naive datetime has no calendar day: pass a timezone-aware one")
    return at.astimezone(LONDON).date()


# --- roles ------------------------------------------------------------------------------------------

REQUESTER = "requester"
TDA_MEMBER = "tda_member"
TDA_CHAIR = "tda_chair"
OWNER = "owner"
CONTRACT_MANAGER = "contract_manager"
ADMIN = "admin"
AUDITOR = "auditor"

TDA_ROLES = frozenset({TDA_MEMBER, TDA_CHAIR})
"""Who reviews: TDA members and the chair. Only the chair decides and reopens (admin may not)."""

REQUESTING_ROLES = frozenset({REQUESTER, OWNER, CONTRACT_MANAGER, TDA_MEMBER, TDA_CHAIR})
"""Who may raise a request: anyone who buys or runs technology (an auditor or admin alone may not)."""


@dataclass(frozen=True, kw_only=True)
class PersonRef:
    """A member of staff as a request names them: identity-provider subject, display name, e-mail."""

    id: str
    name: str
    email: str

    def __post_init__(self) -> None:
        if not self.id.strip():
            raise InvalidValue("a person needs an id", field="id")
        if not self.name.strip() or len(self.name) > SHORT_TEXT:
            raise InvalidValue("a person needs a name of at most 300 characters", field="name")
        if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", self.email.strip()):
            raise InvalidValue(f"{self.email!r} is not an e-mail address", field="email")


@dataclass(frozen=True, kw_only=True)
class Actor:
    """Who is acting, with the roles their token grants (requester, tda_member, tda_chair, owner,
    contract_manager, admin, auditor)."""

    id: str
    name: str
    email: str
    roles: frozenset[str] = frozenset()

    @property
    def person(self) -> PersonRef:
        return PersonRef(id=self.id, name=self.name, email=self.email)

    def has_any(self, roles: frozenset[str]) -> bool:
        return bool(self.roles & roles)

    @property
    def is_tda(self) -> bool:
        return self.has_any(TDA_ROLES)

    @property
    def is_chair(self) -> bool:
        return TDA_CHAIR in self.roles


# --- enumerations -----------------------------------------------------------------------------------


class RequestState(StrEnum):
    """Where a request is in the TDA process."""

    DRAFT = "draft"
    SUBMITTED = "submitted"
    UNDER_REVIEW = "under_review"
    INFORMATION_REQUESTED = "information_requested"
    RESUBMITTED = "resubmitted"
    DECIDED = "decided"
    WITHDRAWN = "withdrawn"

    @property
    def terminal(self) -> bool:
        """Decided and withdrawn requests wait for nobody (only the chair can reopen them)."""
        return self in (RequestState.DECIDED, RequestState.WITHDRAWN)


class Outcome(StrEnum):
    """The three outcomes of a TDA decision (approval, conditional approval, non-approval)."""

    APPROVED = "approved"
    APPROVED_WITH_CONDITIONS = "approved_with_conditions"
    NOT_APPROVED = "not_approved"


class Rating(StrEnum):
    """A reviewer's rating of one checklist item; not_applicable items are left out of the score."""

    MET = "met"
    PARTLY_MET = "partly_met"
    NOT_MET = "not_met"
    NOT_APPLICABLE = "not_applicable"


class OptionKind(StrEnum):
    BUILD = "build"
    BUY = "buy"
    REUSE = "reuse"


class Priority(StrEnum):
    """MoSCoW priority of a user story (R27)."""

    MUST = "must"
    SHOULD = "should"
    COULD = "could"
    WONT = "wont"


class Hosting(StrEnum):
    ON_PREMISES = "on_premises"
    SAAS = "saas"
    CLOUD = "cloud"
    HYBRID = "hybrid"


class IntegrationApproach(StrEnum):
    """How the solution exchanges data; RESTful APIs are expected of new systems (S0:3834)."""

    RESTFUL_API = "restful_api"
    MIDDLEWARE = "middleware"
    BULK_FILE = "bulk_file"
    NONE = "none"


class WcagLevel(StrEnum):
    A = "A"
    AA = "AA"
    AAA = "AAA"
    NOT_MET = "not_met"


class Rag(StrEnum):
    RED = "red"
    AMBER = "amber"
    GREEN = "green"


class RequestCategory(StrEnum):
    """Traditional IT, or IoT / pro-tech (fleet, sensors, devices in council properties)."""

    IT = "it"
    IOT_PROTECH = "iot_protech"


class ChargingOption(StrEnum):
    """App M clause 2: the data and API features are free, or every charge is itemised in the tender."""

    FREE = "free"
    ITEMISED = "itemised"


class ConditionStatus(StrEnum):
    OPEN = "open"
    MET = "met"


# --- parts of a request -----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class UserStory:
    """ "As a ... I need ... so that ..." with its MoSCoW priority."""

    text: str
    priority: Priority


@dataclass(frozen=True, kw_only=True)
class OptionConsidered:
    """One option of the options appraisal (build, buy or re-use) and why it was chosen or rejected."""

    kind: OptionKind
    description: str
    reason: str = ""
    chosen: bool = False


@dataclass(frozen=True, kw_only=True)
class RiskEntry:
    """A risk (security, compliance, operational disruption) with its mitigation and RAG rating."""

    risk: str
    mitigation: str = ""
    rag: Rag = Rag.AMBER


# --- checking and coercing shapes ---------------------------------------------------------------------

E = TypeVar("E", bound=Enum)


def text(value: Any, name: str, *, limit: int = LONG_TEXT) -> str | None:
    """A person's text: stripped, blank becomes None, longer than ``limit`` is refused."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidValue(f"{name} must be text", field=name)
    stripped: str = value.strip()
    if not stripped:
        return None
    if len(stripped) > limit:
        raise InvalidValue(f"{name} must be at most {limit} characters", field=name)
    return stripped


def required_text(value: Any, name: str, *, limit: int = LONG_TEXT) -> str:
    checked = text(value, name, limit=limit)
    if checked is None:
        raise InvalidValue(f"{name} must not be blank", field=name)
    return checked


def enum_value(kind: type[E], value: Any, name: str) -> E:
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(str(m.value) for m in kind)
        raise InvalidValue(f"{name} must be one of {allowed} (got {value!r})", field=name) from None


def optional_enum(kind: type[E], value: Any, name: str) -> E | None:
    return None if value is None else enum_value(kind, value, name)


def money(value: Any, name: str) -> Decimal | None:
    """A GBP amount, normalised to pounds and pence (``"2.5E+4"`` -> ``25000.00``, ``"18000.1"`` ->
    ``18000.10``), so that what is stored is what the events say. Refused: non-numbers, NaN and
    infinities, negative amounts, more than two decimal places, 10^13 or more."""
    if value is None:
        return None
    write = f"write it in pounds and pence, e.g. '{MONEY_EXAMPLE}'"
    if isinstance(value, bool | float):
        raise InvalidValue(f"{name} must be a decimal amount in pounds: {write}", field=name)
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise InvalidValue(
            f"{name} must be an amount in pounds (got {value!r}): {write}", field=name
        ) from None
    if not amount.is_finite():
        raise InvalidValue(f"{name} must be a finite amount in pounds (got {value!r}): {write}", field=name)
    if amount < 0:
        raise InvalidValue(f"{name} must not be negative", field=name)
    if amount >= MAX_MONEY:
        raise InvalidValue(f"{name} is too large", field=name)
    pence = amount.quantize(PENCE)
    if amount != pence:
        raise InvalidValue(
            f"{name} must have at most two decimal places (pence), not {value!r}: {write}", field=name
        )
    return pence if pence else Decimal("0.00")  # never "-0.00"


def optional_bool(value: Any, name: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise InvalidValue(f"{name} must be true or false", field=name)


def codes(value: Any, name: str, *, pattern: str | None = None, limit: int = CODE_TEXT) -> tuple[str, ...]:
    """A list of codes: each non-blank, stripped, de-duplicated in order, optionally matching ``pattern``."""
    if value is None:
        return ()
    if isinstance(value, str) or not isinstance(value, list | tuple | set | frozenset):
        raise InvalidValue(f"{name} must be a list", field=name)
    out: list[str] = []
    for item in value:
        code = required_text(item, name, limit=limit)
        if pattern is not None and not re.fullmatch(pattern, code):
            raise InvalidValue(f"{name}: {code!r} is not a valid code", field=name)
        if code not in out:
            out.append(code)
    return tuple(out)


def a_date(value: Any, name: str) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        raise InvalidValue(f"{name} must be a calendar date, not an instant", field=name)
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise InvalidValue(f"{name} must be a date (YYYY-MM-DD)", field=name)


def a_uuid(value: Any, name: str) -> uuid.UUID | None:
    if value is None or isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise InvalidValue(f"{name} must be an id (UUID)", field=name) from None


_UNSAFE_IN_LINK = re.compile(r"""[\s\x00-\x1f\x7f"'<>`\\]""")
"""Characters a link shown in a page must not carry: whitespace, control characters, quotes, backquotes,
backslashes and angle brackets."""

_DOTTED_HOST = re.compile(r"(?:[^\W_](?:[\w-]*[^\W_])?\.)+[^\W_](?:[\w-]*[^\W_])?")
"""A host name with at least one dot (``intranet.example.gov.uk``, ``10.0.0.1``); no bare ``localhost``."""


def _link_problem(link: str) -> str | None:
    """Why ``link`` is not an acceptable evidence link, or None when it is one."""
    if _UNSAFE_IN_LINK.search(link):
        return "it contains spaces, control characters, quotes, backslashes or angle brackets"
    try:
        parts = urlsplit(link)
        port = parts.port  # a port that is not a number raises ValueError
    except ValueError:
        return "it cannot be read as a web address"
    if parts.scheme.lower() not in ("http", "https"):
        return "it must start with http:// or https://"
    if "@" in parts.netloc:
        return "it must not carry a user name or password before the host"
    if not _DOTTED_HOST.fullmatch(parts.hostname or ""):
        return "it must name a full host such as sharepoint.example.gov.uk, not a bare name like localhost"
    if port == 0:
        return "it cannot be read as a web address"
    return None


def http_url(value: Any, name: str) -> str | None:
    """An evidence link, or nothing: an http or https URL with a dotted host name, no user name or
    password, and no whitespace, control characters, quotes, backslashes or angle brackets (it is shown
    as a link to other people); at most 2,000 characters."""
    link = text(value, name, limit=URL_TEXT)
    if link is None:
        return None
    problem = _link_problem(link)
    if problem is not None:
        raise InvalidValue(
            f"{name} must be an http or https link such as "
            f"'https://sharepoint.example.gov.uk/evidence.pdf': {problem}",
            field=name,
        )
    return link


def person(value: Any, name: str) -> PersonRef:
    """A PersonRef from itself or from a mapping with id, name and e-mail."""
    if isinstance(value, PersonRef):
        return value
    if isinstance(value, Actor):
        return value.person
    if isinstance(value, Mapping):
        try:
            return PersonRef(id=str(value["id"]), name=str(value["name"]), email=str(value["email"]))
        except KeyError as missing:
            raise InvalidValue(f"{name} needs {missing.args[0]}", field=name) from None
        except InvalidValue as error:
            raise InvalidValue(f"{name}: {error.detail}", field=name) from None
    raise InvalidValue(f"{name} must name a person (id, name, email)", field=name)


V = TypeVar("V")


def as_value(kind: type[V], value: Any, name: str) -> V:
    """A value object from itself or from a mapping of its fields (unknown keys refused)."""
    if isinstance(value, kind):
        return value
    if not isinstance(value, Mapping):
        raise InvalidValue(f"{name} must be an object", field=name)
    assert dataclasses.is_dataclass(kind)
    known = {f.name for f in dataclasses.fields(kind)}
    unknown = set(value) - known
    if unknown:
        raise InvalidValue(f"{name}: unknown part {sorted(unknown)[0]!r}", field=name)
    return kind(**value)


# --- plain (JSON-friendly) form ----------------------------------------------------------------------


def to_plain(value: Any) -> Any:
    """JSON-friendly form of a domain value: enums by value, dates ISO, money and ids as strings."""
    if value is None or (isinstance(value, str | int | float | bool) and not isinstance(value, Enum)):
        return value
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [to_plain(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted((to_plain(v) for v in value), key=str)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: to_plain(getattr(value, f.name)) for f in dataclasses.fields(value) if f.name != "events"
        }
    if isinstance(value, Mapping):
        return {str(k): to_plain(v) for k, v in value.items()}
    return value
