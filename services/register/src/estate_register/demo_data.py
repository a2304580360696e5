"""The Cambridge demo estate, drawn from the council's DDaT strategy (seeds/000) and REQUIREMENTS.md §7.

Names of systems, suppliers, service areas, councils and money values come from the seeds. People are
fictional, holding the role titles the seeds use (real officers' names stay out of fixtures, S0:5170).
Which supplier makes which product is illustrative where the seeds do not say (S0:3522 says only that
"multiple of these products" are from MRI). Term dates that the seeds give are kept (the 3C ICT
shared-service agreement ends in September 2025, S0:2984); the others are set relative to today so that
renewal alerts always have something to say.

Everything goes through the application services, so the demo estate is audited and published as events
exactly like records a person enters.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from estate_register.application import services
from estate_register.bootstrap import Container
from estate_register.domain.model import ServiceLevel
from estate_register.domain.values import (
    AccessibilityLevel,
    CloudFeasibility,
    ComplianceStatus,
    ContractStatus,
    ContractType,
    Criticality,
    Disposition,
    Hosting,
    IntegrationCapability,
    LifecycleStage,
    ProcurementRoute,
    RationalisationDecision,
    RenewalType,
    RiskRag,
    UsageStatus,
)

ACTOR = "demo-data@estate.local"

COUNCILS = [
    ("CCC", "Cambridge City Council"),
    ("SCDC", "South Cambridgeshire District Council"),
    ("HDC", "Huntingdonshire District Council"),
]

SERVICE_AREAS = [
    "Customer Services",
    "Environmental Health",
    "Local Taxation",
    "Commercial Services",
    "Streets and Open Spaces",
    "Housing Services (City Homes)",
    "Housing Advice",
    "Housing Development Agency",
    "Housing Maintenance and Assets",
    "Cultural Services",
    "Greater Cambridge Shared Planning",
    "Greater Cambridge Shared Waste",
    "Finance",
    "Human Resources",
    "Building Control",
    "Information Governance",
    "Elections",
    "Community Safety",
    "Digital Service",
]

PEOPLE = [
    ("Alex Morgan", "alex.morgan@cambridge.gov.uk", ["Strategic Digital Lead"]),
    ("Priya Shah", "priya.shah@cambridge.gov.uk", ["ICT Contract Manager"]),
    ("Tom Ellis", "tom.ellis@cambridge.gov.uk", ["ICT Finance Business Partner", "Budget holder"]),
    (
        "Grace Okafor",
        "grace.okafor@cambridge.gov.uk",
        ["Information Governance Manager and Data Protection Officer"],
    ),
    ("Sam Whitfield", "sam.whitfield@cambridge.gov.uk", ["Housing Services Manager"]),
    ("Nadia Begum", "nadia.begum@cambridge.gov.uk", ["Customer Services Operations Manager"]),
    ("Owen Price", "owen.price@cambridge.gov.uk", ["Asset Manager"]),
    ("Chloe Turner", "chloe.turner@cambridge.gov.uk", ["Environmental Health Manager"]),
    ("Ravi Patel", "ravi.patel@cambridge.gov.uk", ["Local Taxation Manager"]),
    ("Hannah Reid", "hannah.reid@cambridge.gov.uk", ["Head of Greater Cambridge Shared Waste Service"]),
    ("Joe Bennett", "joe.bennett@cambridge.gov.uk", ["Web Manager"]),
]

SUPPLIERS = [
    ("MRI Software", ["Orchard", "AccuServe"]),
    ("Content Guru", ["Storm"]),
    ("Idox", ["Tascomi"]),
    ("Yotta", ["Alloy"]),
    ("IEG4", ["OneVu e-forms"]),
    ("Proactis", ["Proactis contract register"]),
    ("Miro", ["Miro online whiteboard"]),
    ("Microsoft", ["Power BI", "SharePoint", "Teams"]),
    ("3C ICT Shared Service", ["Shared ICT service"]),
    ("Govmetric", ["Customer satisfaction surveys"]),
    ("Silktide", ["Accessibility monitoring"]),
]


def _system(**fields: Any) -> dict[str, Any]:
    return fields


async def load_demo_data(container: Container, *, today: date | None = None) -> int:
    """Add the demo estate to an empty register; returns how many records were added (0 if not empty)."""
    today = today or container.clock().date()
    async with container.uow() as uow:
        if await uow.reference.councils():
            return 0
    added = 0
    for code, name in COUNCILS:
        async with container.uow() as uow:
            await services.record_council(uow, code=code, name=name, actor=ACTOR)
            added += 1
    areas: dict[str, uuid.UUID] = {}
    for name in SERVICE_AREAS:
        async with container.uow() as uow:
            areas[name] = (
                await services.record_service_area(uow, name=name, council_code="CCC", actor=ACTOR)
            ).id
            added += 1
    people: dict[str, uuid.UUID] = {}
    for name, email, titles in PEOPLE:
        async with container.uow() as uow:
            person = await services.record_person(
                uow, fields={"name": name, "email": email, "role_titles": tuple(titles)}, actor=ACTOR
            )
            people[name.split()[0]] = person.id
            added += 1
    suppliers: dict[str, uuid.UUID] = {}
    for name, products in SUPPLIERS:
        async with container.uow() as uow:
            supplier = await services.record_supplier(
                uow, fields={"name": name, "products": tuple(products)}, actor=ACTOR
            )
            suppliers[name] = supplier.id
            added += 1

    def a(*names: str) -> tuple[uuid.UUID, ...]:
        return tuple(areas[n] for n in names)

    systems_spec = [
        _system(
            name="Orchard",
            supplier="MRI Software",
            product_family="MRI housing suite",
            description="Housing management: tenancies, rents and repairs for City Homes.",
            service_area_ids=a("Housing Services (City Homes)", "Housing Maintenance and Assets"),
            capabilities=("housing management", "rent accounting", "tenancy management"),
            hosting=Hosting.ON_PREMISES,
            cloud_feasibility=CloudFeasibility.FEASIBLE,
            holds_personal_data=True,
            personal_data_categories=("tenant contact details", "financial", "household"),
            special_category_data=True,
            dpia_status=ComplianceStatus.COMPLETED,
            ropa_status=ComplianceStatus.COMPLETED,
            integration_capabilities=(IntegrationCapability.BULK_CSV,),
            business_criticality=Criticality.CRITICAL,
            risk_rag=RiskRag.AMBER,
            rationalisation_decision=RationalisationDecision.UPGRADE,
            disposition=Disposition.MIGRATE,
            system_owner_id=people["Sam"],
            data_owner_id=people["Sam"],
        ),
        _system(
            name="Storm",
            supplier="Content Guru",
            product_family="storm contact centre",
            description="Contact centre telephony and case handling for Customer Services.",
            service_area_ids=a("Customer Services"),
            capabilities=("contact centre", "telephony", "case management"),
            hosting=Hosting.SAAS,
            cloud_feasibility=CloudFeasibility.ALREADY_CLOUD,
            holds_personal_data=True,
            personal_data_categories=("caller contact details", "call recordings"),
            dpia_status=ComplianceStatus.IN_PROGRESS,
            ropa_status=ComplianceStatus.COMPLETED,
            integration_capabilities=(IntegrationCapability.API,),
            business_criticality=Criticality.HIGH,
            risk_rag=RiskRag.AMBER,
            system_owner_id=people["Nadia"],
        ),
        _system(
            name="Tascomi",
            supplier="Idox",
            description="Regulatory services: licensing, planning enforcement and environmental health cases.",
            service_area_ids=a("Environmental Health", "Greater Cambridge Shared Planning"),
            capabilities=("licensing", "case management", "inspections"),
            hosting=Hosting.SAAS,
            cloud_feasibility=CloudFeasibility.ALREADY_CLOUD,
            holds_personal_data=True,
            personal_data_categories=("licence holder details",),
            dpia_status=ComplianceStatus.NOT_STARTED,
            ropa_status=ComplianceStatus.UNKNOWN,
            integration_capabilities=(IntegrationCapability.API, IntegrationCapability.BULK_CSV),
            business_criticality=Criticality.HIGH,
            risk_rag=RiskRag.RED,
            councils=("SCDC",),
            system_owner_id=people["Chloe"],
        ),
        _system(
            name="Alloy",
            supplier="Yotta",
            description="Asset management for streets, open spaces and waste rounds.",
            service_area_ids=a("Streets and Open Spaces", "Greater Cambridge Shared Waste"),
            capabilities=("asset management", "inspections", "works scheduling"),
            hosting=Hosting.SAAS,
            cloud_feasibility=CloudFeasibility.ALREADY_CLOUD,
            holds_personal_data=False,
            integration_capabilities=(IntegrationCapability.API,),
            business_criticality=Criticality.HIGH,
            risk_rag=RiskRag.GREEN,
            councils=("SCDC",),
            system_owner_id=people["Owen"],
            rationalisation_decision=RationalisationDecision.RETAIN,
            disposition=Disposition.INVEST,
        ),
        _system(
            name="AccuServe",
            supplier="MRI Software",
            product_family="MRI housing suite",
            description="Repairs scheduling for the responsive repairs team. Implemented in Covid and never effectively set up (S0:3545).",
            service_area_ids=a("Housing Maintenance and Assets"),
            capabilities=("works scheduling", "repairs"),
            hosting=Hosting.ON_PREMISES,
            cloud_feasibility=CloudFeasibility.UNKNOWN,
            holds_personal_data=True,
            personal_data_categories=("tenant contact details",),
            dpia_status=ComplianceStatus.UNKNOWN,
            ropa_status=ComplianceStatus.UNKNOWN,
            usage_status=UsageStatus.UNDER_USED,
            integration_capabilities=(IntegrationCapability.NONE,),
            business_criticality=Criticality.MEDIUM,
            risk_rag=RiskRag.RED,
            rationalisation_decision=RationalisationDecision.DECOMMISSION,
            disposition=Disposition.ELIMINATE,
        ),
        _system(
            name="IEG4 online forms",
            supplier="IEG4",
            description="Online forms and e-services for benefits and council tax.",
            service_area_ids=a("Local Taxation", "Customer Services"),
            capabilities=("online forms", "e-services"),
            hosting=Hosting.SAAS,
            cloud_feasibility=CloudFeasibility.ALREADY_CLOUD,
            holds_personal_data=True,
            personal_data_categories=("financial", "household"),
            dpia_status=ComplianceStatus.COMPLETED,
            ropa_status=ComplianceStatus.COMPLETED,
            usage_status=UsageStatus.UNDER_USED,
            resident_facing=True,
            accessibility_level=AccessibilityLevel.WCAG21_AA,
            integration_capabilities=(IntegrationCapability.API,),
            business_criticality=Criticality.HIGH,
            risk_rag=RiskRag.AMBER,
            system_owner_id=people["Ravi"],
        ),
        _system(
            name="Proactis",
            supplier="Proactis",
            description="The council's existing corporate contract register (S0:2881).",
            service_area_ids=a("Finance"),
            capabilities=("contract register", "procurement"),
            hosting=Hosting.SAAS,
            holds_personal_data=False,
            integration_capabilities=(IntegrationCapability.BULK_CSV,),
            business_criticality=Criticality.MEDIUM,
            system_owner_id=people["Priya"],
        ),
        _system(
            name="Miro",
            supplier="Miro",
            description="Online whiteboard licences bought by service areas without 3C ICT permission (S0:2883).",
            service_area_ids=a("Digital Service"),
            capabilities=("online whiteboard", "collaboration"),
            hosting=Hosting.SAAS,
            holds_personal_data=None,
            procured_outside_ict=True,
            business_criticality=Criticality.LOW,
        ),
        _system(
            name="Power BI",
            supplier="Microsoft",
            product_family="Microsoft 365",
            description="Dashboards and reporting across services.",
            service_area_ids=a("Digital Service", "Finance"),
            capabilities=("reporting", "dashboards"),
            hosting=Hosting.SAAS,
            holds_personal_data=True,
            personal_data_categories=("service user records",),
            dpia_status=ComplianceStatus.IN_PROGRESS,
            integration_capabilities=(IntegrationCapability.API,),
            system_owner_id=people["Alex"],
        ),
        _system(
            name="Complaints Tracker",
            description="Logs and tracks corporate complaints; 86% arrive by web form.",
            service_area_ids=a("Customer Services"),
            capabilities=("complaints", "case management"),
            hosting=Hosting.ON_PREMISES,
            holds_personal_data=True,
            personal_data_categories=("complainant details",),
            dpia_status=ComplianceStatus.NOT_STARTED,
            ropa_status=ComplianceStatus.NOT_STARTED,
        ),
        _system(
            name="CaseTracker",
            description="Housing Services (City Homes) complaints logging.",
            service_area_ids=a("Housing Services (City Homes)"),
            capabilities=("complaints", "case management"),
            hosting=Hosting.ON_PREMISES,
            holds_personal_data=True,
            personal_data_categories=("tenant contact details",),
            system_owner_id=people["Sam"],
        ),
        _system(
            name="govmetric",
            supplier="Govmetric",
            description="Customer satisfaction surveys, replaced by an in-house survey in October 2023 (S0:1703).",
            service_area_ids=a("Customer Services"),
            capabilities=("customer satisfaction",),
            hosting=Hosting.SAAS,
            holds_personal_data=False,
            lifecycle_stage=LifecycleStage.RETIRED,
            usage_status=UsageStatus.NOT_IN_USE,
        ),
    ]
    systems: dict[str, uuid.UUID] = {}
    for spec in systems_spec:
        supplier = spec.pop("supplier", None)
        fields = {"lead_council": "CCC", **spec, "supplier_id": suppliers[supplier] if supplier else None}
        async with container.uow() as uow:
            system = await services.record_system(uow, fields=fields, actor=ACTOR)
            systems[system.name] = system.id
            added += 1

    def days(n: int) -> date:
        return today + timedelta(days=n)

    contracts: list[dict[str, Any]] = [
        {
            "reference": "CCC-ICT-0001",
            "title": "3C ICT shared-service agreement",
            "supplier": "3C ICT Shared Service",
            "systems": (),
            "contract_type": ContractType.SHARED_SERVICE_AGREEMENT,
            "procurement_route": ProcurementRoute.SHARED_SERVICE,
            "start_date": date(2015, 10, 1),
            "initial_term_end": date(2025, 9, 30),
            "renewal_type": RenewalType.EXPRESS,
            "notice_period_days": 365,
            "internal_lead_time_days": 90,
            "annual_value": Decimal("3007092.00"),
            "councils": ("CCC", "SCDC", "HDC"),
            "owner": "Alex",
            "budget": "Tom",
            "signatory": "Alex",
        },
        {
            "reference": "CCC-ICT-0002",
            "title": "IEG4 e-forms subscription (restructured)",
            "supplier": "IEG4",
            "systems": ("IEG4 online forms",),
            "contract_type": ContractType.SAAS_SUBSCRIPTION,
            "procurement_route": ProcurementRoute.VIA_3C_ICT,
            "start_date": date(2024, 4, 1),
            "initial_term_end": date(2027, 3, 31),
            "renewal_type": RenewalType.EXPRESS,
            "extension_options_left": 1,
            "notice_period_days": 90,
            "internal_lead_time_days": 60,
            "annual_value": Decimal("100000.00"),
            "total_value": Decimal("300000.00"),
            "owner": "Ravi",
            "budget": "Tom",
            "signatory": "Alex",
            "kpis": ({"name": "Cost per form produced", "target": "below £2.50"},),
        },
        {
            "reference": "CCC-ICT-0003",
            "title": "Orchard housing management licence and support",
            "supplier": "MRI Software",
            "systems": ("Orchard", "AccuServe"),
            "contract_type": ContractType.SUPPORT_AND_MAINTENANCE,
            "procurement_route": ProcurementRoute.VIA_3C_ICT,
            "start_date": days(-3 * 365),
            "initial_term_end": days(150),
            "renewal_type": RenewalType.TACIT,
            "renewal_period_months": 12,
            "notice_period_days": 90,
            "internal_lead_time_days": 30,
            "annual_value": Decimal("184500.00"),
            "total_value": Decimal("553500.00"),
            "owner": "Sam",
            "budget": "Tom",
            "signatory": "Alex",
            "slas": ({"name": "Priority 1 fix", "target": "4 hours"},),
        },
        {
            "reference": "CCC-ICT-0004",
            "title": "Storm contact centre platform",
            "supplier": "Content Guru",
            "systems": ("Storm",),
            "contract_type": ContractType.SAAS_SUBSCRIPTION,
            "procurement_route": ProcurementRoute.FRAMEWORK_CALL_OFF,
            "start_date": days(-700),
            "initial_term_end": days(95),
            "renewal_type": RenewalType.EXPRESS,
            "extension_options_left": 2,
            "notice_period_days": 60,
            "internal_lead_time_days": 30,
            "annual_value": Decimal("96000.00"),
            "owner": "Nadia",
            "budget": "Tom",
        },
        {
            "reference": "CCC-ICT-0005",
            "title": "Tascomi regulatory services (shared with SCDC)",
            "supplier": "Idox",
            "systems": ("Tascomi",),
            "contract_type": ContractType.SAAS_SUBSCRIPTION,
            "procurement_route": ProcurementRoute.VIA_3C_ICT,
            "start_date": days(-2 * 365),
            "initial_term_end": days(400),
            "renewal_type": RenewalType.EXPRESS,
            "notice_period_days": 180,
            "internal_lead_time_days": 60,
            "annual_value": Decimal("72000.00"),
            "councils": ("CCC", "SCDC"),
            "owner": "Chloe",
            "budget": "Tom",
        },
        {
            "reference": "CCC-ICT-0006",
            "title": "Alloy asset management",
            "supplier": "Yotta",
            "systems": ("Alloy",),
            "contract_type": ContractType.SAAS_SUBSCRIPTION,
            "procurement_route": ProcurementRoute.COUNCIL_PROCUREMENT,
            "start_date": days(-400),
            "initial_term_end": days(30),
            "renewal_type": RenewalType.TACIT,
            "renewal_period_months": 12,
            "notice_period_days": 30,
            "internal_lead_time_days": 14,
            "annual_value": Decimal("58250.00"),
            "councils": ("CCC", "SCDC"),
            "owner": "Owen",
            "budget": "Tom",
        },
        {
            "reference": "CCC-ICT-0007",
            "title": "Miro team licences (bought online by service areas)",
            "supplier": "Miro",
            "systems": ("Miro",),
            "contract_type": ContractType.SAAS_SUBSCRIPTION,
            "procurement_route": ProcurementRoute.DIRECT_BY_SERVICE_AREA,
            "start_date": days(-200),
            "initial_term_end": days(165),
            "renewal_type": RenewalType.TACIT,
            "renewal_period_months": 12,
            "annual_value": Decimal("2400.00"),
            "below_register_threshold": True,
        },
        {
            "reference": "CCC-ICT-0008",
            "title": "Proactis contract register subscription",
            "supplier": "Proactis",
            "systems": ("Proactis",),
            "contract_type": ContractType.SAAS_SUBSCRIPTION,
            "procurement_route": ProcurementRoute.COUNCIL_PROCUREMENT,
            "start_date": days(-900),
            "initial_term_end": days(-20),
            "renewal_type": RenewalType.EXPRESS,
            "notice_period_days": 90,
            "annual_value": Decimal("18000.00"),
            "owner": "Priya",
            "budget": "Tom",
        },
    ]
    for spec in contracts:
        values: dict[str, Any] = {
            "reference": spec["reference"],
            "title": spec["title"],
            "supplier_id": suppliers[spec["supplier"]],
            "system_ids": tuple(systems[s] for s in spec["systems"]),
            "contract_type": spec["contract_type"],
            "procurement_route": spec["procurement_route"],
            "start_date": spec["start_date"],
            "initial_term_end": spec["initial_term_end"],
            "current_term_end": spec["initial_term_end"],
            "renewal_type": spec["renewal_type"],
            "renewal_period_months": spec.get("renewal_period_months"),
            "extension_options_left": spec.get("extension_options_left", 0),
            "notice_period_days": spec.get("notice_period_days", 0),
            "internal_lead_time_days": spec.get("internal_lead_time_days", 0),
            "annual_value": spec["annual_value"],
            "total_value": spec.get("total_value"),
            "below_register_threshold": spec.get("below_register_threshold", False),
            "councils": spec.get("councils", ("CCC",)),
            "status": ContractStatus.ACTIVE,
            "owner_id": people.get(spec.get("owner", "")),
            "budget_holder_id": people.get(spec.get("budget", "")),
            "signatory_id": people.get(spec.get("signatory", "")),
        }
        values["kpis"] = tuple(ServiceLevel(**k) for k in spec.get("kpis", ()))
        values["slas"] = tuple(ServiceLevel(**k) for k in spec.get("slas", ()))
        async with container.uow() as uow:
            await services.record_contract(uow, fields=values, actor=ACTOR)
            added += 1
    return added
