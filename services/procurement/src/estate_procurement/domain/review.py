"""The TDA's review of a request: ratings, scores, the recommendation, decisions and their conditions.

Scoring (per review round, against the round's pinned checklist version):

* a rating counts met = 1, partly_met = 0.5, not_met = 0; not_applicable is left out;
* an item's score is the mean of its reviewers' counted ratings (an item only rated n/a has no score);
* a rule's score, and the overall score, are the weighted means of their items' scores;
* coverage is the share of the checklist's items that at least one reviewer has rated (n/a included).

Recommendation: a red-line item rated not_met by any reviewer -> not_approved (naming the items); else an
overall score >= threshold_approve with no not_met rating anywhere -> approved; else >= threshold_conditional
-> approved_with_conditions; else not_approved. The recommendation is *complete* only when every item the
checklist requires (every Appendix K item and every red line: :meth:`Checklist.must_rate`) has at least one
rating; until then it says "not yet" (``complete`` is False, its first reason counts the items still
unrated) and ``outcome`` is only what the ratings so far point to.

The chair may decide otherwise than recommended, and the decision records both; but an approval needs every
red-line item rated, and approving against a red line rated not_met needs an explicit override (recorded on
the decision as ``overrode_red_lines``) besides the rationale. A non-approval needs no ratings.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from estate_procurement.domain.checklist import Checklist
from estate_procurement.domain.values import (
    ConditionStatus,
    Hosting,
    Outcome,
    PersonRef,
    Rating,
)

_POINTS = {Rating.MET: Fraction(1), Rating.PARTLY_MET: Fraction(1, 2), Rating.NOT_MET: Fraction(0)}


def _shown(value: Fraction | None) -> Decimal | None:
    """A score as people read it: three decimal places."""
    if value is None:
        return None
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(
        Decimal("0.001"), rounding=ROUND_HALF_UP
    )


@dataclass(frozen=True, kw_only=True)
class ItemRating:
    """One reviewer's rating of one item; a comment is required for partly_met and not_met."""

    item_id: str
    reviewer: PersonRef
    rating: Rating
    comment: str | None = None
    evidence_url: str | None = None
    rated_at: datetime


@dataclass(kw_only=True)
class ReviewRound:
    """One pass of the TDA over a request, from review start (or reopening) to a decision.

    Ratings can change until the round is decided; the decision, once set, is never replaced.
    """

    number: int
    checklist_version: str
    started_at: datetime
    started_by: PersonRef
    ratings: list[ItemRating] = field(default_factory=list)
    decision: Decision | None = None

    def rate(self, rating: ItemRating) -> ItemRating | None:
        """Keep ``rating``, replacing the same reviewer's earlier rating of the item; return the earlier."""
        earlier = None
        kept: list[ItemRating] = []
        for existing in self.ratings:
            if existing.item_id == rating.item_id and existing.reviewer.id == rating.reviewer.id:
                earlier = existing
            else:
                kept.append(existing)
        kept.append(rating)
        self.ratings = kept
        return earlier


# --- scores -----------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ItemScore:
    item_id: str
    score: Decimal | None
    ratings: int
    not_met_by: tuple[str, ...]
    red_line: bool


@dataclass(frozen=True, kw_only=True)
class RuleScore:
    rule_id: str
    title: str
    score: Decimal | None
    items_rated: int
    items: int


@dataclass(frozen=True, kw_only=True)
class Scores:
    """What the ratings of one round add up to; ``overall`` is None until some item has a score."""

    checklist_version: str
    overall: Decimal | None
    coverage: Decimal
    items_rated: int
    items: int
    reviewers: tuple[str, ...]
    rules: tuple[RuleScore, ...]
    item_scores: tuple[ItemScore, ...]
    exact_overall: Fraction | None = field(default=None, repr=False, compare=False)


def _weighted(pairs: Iterable[tuple[Fraction, Fraction]]) -> Fraction | None:
    total_weight = Fraction(0)
    total = Fraction(0)
    for score, weight in pairs:
        total += score * weight
        total_weight += weight
    return total / total_weight if total_weight else None


def score(checklist: Checklist, ratings: Sequence[ItemRating]) -> Scores:
    """Aggregate ratings per item, per rule and overall (see the module's rules)."""
    by_item: dict[str, list[ItemRating]] = defaultdict(list)
    for rating in ratings:
        by_item[rating.item_id].append(rating)
    item_scores: list[ItemScore] = []
    exact: dict[str, Fraction | None] = {}
    for item in checklist.items():
        given = by_item.get(item.id, [])
        counted = [_POINTS[r.rating] for r in given if r.rating in _POINTS]
        value = sum(counted, Fraction(0)) / len(counted) if counted else None
        exact[item.id] = value
        item_scores.append(
            ItemScore(
                item_id=item.id,
                score=_shown(value),
                ratings=len(given),
                not_met_by=tuple(r.reviewer.name for r in given if r.rating is Rating.NOT_MET),
                red_line=item.red_line,
            )
        )
    rules: list[RuleScore] = []
    for rule in checklist.rules():
        pairs = [
            (value, Fraction(item.weight)) for item in rule.items if (value := exact[item.id]) is not None
        ]
        rules.append(
            RuleScore(
                rule_id=rule.id,
                title=rule.title,
                score=_shown(_weighted(pairs)),
                items_rated=sum(1 for item in rule.items if by_item.get(item.id)),
                items=len(rule.items),
            )
        )
    every = list(checklist.items())
    overall = _weighted(
        (value, Fraction(item.weight)) for item in every if (value := exact[item.id]) is not None
    )
    rated = sum(1 for item in every if by_item.get(item.id))
    return Scores(
        checklist_version=checklist.key,
        overall=_shown(overall),
        coverage=_shown(Fraction(rated, len(every))) or Decimal(0),
        items_rated=rated,
        items=len(every),
        reviewers=tuple(sorted({r.reviewer.name for r in ratings})),
        rules=tuple(rules),
        item_scores=tuple(item_scores),
        exact_overall=overall,
    )


@dataclass(frozen=True, kw_only=True)
class Recommendation:
    """What the scores suggest, with reasons a person can read; the chair may decide otherwise.

    ``complete`` is False while an item the checklist requires (``unrated``) has no rating: the
    recommendation is then "not yet", and ``outcome`` says only what the ratings so far point to."""

    outcome: Outcome
    reasons: tuple[str, ...]
    scores: Scores
    complete: bool
    unrated: tuple[str, ...] = ()


_LISTED = 10
"""How many unrated item ids a reason names before it says "and N more"."""


def _some(ids: Sequence[str]) -> str:
    shown = ", ".join(ids[:_LISTED])
    return f"{shown} and {len(ids) - _LISTED} more" if len(ids) > _LISTED else shown


def unrated_items(
    checklist: Checklist, ratings: Sequence[ItemRating], *, red_lines_only: bool = False
) -> list[str]:
    """The ids of the items the checklist requires (or only its red lines) that nobody has rated yet."""
    rated = {r.item_id for r in ratings}
    required = checklist.red_lines() if red_lines_only else checklist.must_rate()
    return [item.id for item in required if item.id not in rated]


def recommend(checklist: Checklist, ratings: Sequence[ItemRating]) -> Recommendation:
    """Apply the red-line rule, then the thresholds of the checklist (see the module's rules); say "not
    yet" while a required item is unrated."""
    scores = score(checklist, ratings)
    unrated = unrated_items(checklist, ratings)
    required = len(checklist.must_rate())
    pending: tuple[str, ...] = (
        (
            f"not yet: {len(unrated)} of {required} required items are not rated yet "
            f"(every Appendix K item and every red line): {_some(unrated)}",
        )
        if unrated
        else ()
    )

    def advice(outcome: Outcome, reasons: Sequence[str]) -> Recommendation:
        return Recommendation(
            outcome=outcome,
            reasons=(*pending, *reasons),
            scores=scores,
            complete=not unrated,
            unrated=tuple(unrated),
        )

    coverage = f"{scores.items_rated} of {scores.items} items rated ({scores.coverage:.0%})"
    red = [s for s in scores.item_scores if s.red_line and s.not_met_by]
    if red:
        reasons = [
            f"red line {s.item_id} not met (rated not_met by {', '.join(s.not_met_by)}): "
            f"{checklist.item(s.item_id).text}"
            for s in red
        ]
        return advice(Outcome.NOT_APPROVED, (*reasons, coverage))
    if scores.exact_overall is None:
        return advice(
            Outcome.NOT_APPROVED, ("no item has a score yet: rate the checklist before deciding", coverage)
        )
    not_met = [s.item_id for s in scores.item_scores if s.not_met_by]
    overall = f"overall score {scores.overall}"
    approve = Fraction(checklist.threshold_approve)
    conditional = Fraction(checklist.threshold_conditional)
    if scores.exact_overall >= approve and not not_met:
        reasons = [f"{overall} reaches the approval threshold {checklist.threshold_approve}"]
        outcome = Outcome.APPROVED
    elif scores.exact_overall >= conditional:
        reasons = [
            f"{overall} reaches the conditional threshold {checklist.threshold_conditional}"
            + (
                f" but items are not met: {', '.join(not_met)}"
                if not_met
                else f" but not the approval threshold {checklist.threshold_approve}"
            )
        ]
        outcome = Outcome.APPROVED_WITH_CONDITIONS
    else:
        reasons = [f"{overall} is below the conditional threshold {checklist.threshold_conditional}"]
        outcome = Outcome.NOT_APPROVED
    weakest = [r for r in scores.rules if r.score is not None and r.score < Decimal("0.5")]
    reasons.extend(f"weak rule {r.rule_id} {r.title}: score {r.score}" for r in weakest)
    reasons.append(coverage)
    return advice(outcome, reasons)


def red_lines_not_met(checklist: Checklist, ratings: Sequence[ItemRating]) -> list[str]:
    """The red-line items some reviewer rated not_met, in checklist order."""
    refused = {r.item_id for r in ratings if r.rating is Rating.NOT_MET}
    return [item.id for item in checklist.red_lines() if item.id in refused]


# --- decisions and conditions -------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ConditionInput:
    """A condition as the chair states it: a due date, or a number of working days from the decision."""

    text: str
    owner: PersonRef | None
    due_date: date | None = None
    due_in_working_days: int | None = None


@dataclass(frozen=True, kw_only=True)
class Condition:
    """A condition of a conditional approval as recorded: it never changes (meeting it is recorded
    separately, so that the decision stays exactly as it was taken)."""

    id: uuid.UUID
    text: str
    owner: PersonRef
    due_date: date


@dataclass(frozen=True, kw_only=True)
class ConditionMet:
    condition_id: uuid.UUID
    evidence: str
    met_by: PersonRef
    met_at: datetime


@dataclass(frozen=True, kw_only=True)
class ConditionView:
    """A condition with its progress as of a day: overdue means still open after its due date."""

    id: uuid.UUID
    text: str
    owner: PersonRef
    due_date: date
    status: ConditionStatus
    met: ConditionMet | None
    overdue: bool


@dataclass(frozen=True, kw_only=True)
class ProposedSystemPlan:
    """The system an approval lets the council acquire, as the register should record it."""

    name: str
    description: str
    service_areas: tuple[str, ...]
    capabilities: tuple[str, ...]
    supplier_name: str
    supplier_id: uuid.UUID | None
    product_family: str | None
    hosting: Hosting
    holds_personal_data: bool
    councils_in_scope: tuple[str, ...]
    estimated_annual_value: Decimal
    estimated_initial_cost: Decimal
    expected_start_date: date | None
    term_months: int | None
    linked_contract_id: uuid.UUID | None
    system_owner: PersonRef | None = None
    contract_owner: PersonRef | None = None
    budget_holder: PersonRef | None = None
    signatory: PersonRef | None = None


@dataclass(frozen=True, kw_only=True)
class Decision:
    """A TDA decision as recorded: immutable. Reopening a request starts a new round whose decision is
    appended after this one; nothing ever edits or removes a recorded decision.

    Invariants: a non-empty rationale; conditions exactly when approved_with_conditions; a proposed
    system exactly when approved (with or without conditions); an approval only with every red line
    rated, and ``overrode_red_lines`` naming the red lines rated not_met that the chair approved against
    (empty otherwise).
    """

    round: int
    outcome: Outcome
    rationale: str
    decided_by: PersonRef
    decided_at: datetime
    recommended_outcome: Outcome
    recommendation_reasons: tuple[str, ...]
    overall_score: Decimal | None
    coverage: Decimal
    checklist_version: str
    conditions: tuple[Condition, ...] = ()
    proposed_system: ProposedSystemPlan | None = None
    overrode_red_lines: tuple[str, ...] = ()

    @property
    def differs_from_recommendation(self) -> bool:
        return self.outcome is not self.recommended_outcome
