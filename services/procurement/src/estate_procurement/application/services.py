"""The procurement use cases: one keyword-only function per command, each one transaction.

Who may do what:

* anyone who buys or runs technology (requester, owner, contract_manager, TDA roles) raises a request;
  only its requester edits the draft, submits it, and answers information requests (resubmits);
* TDA members (``tda_member`` or ``tda_chair``) start reviews, ask for information and rate items;
* only the chair (``tda_chair``) decides and reopens; ``admin`` may do neither;
* nobody reviews or decides their own request: a TDA member or chair who raised a request may not start
  its review, ask for information on it, rate it or decide it (another member or chair must); they may
  still withdraw it, as its requester;
* the requester or the chair withdraws an undecided request;
* a condition is met by its owner or a TDA member.

A refused role raises NotAllowed (403); a refused state raises InvalidTransition (409). Every command
ends with :func:`commit`, which writes the audit trail and the outbox in the same commit as the change.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from datetime import date
from typing import Any

from estate_procurement.application.ageing import DEFAULT_THRESHOLD_WORKING_DAYS, Ageing, ageing
from estate_procurement.application.events import publish_recorded_facts
from estate_procurement.application.ports import UnitOfWork
from estate_procurement.domain.checklist import Checklist
from estate_procurement.domain.errors import NotAllowed, NotFound, StaleVersion
from estate_procurement.domain.request import TechnologyRequest
from estate_procurement.domain.review import (
    ConditionInput,
    ConditionMet,
    ConditionView,
    Decision,
    ItemRating,
    Recommendation,
    Scores,
    recommend,
    score,
)
from estate_procurement.domain.similarity import PastDecision
from estate_procurement.domain.values import (
    REQUESTING_ROLES,
    Actor,
    Outcome,
    Rating,
    RequestState,
    local_date,
)

# --- helpers ------------------------------------------------------------------------------------------


async def commit(uow: UnitOfWork) -> None:
    await publish_recorded_facts(uow)
    await uow.commit()


async def _load(uow: UnitOfWork, request_id: uuid.UUID) -> TechnologyRequest:
    request = await uow.requests.get(request_id)
    if request is None:
        raise NotFound(f"no technology request with id {request_id}")
    return request


def _check_version(request: TechnologyRequest, expected_version: int | None) -> int:
    if expected_version is not None and expected_version != request.version:
        raise StaleVersion(
            f"{request.reference} was changed by someone else (you sent version {expected_version}, "
            f"it is now version {request.version}); reload it and apply your change again"
        )
    return request.version


def _only_requester(request: TechnologyRequest, actor: Actor, doing: str) -> None:
    if actor.id != request.requester.id:
        raise NotAllowed(f"only the person who raised {request.reference} can {doing}")


def _only_tda(actor: Actor, doing: str) -> None:
    if not actor.is_tda:
        raise NotAllowed(f"only TDA members (tda_member or tda_chair) can {doing}")


def _only_chair(actor: Actor, doing: str) -> None:
    if not actor.is_chair:
        raise NotAllowed(f"only the TDA chair (tda_chair) can {doing}")


def _not_own(request: TechnologyRequest, actor: Actor, *, who: str) -> None:
    """A conflict of interest: the requester may not review or decide their own request."""
    if actor.id == request.requester.id:
        raise NotAllowed(f"you raised {request.reference}: {who}")


_ANOTHER_MEMBER = "another TDA member must review it"
_ANOTHER_CHAIR = "another chair must decide it"


async def _save(uow: UnitOfWork, request: TechnologyRequest, version: int) -> None:
    await uow.requests.save(request, expected_version=version)
    await commit(uow)


# --- the requester's commands ----------------------------------------------------------------------------


async def create_draft(uow: UnitOfWork, *, actor: Actor, fields: Mapping[str, Any]) -> TechnologyRequest:
    """A new draft owned by the actor, with a new reference; it may be incomplete."""
    if not actor.has_any(REQUESTING_ROLES):
        raise NotAllowed("only staff who request technology (requester, owner, contract_manager, TDA) can")
    now = uow.clock()
    request = TechnologyRequest.create_draft(
        request_id=uuid.uuid4(),
        reference=await uow.requests.next_reference(local_date(now).year),
        requester=actor.person,
        fields=fields,
        at=now,
    )
    await uow.requests.add(request)
    await commit(uow)
    return request


async def update_draft(
    uow: UnitOfWork,
    *,
    request_id: uuid.UUID,
    actor: Actor,
    changes: Mapping[str, Any],
    expected_version: int | None,
) -> TechnologyRequest:
    """Change the requester's own draft; StaleVersion when it changed since ``expected_version``."""
    request = await _load(uow, request_id)
    _only_requester(request, actor, "edit this draft")
    version = _check_version(request, expected_version)
    request.update_draft(changes, by=actor.person, at=uow.clock())
    await _save(uow, request, version)
    return request


async def submit(
    uow: UnitOfWork, *, request_id: uuid.UUID, actor: Actor, expected_version: int | None = None
) -> TechnologyRequest:
    """Submit the requester's own draft; IncompleteRequest lists everything still missing."""
    request = await _load(uow, request_id)
    _only_requester(request, actor, "submit it")
    version = _check_version(request, expected_version)
    request.submit(by=actor.person, at=uow.clock())
    await _save(uow, request, version)
    return request


async def resubmit(
    uow: UnitOfWork,
    *,
    request_id: uuid.UUID,
    actor: Actor,
    answers: str,
    changes: Mapping[str, Any] | None = None,
    expected_version: int | None = None,
) -> TechnologyRequest:
    """The requester answers the TDA's questions (and may amend the request at the same time)."""
    request = await _load(uow, request_id)
    _only_requester(request, actor, "answer the TDA's questions")
    version = _check_version(request, expected_version)
    request.resubmit(by=actor.person, at=uow.clock(), answers=answers, changes=changes)
    await _save(uow, request, version)
    return request


async def withdraw(uow: UnitOfWork, *, request_id: uuid.UUID, actor: Actor, reason: str) -> TechnologyRequest:
    """The requester (or the chair on their behalf) withdraws an undecided request, with a reason."""
    request = await _load(uow, request_id)
    if actor.id != request.requester.id and not actor.is_chair:
        raise NotAllowed(f"only the requester of {request.reference} or the TDA chair can withdraw it")
    version = request.version
    request.withdraw(by=actor.person, at=uow.clock(), reason=reason)
    await _save(uow, request, version)
    return request


# --- the TDA's commands -------------------------------------------------------------------------------


async def start_review(uow: UnitOfWork, *, request_id: uuid.UUID, actor: Actor) -> TechnologyRequest:
    """A TDA member takes a submitted (or resubmitted) request into review; a first review pins the
    current checklist version."""
    request = await _load(uow, request_id)
    _only_tda(actor, "start a review")
    _not_own(request, actor, who=_ANOTHER_MEMBER)
    version = request.version
    request.start_review(by=actor.person, at=uow.clock(), checklist_version=uow.checklists.current.key)
    await _save(uow, request, version)
    return request


async def request_information(
    uow: UnitOfWork,
    *,
    request_id: uuid.UUID,
    actor: Actor,
    questions: Sequence[str],
    due_date: date | None = None,
) -> TechnologyRequest:
    """A TDA member asks the requester at least one question, optionally by a date."""
    request = await _load(uow, request_id)
    _only_tda(actor, "ask for information")
    _not_own(request, actor, who=_ANOTHER_MEMBER)
    version = request.version
    request.request_information(by=actor.person, at=uow.clock(), questions=questions, due_date=due_date)
    await _save(uow, request, version)
    return request


async def rate_item(
    uow: UnitOfWork,
    *,
    request_id: uuid.UUID,
    actor: Actor,
    item_id: str,
    rating: Rating | str,
    comment: str | None = None,
    evidence_url: str | None = None,
) -> ItemRating:
    """A TDA member rates one item of the request's pinned checklist (re-rating replaces theirs)."""
    request = await _load(uow, request_id)
    _only_tda(actor, "rate a request")
    _not_own(request, actor, who=_ANOTHER_MEMBER)
    version = request.version
    checklist = _pinned(uow, request)
    given = request.rate(
        reviewer=actor.person,
        at=uow.clock(),
        checklist=checklist,
        item_id=item_id,
        rating=rating,
        comment=comment,
        evidence_url=evidence_url,
    )
    await _save(uow, request, version)
    return given


async def decide(
    uow: UnitOfWork,
    *,
    request_id: uuid.UUID,
    actor: Actor,
    outcome: Outcome | str,
    rationale: str,
    conditions: Sequence[ConditionInput | Mapping[str, Any]] = (),
    proposed_system: Mapping[str, Any] | None = None,
    override_red_lines: bool = False,
) -> Decision:
    """The chair decides, with a rationale; the decision is kept for re-use detection as well.

    An approval needs every red-line item rated; approving although a red line is rated not_met needs
    ``override_red_lines=True``. The chair may not decide a request they raised."""
    request = await _load(uow, request_id)
    _only_chair(actor, "decide a request")
    _not_own(request, actor, who=_ANOTHER_CHAIR)
    version = request.version
    decision = request.decide(
        by=actor.person,
        at=uow.clock(),
        checklist=_pinned(uow, request),
        calendar=uow.calendar,
        outcome=outcome,
        rationale=rationale,
        conditions=conditions,
        proposed_system=proposed_system,
        override_red_lines=override_red_lines,
    )
    await uow.reuse.record_decision(
        PastDecision(
            request_id=request.id,
            reference=request.reference,
            title=request.title or request.reference,
            summary=request.problem_summary,
            capabilities=request.capabilities,
            product=request.proposed_product,
            supplier=request.proposed_supplier,
            service_area=request.service_area,
            outcome=decision.outcome.value,
            rationale=decision.rationale,
            decided_at=decision.decided_at,
        )
    )
    await _save(uow, request, version)
    return decision


async def reopen(uow: UnitOfWork, *, request_id: uuid.UUID, actor: Actor, reason: str) -> TechnologyRequest:
    """The chair reopens a decided or withdrawn request with a reason: a new round on the current
    checklist version; earlier decisions stay on record."""
    request = await _load(uow, request_id)
    _only_chair(actor, "reopen a request")
    version = request.version
    request.reopen(
        by=actor.person, at=uow.clock(), reason=reason, checklist_version=uow.checklists.current.key
    )
    await _save(uow, request, version)
    return request


async def meet_condition(
    uow: UnitOfWork, *, request_id: uuid.UUID, actor: Actor, condition_id: uuid.UUID, evidence: str
) -> ConditionMet:
    """The condition's owner, or a TDA member, records a condition as met with evidence (once)."""
    request = await _load(uow, request_id)
    decision = request.latest_decision
    owner = next((c.owner for c in (decision.conditions if decision else ()) if c.id == condition_id), None)
    if not actor.is_tda and (owner is None or owner.id != actor.id):
        raise NotAllowed("only the condition's owner or a TDA member can record it as met")
    version = request.version
    met = request.meet_condition(
        by=actor.person, at=uow.clock(), condition_id=condition_id, evidence=evidence
    )
    await _save(uow, request, version)
    return met


# --- queries --------------------------------------------------------------------------------------------


async def get_request(uow: UnitOfWork, *, request_id: uuid.UUID) -> TechnologyRequest:
    return await _load(uow, request_id)


async def get_request_by_reference(uow: UnitOfWork, *, reference: str) -> TechnologyRequest:
    request = await uow.requests.get_by_reference(reference)
    if request is None:
        raise NotFound(f"no technology request {reference}")
    return request


async def list_requests(
    uow: UnitOfWork,
    *,
    states: Collection[RequestState] | None = None,
    requester_id: str | None = None,
    service_area: str | None = None,
) -> list[TechnologyRequest]:
    return await uow.requests.list(states=states, requester_id=requester_id, service_area=service_area)


def _pinned(uow: UnitOfWork, request: TechnologyRequest) -> Checklist:
    current = request.current_round
    return uow.checklists.get(current.checklist_version) if current else uow.checklists.current


async def checklist_for(uow: UnitOfWork, *, request_id: uuid.UUID) -> Checklist:
    """The checklist the request is (or will be) reviewed against: its round's pinned version, or the
    current version before any review."""
    return _pinned(uow, await _load(uow, request_id))


async def scores(uow: UnitOfWork, *, request_id: uuid.UUID, round_number: int | None = None) -> Scores:
    """The scores of a review round (the current one by default)."""
    request = await _load(uow, request_id)
    review = request.review_round(round_number)
    return score(uow.checklists.get(review.checklist_version), review.ratings)


async def recommendation(
    uow: UnitOfWork, *, request_id: uuid.UUID, round_number: int | None = None
) -> Recommendation:
    """What the ratings of a round (the current one by default) recommend, with reasons."""
    request = await _load(uow, request_id)
    review = request.review_round(round_number)
    return recommend(uow.checklists.get(review.checklist_version), review.ratings)


async def request_ageing(
    uow: UnitOfWork,
    *,
    request_id: uuid.UUID,
    threshold_working_days: int = DEFAULT_THRESHOLD_WORKING_DAYS,
) -> Ageing:
    request = await _load(uow, request_id)
    return ageing(
        request, now=uow.clock(), calendar=uow.calendar, threshold_working_days=threshold_working_days
    )


async def waiting_too_long(
    uow: UnitOfWork, *, threshold_working_days: int = DEFAULT_THRESHOLD_WORKING_DAYS
) -> list[Ageing]:
    """Every request that has waited in its current state longer than the threshold, longest first."""
    open_states = [s for s in RequestState if not s.terminal and s is not RequestState.DRAFT]
    now = uow.clock()
    found = [
        ageing(r, now=now, calendar=uow.calendar, threshold_working_days=threshold_working_days)
        for r in await uow.requests.list(states=open_states)
    ]
    return sorted((a for a in found if a.overdue), key=lambda a: a.working_days_in_state, reverse=True)


async def conditions(uow: UnitOfWork, *, request_id: uuid.UUID) -> list[ConditionView]:
    """The current decision's conditions with status and overdue flag as of today (Europe/London)."""
    request = await _load(uow, request_id)
    return request.conditions(local_date(uow.clock()))


async def overdue_conditions(uow: UnitOfWork) -> list[tuple[TechnologyRequest, ConditionView]]:
    """Open conditions past their due date, across decided requests, earliest due first."""
    today = local_date(uow.clock())
    found = [
        (request, view)
        for request in await uow.requests.list(states=[RequestState.DECIDED])
        for view in request.conditions(today)
        if view.overdue
    ]
    return sorted(found, key=lambda pair: pair[1].due_date)
