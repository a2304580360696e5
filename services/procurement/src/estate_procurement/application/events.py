"""Turning what a request recorded into audit entries and outbox events, inside the same transaction.

Every fact is audited. Transitions and met conditions are published as the v1 events of
``estate_contracts.procurement_events`` (``source="/estate/procurement"``, subject = the request id);
drafts, draft edits and ratings are not, and neither is withdrawing a draft: a draft was never published,
so nobody else knows it to hear that it was withdrawn.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterable
from typing import Any

from estate_contracts import procurement_events as ev
from estate_contracts.envelope import Envelope, EventPayload
from estate_eventing.correlation import current_causation_id, current_correlation_id
from estate_procurement.application.ports import UnitOfWork
from estate_procurement.domain.request import Happened
from estate_procurement.domain.values import RequestState
from estate_runtime import publishing

SOURCE = ev.SOURCE


def _condition(plain: dict[str, Any]) -> ev.DecisionCondition:
    return ev.DecisionCondition.model_validate(
        {
            "condition_id": plain["id"],
            "text": plain["text"],
            "owner": plain["owner"],
            "due_date": plain["due_date"],
        }
    )


def payload_for(fact: Happened) -> EventPayload | None:
    """The event a fact is published as, or None for facts that are only audited."""
    if not fact.published:
        return None
    after, detail = fact.after, fact.detail
    common: dict[str, Any] = {"request_id": fact.request_id, "reference": after["reference"]}
    actor = dataclasses.asdict(fact.actor)
    match fact.action:
        case "submitted":
            return ev.RequestSubmitted.model_validate(
                {
                    **common,
                    "title": after["title"],
                    "requester": after["requester"],
                    "service_area": after["service_area"],
                    "category": after["category"],
                    "problem_summary": detail["problem_summary"],
                    "proposed_product": after["proposed_product"],
                    "proposed_supplier": after["proposed_supplier"],
                    "capabilities_needed": after["capabilities"],
                    "estimated_initial_cost": after["initial_cost"],
                    "estimated_annual_cost": after["annual_cost"],
                    "councils_in_scope": after["councils_in_scope"],
                    "renews_or_replaces_contract_id": after["renews_or_replaces_contract_id"],
                    "submitted_at": fact.at,
                }
            )
        case "review_started":
            return ev.RequestReviewStarted.model_validate(
                {
                    **common,
                    "started_by": actor,
                    "checklist_version": detail["checklist_version"],
                    "started_at": fact.at,
                }
            )
        case "information_requested":
            return ev.RequestInformationRequested.model_validate(
                {
                    **common,
                    "requester": after["requester"],
                    "asked_by": actor,
                    "questions": detail["questions"],
                    "due_date": detail["due_date"],
                    "requested_at": fact.at,
                }
            )
        case "resubmitted":
            return ev.RequestResubmitted.model_validate(
                {
                    **common,
                    "requester": after["requester"],
                    "answers": detail["answers"],
                    "resubmitted_at": fact.at,
                }
            )
        case "decided":
            decision = detail["decision"]
            return ev.RequestDecided.model_validate(
                {
                    **common,
                    "requester": after["requester"],
                    "outcome": decision["outcome"],
                    "rationale": decision["rationale"],
                    "decided_by": decision["decided_by"],
                    "decided_at": decision["decided_at"],
                    "conditions": [_condition(c) for c in decision["conditions"]],
                    "proposed_system": decision["proposed_system"],
                }
            )
        case "withdrawn":
            if fact.from_state is RequestState.DRAFT:
                return None  # a draft was never published: its withdrawal is audited only
            return ev.RequestWithdrawn.model_validate(
                {**common, "withdrawn_by": actor, "reason": detail["reason"], "withdrawn_at": fact.at}
            )
        case "reopened":
            return ev.RequestReopened.model_validate(
                {**common, "reopened_by": actor, "reason": detail["reason"], "reopened_at": fact.at}
            )
        case "condition_met":
            return ev.RequestConditionMet.model_validate(
                {
                    **common,
                    "condition_id": detail["condition_id"],
                    "met_by": actor,
                    "met_at": fact.at,
                    "evidence": detail["evidence"],
                }
            )
    return None


def envelopes_for(
    facts: Iterable[Happened], *, correlation: str, causation: str | None
) -> list[tuple[Envelope, str]]:
    """The envelope and topic of every published fact, in the order the facts happened."""
    return publishing.envelopes_for(
        facts,
        payload_for,
        source=SOURCE,
        subject=lambda fact: str(fact.request_id),
        correlation=correlation,
        causation=causation,
    )


async def publish_recorded_facts(uow: UnitOfWork) -> int:
    """Audit every fact the touched requests recorded and put the published ones in the outbox; call it
    just before commit. It empties the requests' fact lists and returns how many facts it handled."""
    facts: list[Happened] = []
    for request in uow.touched():
        # A fact's snapshot is taken before the repository bumps the version; the audit entry and the
        # event carry the version the change was stored as.
        facts.extend(
            dataclasses.replace(fact, after={**fact.after, "version": request.version})
            for fact in request.events
        )
        request.events.clear()
    if not facts:
        return 0
    facts.sort(key=lambda f: f.at)
    correlation = current_correlation_id() or str(uuid.uuid4())
    for fact in facts:
        await uow.audit.append(fact, correlation_id=correlation)
    for envelope, topic in envelopes_for(facts, correlation=correlation, causation=current_causation_id()):
        await uow.outbox.put(envelope, topic=topic)
    return len(facts)
