"""The TDA checklist is data: Appendix K's 26 items across 10 rules (verbatim) plus App M, RESTful API,
DPIA and the 13 TCoP points; reviewers rate items of the pinned version only, and the ratings add up to
per-rule and overall scores and a recommendation with readable reasons."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path

import pytest
from procurement_fakes import CHAIR, NOW, OMAR, TARA, a_request, uow

from estate_procurement.application import services
from estate_procurement.application.checklists import ChecklistCatalogue, parse_checklist
from estate_procurement.domain.errors import InvalidTransition, InvalidValue, NotFound
from estate_procurement.domain.review import ItemRating, recommend, score
from estate_procurement.domain.values import Outcome, PersonRef, Rating

V1 = ChecklistCatalogue.builtin().get("tda-review@1")
TP = PersonRef(id="t", name="Tara", email="t@x.gov.uk")
OP = PersonRef(id="o", name="Omar", email="o@x.gov.uk")


def rated(item_id, rating, who=TP):
    return ItemRating(item_id=item_id, reviewer=who, rating=Rating(rating), comment="c", rated_at=NOW)


def all_items(rating, who=TP, checklist=V1):
    return [rated(item.id, rating, who) for item in checklist.items()]


# --- the data ---------------------------------------------------------------------------------------


def test_appendix_k_has_26_items_across_10_rules_with_their_stable_ids():
    section = V1.section("appendix-k")

    assert [r.id for r in section.rules] == [f"R{n}" for n in range(1, 11)]
    assert [len(r.items) for r in section.rules] == [2, 2, 2, 3, 3, 3, 3, 3, 3, 2]
    ids = [i.id for r in section.rules for i in r.items]
    assert len(ids) == 26
    assert ids[0] == "R1.1" and ids[-1] == "R10.2"


def test_appendix_k_items_keep_the_verbatim_wording():
    assert V1.item("R1.1").text == (
        "All proposed solutions must align with the strategic objectives and priorities of the organisation, "
        "as well as aligning with the Target Operating Model (TOM)."
    )
    assert V1.item("R10.2").text.startswith("Continuously assess emerging technologies and industry trends")
    assert V1.item("R4.3").source == "S0:5105"


def test_supplementary_checks_cover_app_m_restful_apis_dpia_and_the_13_tcop_points():
    section = V1.section("supplementary")
    ids = {i.id for r in section.rules for i in r.items}

    assert {"DE1.1", "DE1.2", "DE1.3"} <= ids
    assert {f"API1.{n}" for n in range(1, 8)} <= ids
    assert {"REST1", "DPIA1"} <= ids
    tcop = [i for i in V1.items() if i.id.startswith("TCOP")]
    assert len(tcop) == 13
    assert tcop[0].text == "Define user needs"
    assert tcop[12].text == "Meet the Service Standard"


def test_red_lines_in_v1_are_the_dpia_check_and_full_data_extraction():
    assert {i.id for i in V1.items() if i.red_line} == {"DPIA1", "DE1.2"}
    assert (V1.threshold_approve, V1.threshold_conditional) == (Decimal("0.8"), Decimal("0.5"))


def test_the_catalogue_pins_versions_by_key_and_knows_the_current_one():
    catalogue = ChecklistCatalogue.builtin()

    assert catalogue.current.key == "tda-review@1"
    assert catalogue.keys() == ["tda-review@1"]
    with pytest.raises(NotFound, match="no checklist 'tda-review@9'"):
        catalogue.get("tda-review@9")


def test_a_new_version_in_a_directory_becomes_current_and_the_old_one_stays_loadable(tmp_path):
    source = Path(__file__).resolve().parents[2] / "src/estate_procurement/checklists/tda-review-v1.json"
    data = json.loads(source.read_text("utf-8"))
    newer = copy.deepcopy(data)
    newer["version"] = 2
    newer["threshold_approve"] = "0.9"
    (tmp_path / "v1.json").write_text(json.dumps(data))
    (tmp_path / "v2.json").write_text(json.dumps(newer))

    catalogue = ChecklistCatalogue.from_directory(tmp_path)

    assert catalogue.current.key == "tda-review@2"
    assert catalogue.get("tda-review@1").threshold_approve == Decimal("0.8")


def test_an_operator_can_keep_new_rounds_on_an_older_version_but_only_one_that_ships():
    shipped = ChecklistCatalogue.builtin(pinned="tda-review@1")
    assert shipped.current.key == "tda-review@1"
    with pytest.raises(
        InvalidValue, match=r"checklist version 'tda-review@7' is not shipped \(known: tda-review@1\)"
    ):
        ChecklistCatalogue.builtin(pinned="tda-review@7")


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (
            lambda d: d["sections"][0]["rules"][0]["items"].append({"id": "R1.1", "text": "again"}),
            "appears twice",
        ),
        (lambda d: d.update(threshold_conditional="0.9"), "conditional <= approve"),
        (lambda d: d["sections"][0]["rules"][0]["items"][0].update(weight="0"), "positive weight"),
        (lambda d: d["sections"][0]["rules"][0]["items"][0].update(text=""), "text must be non-blank"),
    ],
)
def test_bad_checklist_data_is_refused_saying_what_is_wrong(change, words):
    source = Path(__file__).resolve().parents[2] / "src/estate_procurement/checklists/tda-review-v1.json"
    data = json.loads(source.read_text("utf-8"))
    change(data)

    with pytest.raises(InvalidValue, match=words):
        parse_checklist(data)


def test_the_dpia_red_line_follows_the_seed_wording_and_cites_its_lines():
    dpia = V1.item("DPIA1")

    assert "Personally Identifiable Information (PII) is held" in dpia.text
    assert (
        "Understand if Data Protection Impact Assessments (DPIA) and Records of Processing Activities (RoPA) "
        "have been completed." in dpia.text
    )
    assert dpia.source == "S0:3055, S0:3060, S0:5561"
    assert dpia.red_line
    assert "DPIA and RoPA" in V1.notes


def checklist_data():
    source = Path(__file__).resolve().parents[2] / "src/estate_procurement/checklists/tda-review-v1.json"
    return json.loads(source.read_text("utf-8"))


@pytest.mark.parametrize(
    ("flag", "words"),
    [
        ("false", "red_line must be true or false (a JSON boolean, not 'false')"),
        ("true", "red_line must be true or false"),
        (0, "red_line must be true or false"),
        (None, "red_line must be true or false"),
    ],
)
def test_a_red_line_flag_that_is_not_a_json_boolean_is_refused_naming_the_item(flag, words):
    data = checklist_data()
    data["sections"][0]["rules"][0]["items"][1]["red_line"] = flag

    with pytest.raises(InvalidValue) as refused:
        parse_checklist(data)

    assert refused.value.detail.startswith("tda-review@1 item R1.2 ")
    assert words in refused.value.detail


@pytest.mark.parametrize(
    ("weight", "words"),
    [
        ("NaN", "weight must be a finite number, not 'NaN'"),
        ("Infinity", "weight must be a finite number"),
        (float("inf"), "weight must be a finite number"),
        ("-1", "needs a positive weight"),
        (True, "weight must be a number"),
    ],
)
def test_a_weight_that_is_not_a_finite_positive_number_is_refused_naming_the_item(weight, words):
    data = checklist_data()
    data["sections"][0]["rules"][0]["items"][0]["weight"] = weight

    with pytest.raises(InvalidValue) as refused:
        parse_checklist(data)

    assert refused.value.detail.startswith("tda-review@1 item R1.1 ")
    assert words in refused.value.detail


def test_a_threshold_that_is_not_a_finite_number_is_refused():
    data = checklist_data()
    data["threshold_approve"] = "NaN"

    with pytest.raises(InvalidValue, match="threshold_approve must be a finite number"):
        parse_checklist(data)


# --- scoring ----------------------------------------------------------------------------------------


def test_scores_average_reviewers_and_leave_not_applicable_out():
    ratings = [
        rated("R1.1", "met", TP),
        rated("R1.1", "partly_met", OP),  # item R1.1: (1 + 0.5) / 2 = 0.75
        rated("R1.2", "not_met", TP),  # item R1.2: 0
        rated("R2.1", "not_applicable", TP),  # no score
    ]

    scores = score(V1, ratings)

    rule1 = next(r for r in scores.rules if r.rule_id == "R1")
    rule2 = next(r for r in scores.rules if r.rule_id == "R2")
    assert rule1.score == Decimal("0.375")
    assert (rule2.score, rule2.items_rated, rule2.items) == (None, 1, 2)
    assert scores.overall == Decimal("0.375")
    assert (scores.items_rated, scores.items) == (3, 51)
    assert scores.coverage == Decimal("0.059")
    assert scores.reviewers == ("Omar", "Tara")


def test_weights_count_in_the_overall_score():
    # R1.1 met (weight 1) and TCOP1 not met (weight 0.5): (1*1 + 0*0.5) / 1.5
    scores = score(V1, [rated("R1.1", "met"), rated("TCOP1", "not_met")])

    assert scores.overall == Decimal("0.667")


def test_every_item_met_recommends_approval():
    advice = recommend(V1, all_items("met"))

    assert advice.outcome is Outcome.APPROVED
    assert advice.reasons[0] == "overall score 1.000 reaches the approval threshold 0.8"
    assert advice.reasons[-1] == "51 of 51 items rated (100%)"


def test_a_high_score_with_a_not_met_item_recommends_conditional_approval_naming_the_item():
    ratings = [*all_items("met"), rated("R8.3", "not_met", OP)]

    advice = recommend(V1, ratings)

    assert advice.outcome is Outcome.APPROVED_WITH_CONDITIONS
    assert "items are not met: R8.3" in advice.reasons[0]


def test_a_middling_score_recommends_conditional_approval_and_a_low_one_non_approval():
    assert recommend(V1, all_items("partly_met")).outcome is Outcome.APPROVED_WITH_CONDITIONS
    low = recommend(V1, [rated("R1.1", "partly_met"), rated("R1.2", "not_met")])
    assert low.outcome is Outcome.NOT_APPROVED
    assert "overall score 0.250 is below the conditional threshold 0.5" in low.reasons
    assert "weak rule R1 Alignment with Organisational Goals: score 0.250" in low.reasons


def test_a_red_line_not_met_by_any_reviewer_means_non_approval_whatever_the_score():
    ratings = [*all_items("met", TP), rated("DPIA1", "not_met", OP)]

    advice = recommend(V1, ratings)

    assert advice.outcome is Outcome.NOT_APPROVED
    assert advice.reasons[0].startswith("red line DPIA1 not met (rated not_met by Omar)")
    assert advice.scores.overall is not None and advice.scores.overall > Decimal("0.9")


def test_with_no_ratings_nothing_is_recommended_but_non_approval_with_the_reason():
    advice = recommend(V1, [])

    assert advice.outcome is Outcome.NOT_APPROVED
    assert not advice.complete
    assert advice.reasons[0].startswith("not yet: 28 of 28 required items are not rated yet")
    assert advice.reasons[1] == "no item has a score yet: rate the checklist before deciding"
    assert advice.scores.overall is None


def test_one_rated_item_is_not_yet_a_recommendation_and_says_how_many_required_items_are_unrated():
    advice = recommend(V1, [rated("R1.1", "met")])

    assert not advice.complete
    assert advice.reasons[0].startswith(
        "not yet: 27 of 28 required items are not rated yet (every Appendix K item and every red line): "
        "R1.2, R2.1,"
    )
    assert advice.outcome is Outcome.APPROVED  # what the one rating points to, no more
    assert len(advice.unrated) == 27
    assert {"DE1.2", "DPIA1", "R10.2"} <= set(advice.unrated)


def test_the_recommendation_is_complete_once_every_appendix_k_item_and_red_line_is_rated():
    appendix_k = [i.id for r in V1.section("appendix-k").rules for i in r.items]
    required = [rated(i, "met") for i in appendix_k] + [
        rated("DE1.2", "met"),
        rated("DPIA1", "not_applicable"),
    ]

    complete = recommend(V1, required)
    without_a_red_line = recommend(V1, required[:-1])
    without_an_appendix_k_item = recommend(V1, required[1:])

    assert complete.complete and complete.unrated == ()
    assert not any(r.startswith("not yet") for r in complete.reasons)
    assert complete.outcome is Outcome.APPROVED  # the TCoP and App M API items may stay unrated
    assert (without_a_red_line.complete, without_a_red_line.unrated) == (False, ("DPIA1",))
    assert without_a_red_line.reasons[0].startswith("not yet: 1 of 28 required items are not rated yet")
    assert (without_an_appendix_k_item.complete, without_an_appendix_k_item.unrated) == (False, ("R1.1",))


# --- rating through the use case ----------------------------------------------------------------------


async def test_rating_an_item_not_in_the_pinned_version_is_refused_naming_item_and_version(store):
    request_id = await a_request(store, "under_review")

    async with uow(store) as u:
        with pytest.raises(InvalidValue) as refused:
            await services.rate_item(u, request_id=request_id, actor=TARA, item_id="R11.1", rating="met")

    assert refused.value.detail == "checklist tda-review@1 has no item 'R11.1'"
    assert refused.value.field == "item_id"


async def test_partly_met_and_not_met_need_a_comment_and_evidence_must_be_a_web_link(store):
    request_id = await a_request(store, "under_review")

    async with uow(store) as u:
        with pytest.raises(InvalidValue, match=r"say why R2\.1 is partly_met"):
            await services.rate_item(
                u, request_id=request_id, actor=TARA, item_id="R2.1", rating="partly_met"
            )
        with pytest.raises(InvalidValue, match="http or https") as refused:
            await services.rate_item(
                u,
                request_id=request_id,
                actor=TARA,
                item_id="R2.1",
                rating="met",
                evidence_url="file:///c/x.docx",
            )
        with pytest.raises(InvalidValue, match="must be one of"):
            await services.rate_item(u, request_id=request_id, actor=TARA, item_id="R2.1", rating="excellent")
    assert refused.value.field == "evidence_url"


async def test_re_rating_replaces_only_that_reviewers_rating_of_the_item(store):
    request_id = await a_request(store, "under_review")

    async with uow(store) as u:
        await services.rate_item(
            u, request_id=request_id, actor=TARA, item_id="R5.1", rating="not_met", comment="No CBA"
        )
        await services.rate_item(u, request_id=request_id, actor=OMAR, item_id="R5.1", rating="met")
        await services.rate_item(
            u,
            request_id=request_id,
            actor=TARA,
            item_id="R5.1",
            rating="met",
            evidence_url="https://sharepoint.example/cba.xlsx",
        )
        current = await services.scores(u, request_id=request_id)
        advice = await services.recommendation(u, request_id=request_id)

    ratings = store.requests[request_id].current_round.ratings
    assert sorted((r.reviewer.name, r.rating.value) for r in ratings) == [
        ("Omar Member", "met"),
        ("Tara Member", "met"),
    ]
    assert current.overall == Decimal("1.000")
    assert advice.outcome is Outcome.APPROVED


async def test_a_request_not_yet_reviewed_has_no_scores(store):
    request_id = await a_request(store, "submitted")

    async with uow(store) as u:
        with pytest.raises(InvalidTransition, match="has not been reviewed yet"):
            await services.scores(u, request_id=request_id)
        checklist = await services.checklist_for(u, request_id=request_id)

    assert checklist.key == "tda-review@1"


async def test_scores_of_an_earlier_round_stay_available_after_reopening(store):
    request_id = await a_request(store, "decided")
    async with uow(store) as u:
        await services.reopen(u, request_id=request_id, actor=CHAIR, reason="New evidence")

    async with uow(store) as u:
        first = await services.scores(u, request_id=request_id, round_number=1)
        current = await services.scores(u, request_id=request_id)
        with pytest.raises(NotFound, match="no review round 7"):
            await services.scores(u, request_id=request_id, round_number=7)

    assert (first.overall, first.coverage) == (Decimal("1.000"), Decimal("1.000"))
    assert (current.overall, current.items_rated) == (None, 0)


@pytest.mark.parametrize(
    ("link", "words"),
    [
        ('https://x.example/"><script>alert(1)</script>', "quotes, backslashes or angle brackets"),
        ("https://x.example/a b", "spaces"),
        ("https://x.example/\x07", "control characters"),
        ("https://evil.example@intranet/", "user name or password"),
        ("https://user:secret@sharepoint.example/x", "user name or password"),
        ("http://localhost", "not a bare name like localhost"),
        ("http://intranet/evidence", "full host"),
        ("javascript:alert(1)//x.example", "http:// or https://"),
        ("ftp://files.example/x", "http:// or https://"),
        ("https://x.example:99999/", "cannot be read as a web address"),
        ("https://x.example/" + "a" * 2000, "at most 2000 characters"),
    ],
)
async def test_an_evidence_link_must_be_a_plain_web_link_to_a_named_host(store, link, words):
    request_id = await a_request(store, "under_review")

    async with uow(store) as u:
        with pytest.raises(InvalidValue) as refused:
            await services.rate_item(
                u, request_id=request_id, actor=TARA, item_id="R2.1", rating="met", evidence_url=link
            )

    assert refused.value.field == "evidence_url"
    assert words in refused.value.detail
    assert store.requests[request_id].current_round.ratings == []


@pytest.mark.parametrize(
    "link",
    [
        "https://sharepoint.example/cba.xlsx",
        "HTTPS://Intranet.Cambridge.gov.uk:8443/tda/evidence?id=7#page=2",
        "http://10.1.2.3/report.pdf",
    ],
)
async def test_an_ordinary_evidence_link_is_kept_as_given(store, link):
    request_id = await a_request(store, "under_review")

    async with uow(store) as u:
        given = await services.rate_item(
            u, request_id=request_id, actor=TARA, item_id="R2.1", rating="met", evidence_url=f" {link} "
        )

    assert given.evidence_url == link
