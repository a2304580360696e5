"""A realistic, reproducible survey of a national estate, generated from the demo estate's vocabulary.

Names of systems, suppliers and their products, service areas, councils and people come from
``estate_register.demo_data`` (the Cambridge estate), with numbered variants to reach the size asked for:
council "Cambridge City Council 17" (CCC17), supplier "Idox 4", system "Tascomi 12", person
"Priya Shah" at council 17. Field mixes follow the demo estate: most systems live, about two in three hold
personal data, SaaS the commonest hosting; most contracts active, terms of one to five years, a tail of
large contract values. Every contract covers one to three systems of its lead council.

The records are plain dicts keyed by the domain's field names, with references by natural key (council
code, service-area name, supplier name, person email, system (lead council, name), contract reference),
so that any survey file layout can be written from them.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from estate_register import demo_data

# What the demo systems do, to describe and classify their numbered variants.
SYSTEM_VOCABULARY: list[dict[str, Any]] = [
    {
        "name": "Orchard",
        "supplier": "MRI Software",
        "description": "Housing management: tenancies, rents and repairs.",
        "capabilities": ("housing management", "rent accounting", "tenancy management"),
        "areas": ("Housing Services (City Homes)", "Housing Maintenance and Assets"),
    },
    {
        "name": "AccuServe",
        "supplier": "MRI Software",
        "description": "Repairs scheduling for the responsive repairs team.",
        "capabilities": ("works scheduling", "repairs"),
        "areas": ("Housing Maintenance and Assets",),
    },
    {
        "name": "Storm",
        "supplier": "Content Guru",
        "description": "Contact centre telephony and case handling.",
        "capabilities": ("contact centre", "telephony", "case management"),
        "areas": ("Customer Services",),
    },
    {
        "name": "Tascomi",
        "supplier": "Idox",
        "description": "Regulatory services: licensing, planning enforcement and environmental health cases.",
        "capabilities": ("licensing", "case management", "inspections"),
        "areas": ("Environmental Health", "Greater Cambridge Shared Planning", "Building Control"),
    },
    {
        "name": "Alloy",
        "supplier": "Yotta",
        "description": "Asset management for streets, open spaces and waste rounds.",
        "capabilities": ("asset management", "inspections", "works scheduling"),
        "areas": ("Streets and Open Spaces", "Greater Cambridge Shared Waste"),
    },
    {
        "name": "IEG4 online forms",
        "supplier": "IEG4",
        "description": "Online forms and e-services for benefits and council tax.",
        "capabilities": ("online forms", "e-services"),
        "areas": ("Local Taxation", "Customer Services"),
    },
    {
        "name": "Proactis",
        "supplier": "Proactis",
        "description": "Corporate contract register.",
        "capabilities": ("contract register", "procurement"),
        "areas": ("Finance", "Commercial Services"),
    },
    {
        "name": "Miro",
        "supplier": "Miro",
        "description": "Online whiteboard licences bought by service areas.",
        "capabilities": ("online whiteboard", "collaboration"),
        "areas": ("Digital Service",),
    },
    {
        "name": "Power BI",
        "supplier": "Microsoft",
        "description": "Dashboards and reporting across services.",
        "capabilities": ("reporting", "dashboards"),
        "areas": ("Digital Service", "Finance"),
    },
    {
        "name": "SharePoint",
        "supplier": "Microsoft",
        "description": "Document management and intranet sites.",
        "capabilities": ("document management", "collaboration"),
        "areas": ("Digital Service", "Information Governance"),
    },
    {
        "name": "Complaints Tracker",
        "supplier": None,
        "description": "Logs and tracks corporate complaints; most arrive by web form.",
        "capabilities": ("complaints", "case management"),
        "areas": ("Customer Services",),
    },
    {
        "name": "CaseTracker",
        "supplier": None,
        "description": "Complaints logging for housing services.",
        "capabilities": ("complaints", "case management"),
        "areas": ("Housing Services (City Homes)", "Housing Advice"),
    },
    {
        "name": "govmetric",
        "supplier": "Govmetric",
        "description": "Customer satisfaction surveys.",
        "capabilities": ("customer satisfaction",),
        "areas": ("Customer Services",),
    },
    {
        "name": "Accessibility monitoring",
        "supplier": "Silktide",
        "description": "Monitors the council's websites for accessibility failures.",
        "capabilities": ("accessibility monitoring", "web quality"),
        "areas": ("Digital Service",),
    },
    {
        "name": "Electoral register",
        "supplier": "Idox",
        "description": "Electoral registration and election management.",
        "capabilities": ("electoral registration", "elections"),
        "areas": ("Elections",),
    },
    {
        "name": "HR and payroll",
        "supplier": "MRI Software",
        "description": "Staff records, payroll and absence.",
        "capabilities": ("payroll", "hr records"),
        "areas": ("Human Resources", "Finance"),
    },
]

CONTRACT_TITLES = [
    "{system} licence and support",
    "{system} subscription",
    "{system} hosting and support",
    "{system} implementation services",
    "{system} support and maintenance",
    "{system} platform (shared with {council})",
]

PERSONAL_DATA = ["contact details", "financial", "household", "tenant contact details", "case notes"]


def _weighted(rng: random.Random, choices: list[tuple[Any, float]]) -> Any:
    values, weights = zip(*choices, strict=True)
    return rng.choices(values, weights)[0]


def _money(rng: random.Random) -> Decimal:
    # Log-normal: median about £25k a year, a long tail to a few million.
    return Decimal(f"{min(5_000_000.0, rng.lognormvariate(10.1, 1.3)):.2f}")


@dataclass
class Survey:
    today: date
    councils: list[tuple[str, str]] = field(default_factory=list)
    service_areas: list[tuple[str, str]] = field(default_factory=list)  # (council code, name)
    people: list[dict[str, Any]] = field(default_factory=list)
    suppliers: list[dict[str, Any]] = field(default_factory=list)
    systems: list[dict[str, Any]] = field(default_factory=list)
    contracts: list[dict[str, Any]] = field(default_factory=list)

    @property
    def records(self) -> int:
        return len(self.systems) + len(self.contracts)


def generate(systems: int, contracts: int, *, seed: int = 2026, today: date | None = None) -> Survey:
    rng = random.Random(seed)
    survey = Survey(today=today or date.today())
    # National shape: about 500 systems a council (200,000 systems over 400 councils), 3 at least.
    council_count = max(3, round(systems / 500))
    for i in range(council_count):
        code, name = demo_data.COUNCILS[i % 3]
        n = i // 3 + 1
        survey.councils.append((code, name) if n == 1 else (f"{code}{n}", f"{name} {n}"))
    for code, _ in survey.councils:
        survey.service_areas.extend((code, area) for area in demo_data.SERVICE_AREAS)

    # People: each council's officers carry the demo role titles; names repeat across councils, emails don't.
    people_by_council: dict[str, list[str]] = {}
    for code, _ in survey.councils:
        domain = "cambridge.gov.uk" if code == "CCC" else f"{code.lower()}.gov.uk"
        emails = []
        for name, email, titles in demo_data.PEOPLE:
            address = f"{email.split('@')[0]}@{domain}"
            survey.people.append({"name": name, "email": address, "role_titles": tuple(titles)})
            emails.append(address)
        people_by_council[code] = emails

    # Suppliers: the demo suppliers, then numbered variants (regional resellers and the long tail),
    # one supplier for about 50 systems. Demand is skewed: the first suppliers hold most systems.
    supplier_count = max(len(demo_data.SUPPLIERS), systems // 50)
    for i in range(supplier_count):
        base, products = demo_data.SUPPLIERS[i % len(demo_data.SUPPLIERS)]
        n = i // len(demo_data.SUPPLIERS) + 1
        survey.suppliers.append({"name": base if n == 1 else f"{base} {n}", "products": tuple(products)})
    by_base: dict[str, list[str]] = {}
    for i, supplier in enumerate(survey.suppliers):
        by_base.setdefault(demo_data.SUPPLIERS[i % len(demo_data.SUPPLIERS)][0], []).append(supplier["name"])

    def supplier_for(base: str | None) -> str:
        if base is None or rng.random() < 0.25:
            return rng.choice(survey.suppliers)["name"]
        names = by_base[base]
        # Pareto-ish: index drawn towards the start.
        return names[min(len(names) - 1, int(rng.paretovariate(1.2)) - 1)]

    # Systems, spread over councils; names unique per lead council through their variant number.
    codes = [c for c, _ in survey.councils]
    systems_by_council: dict[str, list[int]] = {c: [] for c in codes}
    counters: dict[tuple[str, str], int] = {}
    width = max(5, len(str(systems)))
    for index in range(systems):
        lead = codes[index % len(codes)]
        spec = rng.choice(SYSTEM_VOCABULARY)
        counters[(lead, spec["name"])] = counters.get((lead, spec["name"]), 0) + 1
        variant = counters[(lead, spec["name"])]
        personal = _weighted(rng, [(True, 0.62), (False, 0.30), (None, 0.08)])
        hosting = _weighted(
            rng, [("saas", 0.45), ("on_premises", 0.30), ("cloud", 0.15), ("hybrid", 0.07), (None, 0.03)]
        )
        integrations = _weighted(
            rng,
            [
                (("api",), 0.35),
                (("api", "bulk_csv"), 0.2),
                (("bulk_csv",), 0.2),
                (("middleware",), 0.05),
                (("none",), 0.1),
                ((), 0.1),
            ],
        )
        dpia = _weighted(
            rng,
            [
                ("completed", 0.4),
                ("in_progress", 0.15),
                ("not_started", 0.2),
                ("unknown", 0.2),
                ("not_required", 0.05),
            ],
        )
        owner = people_by_council[lead]
        area_names = tuple(
            dict.fromkeys(rng.sample(spec["areas"], rng.randint(1, min(3, len(spec["areas"])))))
        )
        others = [c for c in rng.sample(codes, min(3, len(codes))) if c != lead][
            : _weighted(rng, [(0, 0.8), (1, 0.15), (2, 0.05)])
        ]
        record = {
            "reference": f"SYS-{index + 1:0{width}d}",
            "name": f"{spec['name']} {variant}" if variant > 1 else spec["name"],
            "lead_council": lead,
            "councils": tuple(others),
            "service_areas": area_names,
            "description": spec["description"],
            "capabilities": spec["capabilities"],
            "supplier": supplier_for(spec["supplier"]) if spec["supplier"] or rng.random() < 0.3 else None,
            "product_family": None,
            "lifecycle_stage": _weighted(
                rng,
                [
                    ("live", 0.72),
                    ("under_review", 0.08),
                    ("decommissioning", 0.05),
                    ("planned", 0.04),
                    ("implementing", 0.03),
                    ("in_procurement", 0.02),
                    ("proposed", 0.02),
                    ("retired", 0.04),
                ],
            ),
            "rationalisation_decision": _weighted(
                rng, [("undecided", 0.6), ("retain", 0.25), ("upgrade", 0.08), ("decommission", 0.07)]
            ),
            "disposition": _weighted(
                rng, [(None, 0.6), ("tolerate", 0.15), ("invest", 0.1), ("migrate", 0.1), ("eliminate", 0.05)]
            ),
            "hosting": hosting,
            "cloud_feasibility": "already_cloud"
            if hosting in ("saas", "cloud")
            else _weighted(rng, [("unknown", 0.5), ("feasible", 0.3), ("not_feasible", 0.2)]),
            "holds_personal_data": personal,
            "personal_data_categories": tuple(rng.sample(PERSONAL_DATA, rng.randint(1, 3)))
            if personal
            else (),
            "special_category_data": bool(personal) and rng.random() < 0.2,
            "data_location": _weighted(rng, [(None, 0.5), ("UK", 0.4), ("EEA", 0.1)]),
            "dpia_status": dpia,
            "dpia_date": survey.today - timedelta(days=rng.randint(30, 1500))
            if dpia == "completed"
            else None,
            "ropa_status": _weighted(rng, [("completed", 0.5), ("not_started", 0.2), ("unknown", 0.3)]),
            "integration_capabilities": integrations,
            "business_criticality": _weighted(
                rng, [("critical", 0.1), ("high", 0.3), ("medium", 0.35), ("low", 0.15), (None, 0.1)]
            ),
            "risk_rag": _weighted(rng, [("red", 0.1), ("amber", 0.3), ("green", 0.45), (None, 0.15)]),
            "accessibility_level": _weighted(
                rng, [("not_assessed", 0.6), ("wcag22_aa", 0.1), ("wcag21_aa", 0.15), ("partial", 0.15)]
            ),
            "usage_status": _weighted(rng, [("in_use", 0.85), ("under_used", 0.1), ("not_in_use", 0.05)]),
            "resident_facing": rng.random() < 0.2,
            "procured_outside_ict": rng.random() < 0.08,
            "system_owner": rng.choice(owner) if rng.random() < 0.8 else None,
            "data_owner": rng.choice(owner) if personal and rng.random() < 0.6 else None,
        }
        systems_by_council[lead].append(index)
        survey.systems.append(record)

    # Contracts: each covers one to three systems of one lead council (a retired system only under a
    # contract that has ended: the domain refuses an active or pending contract over a retired system).
    live_by_council = {
        c: [i for i in ids if survey.systems[i]["lifecycle_stage"] != "retired"]
        for c, ids in systems_by_council.items()
    }
    refs: dict[str, int] = {}
    for index in range(contracts):
        lead = codes[index % len(codes)]
        refs[lead] = refs.get(lead, 0) + 1
        years = _weighted(rng, [(1, 0.3), (2, 0.2), (3, 0.3), (4, 0.1), (5, 0.1)])
        start = survey.today - timedelta(days=rng.randint(0, 6 * 365))
        initial_end = start + timedelta(days=365 * years - 1)
        current_end = initial_end
        renewal = _weighted(rng, [("tacit", 0.35), ("express", 0.45), ("none", 0.2)])
        extensions = rng.choice([0, 0, 0, 1, 2]) if renewal == "express" else 0
        while current_end < survey.today - timedelta(days=rng.randint(0, 400)) and renewal != "none":
            current_end += timedelta(days=365)  # renewed or extended since it started
        status = (
            _weighted(rng, [("expired", 0.7), ("terminated", 0.2), ("cancelled", 0.1)])
            if current_end < survey.today
            else _weighted(rng, [("active", 0.93), ("pending", 0.05), ("terminated", 0.02)])
        )
        pool = (live_by_council if status in ("active", "pending") else systems_by_council)[lead]
        pool = pool or [
            i for i in range(len(survey.systems)) if survey.systems[i]["lifecycle_stage"] != "retired"
        ]
        how_many = min(len(pool), _weighted(rng, [(1, 0.6), (2, 0.3), (3, 0.1)]))
        covered = [survey.systems[i] for i in rng.sample(pool, how_many)]
        first = covered[0]
        annual = _money(rng)
        supplier = first["supplier"] or supplier_for(None)
        owners = people_by_council[lead]
        title = rng.choice(CONTRACT_TITLES).format(system=first["name"], council=rng.choice(codes))
        survey.contracts.append(
            {
                "reference": f"{lead}-ICT-{refs[lead]:05d}",
                "title": title,
                "supplier": supplier,
                "systems": tuple(s["reference"] for s in covered),
                "proactis_reference": f"PRO-{rng.randint(10000, 99999)}" if rng.random() < 0.4 else None,
                "contract_type": _weighted(
                    rng,
                    [
                        ("saas_subscription", 0.4),
                        ("support_and_maintenance", 0.25),
                        ("software_licence", 0.15),
                        ("it_service", 0.1),
                        ("hardware", 0.05),
                        ("shared_service_agreement", 0.03),
                        ("iot_protech", 0.02),
                    ],
                ),
                "procurement_route": _weighted(
                    rng,
                    [
                        ("via_3c_ict", 0.4),
                        ("framework_call_off", 0.25),
                        ("council_procurement", 0.2),
                        ("direct_by_service_area", 0.1),
                        ("shared_service", 0.05),
                    ],
                ),
                "start_date": start,
                "initial_term_end": initial_end,
                "current_term_end": current_end,
                "renewal_type": renewal,
                "renewal_period_months": 12 if renewal == "tacit" else None,
                "extension_options_left": extensions,
                "notice_period_days": rng.choice([0, 30, 60, 90, 90, 180, 365]),
                "internal_lead_time_days": rng.choice([0, 14, 30, 30, 60, 90]),
                "annual_value": annual,
                "total_value": (annual * years).quantize(Decimal("0.01")) if rng.random() < 0.5 else None,
                "cost_centre": f"CC{rng.randint(1000, 9999)}" if rng.random() < 0.6 else None,
                "below_register_threshold": annual < 5000,
                "councils": tuple(dict.fromkeys((lead, *first["councils"]))),
                "status": status,
                "owner": rng.choice(owners) if rng.random() < 0.85 else None,
                "budget_holder": rng.choice(owners) if rng.random() < 0.7 else None,
                "signatory": rng.choice(owners) if rng.random() < 0.5 else None,
            }
        )
    return survey


# --- the survey file ---------------------------------------------------------------------------------

# Columns that name a referenced record: the domain field and the key this module stores it under.
REFERENCE_KEYS = {
    "service_area_ids": "service_areas",
    "supplier_id": "supplier",
    "system_owner_id": "system_owner",
    "data_owner_id": "data_owner",
    "system_ids": "systems",
    "owner_id": "owner",
    "budget_holder_id": "budget_holder",
    "signatory_id": "signatory",
}


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, tuple | list):
        return "; ".join(str(v) for v in value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def write_csv(survey: Survey, folder: Path) -> dict[str, Path]:
    """The survey as the register's CSV template lays it out (one file per kind, the template's headers,
    in its column order); the paths by kind."""
    from estate_register.application.survey import COLUMNS

    folder.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for kind, records in (("systems", survey.systems), ("contracts", survey.contracts)):
        columns = COLUMNS[kind]  # type: ignore[index]
        path = folder / f"{kind}.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow([c.header for c in columns])
            for record in records:
                writer.writerow([_cell(record.get(REFERENCE_KEYS.get(c.field, c.field))) for c in columns])
        paths[kind] = path
    return paths
