"""Pages: technology requests, from the requester's side (the TDA's review is :mod:`.reviews`).

* ``GET /requests``: request tracking. A requester sees their own requests (state, submitted date, time
  in the current state, decision); the TDA, administrators and auditors see every request, with a state
  filter. "Start a new request" for everyone who may raise one.
* ``GET|POST /requests/new``: the first question page (the need). Posting it creates the draft
  (``POST /api/v1/requests``).
* ``GET|POST /requests/{key}/steps/{step}``: the question pages of a draft, one topic each (:data:`STEPS`).
  Each post saves the draft with ``PATCH`` and the ``If-Match`` ETag read when the page was shown, so
  an edit made meanwhile (another tab) is refused (412) rather than overwritten. "Save and continue"
  asks for the answers that submission will need; "Save as draft and come back later" keeps whatever
  is valid and returns to the list. A refused step (a missing answer, a bad amount, the API's refusal)
  shows the page again with the GOV.UK error summary and changes nothing.
* ``GET /requests/{key}/check`` and ``POST /requests/{key}/submit``: "Check your answers", with a Change
  link to each question page, what submission still needs, and Submit; then
  ``GET /requests/{key}/submitted``, the confirmation with the reference and what happens next.
* ``GET /requests/suggestions?title=&text=``: JSON for the as-you-type panel on the need page (the
  procurement service's ``POST /api/v1/candidates``: register systems and past TDA decisions like the
  words typed). The page works without it: the "Check for existing systems" button shows the same panel,
  and the pages after the need show the saved draft's candidates.
* ``GET /requests/{key}``: the request: its state, the decision with conditions, a timeline of its history
  and its answers, and the requester's actions in that state (continue a draft, answer the TDA's
  questions and resubmit, withdraw) as forms.

What is asked is what the procurement service stores (``RequestFields``, REQUIREMENTS.md §3.4 R1-R27);
nothing is asked that it cannot keep. Its rules stay its own: the pages ask for the answers it will need,
in the council's words, but the service's answer to a submission is the one that counts.

People named in owner roles (R22) are entered as a name and an e-mail address. The procurement service
names people by their identity-provider subject, which the portal cannot know for someone else; the
person is sent with their e-mail address as id (the signed-in person's own subject when it is them), as
on the review pages. The register matches owner roles to its people by e-mail.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import Annotated, Any, Literal
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from markupsafe import Markup, escape
from starlette.datastructures import FormData

from estate_portal.backends import Api
from estate_portal.csrf import protect
from estate_portal.errors import ApiProblem, PageNotFound, PortalError, ServiceUnavailable, SessionEnded
from estate_portal.session import User, session_of
from estate_portal.views.procurement_common import (
    EMAIL,
    OUTCOME_WORDS,
    condition_rows,
    date_items,
    if_match,
    london_instant,
    read_request,
    refusal_status,
    request_path,
)
from estate_portal.views.procurement_common import form_text as _text
from estate_portal.web import (
    TDA,
    CurrentUser,
    FormErrors,
    PagesDep,
    SessionDep,
    UserApi,
    long_date,
    pounds,
    require,
)

router = APIRouter(dependencies=[Depends(protect)])

RAISERS = ("requester", "owner", "contract_manager", "tda_member", "tda_chair")
"""Who may raise a request (the procurement service's REQUESTING_ROLES)."""

READS_ALL = ("tda_member", "tda_chair", "admin", "auditor")
"""Who sees every request in the list (the procurement service's READ_ALL)."""

MIN_ROWS = 3
MAX_ROWS = 10
"""Rows shown for user stories, options and risks: what is saved plus one empty row, at least 3."""

LIST_PAGE = 25

STATES: dict[str, tuple[str, str]] = {
    "draft": ("Draft", "govuk-tag--grey"),
    "submitted": ("Submitted", "govuk-tag--blue"),
    "under_review": ("Under review", "govuk-tag--purple"),
    "information_requested": ("Information requested", "govuk-tag--orange"),
    "resubmitted": ("Resubmitted", "govuk-tag--light-blue"),
    "decided": ("Decided", "govuk-tag--green"),
    "withdrawn": ("Withdrawn", "govuk-tag--grey"),
}
"""Each state's words and tag colour (the words carry the meaning; the colour only repeats it)."""

OUTCOME_TAGS = {
    "approved": "govuk-tag--green",
    "approved_with_conditions": "govuk-tag--turquoise",
    "not_approved": "govuk-tag--red",
}
"""Each outcome's tag colour (the words, :data:`OUTCOME_WORDS`, carry the meaning)."""

REFERENCE_OR_ID = re.compile(
    r"^(TR-\d{4}-\d{4,}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$"
)
MONEY = re.compile(r"^\d+(\.\d{1,2})?$")


def london_day(value: Any) -> str:
    """An instant's Europe/London day: 3 March 2027."""
    moment = london_instant(value)
    return long_date(moment.date()) if moment else ""


def london_time(value: Any) -> str:
    """An instant in Europe/London: 3 March 2027 at 14:30."""
    moment = london_instant(value)
    return long_date(moment) if moment else ""


# --- the questions ----------------------------------------------------------------------------------

Kind = Literal[
    "text",
    "textarea",
    "lines",
    "money",
    "months",
    "date",
    "select",
    "radios",
    "yesno",
    "checkboxes",
    "stories",
    "options",
    "risks",
    "person",
    "contract",
]


@dataclass(frozen=True, slots=True)
class Question:
    """One question of the form: ``name`` is the procurement API's field it fills."""

    name: str
    kind: Kind
    label: str
    short: str
    """The answer's name on "Check your answers" and in messages."""
    hint: str = ""
    required: str = ""
    """The error when "Save and continue" finds no answer; empty when the question is optional."""
    choices: tuple[tuple[str, str], ...] = ()
    width: str = ""

    @property
    def anchor(self) -> str:
        """The id of the input an error about this question links to (the first input of a group)."""
        return {
            "date": f"{self.name}-day",
            "stories": f"{self.name}-1-text",
            "options": f"{self.name}-1-description",
            "risks": f"{self.name}-1-risk",
            "person": f"{self.name}-name",
        }.get(self.kind, self.name)


@dataclass(frozen=True, slots=True)
class Step:
    slug: str
    title: str
    intro: str
    questions: tuple[Question, ...]


PRIORITIES = (
    ("must", "Must have"),
    ("should", "Should have"),
    ("could", "Could have"),
    ("wont", "Won't have"),
)
OPTION_KINDS = (("buy", "Buy a product"), ("build", "Build it"), ("reuse", "Re-use a system the council has"))
RAGS = (("red", "Red"), ("amber", "Amber"), ("green", "Green"))
YES_NO = (("yes", "Yes"), ("no", "No"))
ROW_PARTS: dict[str, tuple[str, ...]] = {
    "stories": ("text", "priority"),
    "options": ("kind", "description", "reason"),
    "risks": ("risk", "mitigation", "rag"),
}
"""The inputs of each numbered row of a group question (``user_stories-1-text``, ...), by kind."""

STEPS: tuple[Step, ...] = (
    Step(
        "need",
        "The need",
        "Tell us the problem you want to solve. As you describe it, we show you systems the council "
        "already runs that may do the job.",
        (
            Question(
                "title",
                "text",
                "Give your request a short title",
                "Title",
                hint="For example, 'Street asset inspection app'.",
                required="Enter a short title for your request",
            ),
            Question(
                "service_area",
                "select",
                "Which service area is asking?",
                "Service area",
                required="Select the service area that is asking",
            ),
            Question(
                "problem_statement",
                "textarea",
                "What problem are you trying to solve?",
                "Problem",
                hint="Say what happens today and why it is a problem.",
                required="Describe the problem you are trying to solve",
            ),
            Question(
                "user_need",
                "textarea",
                "Who has the problem, and what do they need?",
                "User need",
                hint="For example, 'Inspectors need to record a defect with a photo and its location on site'.",
                required="Say who has the problem and what they need",
            ),
        ),
    ),
    Step(
        "requirements",
        "What it must do",
        "The requirements the TDA will judge the options against.",
        (
            Question(
                "business_requirements",
                "textarea",
                "What must the solution do?",
                "Business requirements",
                hint="The business requirements it must meet.",
                required="Enter the business requirements the solution must meet",
            ),
            Question(
                "user_stories",
                "stories",
                "User stories",
                "User stories",
                hint="Write each as 'As a … I need … so that …' and give its priority. "
                "At least one must be a 'Must have'.",
                required="Add at least one user story",
                choices=PRIORITIES,
            ),
            Question(
                "capabilities",
                "lines",
                "Which capabilities must it provide?",
                "Capabilities",
                hint="One a line, for example 'asset management' or 'online payments'. The council's "
                "existing systems are matched on these.",
                required="Enter at least one capability the solution must provide",
            ),
            Question(
                "technical_specification",
                "textarea",
                "What is known of its technical specification?",
                "Technical specification",
                hint="For example the devices it runs on, sign-in, the systems it must work with.",
                required="Enter the technical specification, or what is known of it",
            ),
            Question(
                "strategic_alignment",
                "textarea",
                "How does it support the council's objectives?",
                "Strategic alignment",
                hint="The council's objectives and Target Operating Model: efficiency, customer experience "
                "and outcomes for residents.",
                required="Say how this supports the council's objectives",
            ),
            Question(
                "legal_considerations",
                "textarea",
                "Are there legal or regulatory points to consider? (optional)",
                "Legal considerations",
            ),
        ),
    ),
    Step(
        "options",
        "Options considered",
        "The TDA expects at least two options: building something, buying a product, or re-using a system "
        "the council already has.",
        (
            Question(
                "options_considered",
                "options",
                "The options you considered",
                "Options",
                hint="Say why each was chosen or rejected.",
                required="Give at least two options, or say why only one was considered",
                choices=OPTION_KINDS,
            ),
            Question(
                "single_option_justification",
                "textarea",
                "If you considered only one option, why? (optional)",
                "Why only one option",
            ),
            Question(
                "proposed_product",
                "text",
                "Which product do you propose? (optional)",
                "Product",
                hint="Leave this empty if you propose to build or re-use.",
            ),
            Question(
                "proposed_supplier",
                "text",
                "Who supplies it? (optional)",
                "Supplier",
                hint="A purchase cannot be approved without a named supplier.",
            ),
        ),
    ),
    Step(
        "costs",
        "Costs, benefits and timing",
        "Amounts are in pounds, for example 12000 or 12000.50.",
        (
            Question(
                "initial_cost",
                "money",
                "What is the one-off cost?",
                "One-off cost",
                hint="Set-up, implementation and data migration. Enter 0 if there is none.",
                required="Enter the one-off cost in pounds, or 0 if there is none",
            ),
            Question(
                "annual_cost",
                "money",
                "What will it cost each year?",
                "Yearly cost",
                hint="The yearly total: licences, support and hosting. Enter 0 if there is none.",
                required="Enter the yearly cost in pounds, or 0 if there is none",
            ),
            Question(
                "annual_licence_cost",
                "money",
                "Of the yearly cost, how much is for licences? (optional)",
                "Of which licences",
            ),
            Question(
                "annual_maintenance_cost",
                "money",
                "Of the yearly cost, how much is for maintenance and support? (optional)",
                "Of which maintenance",
            ),
            Question(
                "expected_annual_savings",
                "money",
                "How much will it save each year?",
                "Yearly savings",
                hint="Cashable savings. Leave this empty if you describe other benefits instead.",
            ),
            Question(
                "non_monetary_benefits",
                "textarea",
                "What other benefits will it bring?",
                "Other benefits",
                hint="Benefits that are not money, such as time saved or social, environmental or well-being "
                "benefits.",
            ),
            Question(
                "budget_source",
                "textarea",
                "Which budget will pay for it? (optional)",
                "Budget",
                hint="The budget, and whether ICT Finance has agreed it.",
            ),
            Question(
                "expected_start_date",
                "date",
                "When do you need it to start? (optional)",
                "Start",
                hint="For example, 1 4 2027",
            ),
            Question(
                "term_months",
                "months",
                "How long should the contract run, in months? (optional)",
                "Contract term",
                width="govuk-input--width-4",
            ),
        ),
    ),
    Step(
        "data",
        "Data and hosting",
        "Information Governance and the TDA use these answers to check data protection (a DPIA) and where "
        "the council's data will be.",
        (
            Question(
                "holds_personal_data",
                "yesno",
                "Will it hold personal data?",
                "Personal data",
                hint="Personal data is anything that identifies a living person, such as a name, an address or "
                "case notes.",
                required="Select yes if it will hold personal data",
            ),
            Question(
                "personal_data_categories",
                "lines",
                "What kinds of personal data will it hold?",
                "Kinds of personal data",
                hint="One a line, for example 'tenant contact details'. Leave this empty if it will hold "
                "none.",
            ),
            Question(
                "dpia_needed",
                "yesno",
                "Is a data protection impact assessment (DPIA) needed?",
                "DPIA needed",
                hint="Information Governance can advise. A system holding personal data without a DPIA is not "
                "approved. Answer this if it will hold personal data.",
            ),
            Question(
                "hosting",
                "radios",
                "Where will it run?",
                "Hosting",
                required="Select where it will run",
                choices=(
                    ("saas", "Software as a service (the supplier runs it)"),
                    ("cloud", "In the council's cloud"),
                    ("on_premises", "On the council's own servers (on premises)"),
                    ("hybrid", "A mix of these (hybrid)"),
                ),
            ),
        ),
    ),
    Step(
        "technical",
        "Integration and quality",
        "New systems are expected to exchange data through RESTful APIs, and to meet accessibility "
        "standards.",
        (
            Question(
                "integration_approach",
                "radios",
                "How will it exchange data with the council's other systems?",
                "Integration",
                required="Select how it will exchange data",
                choices=(
                    ("restful_api", "Through RESTful APIs"),
                    ("middleware", "Through middleware"),
                    ("bulk_file", "By bulk files, for example CSV"),
                    ("none", "It will not exchange data"),
                ),
            ),
            Question(
                "integration_detail",
                "textarea",
                "What data will flow, to and from which systems? (optional)",
                "Data flows",
            ),
            Question(
                "integration_justification",
                "textarea",
                "If it will not use RESTful APIs, why not?",
                "Why not RESTful APIs",
            ),
            Question(
                "accessibility_assessment",
                "textarea",
                "How accessible is it?",
                "Accessibility",
                hint="The WCAG level it meets, any risks or usability issues for the people who will use it, "
                "and digital inclusion.",
                required="Describe how accessible it is",
            ),
            Question(
                "wcag_level",
                "radios",
                "Which WCAG level does it meet? (optional)",
                "WCAG level",
                choices=(("AA", "AA"), ("AAA", "AAA"), ("A", "A only"), ("not_met", "It does not meet WCAG")),
            ),
            Question(
                "scalability",
                "textarea",
                "How will it grow and change with the council's needs? (optional)",
                "Scalability",
                hint="Scalability and flexibility, of the system and of the contract.",
            ),
            Question(
                "performance_reliability",
                "textarea",
                "How reliable and fast must it be? (optional)",
                "Performance and reliability",
                hint="Uptime, response times, fault tolerance and the supplier's performance targets.",
            ),
            Question(
                "knowledge_transfer",
                "textarea",
                "How will staff learn to use and support it? (optional)",
                "Knowledge transfer",
            ),
        ),
    ),
    Step(
        "delivery",
        "Risks and delivery",
        "What could go wrong, who you have involved and how you will know it worked.",
        (
            Question(
                "risks",
                "risks",
                "Risks",
                "Risks",
                hint="Security, compliance and operational risks, each with how you will mitigate it and its "
                "rating (red, amber or green).",
                required="Add at least one risk with how you will mitigate it",
                choices=RAGS,
            ),
            Question(
                "stakeholders_engaged",
                "lines",
                "Who have you engaged?",
                "Stakeholders engaged",
                hint="One a line: service areas, ICT, the people who will use it, suppliers in the market.",
                required="List who you have engaged",
            ),
            Question(
                "success_criteria",
                "textarea",
                "How will you know it worked?",
                "Success criteria",
                required="Say how you will know it worked",
            ),
            Question(
                "pilot_plan",
                "textarea",
                "How will you pilot it before using it in full? (optional)",
                "Pilot",
            ),
            Question(
                "existing_contracts_and_legacy",
                "textarea",
                "Are there contracts, legacy technology or existing systems the TDA should know about? "
                "(optional)",
                "Existing contracts and legacy",
            ),
        ),
    ),
    Step(
        "scope",
        "Scope, contract and people",
        "Who it is for, what the tender will ask of suppliers, and who will be responsible for it.",
        (
            Question(
                "councils_in_scope",
                "checkboxes",
                "Which councils is it for?",
                "Councils",
                hint="Select all that apply.",
                required="Select the councils it is for",
            ),
            Question(
                "category",
                "radios",
                "What kind of technology is it?",
                "Kind of technology",
                required="Select what kind of technology it is",
                choices=(
                    ("it", "Traditional IT"),
                    (
                        "iot_protech",
                        "Internet of things or pro-tech, such as fleet, sensors or devices in council buildings",
                    ),
                ),
            ),
            Question(
                "renews_or_replaces_contract_id",
                "contract",
                "Does it renew or replace a contract in the register? (optional)",
                "Renews or replaces",
                hint="Enter the contract's register reference, for example CCC-ICT-0002.",
                width="govuk-input--width-20",
            ),
            Question(
                "data_extraction_clauses",
                "yesno",
                "Will the tender include the data extraction clauses?",
                "Data extraction clauses",
                hint="Appendix M: the council may extract all its data at any time, in an open format, and have "
                "it returned.",
                required="Select yes if the tender will include the data extraction clauses",
            ),
            Question(
                "api_clauses",
                "yesno",
                "Will the tender include the API clauses?",
                "API clauses",
                hint="Appendix M: documented web APIs for every significant business function.",
                required="Select yes if the tender will include the API clauses",
            ),
            Question(
                "clause_charging",
                "radios",
                "Will those data and API features be free, or their charges itemised?",
                "Data and API charges",
                hint="Answer this if the tender includes either set of clauses.",
                choices=(
                    ("free", "Free, without additional charge"),
                    ("itemised", "Every charge itemised in the tender response"),
                ),
            ),
            Question(
                "system_owner",
                "person",
                "Who will own the system once it is in use?",
                "System owner",
                required="Enter the system owner's name and email address",
            ),
            Question(
                "budget_holder",
                "person",
                "Who holds the budget that pays for it?",
                "Budget holder",
                hint="They are told when the contract is due for renewal.",
                required="Enter the budget holder's name and email address",
            ),
            Question(
                "contract_owner",
                "person",
                "Who will own and manage the contract? (optional)",
                "Contract owner",
            ),
            Question(
                "signatory",
                "person",
                "Who will sign the contract for the council? (optional)",
                "Signatory",
            ),
        ),
    ),
)

STEP_OF: dict[str, Step] = {step.slug: step for step in STEPS}
QUESTION_OF: dict[str, Question] = {q.name: q for step in STEPS for q in step.questions}
STEP_OF_FIELD: dict[str, Step] = {q.name: step for step in STEPS for q in step.questions}


def step_number(step: Step) -> int:
    return STEPS.index(step) + 1


def next_step(step: Step) -> Step | None:
    index = STEPS.index(step)
    return STEPS[index + 1] if index + 1 < len(STEPS) else None


# --- reading answers from a form ------------------------------------------------------------------


class StepErrors(FormErrors):
    """Errors whose summary links can lead to another page (a question page, from "Check your answers")."""

    def __init__(self) -> None:
        super().__init__()
        self.targets: dict[str, str] = {}

    def add_at(self, key: str, message: str, href: str) -> None:
        if key not in self.by_field:
            self.by_field[key] = message
            self.targets[key] = href

    def summary(self) -> list[dict[str, str]]:
        out = []
        for key, text in self.by_field.items():
            href = self.targets.get(key) or (f"#{key}" if key else "")
            out.append({"text": text, "href": href} if href else {"text": text})
        return out


def _lines(value: str) -> list[str]:
    return list(dict.fromkeys(line.strip() for line in value.splitlines() if line.strip()))


def _sentence(message: str) -> str:
    return message[:1].upper() + message[1:] if message else message


def _pounds(raw: str, question: Question, errors: FormErrors) -> str | None:
    if not raw:
        return None
    cleaned = raw.replace(",", "").replace(" ", "").removeprefix("£")
    try:
        amount = Decimal(cleaned) if MONEY.match(cleaned) else None
    except InvalidOperation:
        amount = None
    if amount is None:
        errors.add(question.anchor, f"{question.short} must be an amount in pounds, like 12000 or 12000.50")
        return None
    if amount >= Decimal(10) ** 13:
        errors.add(question.anchor, f"{question.short} must be less than £10,000,000,000,000")
        return None
    return f"{amount:.2f}"


def _date(form: Mapping[str, Any], question: Question, errors: FormErrors) -> str | None:
    parts = {part: _text(form, f"{question.name}-{part}") for part in ("day", "month", "year")}
    if not any(parts.values()):
        return None
    absent = [part for part, value in parts.items() if not value]
    if absent:
        errors.add(question.anchor, f"{question.short} date must include a {' and '.join(absent)}")
        return None
    try:
        day = date(int(parts["year"]), int(parts["month"]), int(parts["day"]))
    except ValueError:
        errors.add(question.anchor, f"{question.short} date must be a real date, like 1 4 2027")
        return None
    if day.year < 2000:
        errors.add(question.anchor, f"{question.short} date must have a 4-digit year, like 2027")
        return None
    return day.isoformat()


def _person(
    form: Mapping[str, Any], question: Question, user: User, errors: FormErrors
) -> dict[str, str] | None:
    name = _text(form, f"{question.name}-name")
    email = _text(form, f"{question.name}-email")
    if not name and not email:
        return None
    who = question.short.lower()
    if not name:
        errors.add(f"{question.name}-name", f"Enter the {who}'s name")
    if not email:
        errors.add(f"{question.name}-email", f"Enter the {who}'s email address")
    elif not EMAIL.match(email):
        errors.add(
            f"{question.name}-email",
            f"Enter the {who}'s email address in the right format, like name@cambridge.gov.uk",
        )
    if not name or not email or not EMAIL.match(email):
        return None
    own = user.email is not None and user.email.casefold() == email.casefold()
    return {"id": user.subject if own else email.casefold(), "name": name, "email": email}


def _rows(form: Mapping[str, Any], question: Question) -> list[tuple[int, dict[str, str]]]:
    """The numbered rows of a group question that have anything in them."""
    rows = []
    for number in range(1, MAX_ROWS + 1):
        row = {part: _text(form, f"{question.name}-{number}-{part}") for part in ROW_PARTS[question.kind]}
        if any(row.values()):
            rows.append((number, row))
    return rows


def _stories(
    form: Mapping[str, Any], question: Question, errors: FormErrors, finishing: bool
) -> list[dict[str, str]]:
    stories = []
    for number, row in _rows(form, question):
        if not row["text"]:
            errors.add(f"{question.name}-{number}-text", f"Enter user story {number}, or remove its priority")
            continue
        if row["priority"] not in dict(PRIORITIES):
            errors.add(f"{question.name}-{number}-priority", f"Select the priority of user story {number}")
            continue
        stories.append({"text": row["text"], "priority": row["priority"]})
    if finishing and stories and not any(s["priority"] == "must" for s in stories):
        errors.add(question.anchor, "Mark at least one user story as 'Must have'")
    return stories


def _options(
    form: Mapping[str, Any], question: Question, errors: FormErrors, finishing: bool
) -> list[dict[str, Any]]:
    chosen = _text(form, f"{question.name}-chosen")
    options: list[dict[str, Any]] = []
    for number, row in _rows(form, question):
        if not row["description"]:
            errors.add(
                f"{question.name}-{number}-description", f"Describe option {number}, or clear its answers"
            )
            continue
        if row["kind"] not in dict(OPTION_KINDS):
            errors.add(
                f"{question.name}-{number}-kind", f"Select whether option {number} is to buy, build or re-use"
            )
            continue
        is_chosen = chosen == str(number)
        if finishing and not row["reason"]:
            verb = "you propose it" if is_chosen else "it was rejected"
            errors.add(f"{question.name}-{number}-reason", f"Say why {verb}: option {number}")
        options.append(
            {
                "kind": row["kind"],
                "description": row["description"],
                "reason": row["reason"],
                "chosen": is_chosen,
            }
        )
    if finishing and options and not any(o["chosen"] for o in options):
        errors.add(f"{question.name}-chosen", "Select the option you propose")
    return options


def _risks(
    form: Mapping[str, Any], question: Question, errors: FormErrors, finishing: bool
) -> list[dict[str, str]]:
    risks = []
    for number, row in _rows(form, question):
        if not row["risk"]:
            errors.add(f"{question.name}-{number}-risk", f"Describe risk {number}, or clear its answers")
            continue
        if finishing and not row["mitigation"]:
            errors.add(f"{question.name}-{number}-mitigation", f"Say how risk {number} will be mitigated")
        rag = row["rag"] if row["rag"] in dict(RAGS) else "amber"
        risks.append({"risk": row["risk"], "mitigation": row["mitigation"], "rag": rag})
    return risks


async def read_answers(
    step: Step, form: Mapping[str, Any], *, api: Api, user: User, finishing: bool
) -> tuple[dict[str, Any], StepErrors]:
    """The step's answers as the procurement API's fields (every field of the step, ``None`` when
    empty, so that clearing an answer clears it), and what is wrong with them.

    Amounts, dates, e-mail addresses and partly filled rows are checked whatever the button; when
    ``finishing`` ("Save and continue"), the answers submission will need are asked for too. The title
    is always needed: a draft is found by it."""
    errors = StepErrors()
    changes: dict[str, Any] = {}
    for q in step.questions:
        raw = _text(form, q.name)
        value: Any
        if q.kind in ("text", "textarea"):
            value = raw or None
        elif q.kind == "lines":
            value = _lines(raw) or None
        elif q.kind == "money":
            value = _pounds(raw, q, errors)
        elif q.kind == "months":
            value = None
            if raw:
                if raw.isdigit() and 1 <= int(raw) <= 600:
                    value = int(raw)
                else:
                    errors.add(q.anchor, f"{q.short} must be a whole number of months, from 1 to 600")
        elif q.kind == "date":
            value = _date(form, q, errors)
        elif q.kind in ("select", "radios"):
            value = raw or None
            if value and q.choices and value not in dict(q.choices):
                errors.add(q.anchor, q.required or f"Select one of the answers for {q.short.lower()}")
                value = None
        elif q.kind == "yesno":
            value = {"yes": True, "no": False}.get(raw)
        elif q.kind == "checkboxes":
            picked = form.getlist(q.name) if isinstance(form, FormData) else []
            value = [str(code).strip() for code in picked if str(code).strip()] or None
        elif q.kind == "stories":
            value = _stories(form, q, errors, finishing) or None
        elif q.kind == "options":
            value = _options(form, q, errors, finishing) or None
        elif q.kind == "risks":
            value = _risks(form, q, errors, finishing) or None
        elif q.kind == "person":
            value = _person(form, q, user, errors)
        elif q.kind == "contract":
            value = await _contract_id(api, raw, q, errors) if raw else None
        else:  # pragma: no cover - every kind is handled above
            raise AssertionError(q.kind)
        changes[q.name] = value
        if (
            value is None
            and q.required
            and (finishing or q.name == "title")
            and not _has_error_for(errors, q)
        ):
            errors.add(q.anchor, q.required)
    if finishing:
        _needs_of(step.slug, changes, errors)
    _contradictions(changes, errors)
    return changes, errors


def _has_error_for(errors: FormErrors, question: Question) -> bool:
    return any(key == question.name or key.startswith(f"{question.name}-") for key in errors.by_field)


def _needs_of(slug: str, answers: Mapping[str, Any], errors: FormErrors) -> None:
    """What submission needs that depends on another answer of the same page."""
    if slug == "options":
        options = answers.get("options_considered") or []
        if len(options) == 1 and not answers.get("single_option_justification"):
            errors.add(
                "single_option_justification",
                "Give at least two options, or say why only one was considered",
            )
    elif slug == "costs":
        if answers.get("expected_annual_savings") is None and not answers.get("non_monetary_benefits"):
            errors.add(
                "non_monetary_benefits",
                "Enter the expected yearly savings, or describe the benefits that are not money",
            )
    elif slug == "data":
        if answers.get("holds_personal_data"):
            if not answers.get("personal_data_categories"):
                errors.add("personal_data_categories", "List the kinds of personal data it will hold")
            if answers.get("dpia_needed") is None:
                errors.add("dpia_needed", "Select yes if a DPIA is needed")
    elif slug == "technical":
        approach = answers.get("integration_approach")
        if approach and approach != "restful_api" and not answers.get("integration_justification"):
            errors.add("integration_justification", "Say why it will not use RESTful APIs")
    elif slug == "scope":
        clauses = answers.get("data_extraction_clauses") or answers.get("api_clauses")
        if clauses and not answers.get("clause_charging"):
            errors.add(
                "clause_charging",
                "Select whether the data and API features are free or their charges itemised",
            )


def _contradictions(answers: Mapping[str, Any], errors: FormErrors) -> None:
    """Answers that contradict each other, refused whatever the button (as the procurement service does)."""
    if answers.get("holds_personal_data") is False and answers.get("personal_data_categories"):
        errors.add(
            "personal_data_categories",
            "Remove the kinds of personal data, or select yes: it will hold personal data",
        )
    total = answers.get("annual_cost")
    parts = [answers.get(name) for name in ("annual_licence_cost", "annual_maintenance_cost")]
    given = [Decimal(p) for p in parts if p is not None]
    if total is not None and given and sum(given, Decimal(0)) > Decimal(total):
        errors.add(
            "annual_cost", "The yearly cost must be at least its licence and maintenance costs together"
        )


async def _contract_id(api: Api, reference: str, question: Question, errors: FormErrors) -> str | None:
    """The register's contract with this reference (exactly, ignoring case)."""
    try:
        found = await api.get("register", "/api/v1/contracts", q=reference[:200], limit=20)
    except (ApiProblem, PageNotFound):
        found = {"items": []}
    for contract in found.get("items", []):
        if str(contract.get("reference", "")).casefold() == reference.casefold():
            return str(contract["id"])
    errors.add(question.anchor, f"There is no contract with the reference {reference} in the register")
    return None


def absorb(errors: StepErrors, problem: ApiProblem, step: Step | None = None) -> None:
    """The procurement service's refusal, each error at its question (a stale page said in words)."""
    if problem.status == 412:
        errors.add(
            "",
            "This request was changed since you opened this page (perhaps in another tab). "
            "Check the answers on this page and send them again.",
        )
        return
    known = {q.name: q for q in step.questions} if step else QUESTION_OF
    for name, message in problem.field_errors().items():
        question = known.get(name)
        text = _sentence(message.replace(name, question.short, 1) if question else message)
        errors.add(question.anchor if question else "", text)


# --- showing answers in a form --------------------------------------------------------------------


def stored_values(
    step: Step, saved: Mapping[str, Any], contract_reference: str | None = None
) -> dict[str, Any]:
    """The form's values from a saved request (the names the inputs have)."""
    values: dict[str, Any] = {}
    for q in step.questions:
        value = saved.get(q.name)
        if value is None:
            continue
        if q.kind in ("text", "textarea", "select", "radios", "money", "months"):
            values[q.name] = str(value)
        elif q.kind == "lines":
            values[q.name] = "\n".join(str(v) for v in value)
        elif q.kind == "date":
            day = date.fromisoformat(str(value))
            values.update(
                {
                    f"{q.name}-day": str(day.day),
                    f"{q.name}-month": str(day.month),
                    f"{q.name}-year": str(day.year),
                }
            )
        elif q.kind == "yesno":
            values[q.name] = "yes" if value else "no"
        elif q.kind == "checkboxes":
            values[q.name] = [str(v) for v in value]
        elif q.kind in ROW_PARTS:
            for number, row in enumerate(value, start=1):
                for part in ROW_PARTS[q.kind]:
                    values[f"{q.name}-{number}-{part}"] = row.get(part, "")
                if row.get("chosen"):
                    values[f"{q.name}-chosen"] = str(number)
        elif q.kind == "person":
            values[f"{q.name}-name"] = value.get("name", "")
            values[f"{q.name}-email"] = value.get("email", "")
        elif q.kind == "contract":
            values[q.name] = contract_reference or ""
    return values


def posted_values(step: Step, form: FormData) -> dict[str, Any]:
    """The form's values as they were sent, to show them again."""
    values: dict[str, Any] = {}
    for key, value in form.multi_items():
        if key == "csrf_token" or not isinstance(value, str):
            continue
        values[key] = value
    for q in step.questions:
        if q.kind == "checkboxes":
            values[q.name] = [v for v in form.getlist(q.name) if isinstance(v, str)]
    return values


def _filled_rows(values: Mapping[str, Any], name: str) -> int:
    last = 0
    for key, value in values.items():
        match = re.fullmatch(rf"{re.escape(name)}-(\d+)-\w+", key)
        if match and value:
            last = max(last, int(match.group(1)))
    return min(MAX_ROWS, max(MIN_ROWS, last + 1))


@dataclass
class Choices:
    """Answers that come from the register: its service areas and councils."""

    service_areas: list[str]
    councils: list[tuple[str, str]]


async def register_choices(api: Api) -> Choices:
    """The register's service areas and councils; when the register does not answer, the page still
    works (a text box for the service area, the three councils of the shared service)."""
    try:
        areas = await api.get("register", "/api/v1/service-areas")
        councils = await api.get("register", "/api/v1/councils")
    except (ServiceUnavailable, ApiProblem, PageNotFound):
        return Choices(
            [],
            [
                ("CCC", "Cambridge City Council"),
                ("SCDC", "South Cambridgeshire District Council"),
                ("HDC", "Huntingdonshire District Council"),
            ],
        )
    names = sorted({str(a["name"]) for a in areas}, key=str.casefold)
    return Choices(names, [(str(c["code"]), str(c["name"])) for c in councils])


def controls(
    step: Step, values: Mapping[str, Any], errors: FormErrors, choices: Choices
) -> list[dict[str, Any]]:
    """The step's questions as GOV.UK Frontend macro parameters (``macro`` names the component)."""
    return [_control(q, values, errors, choices) for q in step.questions]


def _label(q: Question) -> dict[str, Any]:
    return {"text": q.label, "classes": "govuk-label--s"}


def _hint(q: Question) -> dict[str, str] | None:
    return {"text": q.hint} if q.hint else None


def _legend(text: str) -> dict[str, Any]:
    return {"legend": {"text": text, "classes": "govuk-fieldset__legend--s"}}


INPUT_EXTRAS: dict[str, dict[str, Any]] = {
    "money": {"prefix": {"text": "£"}, "classes": "govuk-input--width-10", "inputmode": "decimal"},
    "months": {"suffix": {"text": "months"}, "inputmode": "numeric"},
}
"""What a text input says beyond its label and value, by the kind of question."""


def _control(q: Question, values: Mapping[str, Any], errors: FormErrors, choices: Choices) -> dict[str, Any]:
    value = values.get(q.name, "")
    common: dict[str, Any] = {
        "id": q.name,
        "name": q.name,
        "hint": _hint(q),
        "errorMessage": errors.message(q.name),
    }
    if q.kind in ("text", "contract", "money", "months"):
        return {
            "macro": "input",
            "params": {
                **common,
                "label": _label(q),
                "value": value,
                "classes": q.width or None,
                "spellcheck": q.kind == "text",
                **INPUT_EXTRAS.get(q.kind, {}),
            },
        }
    if q.kind in ("textarea", "lines"):
        return {
            "macro": "textarea",
            "params": {
                **common,
                "label": _label(q),
                "value": value,
                "rows": 5 if q.kind == "textarea" else 4,
            },
        }
    if q.kind == "date":
        message = errors.message(q.anchor)
        parts = (
            values.get(f"{q.name}-day", ""),
            values.get(f"{q.name}-month", ""),
            values.get(f"{q.name}-year", ""),
        )
        return {
            "macro": "date",
            "params": {
                "id": q.name,
                "namePrefix": q.name,
                "fieldset": _legend(q.label),
                "hint": _hint(q),
                "errorMessage": message,
                "items": date_items(parts, wrong=bool(message)),
            },
        }
    if q.kind == "select":
        areas = list(choices.service_areas)
        if not areas:
            return {"macro": "input", "params": {**common, "label": _label(q), "value": value}}
        if value and value not in areas:
            areas.append(value)
        items = [{"value": "", "text": "Select a service area"}] + [
            {"value": area, "text": area, "selected": area == value} for area in areas
        ]
        return {"macro": "select", "params": {**common, "label": _label(q), "items": items}}
    if q.kind in ("radios", "yesno"):
        options = YES_NO if q.kind == "yesno" else q.choices
        return {
            "macro": "radios",
            "params": {
                "idPrefix": q.name,
                "name": q.name,
                "classes": "govuk-radios--inline" if q.kind == "yesno" else None,
                "fieldset": _legend(q.label),
                "hint": _hint(q),
                "errorMessage": errors.message(q.name),
                "items": [{"value": v, "text": t, "checked": value == v} for v, t in options],
            },
        }
    if q.kind == "checkboxes":
        picked = value if isinstance(value, list) else []
        councils = list(choices.councils)
        known = {code for code, _ in councils}
        councils += [(code, code) for code in picked if code not in known]
        return {
            "macro": "checkboxes",
            "params": {
                "idPrefix": q.name,
                "name": q.name,
                "fieldset": _legend(q.label),
                "hint": _hint(q),
                "errorMessage": errors.message(q.name),
                "items": [
                    {
                        "value": code,
                        "text": f"{name} ({code})" if name != code else code,
                        "checked": code in picked,
                    }
                    for code, name in councils
                ],
            },
        }
    if q.kind == "person":
        wide = "govuk-!-width-two-thirds"
        person = [
            _row_input(_part(q, "name"), "Full name", values, errors, classes=wide, autocomplete="off"),
            _row_input(
                _part(q, "email"),
                "Email address",
                values,
                errors,
                classes=wide,
                input_type="email",
                autocomplete="off",
            ),
        ]
        return _group(q, [{"legend": None, "controls": person}])
    if q.kind == "stories":
        return _group(
            q,
            _numbered(
                q,
                values,
                "User story",
                lambda n: [
                    _row_textarea(_part(q, "text", n), "Story", values, errors),
                    _row_select(
                        _part(q, "priority", n), "Priority", PRIORITIES, "Select a priority", values, errors
                    ),
                ],
            ),
        )
    if q.kind == "options":
        rows = _numbered(
            q,
            values,
            "Option",
            lambda n: [
                _row_input(_part(q, "description", n), "What is the option?", values, errors),
                _row_select(
                    _part(q, "kind", n),
                    "Is it to buy, build or re-use?",
                    OPTION_KINDS,
                    "Select one",
                    values,
                    errors,
                ),
                _row_textarea(_part(q, "reason", n), "Why was it chosen or rejected?", values, errors),
            ],
        )
        count = len(rows)
        chosen = str(values.get(f"{q.name}-chosen", ""))
        described = {n: str(values.get(_part(q, "description", n), "")).strip() for n in range(1, count + 1)}
        group = _group(q, rows)
        group["after"] = {
            "macro": "radios",
            "params": {
                "idPrefix": f"{q.name}-chosen",
                "name": f"{q.name}-chosen",
                "fieldset": _legend("Which option do you propose?"),
                "errorMessage": errors.message(f"{q.name}-chosen"),
                "items": [
                    {
                        "value": str(n),
                        "text": f"Option {n}" + (f": {described[n]}" if described[n] else ""),
                        "checked": chosen == str(n),
                    }
                    for n in range(1, count + 1)
                ],
            },
        }
        return group
    if q.kind == "risks":
        return _group(
            q,
            _numbered(
                q,
                values,
                "Risk",
                lambda n: [
                    _row_textarea(_part(q, "risk", n), "What is the risk?", values, errors),
                    _row_textarea(_part(q, "mitigation", n), "How will it be mitigated?", values, errors),
                    _row_select(_part(q, "rag", n), "Rating", RAGS, "Select a rating", values, errors),
                ],
            ),
        )
    raise AssertionError(q.kind)  # pragma: no cover


def _group(q: Question, rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {"macro": "group", "id": q.name, "legend": q.label, "hint": q.hint, "rows": rows}


def _numbered(
    q: Question,
    values: Mapping[str, Any],
    legend: str,
    row_controls: Callable[[int], list[dict[str, Any]]],
) -> list[dict[str, Any]]:
    """A group question's numbered rows: those with answers and one more, at least :data:`MIN_ROWS`."""
    return [
        {"legend": f"{legend} {n}", "controls": row_controls(n)}
        for n in range(1, _filled_rows(values, q.name) + 1)
    ]


def _part(q: Question, part: str, number: int | None = None) -> str:
    """The name (and id) of one input of a group question: ``risks-2-rag``, ``system_owner-email``."""
    return f"{q.name}-{number}-{part}" if number else f"{q.name}-{part}"


def _row_field(name: str, label: str, errors: FormErrors) -> dict[str, Any]:
    return {"id": name, "name": name, "label": {"text": label}, "errorMessage": errors.message(name)}


def _row_input(
    name: str,
    label: str,
    values: Mapping[str, Any],
    errors: FormErrors,
    *,
    classes: str | None = None,
    input_type: str = "text",
    autocomplete: str | None = None,
) -> dict[str, Any]:
    return {
        "macro": "input",
        "params": {
            **_row_field(name, label, errors),
            "type": input_type,
            "value": values.get(name, ""),
            "classes": classes,
            "autocomplete": autocomplete,
            "spellcheck": input_type != "email",
        },
    }


def _row_textarea(name: str, label: str, values: Mapping[str, Any], errors: FormErrors) -> dict[str, Any]:
    return {
        "macro": "textarea",
        "params": {**_row_field(name, label, errors), "value": values.get(name, ""), "rows": 2},
    }


def _row_select(
    name: str,
    label: str,
    options: Iterable[tuple[str, str]],
    blank: str,
    values: Mapping[str, Any],
    errors: FormErrors,
) -> dict[str, Any]:
    value = values.get(name, "")
    return {
        "macro": "select",
        "params": {
            **_row_field(name, label, errors),
            "classes": "govuk-!-width-two-thirds",
            "items": [{"value": "", "text": blank}]
            + [{"value": v, "text": t, "selected": v == value} for v, t in options],
        },
    }


# --- showing answers ------------------------------------------------------------------------------


def _nl2br(text: str) -> Markup:
    return Markup("<br>").join(escape(line) for line in text.splitlines())


def _list(items: Iterable[Any]) -> Markup:
    inner = Markup("").join(Markup("<li>{}</li>").format(item) for item in items)
    return Markup('<ul class="govuk-list">{}</ul>').format(inner)


def answer_html(
    q: Question, value: Any, *, councils: Mapping[str, str], contract: str | None
) -> Markup | None:
    """A saved answer as "Check your answers" shows it; None when there is none."""
    if value in (None, "", []):
        return None
    if q.kind in ("text", "textarea"):
        return _nl2br(str(value))
    if q.kind == "lines":
        return _list(value)
    if q.kind == "money":
        return escape(pounds(value, pence=True))
    if q.kind == "months":
        return escape(f"{value} months")
    if q.kind == "date":
        return escape(long_date(value))
    if q.kind in ("select", "radios"):
        return escape(dict(q.choices).get(str(value), str(value)))
    if q.kind == "yesno":
        return escape("Yes" if value else "No")
    if q.kind == "checkboxes":
        return _list(f"{councils.get(code, code)} ({code})" if councils.get(code) else code for code in value)
    if q.kind == "stories":
        labels = dict(PRIORITIES)
        return _list(
            Markup("<strong>{}:</strong> {}").format(labels.get(s["priority"], s["priority"]), s["text"])
            for s in value
        )
    if q.kind == "options":
        kinds = dict(OPTION_KINDS)
        return _list(
            Markup("<strong>{}{}:</strong> {}{}").format(
                kinds.get(o["kind"], o["kind"]),
                " (proposed)" if o.get("chosen") else "",
                o["description"],
                Markup("<br>{}").format(o["reason"]) if o.get("reason") else "",
            )
            for o in value
        )
    if q.kind == "risks":
        rags = dict(RAGS)
        return _list(
            Markup("<strong>{}:</strong> {}{}").format(
                rags.get(r["rag"], r["rag"]),
                r["risk"],
                Markup("<br>Mitigation: {}").format(r["mitigation"]) if r.get("mitigation") else "",
            )
            for r in value
        )
    if q.kind == "person":
        return Markup("{}<br>{}").format(value.get("name", ""), value.get("email", ""))
    if q.kind == "contract":
        return escape(contract or str(value))
    raise AssertionError(q.kind)  # pragma: no cover


def answer_sections(
    saved: Mapping[str, Any],
    *,
    change_base: str | None,
    councils: Mapping[str, str],
    contract: str | None,
) -> list[dict[str, Any]]:
    """Each step's answers as a GOV.UK summary list, with Change links when ``change_base`` is given."""
    sections = []
    for step in STEPS:
        rows = []
        for q in step.questions:
            html = answer_html(q, saved.get(q.name), councils=councils, contract=contract)
            row: dict[str, Any] = {
                "key": {"text": q.short},
                "value": {"html": html} if html is not None else {"text": "Not answered"},
            }
            if change_base:
                row["actions"] = {
                    "items": [
                        {
                            "href": f"{change_base}/steps/{step.slug}?return=check#{q.anchor}",
                            "text": "Change",
                            "visuallyHiddenText": q.short.lower(),
                        }
                    ]
                }
            rows.append(row)
        sections.append({"title": step.title, "slug": step.slug, "rows": rows})
    return sections


async def _answer_sections(
    api: Api, saved: Mapping[str, Any], *, change_base: str | None
) -> list[dict[str, Any]]:
    """:func:`answer_sections` with the councils' names and the renewed contract's reference from the register."""
    choices = await register_choices(api)
    return answer_sections(
        saved,
        change_base=change_base,
        councils=dict(choices.councils),
        contract=await contract_reference(api, saved.get("renews_or_replaces_contract_id")),
    )


def missing_list(saved: Mapping[str, Any], base: str) -> list[dict[str, str]]:
    """What the procurement service says submission still needs, each linked to its question page."""
    out = []
    for item in saved.get("missing") or []:
        field = str(item.get("field", ""))
        out.append(
            {"text": _missing_text(field, str(item.get("message", ""))), "href": _field_href(field, base)}
        )
    return out


def _base_field(field: str) -> str:
    return re.split(r"[\[./]", field, maxsplit=1)[0]


def _missing_text(field: str, message: str) -> str:
    question = QUESTION_OF.get(field)
    if question is not None and question.required:
        return question.required
    return _sentence(message)


def _field_href(field: str, base: str) -> str:
    name = _base_field(field)
    step = STEP_OF_FIELD.get(name)
    if step is None:
        return f"{base}/check"
    return f"{base}/steps/{step.slug}?return=check#{QUESTION_OF[name].anchor}"


def check_errors(problem: ApiProblem, base: str) -> StepErrors:
    """A refused submission: each missing part in the error summary, linked to its question page."""
    errors = StepErrors()
    if problem.status == 412:
        absorb(errors, problem)
        return errors
    for error in problem.errors:
        pointer = str(error.get("pointer") or "")
        parts = [p for p in pointer.split("/") if p and p != "body"]
        field = ".".join(parts)
        message = _missing_text(field, str(error.get("detail") or problem.detail))
        errors.add_at(field or message, message, _field_href(field, base) if field else "")
    if not errors:
        errors.add("", _sentence(problem.detail))
    return errors


# --- candidates -----------------------------------------------------------------------------------


def candidate_view(candidate: Mapping[str, Any]) -> dict[str, Any]:
    """A re-use candidate for the suggestions panel; a register system links to its page."""
    is_system = candidate.get("kind") == "system"
    return {
        "kind": "system" if is_system else "decision",
        "name": str(candidate.get("name", "")),
        "reference": str(candidate.get("reference", "")),
        "href": f"/systems/{quote(str(candidate.get('id', '')), safe='')}" if is_system else None,
        "reasons": [str(r) for r in candidate.get("reasons", [])],
    }


async def typed_candidates(
    api: Api, *, title: str, text: str, service_area: str | None = None
) -> list[dict[str, Any]]:
    """Register systems and past decisions like what has been typed (nothing is saved)."""
    title, text = title.strip()[:300], text.strip()[:20_000]
    if len(title) + len(text) < 3:
        return []
    body: dict[str, Any] = {"title": title or text[:300].strip(), "text": text}
    if service_area:
        body["service_area"] = service_area[:100]
    try:
        found = await api.send("procurement", "POST", "/api/v1/candidates", body)
    except ApiProblem:
        return []
    return [candidate_view(c) for c in found or []]


async def saved_candidates(api: Api, key: str) -> list[dict[str, Any]]:
    try:
        found = await api.get("procurement", request_path(key, "/candidates"))
    except ApiProblem:
        return []
    return [candidate_view(c) for c in found or []]


def _need_text(values: Mapping[str, Any]) -> str:
    return "\n".join(str(values.get(name) or "") for name in ("problem_statement", "user_need")).strip()


# --- reading requests -----------------------------------------------------------------------------


def _key(key: str) -> str:
    if not REFERENCE_OR_ID.match(key):
        raise PageNotFound("There is no request with that reference. Check the web address.")
    return key.upper() if key.upper().startswith("TR-") else key


def editable(saved: Mapping[str, Any]) -> bool:
    return saved.get("state") == "draft" and "edit" in (saved.get("actions") or [])


async def contract_reference(api: Api, contract_id: Any) -> str | None:
    if not contract_id:
        return None
    try:
        contract = await api.find("register", f"/api/v1/contracts/{quote(str(contract_id), safe='')}")
    except (ApiProblem, PortalError):
        return None
    if not contract:
        return None
    return str(contract.get("reference") or contract_id)


def state_tag(state: str, outcome: str | None = None) -> dict[str, str]:
    """The GOV.UK tag of a request's state (a decided request shows its outcome)."""
    if state == "decided" and outcome in OUTCOME_TAGS:
        text, classes = OUTCOME_WORDS[outcome], OUTCOME_TAGS[outcome]
    else:
        text, classes = STATES.get(state, (state, "govuk-tag--grey"))
    return {"text": text, "classes": classes}


def _waiting_words(row: Mapping[str, Any], is_requester: bool) -> str:
    days = int(row.get("waiting_working_days") or 0)
    span = f"{days} working day{'s' if days != 1 else ''} in this state"
    if row.get("waiting") and row.get("waiting_on"):
        whom = (
            "you"
            if (row["waiting_on"] == "requester" and is_requester)
            else ("the TDA" if row["waiting_on"] == "tda" else "the requester")
        )
        return f"{span}, waiting on {whom}"
    return span


# --- the timeline ---------------------------------------------------------------------------------


def timeline(saved: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The request's history as events a person reads, oldest first: each state it entered, with the
    TDA's questions, the answers, the decision's rationale and conditions, and reasons given."""
    questions = list(saved.get("information_requests") or [])
    decisions = list(saved.get("decisions") or [])
    asked = answered = decided = 0
    previous: str | None = None
    events = []
    for entry in saved.get("history") or []:
        state = str(entry.get("state"))
        event: dict[str, Any] = {
            "at": london_time(entry.get("entered_at")),
            "by": (entry.get("by") or {}).get("name", ""),
            "note": "",
            "questions": [],
            "answers": None,
            "decision": None,
            "due": None,
        }
        if state == "draft":
            event["title"] = "Started as a draft"
        elif state == "submitted":
            event["title"] = "Submitted to the TDA"
        elif state == "under_review":
            event["title"] = {
                "resubmitted": "Review resumed",
                "decided": "Reopened for a new review",
                "withdrawn": "Reopened for a new review",
            }.get(previous or "", "Review started")
            if previous in ("decided", "withdrawn"):
                event["note"] = entry.get("note") or ""
        elif state == "information_requested":
            event["title"] = "Information requested"
            if asked < len(questions):
                event["questions"] = questions[asked].get("questions", [])
                event["due"] = questions[asked].get("due_date")
            asked += 1
        elif state == "resubmitted":
            event["title"] = "Resubmitted with answers"
            if answered < len(questions):
                event["answers"] = questions[answered].get("answers")
            answered += 1
        elif state == "decided":
            decision = decisions[decided] if decided < len(decisions) else None
            outcome = OUTCOME_WORDS.get(str((decision or {}).get("outcome")), "Decided")
            event["title"] = f"Decided: {outcome}"
            if decision is not None:
                event["decision"] = {
                    "rationale": decision.get("rationale", ""),
                    "conditions": [
                        {
                            "text": c.get("text", ""),
                            "owner": (c.get("owner") or {}).get("name", ""),
                            "due": long_date(c.get("due_date")),
                        }
                        for c in decision.get("conditions") or []
                    ],
                }
            decided += 1
        elif state == "withdrawn":
            event["title"] = "Withdrawn"
            event["note"] = entry.get("note") or ""
        else:
            event["title"] = STATES.get(state, (state, ""))[0]
        events.append(event)
        previous = state
    return events


# --- pages ----------------------------------------------------------------------------------------


@router.get("/requests", summary="Technology requests")
async def request_list(
    request: Request,
    pages: PagesDep,
    user: CurrentUser,
    api: UserApi,
    state: str | None = None,
    cursor: str | None = None,
) -> Response:
    everyone = user.has_any(*READS_ALL)
    chosen = state if state in STATES else None
    found = await api.get(
        "procurement",
        "/api/v1/requests",
        state=chosen if everyone else None,
        cursor=cursor[:500] if cursor else None,
        limit=LIST_PAGE,
        count="true",
    )
    is_requester = not everyone
    rows = []
    for item in found.get("items", []):
        reference = str(item["reference"])
        tag = state_tag(str(item["state"]))
        link = Markup('<a class="govuk-link" href="/requests/{}">{}</a>').format(reference, reference)
        row = [
            {"html": link},
            {"text": item.get("title") or "Untitled request"},
            {"html": Markup('<strong class="govuk-tag {}">{}</strong>').format(tag["classes"], tag["text"])},
            {"text": london_day(item.get("submitted_at")) or "Not yet"},
            {"text": _waiting_words(item, is_requester)},
            {"text": OUTCOME_WORDS.get(item.get("latest_outcome") or "", "None yet")},
        ]
        if everyone:
            row.insert(2, {"text": (item.get("requester") or {}).get("name", "")})
        rows.append(row)
    head = ["Reference", "Title", "State", "Submitted", "Age", "Decision"]
    if everyone:
        head.insert(2, "Requester")
    query = {"state": chosen} if chosen else {}
    pagination = {}
    if found.get("next_cursor"):
        pagination["next"] = {
            "href": "/requests?" + urlencode({**query, "cursor": found["next_cursor"]}),
            "text": "Next page",
        }
    if cursor:
        pagination["previous"] = {
            "href": "/requests" + ("?" + urlencode(query) if query else ""),
            "text": "First page",
        }
    return pages.render(
        request,
        "requests/list.html",
        {
            "everyone": everyone,
            "may_raise": user.has_any(*RAISERS),
            "head": [{"text": h} for h in head],
            "rows": rows,
            "total": found.get("total"),
            "state_items": [{"value": "", "text": "All states"}]
            + [
                {"value": value, "text": text, "selected": value == chosen}
                for value, (text, _) in STATES.items()
            ],
            "chosen": chosen,
            "chosen_words": STATES[chosen][0] if chosen else "",
            "pagination": pagination,
        },
    )


@router.get("/requests/suggestions", summary="Existing systems like the need typed (JSON)")
async def suggestions(request: Request, title: str = "", text: str = "") -> Response:
    """For the need page's script: JSON, so a missing session is a 401, not a redirect to sign in."""
    user = session_of(request).user
    headers = {"Cache-Control": "no-store"}
    if user is None:
        return JSONResponse({"detail": "Sign in to see suggestions."}, status_code=401, headers=headers)
    api = request.app.state.backends.as_user(user.token)
    try:
        found = await typed_candidates(api, title=title[:300], text=text[:20_000])
    except SessionEnded:
        return JSONResponse({"detail": "Your session has ended."}, status_code=401, headers=headers)
    except ServiceUnavailable:
        return JSONResponse(
            {"detail": "The requests service is not answering."}, status_code=503, headers=headers
        )
    return JSONResponse({"candidates": found}, headers=headers)


Raiser = Annotated[User, require(*RAISERS)]


@router.get("/requests/new", summary="Start a new request")
async def new_request(request: Request, pages: PagesDep, user: Raiser, api: UserApi) -> Response:
    return await _render_step(request, pages, api, STEP_OF["need"], key=None, values={}, errors=StepErrors())


@router.post("/requests/new", summary="Start a new request: save the need as a draft")
async def create_request(
    request: Request, pages: PagesDep, session: SessionDep, user: Raiser, api: UserApi
) -> Response:
    return await _save_step(request, pages, session, user, api, STEP_OF["need"], key=None)


@router.get("/requests/{key}/steps/{slug}", summary="A question page of a draft")
async def step_page(
    request: Request, key: str, slug: str, pages: PagesDep, user: CurrentUser, api: UserApi
) -> Response:
    key, step = _key(key), _step(slug)
    saved, etag = await read_request(api, key)
    if not editable(saved):
        return RedirectResponse(f"/requests/{saved['reference']}", status_code=303)
    contract = (
        await contract_reference(api, saved.get("renews_or_replaces_contract_id"))
        if slug == "scope"
        else None
    )
    candidates = await saved_candidates(api, saved["reference"]) if slug == "requirements" else None
    return await _render_step(
        request,
        pages,
        api,
        step,
        key=str(saved["reference"]),
        values=stored_values(step, saved, contract),
        errors=StepErrors(),
        etag=etag,
        back_to_check=request.query_params.get("return") == "check",
        candidates=candidates,
    )


@router.post("/requests/{key}/steps/{slug}", summary="Save a question page of a draft")
async def save_step(
    request: Request,
    key: str,
    slug: str,
    pages: PagesDep,
    session: SessionDep,
    user: CurrentUser,
    api: UserApi,
) -> Response:
    return await _save_step(request, pages, session, user, api, _step(slug), key=_key(key))


def _step(slug: str) -> Step:
    step = STEP_OF.get(slug)
    if step is None:
        raise PageNotFound("There is no such question page. Go back to the request and try again.")
    return step


async def _save_step(
    request: Request,
    pages: PagesDep,
    session: SessionDep,
    user: User,
    api: Api,
    step: Step,
    *,
    key: str | None,
) -> Response:
    form = await request.form()
    action = _text(form, "action") or "continue"
    etag = _text(form, "etag")
    back_to_check = _text(form, "return_to") == "check"
    values = posted_values(step, form)
    again = partial(
        _render_step, request, pages, api, step, key=key, values=values, back_to_check=back_to_check
    )
    if action == "check" and step.slug == "need":
        found = await typed_candidates(
            api,
            title=_text(form, "title"),
            text=_need_text(values),
            service_area=_text(form, "service_area") or None,
        )
        return await again(errors=StepErrors(), etag=etag, candidates=found, checked=True)
    changes, errors = await read_answers(step, form, api=api, user=user, finishing=action == "continue")
    if errors:
        return await again(errors=errors, etag=etag, status_code=422)
    try:
        if key is None:
            saved = await api.send("procurement", "POST", "/api/v1/requests", changes)
        else:
            saved = await api.send(
                "procurement", "PATCH", request_path(key), changes, headers={"If-Match": etag}
            )
    except ApiProblem as problem:
        errors = StepErrors()
        absorb(errors, problem, step)
        if problem.status == 412 and key is not None:
            _, etag = await read_request(api, key)
        return await again(errors=errors, etag=etag, status_code=refusal_status(problem))
    reference = str(saved["reference"])
    if action == "draft":
        session.tell(
            f"Draft saved. Your reference is {reference}: continue it from this list when you are ready."
        )
        return RedirectResponse("/requests", status_code=303)
    following = next_step(step)
    if back_to_check or following is None:
        return RedirectResponse(f"/requests/{reference}/check", status_code=303)
    return RedirectResponse(f"/requests/{reference}/steps/{following.slug}", status_code=303)


async def _render_step(
    request: Request,
    pages: PagesDep,
    api: Api,
    step: Step,
    *,
    key: str | None,
    values: Mapping[str, Any],
    errors: StepErrors,
    etag: str = "",
    back_to_check: bool = False,
    candidates: list[dict[str, Any]] | None = None,
    checked: bool = False,
    status_code: int = 200,
) -> Response:
    number = step_number(step)
    if key is None:
        action = "/requests/new"
        back = "/requests"
    else:
        action = f"/requests/{key}/steps/{step.slug}"
        if back_to_check:
            back = f"/requests/{key}/check"
        elif number > 1:
            back = f"/requests/{key}/steps/{STEPS[number - 2].slug}"
        else:
            back = f"/requests/{key}"
    choices = await register_choices(api) if step.slug in ("need", "scope") else Choices([], [])
    return pages.render(
        request,
        "requests/step.html",
        {
            "title": step.title,
            "step": step,
            "number": number,
            "count": len(STEPS),
            "key": key,
            "action": action,
            "back": back,
            "controls": controls(step, values, errors, choices),
            "errors": errors,
            "etag": etag,
            "back_to_check": back_to_check,
            "candidates": candidates,
            "checked": checked,
            "is_need": step.slug == "need",
        },
        status_code=status_code,
    )


@router.get("/requests/{key}/check", summary="Check your answers")
async def check_page(
    request: Request, key: str, pages: PagesDep, user: CurrentUser, api: UserApi
) -> Response:
    key = _key(key)
    saved, etag = await read_request(api, key)
    if not editable(saved):
        return RedirectResponse(f"/requests/{saved['reference']}", status_code=303)
    return await _render_check(request, pages, api, saved, etag, StepErrors())


async def _render_check(
    request: Request,
    pages: PagesDep,
    api: Api,
    saved: Mapping[str, Any],
    etag: str,
    errors: StepErrors,
    status_code: int = 200,
) -> Response:
    reference = str(saved["reference"])
    base = f"/requests/{reference}"
    return pages.render(
        request,
        "requests/check.html",
        {
            "title": "Check your answers before submitting your request",
            "saved": saved,
            "reference": reference,
            "sections": await _answer_sections(api, saved, change_base=base),
            "missing": missing_list(saved, base),
            "candidates": await saved_candidates(api, reference),
            "etag": etag,
            "errors": errors,
        },
        status_code=status_code,
    )


@router.post("/requests/{key}/submit", summary="Submit a request to the TDA")
async def submit(request: Request, key: str, pages: PagesDep, user: CurrentUser, api: UserApi) -> Response:
    key = _key(key)
    form = await request.form()
    etag = _text(form, "etag")
    try:
        saved = await api.send("procurement", "POST", request_path(key, "/submit"), headers=if_match(etag))
    except ApiProblem as problem:
        current, fresh = await read_request(api, key)
        if not editable(current):
            raise
        errors = check_errors(problem, f"/requests/{current['reference']}")
        return await _render_check(
            request, pages, api, current, fresh, errors, status_code=refusal_status(problem)
        )
    return RedirectResponse(f"/requests/{saved['reference']}/submitted", status_code=303)


@router.get("/requests/{key}/submitted", summary="Request submitted")
async def submitted(request: Request, key: str, pages: PagesDep, user: CurrentUser, api: UserApi) -> Response:
    key = _key(key)
    saved, _ = await read_request(api, key)
    if saved.get("state") == "draft":
        return RedirectResponse(f"/requests/{saved['reference']}/check", status_code=303)
    return pages.render(
        request,
        "requests/submitted.html",
        {
            "title": "Request submitted",
            "saved": saved,
            "threshold": (saved.get("ageing") or {}).get("threshold_working_days", 3),
        },
    )


@router.get("/requests/{key}", summary="A request: its answers, state and history")
async def request_page(
    request: Request, key: str, pages: PagesDep, user: CurrentUser, api: UserApi
) -> Response:
    key = _key(key)
    return await _render_request(request, pages, user, api, key, errors=StepErrors(), values={})


async def _render_request(
    request: Request,
    pages: PagesDep,
    user: User,
    api: Api,
    key: str,
    *,
    errors: StepErrors,
    values: Mapping[str, str],
    status_code: int = 200,
) -> Response:
    saved, etag = await read_request(api, key)
    reference = str(saved["reference"])
    actions = list(saved.get("actions") or [])
    is_draft = editable(saved)
    latest = saved.get("latest_decision")
    open_questions = None
    if saved.get("state") == "information_requested" and saved.get("information_requests"):
        open_questions = saved["information_requests"][-1]
    return pages.render(
        request,
        "requests/show.html",
        {
            "title": saved.get("title") or f"Request {reference}",
            "saved": saved,
            "reference": reference,
            "tag": state_tag(str(saved["state"]), (latest or {}).get("outcome")),
            "state_words": STATES.get(str(saved["state"]), (saved["state"], ""))[0],
            "outcome_words": OUTCOME_WORDS.get(str((latest or {}).get("outcome")), ""),
            "is_draft": is_draft,
            "first_missing": _first_missing_step(saved) if is_draft else None,
            "may_withdraw": "withdraw" in actions,
            "may_resubmit": "resubmit" in actions,
            "open_questions": open_questions,
            "may_review": user.has_any(*TDA)
            and saved.get("state") in ("submitted", "under_review", "resubmitted"),
            "conditions": condition_rows(saved.get("conditions") or []),
            "timeline": timeline(saved),
            "sections": await _answer_sections(
                api, saved, change_base=f"/requests/{reference}" if is_draft else None
            ),
            "etag": etag,
            "errors": errors,
            "values": values,
            "submitted_on": london_time(saved.get("submitted_at")),
            "decided_on": london_time((latest or {}).get("decided_at")),
        },
        status_code=status_code,
    )


def _first_missing_step(saved: Mapping[str, Any]) -> str:
    """Where a draft's requester carries on: the first page with something missing, else the check page."""
    for item in saved.get("missing") or []:
        step = STEP_OF_FIELD.get(_base_field(str(item.get("field", ""))))
        if step is not None:
            return f"/requests/{saved['reference']}/steps/{step.slug}"
    return f"/requests/{saved['reference']}/check"


@router.post("/requests/{key}/withdraw", summary="Withdraw a request")
async def withdraw(
    request: Request, key: str, pages: PagesDep, session: SessionDep, user: CurrentUser, api: UserApi
) -> Response:
    return await _act(
        request,
        pages,
        session,
        user,
        api,
        key,
        action="withdraw",
        field="reason",
        missing="Enter why you are withdrawing the request",
        done="Request {reference} withdrawn.",
    )


@router.post("/requests/{key}/resubmit", summary="Answer the TDA's questions and resubmit")
async def resubmit(
    request: Request, key: str, pages: PagesDep, session: SessionDep, user: CurrentUser, api: UserApi
) -> Response:
    return await _act(
        request,
        pages,
        session,
        user,
        api,
        key,
        action="resubmit",
        field="answers",
        missing="Enter your answers to the TDA's questions",
        done="Your answers were sent to the TDA. Request {reference} is resubmitted.",
    )


async def _act(
    request: Request,
    pages: PagesDep,
    session: SessionDep,
    user: User,
    api: Api,
    key: str,
    *,
    action: str,
    field: str,
    missing: str,
    done: str,
) -> Response:
    """A requester's action on the request page (``POST .../{action}`` with the one ``field`` its form
    has, and the ETag when the form carries one); refused, the request page again with the error."""
    key = _key(key)
    form = await request.form()
    text = _text(form, field)
    errors = StepErrors()
    status = 422
    if not text:
        errors.add(field, missing)
    else:
        try:
            saved = await api.send(
                "procurement",
                "POST",
                request_path(key, f"/{action}"),
                {field: text},
                headers=if_match(_text(form, "etag")),
            )
        except ApiProblem as problem:
            if problem.status == 412:
                absorb(errors, problem)
            else:
                errors.add(field if problem.status == 422 else "", _sentence(problem.detail))
            status = problem.status
        else:
            session.tell(done.format(reference=saved["reference"]))
            return RedirectResponse(f"/requests/{saved['reference']}", status_code=303)
    return await _render_request(
        request, pages, user, api, key, errors=errors, values={field: text}, status_code=status
    )
