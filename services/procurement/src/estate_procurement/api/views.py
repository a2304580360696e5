"""Domain objects as the API shows them: the response bodies of :mod:`estate_procurement.api.schemas`,
built from the aggregate, the ageing and the review scores, as the caller may see them."""

from __future__ import annotations

from datetime import date, datetime

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
    ConditionView,
    Decision,
    ItemRating,
    Recommendation,
    Scores,
)
from estate_procurement.domain.similarity import Candidate
from estate_procurement.domain.values import (
    Actor,
    ConditionStatus,
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


def condition_out(view: ConditionView) -> ConditionOut:
    return ConditionOut.model_validate(to_plain(view))


def decision_out(decision: Decision, views: list[ConditionView] | None = None) -> DecisionOut:
    """A decision as recorded; its conditions with their progress when ``views`` are given (the latest
    decision), else as recorded (open, not overdue: an earlier round's conditions were superseded)."""
    plain = to_plain(decision)
    by_id = {v.id: v for v in views or []}
    plain["conditions"] = [
        to_plain(by_id[c.id])
        if c.id in by_id
        else {**to_plain(c), "status": "open", "overdue": False, "met": None}
        for c in decision.conditions
    ]
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
    views = request.conditions(local_date(now))
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
        latest_decision=decision_out(latest, views) if latest else None,
        decisions=[decision_out(d, views if d is latest else None) for d in request.decisions],
        conditions=[condition_out(v) for v in views],
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


def overdue_entry(late: queries.OverdueCondition) -> ConditionEntryOut:
    return ConditionEntryOut(
        id=late.condition_id,
        text=late.text,
        owner=to_plain(late.owner),
        due_date=late.due_date,
        status=ConditionStatus.OPEN,
        overdue=True,
        met=None,
        request_id=late.request_id,
        reference=late.reference,
        title=late.title,
    )


def audit_out(entry: queries.AuditEntry, *, snapshots: bool) -> AuditEntryOut:
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
        before=entry.before if snapshots else None,
        after=entry.after if snapshots else None,
    )


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


def condition_entry(request: TechnologyRequest, view: ConditionView) -> ConditionEntryOut:
    return ConditionEntryOut.model_validate(
        {**to_plain(view), "request_id": request.id, "reference": request.reference, "title": request.title}
    )


def decision_log_entry(request: TechnologyRequest, decision: Decision, today: date) -> DecisionLogEntryOut:
    latest = decision is request.latest_decision
    shown = decision_out(decision, request.conditions(today) if latest else None)
    return DecisionLogEntryOut(
        request_id=request.id,
        reference=request.reference,
        title=request.title,
        round=decision.round,
        outcome=decision.outcome,
        rationale=decision.rationale,
        decided_by=shown.decided_by,
        decided_at=decision.decided_at,
        recommended_outcome=decision.recommended_outcome,
        checklist_version=decision.checklist_version,
        conditions=shown.conditions,
    )


__all__ = [
    "actions_for",
    "ageing_out",
    "audit_out",
    "candidate_out",
    "checklist_out",
    "checklist_summary",
    "condition_entry",
    "condition_out",
    "decision_log_entry",
    "decision_out",
    "overdue_entry",
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
