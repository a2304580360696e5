"""Domain objects as the API shows them: the response bodies of :mod:`estate_procurement.api.schemas`,
built from the aggregate, the ageing and the review scores, as the caller may see them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from fastapi import Response

from estate_procurement.adapters.db import queries
from estate_procurement.api.schemas import (
    AgeingOut,
    AuditEntryOut,
    CandidateOut,
    ChecklistOut,
    ChecklistSummaryOut,
    ConditionEntryOut,
    ConditionOut,
    DecisionLogEntryOut,
    DecisionOut,
    MissingOut,
    PersonOut,
    RatingOut,
    RecommendationOut,
    RequestOut,
    RequestSummaryOut,
    RoundOut,
    ScoresOut,
)
from estate_procurement.application.ageing import WAITING_ON, Ageing, ageing
from estate_procurement.bootstrap import Container
from estate_procurement.domain.checklist import Checklist
from estate_procurement.domain.request import TechnologyRequest, allowed_actions
from estate_procurement.domain.review import (
    Decision,
    ItemRating,
    Recommendation,
    Scores,
)
from estate_procurement.domain.similarity import Candidate
from estate_procurement.domain.values import (
    Actor,
    RequestState,
    local_date,
    to_plain,
)
from estate_runtime.http import etag
from estate_runtime.workdays import WorkingCalendar, working_days_between


def actions_for(actor: Actor, request: TechnologyRequest) -> list[str]:
    """What the lifecycle allows from the request's state *and* the caller's roles allow them to do."""
    mine = actor.id == request.requester.id
    latest = request.latest_decision
    owns_condition = latest is not None and any(c.owner.id == actor.id for c in latest.conditions)
    may = {
        "edit": mine,
        "submit": mine,
        "resubmit": mine,
        "withdraw": mine or actor.is_chair,
        "start_review": actor.is_tda,
        "request_information": actor.is_tda,
        "rate": actor.is_tda,
        "decide": actor.is_chair,
        "reopen": actor.is_chair and request.submitted_at is not None,
        "meet_condition": (actor.is_tda or owns_condition)
        and any(c.met is None for c in request.conditions(date.max)),
    }
    return [action for action in allowed_actions(request.state) if may.get(action, False)]


def ageing_out(found: Ageing) -> AgeingOut:
    return AgeingOut(
        state=found.state,
        since=found.since,
        working_days_in_state=found.working_days_in_state,
        hours_in_state=found.hours_in_state,
        threshold_working_days=found.threshold_working_days,
        waiting=found.overdue,
        waiting_on=found.waiting_on,  # type: ignore[arg-type]
        message=found.message,
        time_in_states=[to_plain(t) for t in found.time_in_states],  # type: ignore[misc]
    )


def conditions_of(request: TechnologyRequest, decision: Decision, today: date) -> list[ConditionOut]:
    """The conditions of one of the request's decisions with their progress on ``today``.

    Met or not comes from the request's ``conditions_met`` whatever the round. A condition not met of a
    decision that a later one replaced is ``superseded``; of the latest decision it is ``open``, and
    ``overdue`` after its due date only while the request stands decided (a reopened request's conditions
    cannot be met: they wait for its next decision)."""
    met = {m.condition_id: m for m in request.conditions_met}
    latest = request.latest_decision
    superseded = latest is None or latest.round != decision.round
    binding = not superseded and request.state is RequestState.DECIDED
    return [
        ConditionOut.model_validate(
            {
                **to_plain(c),
                "status": "met" if c.id in met else "superseded" if superseded else "open",
                "met": to_plain(met.get(c.id)),
                "overdue": binding and c.id not in met and c.due_date < today,
            }
        )
        for c in decision.conditions
    ]


def current_conditions(request: TechnologyRequest, today: date) -> list[ConditionOut]:
    """The latest decision's conditions (none before a decision), as :func:`conditions_of` shows them."""
    latest = request.latest_decision
    return conditions_of(request, latest, today) if latest else []


def decision_out(request: TechnologyRequest, decision: Decision, today: date) -> DecisionOut:
    """One of the request's decisions as recorded, its conditions with their progress."""
    plain = to_plain(decision)
    plain["conditions"] = conditions_of(request, decision, today)
    plain["differs_from_recommendation"] = decision.differs_from_recommendation
    return DecisionOut.model_validate(plain)


def request_out(
    request: TechnologyRequest,
    *,
    actor: Actor,
    now: datetime,
    calendar: WorkingCalendar,
    threshold: int,
) -> RequestOut:
    plain = request.snapshot()
    today = local_date(now)
    latest = request.latest_decision
    plain.update(
        missing=[MissingOut(field=f, message=m) for f, m in request.missing()]
        if request.state is RequestState.DRAFT
        else [],
        actions=actions_for(actor, request),
        ageing=ageing_out(ageing(request, now=now, calendar=calendar, threshold_working_days=threshold)),
        rounds=[
            RoundOut(
                number=r.number,
                checklist_version=r.checklist_version,
                started_at=r.started_at,
                started_by=to_plain(r.started_by),
                ratings=len(r.ratings),
                decided=r.decision is not None,
            )
            for r in request.rounds
        ],
        latest_decision=decision_out(request, latest, today) if latest else None,
        decisions=[decision_out(request, d, today) for d in request.decisions],
        conditions=current_conditions(request, today),
    )
    return RequestOut.model_validate(plain)


def summary_row(
    row: queries.RequestSummary, *, now: datetime, calendar: WorkingCalendar, threshold: int
) -> RequestSummaryOut:
    """A list row, with the same waiting rule as ``application.ageing`` (from the row's state_since)."""
    days = working_days_between(local_date(row.state_since), local_date(now), calendar)
    waiting_on = WAITING_ON.get(row.state)
    return RequestSummaryOut(
        id=row.id,
        reference=row.reference,
        version=row.version,
        title=row.title,
        state=row.state,
        state_since=row.state_since,
        requester=to_plain(row.requester),
        service_area=row.service_area,
        category=row.category,
        created_at=row.created_at,
        updated_at=row.updated_at,
        submitted_at=row.submitted_at,
        waiting=waiting_on is not None and days > threshold,
        waiting_working_days=days,
        waiting_on=waiting_on,  # type: ignore[arg-type]
        latest_outcome=row.outcome,
        decided_at=row.decided_at,
    )


def audit_out(
    entry: queries.AuditEntry, *, snapshots: bool, decided: frozenset[int] | None = None
) -> AuditEntryOut:
    """An audit entry, with the request's snapshots before and after it when asked for; when ``decided``
    is given (the rounds whose ratings the reader may see), the snapshots lose the other rounds' ratings."""

    def shown(snapshot: dict[str, Any] | None) -> dict[str, Any] | None:
        if not snapshots:
            return None
        return snapshot if decided is None else _without_ratings(snapshot, decided)

    changed = entry.detail.get("changed")
    return AuditEntryOut(
        id=entry.id,
        action=entry.action,
        actor=to_plain(entry.actor),
        at=entry.at,
        from_state=entry.from_state,
        to_state=entry.to_state,
        correlation_id=entry.correlation_id,
        changed_fields=list(changed) if isinstance(changed, list) else [],
        detail=entry.detail,
        before=shown(entry.before),
        after=shown(entry.after),
    )


def _without_ratings(snapshot: dict[str, Any] | None, decided: frozenset[int]) -> dict[str, Any] | None:
    """A request snapshot without the ratings of its rounds that are not in ``decided``."""
    rounds = snapshot.get("rounds") if snapshot else None
    if snapshot is None or not isinstance(rounds, list):
        return snapshot
    return {
        **snapshot,
        "rounds": [
            {k: v for k, v in r.items() if k != "ratings"}
            if isinstance(r, dict) and r.get("number") not in decided
            else r
            for r in rounds
        ],
    }


def audit_trail(
    entries: list[queries.AuditEntry],
    *,
    request: TechnologyRequest,
    snapshots: bool,
    sees_ratings: bool,
) -> list[AuditEntryOut]:
    """The audit entries as the reader may see them. A reader who does not read reviews (the requester)
    sees no rating of a round not decided yet: its ``item_rated`` entries are left out, and its ratings
    are taken out of every snapshot (``rounds[].ratings`` is absent for those rounds)."""
    decided = None if sees_ratings else frozenset(r.number for r in request.rounds if r.decision is not None)
    return [
        audit_out(e, snapshots=snapshots, decided=decided)
        for e in entries
        if decided is None or e.action != "item_rated" or e.detail.get("round") in decided
    ]


def rating_out(rating: ItemRating) -> RatingOut:
    return RatingOut.model_validate(to_plain(rating))


def scores_out(scores: Scores, round_number: int) -> ScoresOut:
    plain = to_plain(scores)
    plain.pop("exact_overall", None)
    return ScoresOut.model_validate({**plain, "round": round_number})


def recommendation_out(advice: Recommendation, round_number: int) -> RecommendationOut:
    red = [s.item_id for s in advice.scores.item_scores if s.red_line and s.not_met_by]
    return RecommendationOut(
        round=round_number,
        outcome=advice.outcome,
        reasons=list(advice.reasons),
        red_lines_hit=red,
        complete=advice.complete,
        unrated=list(advice.unrated),
        scores=scores_out(advice.scores, round_number),
    )


def checklist_summary(checklist: Checklist, *, current: bool) -> ChecklistSummaryOut:
    return ChecklistSummaryOut(
        key=checklist.key, id=checklist.id, version=checklist.version, title=checklist.title, current=current
    )


def checklist_out(checklist: Checklist, *, current: bool) -> ChecklistOut:
    return ChecklistOut.model_validate(
        {
            **to_plain(checklist),
            "key": checklist.key,
            "current": current,
            "red_lines": [item.id for item in checklist.items() if item.red_line],
        }
    )


def candidate_out(candidate: Candidate) -> CandidateOut:
    return CandidateOut.model_validate(to_plain(candidate))


def condition_entry(entry: queries.ConditionEntry) -> ConditionEntryOut:
    """A row of the conditions list: the condition with its progress, and the request it belongs to."""
    return ConditionEntryOut.model_validate(
        {
            **to_plain(entry.condition),
            "request_id": entry.request_id,
            "reference": entry.reference,
            "title": entry.title,
        }
    )


def decision_log_entry(
    entry: queries.DecisionLogEntry, request: TechnologyRequest, today: date
) -> DecisionLogEntryOut:
    """A row of the decision log as published; its conditions (and the red lines it overrode) as the
    request's own view of that decision shows them (:func:`conditions_of`)."""
    decision = next(d for d in request.decisions if d.round == entry.round)
    return DecisionLogEntryOut(
        request_id=entry.request_id,
        reference=entry.reference,
        title=entry.title,
        round=entry.round,
        outcome=entry.outcome,
        rationale=entry.rationale,
        decided_by=PersonOut.model_validate(to_plain(entry.decided_by)),
        decided_at=entry.decided_at,
        recommended_outcome=entry.recommended_outcome,
        checklist_version=entry.checklist_version,
        conditions=conditions_of(request, decision, today),
        overrode_red_lines=list(decision.overrode_red_lines),
    )


__all__ = [
    "actions_for",
    "ageing_out",
    "audit_out",
    "audit_trail",
    "candidate_out",
    "checklist_out",
    "checklist_summary",
    "condition_entry",
    "conditions_of",
    "current_conditions",
    "decision_log_entry",
    "decision_out",
    "present",
    "rating_out",
    "recommendation_out",
    "request_out",
    "scores_out",
    "summary_row",
]


def present(
    request: TechnologyRequest,
    *,
    actor: Actor,
    container: Container,
    response: Response | None = None,
) -> RequestOut:
    """The request as ``actor`` sees it now, with its ETag on ``response`` when given."""
    if response is not None:
        response.headers["ETag"] = etag(request)
    return request_out(
        request,
        actor=actor,
        now=container.clock(),
        calendar=container.calendar,
        threshold=container.settings.waiting_flag_working_days,
    )
