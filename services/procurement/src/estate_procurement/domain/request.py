"""The technology request: what a service area asks the TDA for, and the TDA process it goes through.

Lifecycle::

    draft -> submitted -> under_review -> decided
                          under_review -> information_requested -> resubmitted -> under_review
    draft | submitted | under_review | information_requested | resubmitted -> withdrawn
    decided | withdrawn -> under_review   (reopened by the chair: a new review round)

A draft may be saved incomplete (only shapes and ranges are checked); submitting checks completeness and
lists *every* missing part at once. Each transition appends a dated entry to ``history`` (so time in each
state can be computed) and records a :class:`Happened` fact; the aggregate never publishes anything.
Who may do what (requester, TDA member, chair) is checked by the application layer; this class enforces
the states and the content rules.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar, Literal

from estate_procurement.domain.checklist import Checklist
from estate_procurement.domain.errors import IncompleteRequest, InvalidTransition, InvalidValue, NotFound
from estate_procurement.domain.review import (
    Condition,
    ConditionInput,
    ConditionMet,
    ConditionView,
    Decision,
    ItemRating,
    ProposedSystemPlan,
    ReviewRound,
    recommend,
    red_lines_not_met,
    unrated_items,
)
from estate_procurement.domain.similarity import ReuseQuery
from estate_procurement.domain.values import (
    CODE_TEXT,
    LONG_TEXT,
    SHORT_TEXT,
    ChargingOption,
    ConditionStatus,
    Hosting,
    IntegrationApproach,
    OptionConsidered,
    OptionKind,
    Outcome,
    PersonRef,
    Priority,
    Rag,
    Rating,
    RequestCategory,
    RequestState,
    RiskEntry,
    UserStory,
    WcagLevel,
    a_date,
    a_uuid,
    as_value,
    codes,
    enum_value,
    http_url,
    local_date,
    money,
    optional_bool,
    optional_enum,
    person,
    required_text,
    text,
    to_plain,
)
from estate_runtime.workdays import WorkingCalendar, add_working_days

Action = Literal[
    "created",
    "content_changed",
    "submitted",
    "review_started",
    "information_requested",
    "resubmitted",
    "item_rated",
    "decided",
    "withdrawn",
    "reopened",
    "condition_met",
]

PUBLISHED_ACTIONS: frozenset[str] = frozenset(
    {
        "submitted",
        "review_started",
        "information_requested",
        "resubmitted",
        "decided",
        "withdrawn",
        "reopened",
        "condition_met",
    }
)
"""Facts that become events: every transition, and a condition met. Drafts, draft edits, the withdrawal of
a draft and ratings are audited only (a draft is the requester's own business; ratings are working notes
until the decision); the application's event mapping leaves out a draft's withdrawal."""

COUNCIL_CODE = r"[A-Z][A-Z0-9]{1,19}"


@dataclass(frozen=True, kw_only=True)
class Happened:
    """A fact the request records about itself: who did what when, the state before and after, the
    request's plain snapshot after the change (and before, for edits), and action-specific detail."""

    kind: ClassVar[str] = "technology_request"
    action: Action
    request_id: uuid.UUID
    actor: PersonRef
    at: datetime
    from_state: RequestState | None
    to_state: RequestState
    before: dict[str, Any] | None
    after: dict[str, Any]
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def published(self) -> bool:
        return self.action in PUBLISHED_ACTIONS


@dataclass(frozen=True, kw_only=True)
class StateEntry:
    """The request entered ``state`` at ``entered_at`` because of ``by`` (with a reason, when one is given)."""

    state: RequestState
    entered_at: datetime
    by: PersonRef
    note: str = ""


@dataclass(frozen=True, kw_only=True)
class InformationRequest:
    """Questions a TDA member asked, and (once resubmitted) the requester's answers."""

    number: int
    questions: tuple[str, ...]
    due_date: date | None
    asked_by: PersonRef
    asked_at: datetime
    answers: str | None = None
    answered_by: PersonRef | None = None
    answered_at: datetime | None = None


# --- content fields: how each is checked when a draft is created or changed --------------------------


def _short(value: Any, name: str) -> str | None:
    return text(value, name, limit=SHORT_TEXT)


def _long(value: Any, name: str) -> str | None:
    return text(value, name, limit=LONG_TEXT)


def _code(value: Any, name: str) -> str | None:
    return text(value, name, limit=CODE_TEXT)


def _items(kind: type[Any], make: Callable[[Any, str], Any]) -> Callable[[Any, str], tuple[Any, ...]]:
    def check(value: Any, name: str) -> tuple[Any, ...]:
        if value is None:
            return ()
        if isinstance(value, str | Mapping) or not isinstance(value, list | tuple):
            raise InvalidValue(f"{name} must be a list", field=name)
        return tuple(make(v, f"{name}[{i}]") for i, v in enumerate(value))

    return check


def _user_story(value: Any, name: str) -> UserStory:
    story = as_value(UserStory, value, name)
    return UserStory(
        text=required_text(story.text, f"{name}.text"),
        priority=enum_value(Priority, story.priority, f"{name}.priority"),
    )


def _option(value: Any, name: str) -> OptionConsidered:
    option = as_value(OptionConsidered, value, name)
    return OptionConsidered(
        kind=enum_value(OptionKind, option.kind, f"{name}.kind"),
        description=required_text(option.description, f"{name}.description"),
        reason=_long(option.reason, f"{name}.reason") or "",
        chosen=optional_bool(option.chosen, f"{name}.chosen") or False,
    )


def _risk(value: Any, name: str) -> RiskEntry:
    risk = as_value(RiskEntry, value, name)
    return RiskEntry(
        risk=required_text(risk.risk, f"{name}.risk"),
        mitigation=_long(risk.mitigation, f"{name}.mitigation") or "",
        rag=enum_value(Rag, risk.rag, f"{name}.rag"),
    )


def _stakeholder(value: Any, name: str) -> str:
    return required_text(value, name, limit=SHORT_TEXT)


def _term_months(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 600:
        raise InvalidValue(f"{name} must be a whole number of months from 1 to 600", field=name)
    return value


def _owner(value: Any, name: str) -> PersonRef | None:
    """An owner role (R22): absent, or a person with an id, a name and an e-mail address."""
    if value is None:
        return None
    return person(value, name)


OWNER_ROLES: tuple[str, ...] = ("system_owner", "contract_owner", "budget_holder", "signatory")
"""R22: who will own the system, own the contract, hold the budget and sign the contract."""


def _enum(kind: type[Any]) -> Callable[[Any, str], Any]:
    return lambda value, name: optional_enum(kind, value, name)


CONTENT: dict[str, Callable[[Any, str], Any]] = {
    # R1-R7: the problem, the requirements, the fit with the council's aims
    "title": _short,
    "service_area": _code,
    "problem_statement": _long,
    "user_need": _long,
    "business_requirements": _long,
    "user_stories": _items(UserStory, _user_story),
    "technical_specification": _long,
    "strategic_alignment": _long,
    "legal_considerations": _long,
    # R8: options appraisal
    "options_considered": _items(OptionConsidered, _option),
    "single_option_justification": _long,
    "proposed_product": _short,
    "proposed_supplier": _short,
    "capabilities": lambda v, n: codes(v, n),
    # R14, R23: costs and benefits
    "initial_cost": money,
    "annual_cost": money,
    "annual_licence_cost": money,
    "annual_maintenance_cost": money,
    "expected_annual_savings": money,
    "non_monetary_benefits": _long,
    "budget_source": _long,
    # R11: data protection
    "holds_personal_data": optional_bool,
    "personal_data_categories": lambda v, n: codes(v, n, limit=SHORT_TEXT),
    "dpia_needed": optional_bool,
    # R9, R12, R13, R16-R18: how it fits technically
    "hosting": _enum(Hosting),
    "integration_approach": _enum(IntegrationApproach),
    "integration_detail": _long,
    "integration_justification": _long,
    "accessibility_assessment": _long,
    "wcag_level": _enum(WcagLevel),
    "scalability": _long,
    "performance_reliability": _long,
    "knowledge_transfer": _long,
    # R10, R15, R19, R20, R24
    "risks": _items(RiskEntry, _risk),
    "stakeholders_engaged": _items(str, _stakeholder),
    "success_criteria": _long,
    "pilot_plan": _long,
    "existing_contracts_and_legacy": _long,
    # R25, R26, contract link, R21 App M clauses, timing
    "councils_in_scope": lambda v, n: codes(v, n, pattern=COUNCIL_CODE, limit=20),
    "category": _enum(RequestCategory),
    "renews_or_replaces_contract_id": a_uuid,
    "data_extraction_clauses": optional_bool,
    "api_clauses": optional_bool,
    "clause_charging": _enum(ChargingOption),
    "expected_start_date": a_date,
    "term_months": _term_months,
    # R22: the owner roles to be assigned
    "system_owner": _owner,
    "contract_owner": _owner,
    "budget_holder": _owner,
    "signatory": _owner,
}
"""Every field a requester may fill in, with its shape check; anything else is refused by name."""


# --- the transitions --------------------------------------------------------------------------------

S = RequestState
_FROM: dict[str, frozenset[RequestState]] = {
    "edit": frozenset({S.DRAFT}),
    "submit": frozenset({S.DRAFT}),
    "start_review": frozenset({S.SUBMITTED, S.RESUBMITTED}),
    "request_information": frozenset({S.UNDER_REVIEW}),
    "resubmit": frozenset({S.INFORMATION_REQUESTED}),
    "rate": frozenset({S.UNDER_REVIEW}),
    "decide": frozenset({S.UNDER_REVIEW}),
    "withdraw": frozenset({S.DRAFT, S.SUBMITTED, S.UNDER_REVIEW, S.INFORMATION_REQUESTED, S.RESUBMITTED}),
    "reopen": frozenset({S.DECIDED, S.WITHDRAWN}),
    "meet_condition": frozenset({S.DECIDED}),
}
_VERBS = {
    "edit": "edit",
    "submit": "submit",
    "start_review": "start the review of",
    "request_information": "ask for information on",
    "resubmit": "resubmit",
    "rate": "rate",
    "decide": "decide",
    "withdraw": "withdraw",
    "reopen": "reopen",
    "meet_condition": "meet a condition of",
}


def allowed_actions(state: RequestState) -> list[str]:
    """The actions the lifecycle allows from ``state`` (whoever may take them)."""
    return [action for action, states in _FROM.items() if state in states]


@dataclass(kw_only=True)
class TechnologyRequest:
    """A request for a new system, licence, renewal or upgrade, and its passage through the TDA.

    Invariants: ``history`` starts with ``draft`` and its last entry is the current state; review rounds
    are numbered from 1 and only the last can be rated or decided; a recorded decision is never changed.
    """

    id: uuid.UUID
    reference: str
    requester: PersonRef
    state: RequestState = RequestState.DRAFT
    version: int = 1
    created_at: datetime
    updated_at: datetime
    submitted_at: datetime | None = None

    title: str | None = None
    service_area: str | None = None
    problem_statement: str | None = None
    user_need: str | None = None
    business_requirements: str | None = None
    user_stories: tuple[UserStory, ...] = ()
    technical_specification: str | None = None
    strategic_alignment: str | None = None
    legal_considerations: str | None = None
    options_considered: tuple[OptionConsidered, ...] = ()
    single_option_justification: str | None = None
    proposed_product: str | None = None
    proposed_supplier: str | None = None
    capabilities: tuple[str, ...] = ()
    initial_cost: Decimal | None = None
    annual_cost: Decimal | None = None
    annual_licence_cost: Decimal | None = None
    annual_maintenance_cost: Decimal | None = None
    expected_annual_savings: Decimal | None = None
    non_monetary_benefits: str | None = None
    budget_source: str | None = None
    holds_personal_data: bool | None = None
    personal_data_categories: tuple[str, ...] = ()
    dpia_needed: bool | None = None
    hosting: Hosting | None = None
    integration_approach: IntegrationApproach | None = None
    integration_detail: str | None = None
    integration_justification: str | None = None
    accessibility_assessment: str | None = None
    wcag_level: WcagLevel | None = None
    scalability: str | None = None
    performance_reliability: str | None = None
    knowledge_transfer: str | None = None
    risks: tuple[RiskEntry, ...] = ()
    stakeholders_engaged: tuple[str, ...] = ()
    success_criteria: str | None = None
    pilot_plan: str | None = None
    existing_contracts_and_legacy: str | None = None
    councils_in_scope: tuple[str, ...] = ()
    category: RequestCategory | None = None
    renews_or_replaces_contract_id: uuid.UUID | None = None
    data_extraction_clauses: bool | None = None
    api_clauses: bool | None = None
    clause_charging: ChargingOption | None = None
    expected_start_date: date | None = None
    term_months: int | None = None
    system_owner: PersonRef | None = None
    contract_owner: PersonRef | None = None
    budget_holder: PersonRef | None = None
    signatory: PersonRef | None = None

    history: list[StateEntry] = field(default_factory=list)
    rounds: list[ReviewRound] = field(default_factory=list)
    information_requests: list[InformationRequest] = field(default_factory=list)
    conditions_met: list[ConditionMet] = field(default_factory=list)
    events: list[Happened] = field(default_factory=list, repr=False, compare=False)

    # --- creating and editing a draft ---------------------------------------------------------------

    @classmethod
    def create_draft(
        cls,
        *,
        request_id: uuid.UUID,
        reference: str,
        requester: PersonRef,
        fields: Mapping[str, Any],
        at: datetime,
    ) -> TechnologyRequest:
        """A new draft owned by ``requester``; any subset of the content may be given (shapes checked)."""
        request = cls(
            id=request_id,
            reference=required_text(reference, "reference", limit=SHORT_TEXT),
            requester=requester,
            created_at=at,
            updated_at=at,
            history=[StateEntry(state=S.DRAFT, entered_at=at, by=requester)],
        )
        for name, value in cls.checked_content(fields).items():
            setattr(request, name, value)
        request._check_shape()
        request._record("created", actor=requester, at=at, from_state=None, before=None)
        return request

    @staticmethod
    def checked_content(fields: Mapping[str, Any]) -> dict[str, Any]:
        """Each given field checked and normalised; an unknown field is refused by name."""
        unknown = sorted(set(fields) - set(CONTENT))
        if unknown:
            raise InvalidValue(f"{unknown[0]} is not a field of a technology request", field=unknown[0])
        return {name: CONTENT[name](value, name) for name, value in fields.items()}

    def update_draft(self, changes: Mapping[str, Any], *, by: PersonRef, at: datetime) -> list[str]:
        """Change a draft's content (all or nothing); returns the fields that really changed."""
        self._check("edit")
        return self._apply(changes, by=by, at=at)

    def _apply(self, changes: Mapping[str, Any], *, by: PersonRef, at: datetime) -> list[str]:
        checked = self.checked_content(changes)
        before = self.snapshot()
        saved = {name: getattr(self, name) for name in checked}
        changed = sorted(name for name, value in checked.items() if getattr(self, name) != value)
        for name in changed:
            setattr(self, name, checked[name])
        try:
            self._check_shape()
        except InvalidValue:
            for name, value in saved.items():
                setattr(self, name, value)
            raise
        if changed:
            self.updated_at = at
            self._record(
                "content_changed", actor=by, at=at, from_state=self.state, before=before, changed=changed
            )
        return changed

    def _check_shape(self) -> None:
        """Rules across fields that hold even for a draft: values that contradict each other."""
        chosen = [o for o in self.options_considered if o.chosen]
        if len(chosen) > 1:
            raise InvalidValue(
                "options_considered: mark only the one option you propose as chosen",
                field="options_considered",
            )
        if self.holds_personal_data is False and self.personal_data_categories:
            raise InvalidValue(
                "personal_data_categories: the request says it holds no personal data; "
                "remove the categories or say it does hold personal data",
                field="personal_data_categories",
            )
        parts = [c for c in (self.annual_licence_cost, self.annual_maintenance_cost) if c is not None]
        if self.annual_cost is not None and sum(parts, Decimal(0)) > self.annual_cost:
            raise InvalidValue(
                "annual_cost: the annual total must be at least the licence and maintenance costs it includes",
                field="annual_cost",
            )

    # --- completeness ---------------------------------------------------------------------------------

    def missing(self) -> list[tuple[str, str]]:
        """Everything that stops submission, as (field, message a requester can act on)."""
        out: list[tuple[str, str]] = []

        def need(name: str, message: str) -> None:
            out.append((name, message))

        if not self.title:
            need("title", "give the request a short title")
        if not self.service_area:
            need("service_area", "name the service area that is asking")
        if not self.problem_statement:
            need("problem_statement", "say what problem you are trying to solve, and why it is a problem")
        if not self.user_need:
            need("user_need", "say who has the problem and what they need")
        if not self.business_requirements:
            need("business_requirements", "list the business requirements the solution must meet")
        if not self.user_stories:
            need("user_stories", "add at least one user story with its MoSCoW priority")
        elif not any(s.priority is Priority.MUST for s in self.user_stories):
            need("user_stories", "mark at least one user story as a must-have")
        if not self.technical_specification:
            need("technical_specification", "give the technical specification (or what is known of it)")
        if not self.strategic_alignment:
            need("strategic_alignment", "say how this supports the council's objectives and operating model")
        self._missing_options(need)
        if not self.capabilities:
            need("capabilities", "name at least one capability the solution must provide")
        if self.initial_cost is None:
            need("initial_cost", "give the one-off cost in pounds (0 if there is none)")
        if self.annual_cost is None:
            need("annual_cost", "give the yearly cost in pounds: licences, support, hosting (0 if none)")
        if self.expected_annual_savings is None and not self.non_monetary_benefits:
            need(
                "non_monetary_benefits",
                "give the expected annual savings, or describe the benefits that are not money",
            )
        if self.holds_personal_data is None:
            need("holds_personal_data", "say whether the solution will hold personal data")
        elif self.holds_personal_data:
            if not self.personal_data_categories:
                need("personal_data_categories", "list the kinds of personal data it will hold")
            if self.dpia_needed is None:
                need("dpia_needed", "say whether a data protection impact assessment (DPIA) is needed")
        if self.hosting is None:
            need("hosting", "say where it will run: on_premises, saas, cloud or hybrid")
        if self.integration_approach is None:
            need(
                "integration_approach",
                "say how it will exchange data: restful_api, middleware, bulk_file or none",
            )
        elif (
            self.integration_approach is not IntegrationApproach.RESTFUL_API
            and not self.integration_justification
        ):
            need(
                "integration_justification",
                f"new systems are expected to integrate through RESTful APIs; say why "
                f"{self.integration_approach.value} is proposed instead",
            )
        if not self.accessibility_assessment:
            need("accessibility_assessment", "assess accessibility (WCAG level, digital inclusion risks)")
        if not self.risks:
            need("risks", "list the main risks (security, compliance, disruption) with their mitigations")
        for i, risk in enumerate(self.risks):
            if not risk.mitigation:
                need(f"risks[{i}].mitigation", f"say how the risk {risk.risk!r} will be mitigated")
        if not self.stakeholders_engaged:
            need(
                "stakeholders_engaged", "list who you have engaged: service areas, ICT, end users, the market"
            )
        if not self.success_criteria:
            need("success_criteria", "say how you will know it worked")
        if not self.councils_in_scope:
            need("councils_in_scope", "say which councils it is for (e.g. CCC, SCDC, HDC)")
        if self.category is None:
            need("category", "say whether this is traditional IT (it) or IoT / pro-tech (iot_protech)")
        if self.data_extraction_clauses is None:
            need(
                "data_extraction_clauses", "say whether the tender includes the App M data extraction clauses"
            )
        if self.api_clauses is None:
            need("api_clauses", "say whether the tender includes the App M API clauses")
        if (self.data_extraction_clauses or self.api_clauses) and self.clause_charging is None:
            need(
                "clause_charging", "say whether the data and API features are free or their charges itemised"
            )
        if self.system_owner is None:
            need(
                "system_owner",
                "name the system owner (id, name and e-mail): the person accountable for the system "
                "once it is in use",
            )
        if self.budget_holder is None:
            need(
                "budget_holder",
                "name the budget holder (id, name and e-mail): the person whose budget pays for it "
                "and who is told when the contract is due for renewal",
            )
        return out

    def _missing_options(self, need: Callable[[str, str], None]) -> None:
        """At least two options, or one with a single_option_justification; one of them marked chosen.
        The justification only lets one option stand for two: it never replaces the options."""
        options = self.options_considered
        if not options and self.single_option_justification:
            need(
                "options_considered",
                "give the option you propose (build, buy or re-use): the single-option justification "
                "explains why there is only one, but the option itself is still needed",
            )
        elif len(options) < 2 and not self.single_option_justification:
            need(
                "options_considered",
                "give at least two options (build, buy, re-use), or say why only one was considered",
            )
        if options and not any(o.chosen for o in options):
            need("options_considered", "mark the option you propose as chosen")
        for i, option in enumerate(options):
            if not option.reason:
                verb = "chosen" if option.chosen else "rejected"
                need(f"options_considered[{i}].reason", f"say why {option.description!r} was {verb}")

    def check_complete(self) -> None:
        """Raise IncompleteRequest listing every missing part, or do nothing."""
        problems = self.missing()
        if problems:
            raise IncompleteRequest(problems)

    # --- transitions ----------------------------------------------------------------------------------

    def submit(self, *, by: PersonRef, at: datetime) -> None:
        """draft -> submitted, only when complete."""
        self._check("submit")
        self.check_complete()
        self.submitted_at = at
        self._move(S.SUBMITTED, "submitted", by=by, at=at, problem_summary=self.problem_summary)

    def start_review(self, *, by: PersonRef, at: datetime, checklist_version: str) -> ReviewRound:
        """submitted -> under_review opens review round 1 on ``checklist_version``; resubmitted ->
        under_review carries on the current round, with its pinned checklist and its ratings."""
        self._check("start_review")
        if self.state is S.SUBMITTED or not self.rounds:
            self.rounds.append(
                ReviewRound(
                    number=len(self.rounds) + 1,
                    checklist_version=checklist_version,
                    started_at=at,
                    started_by=by,
                )
            )
        current = self.rounds[-1]
        self._move(
            S.UNDER_REVIEW,
            "review_started",
            by=by,
            at=at,
            checklist_version=current.checklist_version,
            round=current.number,
        )
        return current

    def request_information(
        self, *, by: PersonRef, at: datetime, questions: Sequence[str], due_date: date | None = None
    ) -> InformationRequest:
        """under_review -> information_requested with at least one question; a due date, if given, is
        not in the past."""
        self._check("request_information")
        if isinstance(questions, str):
            raise InvalidValue("questions must be a list of questions", field="questions")
        asked = tuple(required_text(q, f"questions[{i}]") for i, q in enumerate(questions))
        if not asked:
            raise InvalidValue("questions: ask at least one question", field="questions")
        due = a_date(due_date, "due_date")
        if due is not None and due < local_date(at):
            raise InvalidValue(f"due_date {due} is in the past", field="due_date")
        info = InformationRequest(
            number=len(self.information_requests) + 1,
            questions=asked,
            due_date=due,
            asked_by=by,
            asked_at=at,
        )
        self.information_requests.append(info)
        self._move(
            S.INFORMATION_REQUESTED,
            "information_requested",
            by=by,
            at=at,
            questions=list(asked),
            due_date=to_plain(due),
        )
        return info

    def resubmit(
        self, *, by: PersonRef, at: datetime, answers: str, changes: Mapping[str, Any] | None = None
    ) -> None:
        """information_requested -> resubmitted with the answers; the requester may change content at the
        same time, and the request must still be complete."""
        self._check("resubmit")
        answered = required_text(answers, "answers")
        checked = self.checked_content(changes or {})
        # Check the request as it would be, before changing anything: all or nothing.
        trial = dataclasses.replace(self, **checked, events=[])
        trial._check_shape()
        trial.check_complete()
        if changes:
            self._apply(changes, by=by, at=at)
        self.information_requests[-1] = dataclasses.replace(
            self.information_requests[-1], answers=answered, answered_by=by, answered_at=at
        )
        self._move(S.RESUBMITTED, "resubmitted", by=by, at=at, answers=answered)

    def rate(
        self,
        *,
        reviewer: PersonRef,
        at: datetime,
        checklist: Checklist,
        item_id: str,
        rating: Rating | str,
        comment: str | None = None,
        evidence_url: str | None = None,
    ) -> ItemRating:
        """A reviewer rates one item of the round's pinned checklist; re-rating replaces their rating.

        A comment is required for partly_met and not_met; the evidence link must be http(s)."""
        self._check("rate")
        current = self.rounds[-1]
        if checklist.key != current.checklist_version:
            raise InvalidValue(
                f"this review uses checklist {current.checklist_version}, not {checklist.key}",
                field="checklist_version",
            )
        if not any(item.id == item_id for item in checklist.items()):
            raise InvalidValue(
                f"checklist {current.checklist_version} has no item {item_id!r}", field="item_id"
            )
        value = enum_value(Rating, rating, "rating")
        note = text(comment, "comment")
        if value in (Rating.PARTLY_MET, Rating.NOT_MET) and note is None:
            raise InvalidValue(f"comment: say why {item_id} is {value.value}", field="comment")
        given = ItemRating(
            item_id=item_id,
            reviewer=reviewer,
            rating=value,
            comment=note,
            evidence_url=http_url(evidence_url, "evidence_url"),
            rated_at=at,
        )
        before = current.rate(given)
        self.updated_at = at
        self._record(
            "item_rated",
            actor=reviewer,
            at=at,
            from_state=self.state,
            before=None,
            round=current.number,
            item_id=item_id,
            rating=value.value,
            comment=note,
            evidence_url=given.evidence_url,
            previous=to_plain(before.rating) if before else None,
        )
        return given

    def decide(
        self,
        *,
        by: PersonRef,
        at: datetime,
        checklist: Checklist,
        calendar: WorkingCalendar,
        outcome: Outcome | str,
        rationale: str,
        conditions: Sequence[ConditionInput | Mapping[str, Any]] = (),
        proposed_system: Mapping[str, Any] | None = None,
        override_red_lines: bool = False,
    ) -> Decision:
        """under_review -> decided, with a written rationale. The decision records the recommendation
        too, so a chair who decides otherwise is visible. Conditions (approved_with_conditions only, at
        least one) each need an owner and a due date; an approval carries the proposed system, which needs
        a supplier.

        An approval (with or without conditions) needs every red-line item rated; approving although a
        red line is rated not_met needs ``override_red_lines=True`` (and, as always, the rationale), and
        the decision names the red lines overridden. A non-approval needs no ratings."""
        self._check("decide")
        current = self.rounds[-1]
        if checklist.key != current.checklist_version:
            raise InvalidValue(
                f"this review uses checklist {current.checklist_version}, not {checklist.key}",
                field="checklist_version",
            )
        chosen = enum_value(Outcome, outcome, "outcome")
        why = text(rationale, "rationale")
        if why is None:
            raise InvalidValue("rationale: write down why the TDA decided so", field="rationale")
        overridden = self._red_lines_approved_against(checklist, current, chosen, override_red_lines)
        if chosen is Outcome.APPROVED_WITH_CONDITIONS and not conditions:
            raise InvalidValue(
                "conditions: a conditional approval needs at least one condition", field="conditions"
            )
        if chosen is not Outcome.APPROVED_WITH_CONDITIONS and conditions:
            raise InvalidValue(
                f"conditions: only a conditional approval has conditions, not {chosen.value}",
                field="conditions",
            )
        decided_on = local_date(at)
        recorded = tuple(
            self._condition(c, f"conditions[{i}]", decided_on, calendar) for i, c in enumerate(conditions)
        )
        if proposed_system and chosen is Outcome.NOT_APPROVED:
            raise InvalidValue("proposed_system: a non-approval proposes no system", field="proposed_system")
        plan = self.plan_system(proposed_system or {}) if chosen is not Outcome.NOT_APPROVED else None
        advice = recommend(checklist, current.ratings)
        decision = Decision(
            round=current.number,
            outcome=chosen,
            rationale=why,
            decided_by=by,
            decided_at=at,
            recommended_outcome=advice.outcome,
            recommendation_reasons=advice.reasons,
            overall_score=advice.scores.overall,
            coverage=advice.scores.coverage,
            checklist_version=checklist.key,
            conditions=recorded,
            proposed_system=plan,
            overrode_red_lines=overridden,
        )
        current.decision = decision
        self._move(
            S.DECIDED,
            "decided",
            by=by,
            at=at,
            note=chosen.value,
            decision=to_plain(decision),
            differs_from_recommendation=decision.differs_from_recommendation,
        )
        return decision

    @staticmethod
    def _red_lines_approved_against(
        checklist: Checklist, current: ReviewRound, chosen: Outcome, override: bool
    ) -> tuple[str, ...]:
        """The red lines an approval overrides (none for a non-approval); InvalidValue when a red line is
        unrated, or rated not_met without ``override``."""
        if chosen is Outcome.NOT_APPROVED:
            return ()
        unrated = unrated_items(checklist, current.ratings, red_lines_only=True)
        if unrated:
            raise InvalidValue(
                f"rate the red-line items {', '.join(unrated)} before approving", field="outcome"
            )
        against = red_lines_not_met(checklist, current.ratings)
        if against and not override:
            raise InvalidValue(
                f"red line{'s' if len(against) > 1 else ''} {', '.join(against)} rated not met: approving "
                "against a red line must be deliberate; decide with override_red_lines and say why in the "
                "rationale, or decide not_approved",
                field="outcome",
            )
        return tuple(against)

    def withdraw(self, *, by: PersonRef, at: datetime, reason: str) -> None:
        """Any undecided state -> withdrawn, with a reason."""
        self._check("withdraw")
        why = text(reason, "reason")
        if why is None:
            raise InvalidValue("reason: say why the request is withdrawn", field="reason")
        self._move(S.WITHDRAWN, "withdrawn", by=by, at=at, note=why, reason=why)

    def reopen(self, *, by: PersonRef, at: datetime, reason: str, checklist_version: str) -> ReviewRound:
        """decided | withdrawn -> under_review, with a reason: a new review round on ``checklist_version``.
        Earlier rounds, their ratings and their decisions stay on record unchanged. A request withdrawn
        while still a draft was never submitted, so it cannot be reopened into review."""
        self._check("reopen")
        why = text(reason, "reason")
        if why is None:
            raise InvalidValue("reason: say why the request is reopened", field="reason")
        if self.submitted_at is None:
            raise InvalidTransition(
                "this request was withdrawn as a draft and never submitted; it cannot be reopened for review"
            )
        new_round = ReviewRound(
            number=len(self.rounds) + 1, checklist_version=checklist_version, started_at=at, started_by=by
        )
        self.rounds.append(new_round)
        self._move(
            S.UNDER_REVIEW,
            "reopened",
            by=by,
            at=at,
            note=why,
            reason=why,
            round=new_round.number,
            checklist_version=checklist_version,
        )
        return new_round

    def meet_condition(
        self, *, by: PersonRef, at: datetime, condition_id: uuid.UUID, evidence: str
    ) -> ConditionMet:
        """Record a condition of the current conditional approval as met, with evidence; at most once."""
        self._check("meet_condition")
        decision = self.latest_decision
        condition = next((c for c in (decision.conditions if decision else ()) if c.id == condition_id), None)
        if condition is None:
            raise InvalidValue(
                f"condition {condition_id} is not a condition of the current decision", field="condition_id"
            )
        earlier = next((m for m in self.conditions_met if m.condition_id == condition_id), None)
        if earlier is not None:
            raise InvalidTransition(
                f"condition {condition_id} was already met on {local_date(earlier.met_at)} "
                f"by {earlier.met_by.name}"
            )
        shown = text(evidence, "evidence")
        if shown is None:
            raise InvalidValue("evidence: say (or link to) what shows the condition is met", field="evidence")
        met = ConditionMet(condition_id=condition_id, evidence=shown, met_by=by, met_at=at)
        self.conditions_met.append(met)
        self.updated_at = at
        self._record(
            "condition_met",
            actor=by,
            at=at,
            from_state=self.state,
            before=None,
            condition_id=str(condition_id),
            evidence=shown,
        )
        return met

    # --- building the parts of a decision -------------------------------------------------------------

    def _condition(
        self,
        given: ConditionInput | Mapping[str, Any],
        name: str,
        decided_on: date,
        calendar: WorkingCalendar,
    ) -> Condition:
        spec = as_value(ConditionInput, given, name)
        wording = text(spec.text, f"{name}.text")
        if wording is None:
            raise InvalidValue(f"{name}.text: say what must be done", field=f"{name}.text")
        if spec.owner is None:
            raise InvalidValue(f"{name}.owner: every condition needs an owner", field=f"{name}.owner")
        owner = person(spec.owner, f"{name}.owner")
        if (spec.due_date is None) == (spec.due_in_working_days is None):
            raise InvalidValue(
                f"{name}: give either a due_date or due_in_working_days (one of them)",
                field=f"{name}.due_date",
            )
        if spec.due_in_working_days is not None:
            days = spec.due_in_working_days
            if isinstance(days, bool) or not isinstance(days, int) or days < 1:
                raise InvalidValue(
                    f"{name}.due_in_working_days must be 1 or more", field=f"{name}.due_in_working_days"
                )
            due = add_working_days(decided_on, days, calendar)
        else:
            due = a_date(spec.due_date, f"{name}.due_date") or decided_on
            if due < decided_on:
                raise InvalidValue(
                    f"{name}.due_date {due} is before the decision ({decided_on})", field=f"{name}.due_date"
                )
        return Condition(id=uuid.uuid4(), text=wording, owner=owner, due_date=due)

    def plan_system(self, overrides: Mapping[str, Any]) -> ProposedSystemPlan:
        """The system an approval proposes to the register, from the request and the chair's overrides.

        The supplier is required: the register records every system against a supplier."""
        values: dict[str, Any] = {
            "name": self.proposed_product or self.title,
            "description": self.problem_summary,
            "service_areas": (self.service_area,) if self.service_area else (),
            "capabilities": self.capabilities,
            "supplier_name": self.proposed_supplier,
            "supplier_id": None,
            "product_family": self.proposed_product,
            "hosting": self.hosting,
            "holds_personal_data": self.holds_personal_data,
            "councils_in_scope": self.councils_in_scope,
            "estimated_annual_value": self.annual_cost,
            "estimated_initial_cost": self.initial_cost,
            "expected_start_date": self.expected_start_date,
            "term_months": self.term_months,
            "linked_contract_id": self.renews_or_replaces_contract_id,
            "system_owner": self.system_owner,
            "contract_owner": self.contract_owner,
            "budget_holder": self.budget_holder,
            "signatory": self.signatory,
        }
        checks: dict[str, Callable[[Any, str], Any]] = {
            "name": _short,
            "description": _long,
            "service_areas": lambda v, n: codes(v, n),
            "capabilities": lambda v, n: codes(v, n),
            "supplier_name": _short,
            "supplier_id": a_uuid,
            "product_family": _short,
            "hosting": _enum(Hosting),
            "holds_personal_data": optional_bool,
            "councils_in_scope": CONTENT["councils_in_scope"],
            "estimated_annual_value": money,
            "estimated_initial_cost": money,
            "expected_start_date": a_date,
            "term_months": _term_months,
            "linked_contract_id": a_uuid,
            "system_owner": _owner,
            "contract_owner": _owner,
            "budget_holder": _owner,
            "signatory": _owner,
        }
        unknown = sorted(set(overrides) - set(checks))
        if unknown:
            raise InvalidValue(
                f"proposed_system.{unknown[0]} is not a part of a proposed system",
                field=f"proposed_system.{unknown[0]}",
            )
        for name, value in overrides.items():
            values[name] = checks[name](value, f"proposed_system.{name}")
        if not values["supplier_name"]:
            raise InvalidValue(
                "name the supplier before approving: set proposed_supplier on the request, "
                "or give proposed_system.supplier_name",
                field="proposed_supplier",
            )
        required = {
            "name": "a name",
            "description": "a description",
            "service_areas": "at least one service area",
            "hosting": "the hosting",
            "holds_personal_data": "whether it holds personal data",
            "councils_in_scope": "at least one council",
            "estimated_annual_value": "the yearly cost",
            "estimated_initial_cost": "the one-off cost",
        }
        for name, what in required.items():
            if values[name] is None or values[name] == ():
                raise InvalidValue(
                    f"proposed_system.{name}: an approval needs {what} for the register",
                    field=f"proposed_system.{name}",
                )
        return ProposedSystemPlan(**values)

    # --- queries ----------------------------------------------------------------------------------------

    @property
    def problem_summary(self) -> str:
        """The problem and the user need in one paragraph (as published and as the register describes it)."""
        parts = [p for p in (self.problem_statement, self.user_need and f"User need: {self.user_need}") if p]
        summary = "\n\n".join(parts) or self.title or self.reference
        return summary[:LONG_TEXT]

    def review_round(self, number: int | None = None) -> ReviewRound:
        """Review round ``number`` (the latest when None); InvalidTransition before any review, NotFound
        for a round the request never had."""
        if not self.rounds:
            raise InvalidTransition(
                f"{self.reference} is {self.state.value} and has not been reviewed yet: it has no ratings or scores"
            )
        if number is None:
            return self.rounds[-1]
        for review in self.rounds:
            if review.number == number:
                return review
        raise NotFound(f"{self.reference} has no review round {number} (it has {len(self.rounds)})")

    @property
    def current_round(self) -> ReviewRound | None:
        return self.rounds[-1] if self.rounds else None

    @property
    def decisions(self) -> list[Decision]:
        """Every decision ever recorded, oldest first (one per decided round)."""
        return [r.decision for r in self.rounds if r.decision is not None]

    @property
    def latest_decision(self) -> Decision | None:
        decisions = self.decisions
        return decisions[-1] if decisions else None

    def conditions(self, today: date) -> list[ConditionView]:
        """The current decision's conditions with their status; overdue = still open after the due date."""
        decision = self.latest_decision
        if decision is None:
            return []
        met = {m.condition_id: m for m in self.conditions_met}
        return [
            ConditionView(
                id=c.id,
                text=c.text,
                owner=c.owner,
                due_date=c.due_date,
                status=ConditionStatus.MET if c.id in met else ConditionStatus.OPEN,
                met=met.get(c.id),
                overdue=c.id not in met and c.due_date < today,
            )
            for c in decision.conditions
        ]

    def reuse_query(self) -> ReuseQuery:
        """What this request needs, as the re-use finder compares it with systems and past decisions."""
        words = (
            self.problem_statement,
            self.user_need,
            self.business_requirements,
            self.technical_specification,
        )
        return ReuseQuery(
            title=self.title or self.reference,
            text="\n".join(w for w in words if w),
            capabilities=self.capabilities,
            product=self.proposed_product,
            supplier=self.proposed_supplier,
            service_area=self.service_area,
            exclude_request_id=self.id,
        )

    def snapshot(self) -> dict[str, Any]:
        """The request in plain (JSON-friendly) form."""
        plain: dict[str, Any] = to_plain(self)
        return plain

    # --- bookkeeping ------------------------------------------------------------------------------------

    def _check(self, action: str) -> None:
        if self.state not in _FROM[action]:
            allowed = [_VERBS[a] for a in allowed_actions(self.state)]
            can = (
                f"from {self.state.value} it can be: {', '.join(allowed)}"
                if allowed
                else "nothing is allowed"
            )
            raise InvalidTransition(
                f"cannot {_VERBS[action]} a request that is {self.state.value} "
                f"(only when {' or '.join(sorted(s.value for s in _FROM[action]))}); {can}"
            )

    def _move(
        self, to: RequestState, action: Action, *, by: PersonRef, at: datetime, note: str = "", **detail: Any
    ) -> None:
        before = self.state
        self.state = to
        self.updated_at = at
        self.history.append(StateEntry(state=to, entered_at=at, by=by, note=note))
        self._record(action, actor=by, at=at, from_state=before, before=None, **detail)

    def _record(
        self,
        action: Action,
        *,
        actor: PersonRef,
        at: datetime,
        from_state: RequestState | None,
        before: dict[str, Any] | None,
        **detail: Any,
    ) -> None:
        self.events.append(
            Happened(
                action=action,
                request_id=self.id,
                actor=actor,
                at=at,
                from_state=from_state,
                to_state=self.state,
                before=before,
                after=self.snapshot(),
                detail=detail,
            )
        )
