"""Duplicate and re-use detection on a small Cambridge estate: which candidates a requester is shown, in
which order, and the reasons they read."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from procurement_fakes import STREET_APP, catalogue_system

from estate_procurement.domain.similarity import (
    Candidate,
    ReuseQuery,
    SimilarityIndex,
    stem,
    trigrams,
)

ALLOY = catalogue_system(
    1,
    "Alloy",
    supplier="Yotta",
    product_family="Alloy",
    description="Asset management for highways, trees, parks and street furniture: inspections and works.",
    capabilities=("asset management", "inspections", "works orders"),
    service_areas=("Streets and Open Spaces",),
)
UNIFORM = catalogue_system(
    2,
    "Uniform",
    supplier="Idox",
    description="Planning applications, building control and land charges casework.",
    capabilities=("planning applications", "building control", "land charges"),
    service_areas=("Greater Cambridge Shared Planning", "Building Control"),
)
TASCOMI = catalogue_system(
    3,
    "Tascomi",
    supplier="Idox",
    description="Regulatory services: licensing, planning enforcement and environmental health cases.",
    capabilities=("licensing", "case management", "inspections"),
    service_areas=("Environmental Health",),
)
PARIS = catalogue_system(
    4,
    "Civica Paris",
    supplier="Civica",
    product_family="Paris",
    description="Income management: card payments online and by telephone.",
    capabilities=("payments", "income management"),
    service_areas=("Finance",),
)
ORCHARD = catalogue_system(
    5,
    "Orchard",
    supplier="MRI Software",
    product_family="MRI housing suite",
    description="Housing management: tenancies, rents and repairs for City Homes.",
    capabilities=("housing management", "rent accounting", "tenancy management"),
    service_areas=("Housing Services (City Homes)",),
)
NORTHGATE = catalogue_system(
    6,
    "Northgate Revenues and Benefits",
    supplier="NEC",
    description="Council tax, business rates and housing benefit assessment and billing.",
    capabilities=("council tax", "business rates", "housing benefit"),
    service_areas=("Local Taxation",),
)
CONFIRM = catalogue_system(
    7,
    "Confirm",
    supplier="Brightly",
    description="The old highways asset management system.",
    capabilities=("asset management",),
    service_areas=("Streets and Open Spaces",),
    lifecycle_stage="retired",
)
ROUNDS = catalogue_system(
    8,
    "Whitespace Waste Rounds",
    supplier="Whitespace",
    description="Waste collection round planning and in-cab crew devices.",
    capabilities=("waste rounds", "in-cab devices"),
    service_areas=("Greater Cambridge Shared Waste",),
    lifecycle_stage="planned",
)
ESTATE = (ALLOY, UNIFORM, TASCOMI, PARIS, ORCHARD, NORTHGATE, CONFIRM, ROUNDS)


@pytest.fixture
def index() -> SimilarityIndex:
    index = SimilarityIndex()
    for s in ESTATE:
        index.upsert_system(s)
    return index


def names(candidates: list[Candidate]) -> list[str]:
    return [c.name for c in candidates]


def reasons_of(candidates: list[Candidate], name: str) -> tuple[str, ...]:
    return next(c.reasons for c in candidates if c.name == name)


def test_a_capability_in_the_same_service_area_is_covered_by_the_live_system(index: SimilarityIndex) -> None:
    found = index.search(
        ReuseQuery(
            title="Street asset management app",
            capabilities=("Asset management",),
            service_area="Streets and Open Spaces",
        )
    )

    assert names(found)[0] == "Alloy"
    assert found[0].kind == "system"
    assert found[0].reasons[0] == "Alloy already covers asset management for Streets and Open Spaces"
    assert 0.5 < found[0].score <= 1.0


def test_the_description_reason_does_not_repeat_words_the_capability_reason_shows(
    index: SimilarityIndex,
) -> None:
    found = index.search(
        ReuseQuery(
            title="Street asset inspection app",
            text="Inspectors in streets and open spaces record asset defects",
            capabilities=("asset management",),
            service_area="Streets and Open Spaces",
        )
    )

    alloy = reasons_of(found, "Alloy")
    assert alloy[0] == "Alloy already covers asset management for Streets and Open Spaces"
    repeated = {"asset", "street", "open", "space", "management"}
    for reason in alloy[1:]:
        if reason.startswith("similar description: both mention "):
            mentioned = set(
                reason.removeprefix("similar description: both mention ").replace(" and ", ", ").split(", ")
            )
            assert not mentioned & repeated, reason


def test_a_capability_named_only_in_the_title_still_explains_the_match(index: SimilarityIndex) -> None:
    found = index.search(ReuseQuery(title="Street asset management app"))

    assert names(found)[0] == "Alloy"
    assert "Alloy already covers asset management for Streets and Open Spaces" in found[0].reasons


def test_retired_systems_are_never_offered_and_planned_ones_say_so(index: SimilarityIndex) -> None:
    found = index.search(ReuseQuery(title="Highways asset management", capabilities=("asset management",)))
    assert "Confirm" not in names(found)

    rounds = index.search(ReuseQuery(title="Bin round planning", capabilities=("waste rounds",)))
    assert names(rounds) == ["Whitespace Waste Rounds"]
    assert rounds[0].reasons[0] == (
        "Whitespace Waste Rounds (planned, not live yet) will cover waste rounds "
        "for Greater Cambridge Shared Waste"
    )


def test_a_system_moving_to_a_retired_stage_leaves_the_index(index: SimilarityIndex) -> None:
    before = len(index)
    index.upsert_system(replace(ALLOY, lifecycle_stage="decommissioning"))

    assert len(index) == before - 1
    assert "Alloy" not in names(index.search(ReuseQuery(title="Asset management", product="Alloy")))


def test_a_misspelt_product_finds_the_system(index: SimilarityIndex) -> None:
    found = index.search(ReuseQuery(title="Aloy licences for parks", product="Aloy"))

    assert names(found)[0] == "Alloy"
    assert found[0].reasons[0] == "similar product name: 'Aloy' and 'Alloy'"


def test_a_product_that_is_part_of_a_name_matches(index: SimilarityIndex) -> None:
    found = index.search(ReuseQuery(title="Paris upgrade", product="Paris", supplier="Civica"))

    assert names(found)[0] == "Civica Paris"
    assert found[0].reasons[:2] == (
        "same product (Paris) as Civica Paris",
        "same supplier (Civica) as Civica Paris",
    )


def test_a_similar_name_is_reported_with_the_name(index: SimilarityIndex) -> None:
    found = index.search(ReuseQuery(title="Paris card payments"))

    assert names(found)[0] == "Civica Paris"
    assert "similar name to 'Civica Paris'" in found[0].reasons
    assert "Civica Paris already covers payments for Finance" in found[0].reasons


def test_the_same_supplier_names_both_systems_of_that_supplier(index: SimilarityIndex) -> None:
    found = index.search(ReuseQuery(title="Planning enforcement casework", supplier="Idox"))

    assert set(names(found)[:2]) == {"Uniform", "Tascomi"}
    assert "same supplier (Idox) as Uniform" in reasons_of(found, "Uniform")
    assert "same supplier (Idox) as Tascomi" in reasons_of(found, "Tascomi")


def test_description_words_are_compared_stemmed_and_named(index: SimilarityIndex) -> None:
    found = index.search(ReuseQuery(title="Tenancy and rent system", text="Manage tenancies and rents"))

    assert names(found)[0] == "Orchard"
    assert any(r.startswith("similar description: both mention") for r in found[0].reasons)


def test_unrelated_requests_find_nothing(index: SimilarityIndex) -> None:
    assert index.search(ReuseQuery(title="Zoo ticketing kiosk")) == []


def test_past_decisions_are_ranked_with_their_outcome(index: SimilarityIndex) -> None:
    index.upsert_decision(STREET_APP)

    found = index.search(
        ReuseQuery(
            title="Street asset inspection app",
            capabilities=("asset management",),
            service_area="Streets and Open Spaces",
        )
    )

    decision = next(c for c in found if c.kind == "decision")
    assert decision.id == STREET_APP.request_id
    assert decision.reference == "TR-2026-0007"
    assert (
        decision.reasons[0]
        == "TR-2026-0007 'Street asset app' was not approved on 3 March 2026: re-use Alloy"
    )
    assert "it asked for asset management too" in decision.reasons
    assert {"Alloy", "Street asset app"} <= set(names(found))


def test_a_decision_late_in_a_summer_evening_is_dated_by_its_london_day(index: SimilarityIndex) -> None:
    # 23:30 UTC on 30 June is 00:30 BST on 1 July in Cambridge.
    index.upsert_decision(replace(STREET_APP, decided_at=datetime(2026, 6, 30, 23, 30, tzinfo=UTC)))

    found = index.search(ReuseQuery(title="Street asset app", capabilities=("asset management",)))

    decision = next(c for c in found if c.kind == "decision")
    assert (
        decision.reasons[0] == "TR-2026-0007 'Street asset app' was not approved on 1 July 2026: re-use Alloy"
    )


def test_a_request_is_not_its_own_duplicate(index: SimilarityIndex) -> None:
    index.upsert_decision(STREET_APP)

    found = index.search(
        ReuseQuery(
            title="Street asset app",
            capabilities=("asset management",),
            exclude_request_id=STREET_APP.request_id,
        )
    )

    assert all(c.kind == "system" for c in found)


def test_a_later_decision_replaces_the_earlier_one(index: SimilarityIndex) -> None:
    index.upsert_decision(STREET_APP)
    index.upsert_decision(replace(STREET_APP, outcome="approved", rationale=""))

    found = index.search(ReuseQuery(title="Street asset app"))

    assert index.decision_count == 1
    assert next(c for c in found if c.kind == "decision").reasons[0] == (
        "TR-2026-0007 'Street asset app' was approved on 3 March 2026"
    )


def test_order_is_by_score_then_name_and_repeatable() -> None:
    index = SimilarityIndex()
    twins = [
        catalogue_system(10 + i, n, capabilities=("parking permits",), service_areas=("Commercial Services",))
        for i, n in enumerate("CBA")
    ]
    for s in twins:
        index.upsert_system(s)

    found = index.search(ReuseQuery(title="Permits", capabilities=("parking permits",)))

    assert names(found) == ["A", "B", "C"]
    assert [c.score for c in found] == sorted((c.score for c in found), reverse=True)
    assert index.search(ReuseQuery(title="Permits", capabilities=("parking permits",))) == found


def test_limit_and_removal(index: SimilarityIndex) -> None:
    query = ReuseQuery(title="Inspections", capabilities=("inspections",))
    assert len(index.search(query, limit=1)) == 1
    assert index.search(query, limit=0) == []

    assert index.remove_system(TASCOMI.id)
    assert not index.remove_system(TASCOMI.id)
    assert names(index.search(query)) == ["Alloy"]


def test_upserting_again_replaces_what_was_indexed(index: SimilarityIndex) -> None:
    index.upsert_system(replace(TASCOMI, capabilities=("pest control",)))

    assert len(index) == 7
    assert names(index.search(ReuseQuery(title="Inspections", capabilities=("inspections",)))) == ["Alloy"]
    assert names(index.search(ReuseQuery(title="Pest control", capabilities=("pest control",)))) == [
        "Tascomi"
    ]


def test_stemming_and_trigrams() -> None:
    assert stem("payments") == stem("payment") == "payment"
    assert stem("services") == stem("service")
    assert stem("licensing") == stem("licensed")
    assert len(trigrams("Alloy") & trigrams("Aloy")) == 4
