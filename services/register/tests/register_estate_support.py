"""A small estate built by hand, whose every figure in the estate view is worked out below, and the events
that feed the estate view's projections.

The day is the tests' fixed clock, Monday 3 March 2025 (``fakes.NOW``); the pipeline's 24 months run from
2025-03 to 2027-02. Systems (all led by CCC):

| system | stage | hosting, cloud | personal data (DPIA, RoPA) | owner | capabilities | service areas |
|---|---|---|---|---|---|---|
| Orchard | live | on-premises, feasible | yes (completed, completed) | Sam | housing management, case management | Housing |
| CaseTracker | live | on-premises, unknown | yes (not started, completed) | none | case management, complaints | Housing |
| Storm | under review | SaaS | yes (completed, in progress) | Priya | Case Management, telephony | Customer Services |
| Tascomi | planned | SaaS | unknown | none | case management | Finance |
| govmetric | retired | on-premises, feasible | yes (unknown, unknown) | none | complaints | — |
| Miro whiteboard | live | SaaS | no | Sam | complaints | Customer Services, Finance |

Contracts (act-by = term end - notice - lead time, back to a working day):

| ref | status | supplier | systems | term end | notice+lead | act-by | annual | total | councils | owner |
|---|---|---|---|---|---|---|---|---|---|---|
| C-01 | active | MRI | Orchard | 2025-09-30 | 90+30 | 2025-06-02 | 184,500.00 | 553,500.00 | CCC | Sam |
| C-02 | active | Content Guru | Storm | 2025-04-30 | 60+30 | 2025-01-30 | 96,000.00 | — | CCC, SCDC | Priya |
| C-03 | active, express | Idox | CaseTracker | 2025-01-31 | 0+0 | 2025-01-31 | 4,000.00 | 12,000.00 | — | none |
| C-04 | active, tacit 12 m | Miro | Miro whiteboard | 2025-02-28 | 30+0 | 2025-01-29 | 5,000.00 | — | CCC | Sam |
| C-05 | active | Miro | Miro whiteboard | 2026-03-31 | 30+0 | 2026-02-27 (1 Mar is a Sunday) | 5,000.01 | — | SCDC | Sam |
| C-06 | pending | Idox | Tascomi | 2026-06-30 | 0+0 | 2026-06-30 | 20,000.00 | — | CCC | none |
| C-07 | terminated | Idox | govmetric | 2023-10-31 | 0+0 | 2023-10-31 | 3,000.00 | — | CCC | Priya |
| C-08 | expired | MRI | Orchard, CaseTracker | 2024-12-31 | 30+0 | 2024-11-29 | 10,000.00 | — | CCC | Priya |
| C-09 | active, terminate decided | MRI | Orchard | 2025-03-31 | 30+0 | 2025-02-28 | 1,000.00 | — | CCC | Sam |
| C-10 | active | Content Guru | Storm | 2027-03-08 | 10+0 | 2027-02-26 | 250,000.00 | — | CCC | Priya |
| C-11 | active | Content Guru | — | 2027-03-11 | 10+0 | 2027-03-01 | 1.00 | — | CCC | Priya |

Suppliers: MRI Software, Content Guru, Idox, Miro, and Old Supplier (retired).
"""

from __future__ import annotations

import asyncio
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from fakes import NOW, FixedClock

from estate_contracts.common import Person
from estate_contracts.envelope import Envelope, new_envelope
from estate_contracts.notification_events import (
    AlertAcknowledged,
    AlertEscalated,
    AlertSent,
    Recipient,
    RenewalOverdue,
)
from estate_contracts.procurement_events import (
    RequestDecided,
    RequestReopened,
    RequestReviewStarted,
    RequestSubmitted,
    RequestWithdrawn,
)
from estate_register.adapters.db.estate_store import SqlEstateProjections
from estate_register.adapters.db.migrate import upgrade_async
from estate_register.application import estate, services
from estate_register.bootstrap import Container, bootstrap
from estate_register.domain.values import (
    CloudFeasibility,
    ComplianceStatus,
    ContractStatus,
    ContractType,
    Disposition,
    Hosting,
    LifecycleStage,
    ProcurementRoute,
    RenewalOutcome,
    RenewalType,
)
from estate_register.settings import RegisterSettings

ACTOR = "estate-tests@cambridge.gov.uk"
TODAY = date(2025, 3, 3)
RAVI = Person(id="oid-ravi", name="Ravi Patel", email="ravi.patel@cambridge.gov.uk")
CHAIR = Person(id="oid-alex", name="Alex Morgan", email="alex.morgan@cambridge.gov.uk")
SAM = Person(id="oid-sam", name="Sam Whitfield", email="sam.whitfield@cambridge.gov.uk")

REQUEST_IDS = {
    name: uuid.uuid5(uuid.NAMESPACE_URL, f"estate-tests/{name}") for name in ("R1", "R2", "R3", "R4", "R5")
}


EVENTS_AT = datetime(2025, 2, 10, 9, 0, tzinfo=UTC)
"""When the worker tests' events happened and were published."""


def at(day: str, hour: int = 10) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


def envelope_of(payload: Any, source: str, subject: uuid.UUID) -> Envelope:
    """The event as its producer publishes it, at :data:`EVENTS_AT`."""
    return new_envelope(
        event=payload, source=source, subject=str(subject), correlationid="corr-estate", time=EVENTS_AT
    )


def submission(
    request_id: uuid.UUID, reference: str = "TR-2025-0042", *, title: str = "Online forms for council tax"
) -> RequestSubmitted:
    """A request submitted at :data:`EVENTS_AT`, as the worker tests send it."""
    return RequestSubmitted(
        request_id=request_id,
        reference=reference,
        title=title,
        requester=RAVI,
        service_area="local-taxation",
        category="it",
        problem_summary="Residents phone in to change their details",
        councils_in_scope=["CCC"],
        submitted_at=EVENTS_AT,
    )


def submitted(name: str, title: str, day: str, *, area: str = "customer-services") -> RequestSubmitted:
    return RequestSubmitted(
        request_id=REQUEST_IDS[name],
        reference=reference(name),
        title=title,
        requester=RAVI,
        service_area=area,
        category="it",
        problem_summary="The service needs a better way to do this",
        councils_in_scope=["CCC"],
        estimated_annual_cost=Decimal("12000.00"),
        submitted_at=at(day),
    )


def reference(name: str) -> str:
    return f"TR-2025-000{name[1]}"


def request_events() -> list[Any]:
    """R1 and R2 (under review) and R5 (reopened) are pending; R3 was decided and R4 withdrawn."""
    return [
        submitted("R1", "Replace the complaints tracker", "2025-01-10"),
        submitted("R2", "Online booking for bulky waste", "2025-02-20", area="waste"),
        RequestReviewStarted(
            request_id=REQUEST_IDS["R2"],
            reference=reference("R2"),
            started_by=CHAIR,
            checklist_version="appendix-k@1",
            started_at=at("2025-02-21"),
        ),
        submitted("R3", "A second whiteboard tool", "2025-01-05"),
        RequestDecided(
            request_id=REQUEST_IDS["R3"],
            reference=reference("R3"),
            requester=RAVI,
            outcome="not_approved",
            rationale="Miro already does this",
            decided_by=CHAIR,
            decided_at=at("2025-02-01"),
        ),
        submitted("R4", "A new intranet", "2025-01-20"),
        RequestWithdrawn(
            request_id=REQUEST_IDS["R4"],
            reference=reference("R4"),
            withdrawn_by=RAVI,
            reason="Covered by the web programme",
            withdrawn_at=at("2025-01-25"),
        ),
        submitted("R5", "Housing repairs app", "2024-12-01", area="housing"),
        RequestDecided(
            request_id=REQUEST_IDS["R5"],
            reference=reference("R5"),
            requester=RAVI,
            outcome="not_approved",
            rationale="AccuServe should be set up first",
            decided_by=CHAIR,
            decided_at=at("2025-01-15"),
        ),
        RequestReopened(
            request_id=REQUEST_IDS["R5"],
            reference=reference("R5"),
            reopened_by=CHAIR,
            reason="AccuServe cannot be set up",
            reopened_at=at("2025-02-10"),
        ),
    ]


def alert_events(ids: dict[str, uuid.UUID]) -> list[Any]:
    """C-02's escalation to the TDA stands; C-01's was acknowledged; C-10's is for an act-by date the
    contract no longer has."""
    owner = Recipient(email="priya.shah@cambridge.gov.uk", name="Priya Shah")
    return [
        AlertSent(
            alert_id=uuid.UUID(int=1),
            contract_id=ids["C-02"],
            contract_reference="C-02",
            recipient_role="contract_owner",
            recipient=owner,
            rung_days=14,
            act_by=date(2025, 1, 30),
            channel="email",
            sent_at=at("2025-01-16"),
        ),
        AlertEscalated(
            alert_id=uuid.UUID(int=1),
            contract_id=ids["C-02"],
            contract_reference="C-02",
            from_role="contract_owner",
            to_role="tda",
            reason="not_acknowledged",
            rung_days=14,
            act_by=date(2025, 1, 30),
            escalated_at=at("2025-01-23"),
        ),
        RenewalOverdue(
            contract_id=ids["C-02"],
            contract_reference="C-02",
            act_by=date(2025, 1, 30),
            current_term_end=date(2025, 4, 30),
            notice_period_days=60,
            internal_lead_time_days=30,
            as_of=date(2025, 2, 3),
            days_overdue=4,
        ),
        AlertEscalated(
            alert_id=uuid.UUID(int=2),
            contract_id=ids["C-01"],
            contract_reference="C-01",
            from_role="contract_owner",
            to_role="budget_holder",
            reason="not_acknowledged",
            rung_days=120,
            act_by=date(2025, 6, 2),
            escalated_at=at("2025-02-20"),
        ),
        AlertAcknowledged(
            alert_id=uuid.UUID(int=2),
            contract_id=ids["C-01"],
            contract_reference="C-01",
            acknowledged_by=SAM,
            acknowledged_at=at("2025-02-21"),
        ),
        AlertEscalated(
            alert_id=uuid.UUID(int=3),
            contract_id=ids["C-10"],
            contract_reference="C-10",
            from_role="contract_owner",
            to_role="tda",
            reason="recipient_missing",
            rung_days=90,
            act_by=date(2026, 12, 1),
            escalated_at=at("2025-02-25"),
        ),
    ]


async def build_estate(container: Container) -> dict[str, uuid.UUID]:
    """Record the estate above through the application services; returns ids by name and reference."""
    ids: dict[str, uuid.UUID] = {}

    async def run(action: Any, **kwargs: Any) -> Any:
        async with container.uow() as uow:
            return await action(uow, **kwargs)

    await run(services.record_council, code="CCC", name="Cambridge City Council", actor=ACTOR)
    await run(services.record_council, code="SCDC", name="South Cambridgeshire District Council", actor=ACTOR)
    for area in ("Housing", "Customer Services", "Finance"):
        ids[area] = (await run(services.record_service_area, name=area, council_code="CCC", actor=ACTOR)).id
    for name, email in (("Sam Whitfield", SAM.email), ("Priya Shah", "priya.shah@cambridge.gov.uk")):
        person = await run(services.record_person, fields={"name": name, "email": email}, actor=ACTOR)
        ids[name.split()[0]] = person.id
    for name in ("MRI Software", "Content Guru", "Idox", "Miro", "Old Supplier"):
        ids[name] = (await run(services.record_supplier, fields={"name": name}, actor=ACTOR)).id
    old = ids["Old Supplier"]
    await run(
        services.update_supplier, supplier_id=old, changes={"retired": True}, expected_version=1, actor=ACTOR
    )

    def system(name: str, **fields: Any) -> dict[str, Any]:
        return {"name": name, "lead_council": "CCC", **fields}

    personal = {"holds_personal_data": True, "personal_data_categories": ("contact details",)}
    systems = [
        system(
            "Orchard",
            lifecycle_stage=LifecycleStage.LIVE,
            hosting=Hosting.ON_PREMISES,
            cloud_feasibility=CloudFeasibility.FEASIBLE,
            dpia_status=ComplianceStatus.COMPLETED,
            ropa_status=ComplianceStatus.COMPLETED,
            system_owner_id=ids["Sam"],
            capabilities=("housing management", "case management"),
            service_area_ids=(ids["Housing"],),
            supplier_id=ids["MRI Software"],
            disposition=Disposition.MIGRATE,
            **personal,
        ),
        system(
            "CaseTracker",
            lifecycle_stage=LifecycleStage.LIVE,
            hosting=Hosting.ON_PREMISES,
            dpia_status=ComplianceStatus.NOT_STARTED,
            ropa_status=ComplianceStatus.COMPLETED,
            capabilities=("case management", "complaints"),
            service_area_ids=(ids["Housing"],),
            **personal,
        ),
        system(
            "Storm",
            lifecycle_stage=LifecycleStage.UNDER_REVIEW,
            hosting=Hosting.SAAS,
            dpia_status=ComplianceStatus.COMPLETED,
            ropa_status=ComplianceStatus.IN_PROGRESS,
            system_owner_id=ids["Priya"],
            capabilities=("Case Management", "telephony"),
            service_area_ids=(ids["Customer Services"],),
            supplier_id=ids["Content Guru"],
            disposition=Disposition.TOLERATE,
            **personal,
        ),
        system(
            "Tascomi",
            lifecycle_stage=LifecycleStage.PLANNED,
            hosting=Hosting.SAAS,
            capabilities=("case management",),
            service_area_ids=(ids["Finance"],),
        ),
        system(
            "govmetric",
            lifecycle_stage=LifecycleStage.RETIRED,
            hosting=Hosting.ON_PREMISES,
            cloud_feasibility=CloudFeasibility.FEASIBLE,
            capabilities=("complaints",),
            disposition=Disposition.INVEST,
            **personal,
        ),
        system(
            "Miro whiteboard",
            lifecycle_stage=LifecycleStage.LIVE,
            hosting=Hosting.SAAS,
            holds_personal_data=False,
            system_owner_id=ids["Sam"],
            capabilities=("complaints",),
            service_area_ids=(ids["Customer Services"], ids["Finance"]),
            supplier_id=ids["Miro"],
            disposition=Disposition.ELIMINATE,
        ),
    ]
    for fields in systems:
        ids[fields["name"]] = (await run(services.record_system, fields=fields, actor=ACTOR)).id

    def contract(
        ref: str,
        supplier: str,
        covered: tuple[str, ...],
        term_end: date,
        annual: str,
        *,
        status: ContractStatus = ContractStatus.ACTIVE,
        notice: int = 0,
        lead: int = 0,
        total: str | None = None,
        councils: tuple[str, ...] = ("CCC",),
        owner: str | None = None,
        renewal: RenewalType = RenewalType.EXPRESS,
    ) -> dict[str, Any]:
        return {
            "reference": ref,
            "title": f"{', '.join(covered) or 'Shared'} contract {ref}",
            "supplier_id": ids[supplier],
            "system_ids": tuple(ids[s] for s in covered),
            "contract_type": ContractType.SAAS_SUBSCRIPTION,
            "procurement_route": ProcurementRoute.FRAMEWORK_CALL_OFF,
            "start_date": date(2023, 4, 1) if term_end > date(2023, 4, 1) else date(2022, 11, 1),
            "initial_term_end": term_end,
            "current_term_end": term_end,
            "renewal_type": renewal,
            "renewal_period_months": 12 if renewal is RenewalType.TACIT else None,
            "notice_period_days": notice,
            "internal_lead_time_days": lead,
            "annual_value": Decimal(annual),
            "total_value": Decimal(total) if total else None,
            "councils": councils,
            "status": status,
            "owner_id": ids[owner] if owner else None,
        }

    contracts = [
        contract(
            "C-01",
            "MRI Software",
            ("Orchard",),
            date(2025, 9, 30),
            "184500.00",
            notice=90,
            lead=30,
            total="553500.00",
            owner="Sam",
        ),
        contract(
            "C-02",
            "Content Guru",
            ("Storm",),
            date(2025, 4, 30),
            "96000.00",
            notice=60,
            lead=30,
            councils=("CCC", "SCDC"),
            owner="Priya",
        ),
        contract(
            "C-03", "Idox", ("CaseTracker",), date(2025, 1, 31), "4000.00", total="12000.00", councils=()
        ),
        contract(
            "C-04",
            "Miro",
            ("Miro whiteboard",),
            date(2025, 2, 28),
            "5000.00",
            notice=30,
            owner="Sam",
            renewal=RenewalType.TACIT,
        ),
        contract(
            "C-05",
            "Miro",
            ("Miro whiteboard",),
            date(2026, 3, 31),
            "5000.01",
            notice=30,
            councils=("SCDC",),
            owner="Sam",
        ),
        contract("C-06", "Idox", ("Tascomi",), date(2026, 6, 30), "20000.00", status=ContractStatus.PENDING),
        contract(
            "C-07",
            "Idox",
            ("govmetric",),
            date(2023, 10, 31),
            "3000.00",
            status=ContractStatus.TERMINATED,
            owner="Priya",
        ),
        contract(
            "C-08",
            "MRI Software",
            ("Orchard", "CaseTracker"),
            date(2024, 12, 31),
            "10000.00",
            notice=30,
            status=ContractStatus.EXPIRED,
            owner="Priya",
        ),
        contract("C-09", "MRI Software", ("Orchard",), date(2025, 3, 31), "1000.00", notice=30, owner="Sam"),
        contract("C-10", "Content Guru", ("Storm",), date(2027, 3, 8), "250000.00", notice=10, owner="Priya"),
        contract("C-11", "Content Guru", (), date(2027, 3, 11), "1.00", notice=10, owner="Priya"),
    ]
    for fields in contracts:
        ids[fields["reference"]] = (await run(services.record_contract, fields=fields, actor=ACTOR)).id
    await run(
        services.decide_renewal,
        contract_id=ids["C-09"],
        outcome=RenewalOutcome.TERMINATE,
        rationale="Orchard's extra module is no longer used",
        new_term_end=None,
        expected_version=1,
        actor=ACTOR,
    )
    await project(container, [*request_events(), *alert_events(ids)])
    return ids


async def project(container: Container, events: list[Any]) -> None:
    """Fold events into the estate view as the worker does, each in its own transaction."""
    for event in events:
        async with container.sessions() as session, session.begin():
            store = SqlEstateProjections(session)
            if isinstance(event, estate.REQUEST_EVENTS):
                await estate.project_request(store, event, at=container.clock())
            else:
                await estate.project_alerts(store, event, at=container.clock())


def prepare_estate_database(url: str) -> dict[str, uuid.UUID]:
    """Migrate an empty database and record the estate above, on a thread with a loop of its own."""

    async def migrate_and_build() -> dict[str, uuid.UUID]:
        await upgrade_async(url)
        container = bootstrap(RegisterSettings(database_url=url), clock=FixedClock(NOW))
        try:
            return await build_estate(container)
        finally:
            await container.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, migrate_and_build()).result()


__all__ = [
    "CHAIR",
    "EVENTS_AT",
    "RAVI",
    "REQUEST_IDS",
    "TODAY",
    "alert_events",
    "build_estate",
    "envelope_of",
    "prepare_estate_database",
    "project",
    "request_events",
    "submission",
]
