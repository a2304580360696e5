"""Cambridge demo requests, one in every state the TDA meets, for ``estate up`` and the portal.

The requests are the kind the DDaT strategy says today "bypass the Council and go straight to 3C ICT"
(S0:2814): a street-inspection app that the register's Alloy already covers, online forms that would
renew the IEG4 contract, fleet telematics (IoT / pro-tech), a resident engagement platform approved
with conditions, a customer-service CRM not approved in favour of re-use, and an unfinished draft.
Each is taken through the real use cases, so the audit trail, the ageing and the published events are
exactly what people would have produced; the approval reaches the register as a planned system.

Loading is idempotent: nothing is added when any request exists.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from estate_eventing.clock import SettableClock
from estate_procurement.adapters.db.repositories import SqlUnitOfWork
from estate_procurement.application import services
from estate_procurement.application.ports import UnitOfWork
from estate_procurement.bootstrap import Container
from estate_procurement.domain.values import Actor, local_date
from estate_runtime.workdays import add_working_days

SAM = Actor(
    id="demo-sam-patel",
    name="Sam Patel",
    email="sam.patel@cambridge.gov.uk",
    roles=frozenset({"requester"}),
)
NADIA = Actor(
    id="demo-nadia-hussain",
    name="Nadia Hussain",
    email="nadia.hussain@cambridge.gov.uk",
    roles=frozenset({"requester"}),
)
JO = Actor(
    id="demo-jo-evans", name="Jo Evans", email="jo.evans@cambridge.gov.uk", roles=frozenset({"requester"})
)
TOM = Actor(
    id="demo-tom-reid",
    name="Tom Reid (Solution Architecture)",
    email="tom.reid@cambridge.gov.uk",
    roles=frozenset({"tda_member"}),
)
KEMI = Actor(
    id="demo-kemi-adeyemi",
    name="Kemi Adeyemi (ICT Contract Management)",
    email="kemi.adeyemi@cambridge.gov.uk",
    roles=frozenset({"tda_member"}),
)
CHAIR = Actor(
    id="demo-tda-chair",
    name="Alex Morgan (Strategic Digital Lead)",
    email="alex.morgan@cambridge.gov.uk",
    roles=frozenset({"tda_member", "tda_chair"}),
)


def _staff(name: str) -> dict[str, str]:
    """A member of staff named in an owner role (R22), as the register's demo people know them."""
    key = name.lower().replace(" ", ".")
    return {"id": f"demo-{key.replace('.', '-')}", "name": name, "email": f"{key}@cambridge.gov.uk"}


def _base(**fields: Any) -> dict[str, Any]:
    common: dict[str, Any] = {
        # R22: the owner roles; the register links them to its people by e-mail
        "system_owner": _staff("Sam Whitfield"),
        "contract_owner": _staff("Priya Shah"),
        "budget_holder": _staff("Tom Ellis"),
        "signatory": _staff("Alex Morgan"),
        "councils_in_scope": ["CCC"],
        "category": "it",
        "hosting": "saas",
        "integration_approach": "restful_api",
        "data_extraction_clauses": True,
        "api_clauses": True,
        "clause_charging": "free",
        "wcag_level": "AA",
        "stakeholders_engaged": ["Service team", "3C ICT", "Digital Service"],
    }
    return common | fields


STREET_APP = _base(
    title="Street asset inspection app",
    service_area="Streets and Open Spaces",
    problem_statement="Highway and open-space inspectors record defects on paper and retype them at the depot; "
    "reports reach the works team two days late.",
    user_need="Inspectors need to record a defect with a photo and location on site, and see it scheduled.",
    business_requirements="Mobile defect capture offline, photos, GPS, hand-off to works scheduling, reports.",
    user_stories=[
        {"text": "As an inspector I need to log a defect with a photo on site", "priority": "must"},
        {"text": "As a works supervisor I want defects to arrive as jobs", "priority": "must"},
        {"text": "As a manager I would like a heat map of defects", "priority": "could"},
    ],
    technical_specification="iOS and Android app, offline first, REST API to the works system, Entra ID SSO.",
    strategic_alignment="Channel shift and efficiency objectives of the Target Operating Model.",
    options_considered=[
        {"kind": "buy", "description": "InspectPro mobile app", "reason": "fast to deploy", "chosen": True},
        {"kind": "reuse", "description": "Alloy mobile forms", "reason": "not assessed yet"},
    ],
    proposed_product="InspectPro",
    proposed_supplier="Fieldworks Ltd",
    capabilities=["asset management", "inspections"],
    initial_cost=Decimal("12000.00"),
    annual_cost=Decimal("9500.00"),
    annual_licence_cost=Decimal("8000.00"),
    annual_maintenance_cost=Decimal("1500.00"),
    expected_annual_savings=Decimal("14000.00"),
    non_monetary_benefits="Safer streets through faster repairs.",
    holds_personal_data=False,
    dpia_needed=False,
    integration_detail="REST API into the works scheduling system.",
    accessibility_assessment="Supplier statement claims WCAG 2.2 AA; not yet tested with inspectors.",
    risks=[
        {
            "risk": "Duplicates capability the council already pays for",
            "mitigation": "TDA review",
            "rag": "red",
        }
    ],
    success_criteria="Defects scheduled the same day they are found.",
    expected_start_date=date(2027, 4, 1),
    term_months=36,
)

IEG4_FORMS = _base(
    title="Online forms for council tax discounts and benefits",
    service_area="Local Taxation",
    problem_statement="The e-forms contract for council tax and benefits claims ends; the supplier proposed a "
    "rise from £100k to £160k a year.",
    user_need="Residents need to claim a discount or benefit online without phoning the contact centre.",
    business_requirements="Claim forms, evidence upload, integration with the revenues and benefits system.",
    user_stories=[
        {"text": "As a resident I need to claim single person discount online", "priority": "must"}
    ],
    technical_specification="Hosted forms with REST integration to the revenues and benefits system.",
    strategic_alignment="Customer experience and value for money.",
    options_considered=[
        {
            "kind": "buy",
            "description": "Renew IEG4 with unused modules removed",
            "reason": "lowest risk",
            "chosen": True,
        },
        {
            "kind": "reuse",
            "description": "Council's corporate forms platform",
            "reason": "no benefits calculator",
        },
        {"kind": "buy", "description": "Re-procure through G-Cloud", "reason": "market test"},
    ],
    proposed_product="IEG4 OpenForms",
    proposed_supplier="IEG4",
    capabilities=["online forms", "e-services"],
    initial_cost=Decimal("0.00"),
    annual_cost=Decimal("100000.00"),
    annual_licence_cost=Decimal("90000.00"),
    annual_maintenance_cost=Decimal("10000.00"),
    expected_annual_savings=Decimal("60000.00"),
    holds_personal_data=True,
    personal_data_categories=["contact details", "financial circumstances"],
    dpia_needed=True,
    integration_detail="Existing REST integration kept.",
    accessibility_assessment="Current forms audited in 2025: two AA failures to fix.",
    risks=[{"risk": "Price rise at renewal", "mitigation": "Restructure the contract", "rag": "amber"}],
    success_criteria="Renewal at or below today's price; 80% of claims online.",
    term_months=24,
)

TELEMATICS = _base(
    title="Fleet telematics and vehicle sensors",
    service_area="Greater Cambridge Shared Waste",
    category="iot_protech",
    problem_statement="Refuse vehicles have no live location or fuel data; missed-bin complaints cannot be checked.",
    user_need="Crews and the contact centre need to know where each vehicle is and which streets are done.",
    business_requirements="Vehicle trackers, round completion, fuel and idling reports, open data feed.",
    user_stories=[
        {"text": "As a contact centre adviser I need to see if a street was collected", "priority": "must"}
    ],
    technical_specification="4G trackers in 40 vehicles, cloud platform with REST API and MQTT feed.",
    strategic_alignment="Net zero and customer experience objectives.",
    options_considered=[
        {
            "kind": "buy",
            "description": "TrackFleet telematics",
            "reason": "framework supplier",
            "chosen": True,
        }
    ],
    single_option_justification="Only framework supplier whose trackers fit the current vehicles.",
    proposed_product="TrackFleet",
    proposed_supplier="TrackFleet UK",
    capabilities=["vehicle tracking", "round management"],
    hosting="cloud",
    initial_cost=Decimal("30000.00"),
    annual_cost=Decimal("14000.00"),
    expected_annual_savings=Decimal("22000.00"),
    holds_personal_data=True,
    personal_data_categories=["driver location"],
    dpia_needed=True,
    accessibility_assessment="Back-office screens only; supplier to confirm AA.",
    risks=[
        {"risk": "Driver monitoring concerns", "mitigation": "Union consultation and DPIA", "rag": "amber"}
    ],
    success_criteria="Missed-bin complaints resolved on first contact.",
    councils_in_scope=["CCC", "SCDC"],
)

ENGAGEMENT = _base(
    title="Resident engagement and consultation platform",
    service_area="Digital Service",
    problem_statement="Consultations run on three survey tools; results cannot be compared and residents are asked twice.",
    user_need="Residents need one place to take part in consultations and see what changed because of them.",
    business_requirements="Consultation pages, surveys, map comments, moderation, published results.",
    user_stories=[
        {"text": "As a resident I want to see the outcome of a consultation I answered", "priority": "must"}
    ],
    technical_specification="SaaS with Entra ID for staff, open data export, REST API.",
    strategic_alignment="Our Cambridge: residents at the heart of services.",
    options_considered=[
        {"kind": "buy", "description": "EngageHQ", "reason": "best fit", "chosen": True},
        {
            "kind": "reuse",
            "description": "Corporate survey tool",
            "reason": "no map comments or results pages",
        },
    ],
    proposed_product="EngageHQ",
    proposed_supplier="Bang the Table",
    capabilities=["consultation", "surveys"],
    initial_cost=Decimal("5000.00"),
    annual_cost=Decimal("11000.00"),
    expected_annual_savings=Decimal("6000.00"),
    holds_personal_data=True,
    personal_data_categories=["contact details", "opinions"],
    dpia_needed=True,
    accessibility_assessment="Supplier audit against WCAG 2.2 AA supplied.",
    risks=[{"risk": "Low take-up", "mitigation": "Launch with the local plan consultation", "rag": "green"}],
    success_criteria="All consultations on one platform within a year.",
    pilot_plan="Pilot with the local plan consultation before moving other teams.",
    term_months=36,
)

CRM = _base(
    title="Customer service CRM",
    service_area="Customer Services",
    problem_statement="Advisers look up residents in several systems during a call.",
    user_need="Advisers need one view of a resident's contacts and cases.",
    business_requirements="Contact history, case management, telephony integration.",
    user_stories=[{"text": "As an adviser I need to see a caller's open cases", "priority": "must"}],
    technical_specification="SaaS CRM with telephony CTI.",
    strategic_alignment="Customer experience.",
    options_considered=[
        {"kind": "buy", "description": "New CRM", "reason": "single view", "chosen": True},
        {
            "kind": "reuse",
            "description": "Extend the existing contact centre platform",
            "reason": "not explored",
        },
    ],
    proposed_product="ServiceDesk CRM",
    proposed_supplier="CRM Solutions Ltd",
    capabilities=["contact centre", "case management"],
    initial_cost=Decimal("60000.00"),
    annual_cost=Decimal("45000.00"),
    non_monetary_benefits="Residents tell their story once.",
    holds_personal_data=True,
    personal_data_categories=["contact details"],
    dpia_needed=True,
    accessibility_assessment="Not assessed.",
    risks=[{"risk": "Overlap with the contact centre platform", "mitigation": "None proposed", "rag": "red"}],
    success_criteria="Average call time down by a minute.",
)

REPAIRS_DRAFT: dict[str, Any] = {
    "title": "Housing repairs scheduling",
    "service_area": "Housing Maintenance and Assets",
    "problem_statement": "Repairs are booked by phone and spreadsheet; tenants wait for a slot.",
    "capabilities": ["works scheduling", "repairs"],
    "category": "it",
}


async def _step(
    container: Container, clock: SettableClock, at: date, hour: int, action: Any, **kwargs: Any
) -> Any:
    clock.set(datetime.combine(at, time(hour, 0), tzinfo=UTC))
    uow: UnitOfWork = SqlUnitOfWork(
        container.sessions(), clock=clock, calendar=container.calendar, checklists=container.checklists
    )
    async with uow:
        return await action(uow, **kwargs)


async def _rate_all(
    container: Container,
    clock: SettableClock,
    at: date,
    request_id: Any,
    reviewer: Actor,
    overrides: Mapping[str, tuple[str, str]] = {},
) -> None:
    """``reviewer`` rates every item of the pinned checklist: met, unless ``overrides`` says otherwise."""
    checklist = container.checklists.current
    items: Sequence[str] = [i.id for s in checklist.sections for r in s.rules for i in r.items]
    for item_id in items:
        rating, comment = overrides.get(item_id, ("met", ""))
        await _step(
            container,
            clock,
            at,
            14,
            services.rate_item,
            request_id=request_id,
            actor=reviewer,
            item_id=item_id,
            rating=rating,
            comment=comment or None,
        )


async def load_demo_data(container: Container, *, today: date | None = None) -> int:
    """Add the demo requests as of ``today`` (default: the container clock's Europe/London date); returns
    how many."""
    async with container.uow() as uow:
        if await uow.requests.list():
            return 0
    today = today or local_date(container.clock())
    calendar = container.calendar

    def back(working_days: int) -> date:
        day = today
        for _ in range(working_days):
            day -= timedelta(days=1)
            while not calendar.is_working_day(day):
                day -= timedelta(days=1)
        return day

    clock = SettableClock(container.clock())
    create = services.create_draft

    # Not approved: re-use the existing contact centre platform.
    crm = await _step(container, clock, back(40), 9, create, actor=NADIA, fields=CRM)
    await _step(container, clock, back(39), 9, services.submit, request_id=crm.id, actor=NADIA)
    await _step(container, clock, back(37), 9, services.start_review, request_id=crm.id, actor=TOM)
    await _rate_all(
        container,
        clock,
        back(36),
        crm.id,
        TOM,
        {
            "R2.1": ("not_met", "Re-use of the contact centre platform was not explored."),
            "TCOP8": ("not_met", "Share, reuse and collaborate: existing platform ignored."),
        },
    )
    await _step(
        container,
        clock,
        back(35),
        16,
        services.decide,
        request_id=crm.id,
        actor=CHAIR,
        outcome="not_approved",
        rationale="Not approved: re-use the contact centre platform's case management, which Customer Services "
        "already licenses.",
    )

    # Approved with conditions; the DPIA condition is overdue, the contract clause one is met.
    engage = await _step(container, clock, back(30), 9, create, actor=SAM, fields=ENGAGEMENT)
    await _step(container, clock, back(29), 9, services.submit, request_id=engage.id, actor=SAM)
    await _step(container, clock, back(27), 9, services.start_review, request_id=engage.id, actor=TOM)
    await _rate_all(
        container, clock, back(25), engage.id, TOM, {"R8.3": ("partly_met", "No service credits yet.")}
    )
    decision = await _step(
        container,
        clock,
        back(20),
        16,
        services.decide,
        request_id=engage.id,
        actor=CHAIR,
        outcome="approved_with_conditions",
        rationale="Meets the TDA rules and replaces three survey tools; approved subject to a signed-off DPIA "
        "and service credits in the contract.",
        conditions=[
            {
                "text": "DPIA signed off by the Data Protection Officer",
                "owner": SAM.person,
                "due_in_working_days": 10,
            },
            {
                "text": "Service credits for availability below 99.5% in the call-off contract",
                "owner": KEMI.person,
                "due_in_working_days": 15,
            },
        ],
    )
    await _step(
        container,
        clock,
        back(6),
        11,
        services.meet_condition,
        request_id=engage.id,
        actor=KEMI,
        condition_id=decision.conditions[1].id,
        evidence="Call-off schedule 3 signed with service credits (Proactis CON-2026-118).",
    )

    # Under review, duplicating Alloy: both members have rated; the chair has not decided.
    street = await _step(container, clock, back(12), 9, create, actor=SAM, fields=STREET_APP)
    await _step(container, clock, back(11), 10, services.submit, request_id=street.id, actor=SAM)
    await _step(container, clock, back(9), 11, services.start_review, request_id=street.id, actor=TOM)
    duplicate = ("not_met", "Alloy already provides mobile inspections for Streets and Open Spaces.")
    await _rate_all(container, clock, back(8), street.id, TOM, {"R2.1": duplicate, "TCOP8": duplicate})
    await _rate_all(
        container, clock, back(7), street.id, KEMI, {"R2.1": ("partly_met", "Re-use not assessed.")}
    )

    # Information requested from the requester.
    fleet = await _step(container, clock, back(10), 9, create, actor=JO, fields=TELEMATICS)
    await _step(container, clock, back(9), 9, services.submit, request_id=fleet.id, actor=JO)
    await _step(container, clock, back(8), 9, services.start_review, request_id=fleet.id, actor=KEMI)
    await _step(
        container,
        clock,
        back(4),
        15,
        services.request_information,
        request_id=fleet.id,
        actor=KEMI,
        questions=[
            "Has the DPIA been started, and have the unions been consulted on driver location data?",
            "Can the location feed be published as open data without identifying drivers?",
        ],
        due_date=add_working_days(back(4), 5, calendar),
    )

    # Submitted and waiting (flagged after three working days with no review).
    forms = await _step(container, clock, back(6), 9, create, actor=NADIA, fields=IEG4_FORMS)
    await _step(container, clock, back(5), 9, services.submit, request_id=forms.id, actor=NADIA)

    # An unfinished draft.
    await _step(container, clock, back(1), 9, create, actor=JO, fields=REPAIRS_DRAFT)
    return 6
