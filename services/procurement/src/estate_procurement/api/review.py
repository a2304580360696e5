"""The TDA's review over HTTP: the versioned checklists, each reviewer's ratings, the scores and the
recommendation they add up to, and the chair's decision.

Ratings, scores and recommendations are the TDA's working notes: TDA members, the chair, administrators
and auditors read them. The checklists are readable by everyone, so a requester can see what their
request will be reviewed against.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from estate_procurement.api.deps import (
    AuthenticatedRoute,
    CommandDep,
    ContainerDep,
    ReaderDep,
    RequestKey,
    UowDep,
    ensure_reads_reviews,
    find_request,
    readable_request,
)
from estate_procurement.api.schemas import (
    ChecklistOut,
    ChecklistSummaryOut,
    DecisionIn,
    RatingIn,
    RatingOut,
    RatingsOut,
    RecommendationOut,
    RequestOut,
    ScoresOut,
    content_of,
)
from estate_procurement.api.views import (
    checklist_out,
    checklist_summary,
    rating_out,
    recommendation_out,
    scores_out,
)
from estate_procurement.application import services
from estate_procurement.application.ports import UnitOfWork
from estate_procurement.domain.request import TechnologyRequest
from estate_procurement.domain.review import ReviewRound

router = APIRouter(prefix="/api/v1", route_class=AuthenticatedRoute)

RoundNumber = Annotated[int | None, Query(ge=1, description="A review round (the current one when left out)")]


@dataclass(frozen=True)
class Reviewed:
    """A request and one of its review rounds, read by a reader of reviews."""

    uow: UnitOfWork
    request: TechnologyRequest
    round: ReviewRound


async def get_reviewed(
    request_key: RequestKey, uow: UowDep, reader: ReaderDep, round: RoundNumber = None
) -> Reviewed:
    """The round ``round`` (the current one when left out) of the request, when the caller reads reviews."""
    ensure_reads_reviews(reader)
    request = await find_request(uow, request_key)
    return Reviewed(uow=uow, request=request, round=request.review_round(round))


ReviewedDep = Annotated[Reviewed, Depends(get_reviewed)]


# --- checklists ------------------------------------------------------------------------------------


@router.get(
    "/checklists",
    response_model=list[ChecklistSummaryOut],
    tags=["checklists"],
    summary="The checklist versions",
)
async def list_checklists(container: ContainerDep, _: ReaderDep) -> list[ChecklistSummaryOut]:
    """Every checklist version the service knows; ``current`` is the one new reviews pin."""
    catalogue = container.checklists
    current = catalogue.current.key
    known = catalogue.keys()
    return [checklist_summary(catalogue.get(k), current=k == current) for k in known]


@router.get(
    "/checklists/{checklist_key}",
    response_model=ChecklistOut,
    tags=["checklists"],
    summary="One checklist version",
)
async def get_checklist(
    checklist_key: Annotated[str, Path(max_length=100, description="e.g. tda-review@1, or current")],
    container: ContainerDep,
    _: ReaderDep,
) -> ChecklistOut:
    """Sections, rules and items (Appendix K and the supplementary checks), weights, red lines and the
    recommendation thresholds."""
    catalogue = container.checklists
    checklist = catalogue.current if checklist_key == "current" else catalogue.get(checklist_key)
    return checklist_out(checklist, current=checklist.key == catalogue.current.key)


@router.get(
    "/requests/{request_key}/checklist",
    response_model=ChecklistOut,
    tags=["checklists"],
    summary="The checklist a request is reviewed against",
)
async def request_checklist(
    request_key: RequestKey, uow: UowDep, container: ContainerDep, reader: ReaderDep
) -> ChecklistOut:
    """The version its current review round pinned, or the current version before any review."""
    request = await readable_request(uow, request_key, reader)
    checklist = await services.checklist_for(uow, request_id=request.id)
    return checklist_out(checklist, current=checklist.key == container.checklists.current.key)


# --- ratings, scores, recommendation ----------------------------------------------------------------


@router.put(
    "/requests/{request_key}/ratings/{item_id}",
    response_model=RatingOut,
    tags=["review"],
    summary="Rate one checklist item",
)
async def rate_item(
    request_key: RequestKey,
    item_id: Annotated[str, Path(max_length=40, description="An item of the pinned checklist, e.g. R1.1")],
    body: RatingIn,
    command: CommandDep,
) -> RatingOut:
    """The caller's own rating of one item of the round's pinned checklist (rating again replaces it),
    while under review; TDA members and the chair. A comment is needed for partly_met and not_met. The
    answer's ETag is the request's."""
    request, _ = await command.target(request_key)
    given = await services.rate_item(
        command.uow,
        request_id=request.id,
        actor=command.actor,
        item_id=item_id,
        rating=body.rating,
        comment=body.comment,
        evidence_url=body.evidence_url,
    )
    command.tag(request)
    return rating_out(given)


@router.get(
    "/requests/{request_key}/ratings",
    response_model=RatingsOut,
    tags=["review"],
    summary="Every reviewer's ratings",
)
async def ratings(reviewed: ReviewedDep) -> RatingsOut:
    review = reviewed.round
    ordered = sorted(review.ratings, key=lambda r: (r.item_id, r.reviewer.name))
    return RatingsOut(
        round=review.number,
        checklist_version=review.checklist_version,
        ratings=[rating_out(r) for r in ordered],
    )


@router.get(
    "/requests/{request_key}/scores",
    response_model=ScoresOut,
    tags=["review"],
    summary="Scores per rule and overall",
)
async def scores(reviewed: ReviewedDep) -> ScoresOut:
    """Per item, per rule and overall (weighted; met 1, partly_met 0.5, not_met 0, n/a left out), with
    coverage (the share of items rated)."""
    number = reviewed.round.number
    found = await services.scores(reviewed.uow, request_id=reviewed.request.id, round_number=number)
    return scores_out(found, number)


@router.get(
    "/requests/{request_key}/recommendation",
    response_model=RecommendationOut,
    tags=["review"],
    summary="What the ratings recommend",
)
async def recommendation(reviewed: ReviewedDep) -> RecommendationOut:
    """A red line rated not_met forces not_approved; otherwise the checklist's thresholds decide. The
    service recommends; the chair decides."""
    number = reviewed.round.number
    advice = await services.recommendation(reviewed.uow, request_id=reviewed.request.id, round_number=number)
    return recommendation_out(advice, number)


# --- the decision ----------------------------------------------------------------------------------


@router.post(
    "/requests/{request_key}/decision",
    response_model=RequestOut,
    tags=["review"],
    summary="Decide a request (the chair)",
)
async def decide(request_key: RequestKey, body: DecisionIn, command: CommandDep) -> RequestOut:
    """under_review -> decided, by the TDA chair only (not a member, not an administrator, not the
    chair who raised the request), with a written rationale. approved_with_conditions needs at least one
    condition, each with an owner and a due date (or a number of working days). An approval proposes a
    system to the register, and needs every red-line item rated (422 naming those unrated); approving
    against a red line rated not_met needs ``override_red_lines`` (422 otherwise), and the decision
    records the red lines overridden. Once published, a decision never changes (the chair may reopen
    the request for a new round), so it needs the ETag of the request as the chair last read it in
    ``If-Match``: 428 without it, 412 if the request (a rating, say) changed meanwhile."""
    request, _ = await command.target(request_key, required=True)
    conditions = [
        {
            "text": c.text,
            "owner": c.owner.model_dump(),
            "due_date": c.due_date,
            "due_in_working_days": c.due_in_working_days,
        }
        for c in body.conditions
    ]
    await services.decide(
        command.uow,
        request_id=request.id,
        actor=command.actor,
        outcome=body.outcome,
        rationale=body.rationale,
        conditions=conditions,
        proposed_system=content_of(body.proposed_system, only_sent=True) if body.proposed_system else None,
        override_red_lines=body.override_red_lines,
    )
    return command.answer(request)


__all__ = ["router"]
