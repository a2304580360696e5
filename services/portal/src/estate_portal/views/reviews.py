"""Pages: the TDA's review of technology requests (Appendix K).

* ``GET /reviews``: the TDA's queue, oldest first: requests submitted, under review, resubmitted or
  waiting for the requester's answers, with their age; and the latest decisions.
* ``GET /reviews/{key}``: the review screen: the request's answers, the existing systems and past
  decisions like it (the procurement service's re-use candidates), the scores and recommendation so
  far, the checklist as a form for the signed-in member's own ratings, and the decision.
* ``POST /reviews/{key}/start``: take a submitted (or resubmitted) request into review.
* ``POST /reviews/{key}/scores``: save the member's ratings (one ``PUT .../ratings/{item}`` per item
  that changed; nothing is sent unless every item on the form is valid).
* ``POST /reviews/{key}/information``: ask the requester questions (under review only).
* ``POST /reviews/{key}/decision``: the chair's decision, with rationale and conditions; it carries the
  request's ETag as the chair read it (``If-Match``), so a rating given meanwhile makes the procurement
  service refuse it (412) rather than let the chair decide on a stale view.
* ``GET /reviews/{key}/decided``: the confirmation ("Request approved with 1 condition").

Who may do what is the procurement service's rule; the pages only avoid offering what it would refuse:
TDA members and the chair see every page here, only the chair gets the decision form, and nobody
reviews a request they raised.

A condition's owner is entered as an e-mail address. The procurement service names people by their
identity-provider subject, which the portal cannot know for someone else: the owner is sent with their
e-mail as id and their name from the register's people where it knows them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup, escape

from estate_portal.backends import Api
from estate_portal.csrf import protect
from estate_portal.errors import ApiProblem, PortalError
from estate_portal.session import User
from estate_portal.views.procurement_common import (
    EMAIL,
    OUTCOME_WORDS,
    condition_rows,
    london_instant,
    read_request,
    refusal_status,
)
from estate_portal.views.procurement_common import date_items as _date_items
from estate_portal.views.procurement_common import form_text as _field
from estate_portal.views.procurement_common import request_path as _path
from estate_portal.web import (
    TDA,
    FormErrors,
    PagesDep,
    SessionDep,
    UserApi,
    long_date,
    pounds,
    require,
    words,
)
from estate_runtime.dates import LONDON

router = APIRouter(dependencies=[Depends(protect)])

QUEUE_STATES = ("submitted", "under_review", "information_requested", "resubmitted")
"""The states in which a request waits for the TDA (or, information_requested, for its requester)."""

QUEUE_PAGE = 50
RECENT_DECISIONS = 10

RATINGS: tuple[tuple[str, str], ...] = (
    ("met", "Met"),
    ("partly_met", "Partly met"),
    ("not_met", "Not met"),
    ("not_applicable", "Not applicable"),
)
RATING_WORDS = dict(RATINGS)
NEEDS_COMMENT = frozenset({"partly_met", "not_met"})

OUTCOMES: tuple[tuple[str, str, str], ...] = (
    ("approved", "Approve", "The request meets the TDA's rules; the register records a planned system."),
    (
        "approved_with_conditions",
        "Approve with conditions",
        "Approve, subject to conditions: each has an owner and a due date.",
    ),
    ("not_approved", "Do not approve", "For example, re-use an existing system instead."),
)

STATE_TAGS = {
    "draft": "govuk-tag--grey",
    "submitted": "govuk-tag--blue",
    "under_review": "govuk-tag--yellow",
    "information_requested": "govuk-tag--orange",
    "resubmitted": "govuk-tag--purple",
    "decided": "govuk-tag--green",
    "withdrawn": "govuk-tag--grey",
}
STATE_WORDS = {
    "submitted": "Awaiting review",
    "under_review": "Under review",
    "information_requested": "Information requested",
    "resubmitted": "Resubmitted",
    "decided": "Decided",
    "withdrawn": "Withdrawn",
    "draft": "Draft",
}

PRIORITIES = {"must": "must have", "should": "should have", "could": "could have", "wont": "won't have"}

MIN_CONDITION_ROWS = 3
MAX_CONDITION_ROWS = 20
EVIDENCE = re.compile(r"^https?://[^\s/@\"'<>]+\.[^\s/@\"'<>]+(/[^\s\"'<>]*)?$", re.IGNORECASE)
CONDITION_POINTER = re.compile(r"conditions(?:\[|/)(\d+)\]?(?:[./](\w+))?")

TdaMember = Annotated[User, require(*TDA)]
TdaChair = Annotated[User, require("tda_chair")]


# --- reading a review ------------------------------------------------------------------------------


@dataclass
class Review:
    """What the review screen shows of one request, as the procurement service gives it."""

    request: dict[str, Any]
    etag: str
    checklist: dict[str, Any]
    candidates: list[dict[str, Any]]
    ratings: list[dict[str, Any]] = field(default_factory=list)
    recommendation: dict[str, Any] | None = None

    @property
    def key(self) -> str:
        return str(self.request["reference"])

    @property
    def actions(self) -> set[str]:
        return set(self.request.get("actions") or ())

    def items(self) -> list[dict[str, Any]]:
        return [i for s in self.checklist["sections"] for r in s["rules"] for i in r["items"]]

    def mine(self, user: User) -> dict[str, dict[str, Any]]:
        """The signed-in person's own ratings in the current round, by item id."""
        return {r["item_id"]: r for r in self.ratings if r["reviewer"]["id"] == user.subject}


async def load_review(api: Api, key: str) -> Review:
    request, etag = await read_request(api, key)
    reference = request["reference"]
    checklist = await api.get("procurement", _path(reference, "/checklist"))
    candidates = await api.get("procurement", _path(reference, "/candidates"))
    review = Review(
        request=request,
        etag=etag or f'"{request["id"]}:{request["version"]}"',
        checklist=checklist,
        candidates=candidates,
    )
    if request.get("rounds"):
        review.ratings = (await api.get("procurement", _path(reference, "/ratings")))["ratings"]
        review.recommendation = await api.get("procurement", _path(reference, "/recommendation"))
    return review


def slug(item_id: str) -> str:
    """An item id as part of a form field name and HTML id: ``R1.1`` → ``R1-1``."""
    return re.sub(r"[^A-Za-z0-9]", "-", item_id)


def today() -> date:
    return datetime.now(UTC).astimezone(LONDON).date()


def _day_of(instant: str | None) -> date | None:
    moment = london_instant(instant)
    return moment.date() if moment else None


def plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else (many or one + 's')}"


# --- the request's answers ---------------------------------------------------------------------------


def _text(value: Any) -> Markup:
    if value is None or value == "" or value == []:
        return Markup('<span class="govuk-hint">Not given</span>')
    if isinstance(value, bool):
        return Markup("Yes") if value else Markup("No")
    return escape(str(value)).replace("\n", Markup("<br>"))


def _bullets(values: list[Markup]) -> Markup:
    if not values:
        return _text(None)
    return Markup('<ul class="govuk-list govuk-list--bullet">{}</ul>').format(
        Markup("").join(Markup("<li>{}</li>").format(v) for v in values)
    )


def _person(value: dict[str, Any] | None) -> Markup:
    if not value:
        return _text(None)
    return Markup("{} ({})").format(value.get("name"), value.get("email"))


def _money(value: Any) -> Markup:
    return _text(pounds(value) or None)


def answer_groups(request: dict[str, Any]) -> list[tuple[str, list[tuple[str, Markup]]]]:
    """The request's answers as headed summary lists (REQUIREMENTS §3.4, R1-R27)."""
    r = request
    stories = [
        Markup("{} ({})").format(s["text"], PRIORITIES.get(s["priority"], words(s["priority"])))
        for s in r.get("user_stories") or []
    ]
    options = [
        Markup("<strong>{}</strong>: {}{}{}").format(
            words(o["kind"]),
            o["description"],
            Markup(" &ndash; {}").format(o["reason"]) if o.get("reason") else "",
            Markup(" <strong>(chosen)</strong>") if o.get("chosen") else "",
        )
        for o in r.get("options_considered") or []
    ]
    risks = [
        Markup("{} (RAG {}): {}").format(
            k["risk"], words(k["rag"]), k.get("mitigation") or "no mitigation given"
        )
        for k in r.get("risks") or []
    ]

    def listed(name: str) -> Markup:
        return _text(", ".join(r.get(name) or []) or None)

    return [
        (
            "The need",
            [
                ("Service area", _text(r.get("service_area"))),
                ("Requested by", _person(r.get("requester"))),
                ("Problem", _text(r.get("problem_statement"))),
                ("User need", _text(r.get("user_need"))),
                ("Business requirements", _text(r.get("business_requirements"))),
                ("User stories", _bullets(stories)),
                ("Technical specification", _text(r.get("technical_specification"))),
                ("Strategic alignment", _text(r.get("strategic_alignment"))),
                ("Legal considerations", _text(r.get("legal_considerations"))),
            ],
        ),
        (
            "Options and the proposed solution",
            [
                ("Options considered", _bullets(options)),
                ("Why only one option", _text(r.get("single_option_justification"))),
                ("Product", _text(r.get("proposed_product"))),
                ("Supplier", _text(r.get("proposed_supplier"))),
                ("Capabilities needed", listed("capabilities")),
            ],
        ),
        (
            "Costs and benefits",
            [
                ("Initial cost", _money(r.get("initial_cost"))),
                ("Annual cost", _money(r.get("annual_cost"))),
                ("Of which licences", _money(r.get("annual_licence_cost"))),
                ("Of which maintenance", _money(r.get("annual_maintenance_cost"))),
                ("Expected annual savings", _money(r.get("expected_annual_savings"))),
                ("Other benefits", _text(r.get("non_monetary_benefits"))),
                ("Budget", _text(r.get("budget_source"))),
            ],
        ),
        (
            "Data, hosting and integration",
            [
                ("Holds personal data", _text(r.get("holds_personal_data"))),
                ("Personal data held", listed("personal_data_categories")),
                ("DPIA needed", _text(r.get("dpia_needed"))),
                ("Hosting", _text(words(r.get("hosting")) or None)),
                ("Integration", _text(words(r.get("integration_approach")) or None)),
                ("Integration detail", _text(r.get("integration_detail"))),
                ("Why not a RESTful API", _text(r.get("integration_justification"))),
                ("Data extraction clauses in the tender", _text(r.get("data_extraction_clauses"))),
                ("API clauses in the tender", _text(r.get("api_clauses"))),
                ("Charging for data and API features", _text(words(r.get("clause_charging")) or None)),
            ],
        ),
        (
            "Quality and delivery",
            [
                ("Accessibility", _text(r.get("accessibility_assessment"))),
                ("WCAG level", _text(words(r.get("wcag_level")) or None)),
                ("Scalability", _text(r.get("scalability"))),
                ("Performance and reliability", _text(r.get("performance_reliability"))),
                ("Knowledge transfer", _text(r.get("knowledge_transfer"))),
                ("Risks", _bullets(risks)),
                ("Stakeholders engaged", listed("stakeholders_engaged")),
                ("Success criteria", _text(r.get("success_criteria"))),
                ("Pilot", _text(r.get("pilot_plan"))),
                ("Existing contracts and legacy", _text(r.get("existing_contracts_and_legacy"))),
            ],
        ),
        (
            "Scope, contract and owners",
            [
                ("Councils", listed("councils_in_scope")),
                (
                    "Category",
                    _text(
                        "IoT or pro-tech"
                        if r.get("category") == "iot_protech"
                        else words(r.get("category")) or None
                    ),
                ),
                ("Expected start", _text(long_date(r.get("expected_start_date")) or None)),
                ("Term", _text(plural(r["term_months"], "month") if r.get("term_months") else None)),
                ("System owner", _person(r.get("system_owner"))),
                ("Contract owner", _person(r.get("contract_owner"))),
                ("Budget holder", _person(r.get("budget_holder"))),
                ("Contract signatory", _person(r.get("signatory"))),
            ],
        ),
    ]


# --- the checklist form ----------------------------------------------------------------------------


@dataclass
class ScoreForm:
    """The checklist as the member fills it in: by item id, their rating, comment and evidence link."""

    values: dict[str, dict[str, str]]

    @classmethod
    def saved(cls, review: Review, user: User) -> ScoreForm:
        return cls(
            {
                item_id: {
                    "rating": r["rating"],
                    "comment": r.get("comment") or "",
                    "evidence": r.get("evidence_url") or "",
                }
                for item_id, r in review.mine(user).items()
            }
        )

    @classmethod
    def posted(cls, review: Review, form: Any) -> ScoreForm:
        values: dict[str, dict[str, str]] = {}
        for item in review.items():
            s = slug(item["id"])
            values[item["id"]] = {
                "rating": _field(form, f"rating-{s}"),
                "comment": _field(form, f"comment-{s}"),
                "evidence": _field(form, f"evidence-{s}"),
            }
        return cls(values)

    def check(self, review: Review) -> FormErrors:
        errors = FormErrors()
        for item in review.items():
            item_id, s = item["id"], slug(item["id"])
            given = self.values.get(item_id, {})
            rating, comment, evidence = (
                given.get("rating", ""),
                given.get("comment", ""),
                given.get("evidence", ""),
            )
            if rating and rating not in RATING_WORDS:
                errors.add(f"rating-{s}", f"{item_id}: select met, partly met, not met or not applicable")
            elif not rating and (comment or evidence):
                errors.add(f"rating-{s}", f"{item_id}: select a rating for the comment you gave, or clear it")
            if rating in NEEDS_COMMENT and not comment:
                errors.add(f"comment-{s}", f"{item_id}: say why it is {RATING_WORDS[rating].lower()}")
            if evidence and not EVIDENCE.match(evidence):
                errors.add(
                    f"evidence-{s}",
                    f"{item_id}: enter the evidence link as a web address, like https://intranet.cambridge.gov.uk/dpia",
                )
            if len(comment) > 20_000:
                errors.add(f"comment-{s}", f"{item_id}: the comment must be 20,000 characters or fewer")
        if not errors and not any(v.get("rating") for v in self.values.values()):
            first = review.items()[0]["id"]
            errors.add(f"rating-{slug(first)}", "Rate at least one item of the checklist")
        return errors

    def changes(self, saved: ScoreForm) -> dict[str, dict[str, str]]:
        """The items whose rating, comment or evidence differ from what the member saved before."""
        return {
            item_id: given
            for item_id, given in self.values.items()
            if given.get("rating") and given != saved.values.get(item_id)
        }


def checklist_view(review: Review, form: ScoreForm, user: User) -> list[dict[str, Any]]:
    """The checklist's sections, rules and items, each item with the form's values, the other
    reviewers' ratings and its score so far."""
    given: dict[str, list[dict[str, Any]]] = {}
    for r in review.ratings:
        given.setdefault(r["item_id"], []).append(r)
    scores = {}
    if review.recommendation:
        scores = {s["item_id"]: s for s in review.recommendation["scores"]["item_scores"]}
    sections = []
    for section in review.checklist["sections"]:
        rules = []
        for rule in section["rules"]:
            items = []
            for item in rule["items"]:
                items.append(
                    {
                        **item,
                        "slug": slug(item["id"]),
                        "form": form.values.get(item["id"], {}),
                        "all": given.get(item["id"], []),
                        "others": [
                            r for r in given.get(item["id"], []) if r["reviewer"]["id"] != user.subject
                        ],
                        "score": scores.get(item["id"]),
                    }
                )
            rules.append({**rule, "items": items})
        sections.append({**section, "rules": rules})
    return sections


# --- the decision form ----------------------------------------------------------------------------


@dataclass
class ConditionRow:
    number: int
    text: str = ""
    owner: str = ""
    day: str = ""
    month: str = ""
    year: str = ""

    @property
    def blank(self) -> bool:
        return not any((self.text, self.owner, self.day, self.month, self.year))

    @property
    def prefix(self) -> str:
        return f"condition-{self.number}"


@dataclass
class DecisionForm:
    outcome: str = ""
    rationale: str = ""
    override: bool = False
    conditions: list[ConditionRow] = field(
        default_factory=lambda: [ConditionRow(n) for n in range(1, MIN_CONDITION_ROWS + 1)]
    )
    etag: str = ""

    @classmethod
    def posted(cls, form: Any) -> DecisionForm:
        try:
            rows = int(_field(form, "condition_rows") or MIN_CONDITION_ROWS)
        except ValueError:
            rows = MIN_CONDITION_ROWS
        rows = max(MIN_CONDITION_ROWS, min(rows, MAX_CONDITION_ROWS))
        conditions = [
            ConditionRow(
                n,
                text=_field(form, f"condition-{n}-text"),
                owner=_field(form, f"condition-{n}-owner"),
                day=_field(form, f"condition-{n}-due-day"),
                month=_field(form, f"condition-{n}-due-month"),
                year=_field(form, f"condition-{n}-due-year"),
            )
            for n in range(1, rows + 1)
        ]
        return cls(
            outcome=_field(form, "outcome"),
            rationale=_field(form, "rationale"),
            override=_field(form, "override_red_lines") == "yes",
            conditions=conditions,
            etag=_field(form, "etag"),
        )

    def filled(self) -> list[ConditionRow]:
        return [c for c in self.conditions if not c.blank]

    def check(self, decided_on: date) -> tuple[FormErrors, list[date]]:
        """The form's errors, and the filled conditions' due dates (when all are valid)."""
        errors = FormErrors()
        if self.outcome not in OUTCOME_WORDS:
            errors.add("outcome", "Select the decision")
        if not self.rationale:
            errors.add("rationale", "Enter the rationale: why the TDA decided so")
        elif len(self.rationale) > 20_000:
            errors.add("rationale", "The rationale must be 20,000 characters or fewer")
        dues: list[date] = []
        filled = self.filled()
        for row in filled:
            n = row.number
            if not row.text:
                errors.add(f"{row.prefix}-text", f"Enter what condition {n} requires")
            if not row.owner:
                errors.add(f"{row.prefix}-owner", f"Enter the e-mail address of condition {n}'s owner")
            elif not EMAIL.match(row.owner):
                errors.add(
                    f"{row.prefix}-owner",
                    f"Enter condition {n}'s owner as an e-mail address, like name@cambridge.gov.uk",
                )
            due = check_date(
                errors,
                f"{row.prefix}-due",
                (row.day, row.month, row.year),
                what=f"Condition {n}'s due date",
                not_before=decided_on,
            )
            if due is not None:
                dues.append(due)
        if self.outcome == "approved_with_conditions" and not filled:
            errors.add("condition-1-text", "Add at least one condition, or choose another decision")
        elif self.outcome in ("approved", "not_approved") and filled:
            errors.add(
                f"{filled[0].prefix}-text",
                "Only an approval with conditions has conditions: clear them, or choose Approve with conditions",
            )
        return errors, dues


def check_date(
    errors: FormErrors,
    prefix: str,
    parts: tuple[str, str, str],
    *,
    what: str,
    not_before: date | None = None,
    required: bool = True,
) -> date | None:
    """A GOV.UK date input's day, month and year as a date, adding the error (linked to the first part
    to fix) when it is missing, incomplete, not a real date or too early."""
    day, month, year = parts
    if not any(parts):
        if required:
            errors.add(f"{prefix}-day", f"Enter {what[0].lower() + what[1:]}")
        return None
    for name, value in zip(("day", "month", "year"), parts, strict=True):
        if not value:
            errors.add(f"{prefix}-{name}", f"{what} must include a {name}")
            return None
    try:
        if not (day.isdigit() and month.isdigit() and year.isdigit()) or len(year) != 4:
            raise ValueError
        found = date(int(year), int(month), int(day))
    except ValueError:
        errors.add(f"{prefix}-day", f"{what} must be a real date, like 27 3 2027")
        return None
    if not_before is not None and found < not_before:
        errors.add(f"{prefix}-day", f"{what} must be today or in the future")
        return None
    return found


def date_error(errors: FormErrors, prefix: str) -> dict[str, str] | None:
    for part in ("day", "month", "year"):
        message = errors.message(f"{prefix}-{part}")
        if message:
            return message
    return None


def date_items(errors: FormErrors, prefix: str, values: tuple[str, str, str]) -> list[dict[str, Any]]:
    return _date_items(values, wrong=date_error(errors, prefix) is not None)


async def owner_of(api: Api, email: str) -> dict[str, str]:
    """A condition's owner from their e-mail: named as the register knows them (else from the address)."""
    address = email.strip()
    name = ""
    try:
        found = await api.get("register", "/api/v1/people", q=address, limit=10)
        for person in found.get("items", []):
            if str(person.get("email", "")).lower() == address.lower():
                name = str(person.get("name") or "")
                break
    except PortalError:
        name = ""
    if not name:
        local = address.split("@", 1)[0]
        name = " ".join(part.capitalize() for part in re.split(r"[._-]+", local) if part) or address
    return {"id": address.lower(), "name": name, "email": address}


def absorb_decision(errors: FormErrors, problem: ApiProblem, form: DecisionForm) -> None:
    """The procurement service's refusal of a decision, each error next to the field it names (a
    condition's index counts the filled rows only, which are what was sent)."""
    if problem.status == 412:
        errors.add(
            "",
            "The review changed since you opened this page (a rating, say), so the decision was not recorded. "
            "Check the scores below and record the decision again.",
        )
        return
    if problem.status == 428:
        errors.add("", "The decision was not recorded: reload the page and record it again.")
        return
    filled = form.filled()
    for error in problem.errors or [{"detail": problem.detail}]:
        pointer = str(error.get("pointer") or "")
        detail = str(error.get("detail") or problem.detail)
        found = CONDITION_POINTER.search(pointer) or CONDITION_POINTER.search(detail)
        if found:
            index = int(found.group(1))
            row = filled[index] if index < len(filled) else None
            part = {"text": "text", "owner": "owner", "due_date": "due-day", "due_in_working_days": "due-day"}
            where = part.get(found.group(2) or "", "text")
            if row is not None:
                errors.add(f"{row.prefix}-{where}", f"Condition {row.number}: {detail}")
                continue
        name = pointer.rsplit("/", 1)[-1]
        errors.add(name if name in ("outcome", "rationale") else "", detail)
    if not errors:
        errors.add("", problem.detail)


# --- pages -----------------------------------------------------------------------------------------


@router.get("/reviews", summary="The TDA's review queue")
async def queue(
    request: Request, pages: PagesDep, api: UserApi, user: TdaMember, cursor: str | None = None
) -> Response:
    """Requests waiting for the TDA (or for their requester's answers), oldest first, and the latest
    decisions."""
    waiting = await api.get(
        "procurement",
        "/api/v1/requests",
        state=list(QUEUE_STATES),
        sort="created_at",
        limit=QUEUE_PAGE,
        cursor=cursor,
        count="true",
    )
    decided = await api.get(
        "procurement", "/api/v1/requests", state="decided", sort="-updated_at", limit=RECENT_DECISIONS
    )
    now = today()
    rows = []
    for row in waiting["items"]:
        submitted = _day_of(row.get("submitted_at"))
        rows.append({**row, "age_days": (now - submitted).days if submitted else None})
    return pages.render(
        request,
        "reviews/queue.html",
        {
            "title": "Requests for review",
            "rows": rows,
            "total": waiting.get("total"),
            "next_cursor": waiting.get("next_cursor"),
            "first_page": cursor is not None,
            "decided": decided["items"],
            "state_words": STATE_WORDS,
            "state_tags": STATE_TAGS,
            "outcome_words": OUTCOME_WORDS,
            "plural": plural,
        },
    )


async def review_page(
    request: Request,
    pages: PagesDep,
    api: Api,
    user: User,
    key: str,
    *,
    errors: FormErrors | None = None,
    scores: ScoreForm | None = None,
    decision: DecisionForm | None = None,
    information: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    review = await load_review(api, key)
    errors = errors or FormErrors()
    req = review.request
    own = req["requester"]["id"] == user.subject
    decision = decision or DecisionForm()
    decision.etag = review.etag
    recommendation = review.recommendation
    return pages.render(
        request,
        "reviews/review.html",
        {
            "title": f"Review {review.key}: {req.get('title') or 'untitled request'}",
            "errors": errors,
            "review": review,
            "req": req,
            "key": review.key,
            "own": own,
            "can_start": "start_review" in review.actions and not own,
            "can_rate": "rate" in review.actions and not own,
            "can_ask": "request_information" in review.actions and not own,
            "can_decide": "decide" in review.actions and not own and user.has_any("tda_chair"),
            "is_chair": user.has_any("tda_chair"),
            "groups": answer_groups(req),
            "candidates": review.candidates,
            "checklist": review.checklist,
            "sections": checklist_view(review, scores or ScoreForm.saved(review, user), user),
            "recommendation": recommendation,
            "red_lines_hit": (recommendation or {}).get("red_lines_hit") or [],
            "decision": decision,
            "information": information or {},
            "latest": req.get("latest_decision"),
            "condition_rows": condition_rows((req.get("latest_decision") or {}).get("conditions") or []),
            "ratings": RATINGS,
            "rating_words": RATING_WORDS,
            "outcomes": OUTCOMES,
            "outcome_words": OUTCOME_WORDS,
            "state_words": STATE_WORDS,
            "state_tags": STATE_TAGS,
            "date_error": date_error,
            "date_items": date_items,
            "plural": plural,
            "percent": lambda v: f"{float(v):.0%}" if v not in (None, "") else "",
        },
        status_code=status_code,
    )


@router.get("/reviews/{key}", summary="Review a request")
async def review(request: Request, key: str, pages: PagesDep, api: UserApi, user: TdaMember) -> Response:
    return await review_page(request, pages, api, user, key)


@router.post("/reviews/{key}/start", summary="Start the review")
async def start(
    request: Request, key: str, pages: PagesDep, api: UserApi, session: SessionDep, user: TdaMember
) -> Response:
    try:
        answer = await api.send("procurement", "POST", _path(key, "/review"))
    except ApiProblem as problem:
        errors = FormErrors()
        errors.add("", problem.detail)
        return await review_page(request, pages, api, user, key, errors=errors, status_code=problem.status)
    session.tell("Review started: rate the checklist below")
    return RedirectResponse(f"/reviews/{quote(answer['reference'])}", status_code=303)


@router.post("/reviews/{key}/scores", summary="Save my ratings")
async def save_scores(
    request: Request, key: str, pages: PagesDep, api: UserApi, session: SessionDep, user: TdaMember
) -> Response:
    review = await load_review(api, key)
    form = ScoreForm.posted(review, await request.form())
    errors = form.check(review)
    if errors:
        return await review_page(request, pages, api, user, key, errors=errors, scores=form, status_code=422)
    changes = form.changes(ScoreForm.saved(review, user))
    status = 422
    for item_id, given in changes.items():
        body = {
            "rating": given["rating"],
            "comment": given["comment"] or None,
            "evidence_url": given["evidence"] or None,
        }
        try:
            await api.send(
                "procurement", "PUT", _path(review.key, f"/ratings/{quote(item_id, safe='')}"), body
            )
        except ApiProblem as problem:
            s = slug(item_id)
            for name, message in problem.field_errors().items():
                where = {"comment": "comment", "evidence_url": "evidence"}.get(name, "rating")
                errors.add(f"{where}-{s}" if problem.status == 422 else "", f"{item_id}: {message}")
            if problem.status != 422:
                # The request itself refused (its state moved on, say): the other items would be too.
                status = problem.status
                break
    if errors:
        return await review_page(
            request, pages, api, user, key, errors=errors, scores=form, status_code=status
        )
    session.tell("Scores saved" if changes else "No changes: your scores were already saved")
    return RedirectResponse(f"/reviews/{quote(review.key)}#checklist", status_code=303)


@router.post("/reviews/{key}/information", summary="Ask the requester for more information")
async def ask(
    request: Request, key: str, pages: PagesDep, api: UserApi, session: SessionDep, user: TdaMember
) -> Response:
    form = await request.form()
    values = {
        "questions": _field(form, "questions"),
        "day": _field(form, "information-due-day"),
        "month": _field(form, "information-due-month"),
        "year": _field(form, "information-due-year"),
    }
    errors = FormErrors()
    questions = [line.strip() for line in values["questions"].splitlines() if line.strip()]
    if not questions:
        errors.add("questions", "Enter at least one question for the requester")
    elif len(questions) > 50:
        errors.add("questions", "Ask at most 50 questions at once")
    due = check_date(
        errors,
        "information-due",
        (values["day"], values["month"], values["year"]),
        what="The date the answers are wanted by",
        not_before=today(),
        required=False,
    )
    if not errors:
        body = {"questions": questions, "due_date": due.isoformat() if due else None}
        try:
            answer = await api.send("procurement", "POST", _path(key, "/information-requests"), body)
        except ApiProblem as problem:
            for name, message in problem.field_errors().items():
                where = {"questions": "questions", "due_date": "information-due-day"}.get(name, "")
                errors.add(where, message)
        else:
            session.tell(f"Your questions were sent to {answer['requester']['name']}")
            return RedirectResponse(f"/reviews/{quote(answer['reference'])}", status_code=303)
    return await review_page(
        request, pages, api, user, key, errors=errors, information=values, status_code=422
    )


@router.post("/reviews/{key}/decision", summary="Record the decision (the chair)")
async def decide(request: Request, key: str, pages: PagesDep, api: UserApi, user: TdaChair) -> Response:
    posted = await request.form()
    form = DecisionForm.posted(posted)
    if _field(posted, "action") == "add_condition":
        number = len(form.conditions) + 1
        if number <= MAX_CONDITION_ROWS:
            form.conditions.append(ConditionRow(number))
        return await review_page(request, pages, api, user, key, decision=form)
    errors, dues = form.check(today())
    if errors:
        return await review_page(
            request, pages, api, user, key, errors=errors, decision=form, status_code=422
        )
    conditions = [
        {"text": row.text, "owner": await owner_of(api, row.owner), "due_date": due.isoformat()}
        for row, due in zip(form.filled(), dues, strict=True)
    ]
    body = {
        "outcome": form.outcome,
        "rationale": form.rationale,
        "conditions": conditions,
        "override_red_lines": form.override,
    }
    try:
        answer = await api.send(
            "procurement", "POST", _path(key, "/decision"), body, headers={"If-Match": form.etag}
        )
    except ApiProblem as problem:
        absorb_decision(errors, problem, form)
        status = refusal_status(problem)
        return await review_page(
            request, pages, api, user, key, errors=errors, decision=form, status_code=status
        )
    return RedirectResponse(f"/reviews/{quote(answer['reference'])}/decided", status_code=303)


def decision_headline(decision: dict[str, Any]) -> str:
    outcome = decision["outcome"]
    if outcome == "approved_with_conditions":
        return f"Request approved with {plural(len(decision['conditions']), 'condition')}"
    return "Request approved" if outcome == "approved" else "Request not approved"


@router.get("/reviews/{key}/decided", summary="The decision, recorded")
async def decided(request: Request, key: str, pages: PagesDep, api: UserApi, user: TdaMember) -> Response:
    req = await api.get("procurement", _path(key))
    latest = req.get("latest_decision")
    if req["state"] != "decided" or not latest:
        return RedirectResponse(f"/reviews/{quote(req['reference'])}", status_code=303)
    return pages.render(
        request,
        "reviews/decided.html",
        {
            "title": decision_headline(latest),
            "req": req,
            "latest": latest,
            "outcome_words": OUTCOME_WORDS,
        },
    )
