"""The estate view's projection rules, without IO: each event moves a request or a contract's alert state
forward, never back, and the same event twice is the same event once (over the in-memory port)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from fakes import NOW, FakeEstateProjections
from register_estate_support import CHAIR, RAVI

from estate_contracts.notification_events import (
    ActByApproaching,
    AlertAcknowledged,
    AlertEscalated,
    AlertSent,
    NoticeWindowOpened,
    Recipient,
    RenewalDecisionSubmitted,
    RenewalOverdue,
)
from estate_contracts.procurement_events import (
    DecisionCondition,
    ProposedSystem,
    RequestConditionMet,
    RequestDecided,
    RequestInformationRequested,
    RequestReopened,
    RequestResubmitted,
    RequestReviewStarted,
    RequestSubmitted,
    RequestWithdrawn,
)
from estate_register.application.estate import (
    apply_alert_event,
    apply_request_event,
    council_day,
    month_after_window,
    pipeline_months,
    project_alerts,
    project_request,
)

REQUEST = uuid.uuid4()
CONTRACT = uuid.uuid4()
T0 = datetime(2025, 2, 3, 9, 0, tzinfo=UTC)


def t(hours: int) -> datetime:
    return T0 + timedelta(hours=hours)


def submitted(at: datetime = T0) -> RequestSubmitted:
    return RequestSubmitted(
        request_id=REQUEST,
        reference="TR-2025-0042",
        title="Online forms for council tax",
        requester=RAVI,
        service_area="local-taxation",
        category="it",
        problem_summary="Residents phone in to change their details",
        councils_in_scope=["CCC", "SCDC"],
        estimated_annual_cost=Decimal("16000.00"),
        submitted_at=at,
    )


def review(at: datetime) -> RequestReviewStarted:
    return RequestReviewStarted(
        request_id=REQUEST,
        reference="TR-2025-0042",
        started_by=CHAIR,
        checklist_version="appendix-k@1",
        started_at=at,
    )


def decided(at: datetime, outcome: str = "not_approved") -> RequestDecided:
    approved = outcome != "not_approved"
    condition = DecisionCondition(
        condition_id=uuid.UUID(int=7), text="Complete a DPIA", owner=RAVI, due_date=date(2025, 6, 1)
    )
    return RequestDecided(
        request_id=REQUEST,
        reference="TR-2025-0042",
        requester=RAVI,
        outcome=outcome,  # type: ignore[arg-type]
        rationale="Reasons",
        decided_by=CHAIR,
        decided_at=at,
        conditions=[condition] if outcome == "approved_with_conditions" else [],
        proposed_system=ProposedSystem(
            name="Council tax forms",
            description="Forms",
            service_areas=["local-taxation"],
            supplier_name="IEG4",
            hosting="saas",
            holds_personal_data=True,
            councils_in_scope=["CCC"],
            estimated_annual_value=Decimal("16000.00"),
            estimated_initial_cost=Decimal("0.00"),
        )
        if approved
        else None,
    )


def test_a_request_moves_through_its_states_and_is_pending_until_decided_or_withdrawn():
    request = apply_request_event(None, submitted())
    assert (request.state, request.pending, request.title, request.councils) == (
        "submitted",
        True,
        "Online forms for council tax",
        ("CCC", "SCDC"),
    )
    request = apply_request_event(request, review(t(1)))
    asked = RequestInformationRequested(
        request_id=REQUEST,
        reference="TR-2025-0042",
        requester=RAVI,
        asked_by=CHAIR,
        questions=["Which forms?"],
        requested_at=t(2),
    )
    request = apply_request_event(request, asked)
    assert (request.state, request.pending) == ("information_requested", True)
    answered = RequestResubmitted(
        request_id=REQUEST, reference="TR-2025-0042", requester=RAVI, answers="These", resubmitted_at=t(3)
    )
    request = apply_request_event(request, answered)
    request = apply_request_event(request, decided(t(4), "approved_with_conditions"))
    assert (request.state, request.pending, request.outcome, request.decided_at) == (
        "decided",
        False,
        "approved_with_conditions",
        t(4),
    )
    assert request.conditions == (uuid.UUID(int=7),)
    met = RequestConditionMet(
        request_id=REQUEST,
        reference="TR-2025-0042",
        condition_id=uuid.UUID(int=7),
        met_by=RAVI,
        met_at=t(5),
        evidence="DPIA signed",
    )
    request = apply_request_event(request, met)
    assert apply_request_event(request, met) == request  # met once, however often it is said
    assert (request.state, request.conditions_met) == ("decided", (uuid.UUID(int=7),))
    reopened = RequestReopened(
        request_id=REQUEST, reference="TR-2025-0042", reopened_by=CHAIR, reason="New facts", reopened_at=t(6)
    )
    request = apply_request_event(request, reopened)
    assert (request.state, request.pending, request.outcome) == ("reopened", True, "approved_with_conditions")
    withdrawn = RequestWithdrawn(
        request_id=REQUEST, reference="TR-2025-0042", withdrawn_by=RAVI, reason="No budget", withdrawn_at=t(7)
    )
    assert apply_request_event(request, withdrawn).pending is False


def test_an_older_event_arriving_late_never_undoes_a_newer_state_or_decision():
    request = apply_request_event(None, submitted())
    request = apply_request_event(request, decided(t(4), "not_approved"))
    late_review = apply_request_event(request, review(t(1)))
    assert (late_review.state, late_review.state_at) == ("decided", t(4))
    older_decision = apply_request_event(request, decided(t(2), "approved"))
    assert (older_decision.outcome, older_decision.decided_at, older_decision.state) == (
        "not_approved",
        t(4),
        "decided",
    )
    newer_decision = apply_request_event(request, decided(t(9), "approved"))
    assert (newer_decision.outcome, newer_decision.decided_at) == ("approved", t(9))


def test_a_request_first_seen_after_its_submission_is_known_by_reference_until_the_submission_arrives():
    request = apply_request_event(None, review(t(2)))
    assert (request.reference, request.title, request.state, request.submitted_at) == (
        "TR-2025-0042",
        None,
        "under_review",
        t(2),
    )
    request = apply_request_event(request, submitted(T0))
    # The submission fills in what only it carries, and its time; the state stays the newer one.
    assert (request.title, request.requester_email, request.state, request.submitted_at) == (
        "Online forms for council tax",
        RAVI.email,
        "under_review",
        T0,
    )


async def test_the_same_request_event_twice_writes_the_row_once():
    store = FakeEstateProjections()
    await project_request(store, submitted(), at=NOW)
    await project_request(store, submitted(), at=NOW)
    await project_request(store, review(t(1)), at=NOW)
    await project_request(store, review(t(1)), at=NOW)
    assert store.writes == 2
    assert store.requests[REQUEST].state == "under_review"


def escalated(at: datetime, act_by: date = date(2025, 3, 31)) -> AlertEscalated:
    return AlertEscalated(
        alert_id=uuid.UUID(int=1),
        contract_id=CONTRACT,
        contract_reference="CCC-ICT-0004",
        from_role="contract_owner",
        to_role="budget_holder",
        reason="not_acknowledged",
        rung_days=30,
        act_by=act_by,
        escalated_at=at,
    )


def acknowledged(at: datetime) -> AlertAcknowledged:
    return AlertAcknowledged(
        alert_id=uuid.UUID(int=1),
        contract_id=CONTRACT,
        contract_reference="CCC-ICT-0004",
        acknowledged_by=RAVI,
        acknowledged_at=at,
    )


def test_an_escalation_is_open_until_acknowledged_or_decided_and_late_events_do_not_reopen_it():
    sent = AlertSent(
        alert_id=uuid.UUID(int=1),
        contract_id=CONTRACT,
        contract_reference="CCC-ICT-0004",
        recipient_role="contract_owner",
        recipient=Recipient(email="nadia.begum@cambridge.gov.uk"),
        rung_days=30,
        act_by=date(2025, 3, 31),
        channel="email",
        sent_at=t(0),
    )
    alerts = apply_alert_event(None, sent)
    assert (alerts.last_alert_at, alerts.last_alert_role, alerts.escalation_open) == (
        t(0),
        "contract_owner",
        False,
    )
    alerts = apply_alert_event(alerts, escalated(t(2)))
    assert (alerts.escalation_open, alerts.escalated_to, alerts.escalated_act_by) == (
        True,
        "budget_holder",
        date(2025, 3, 31),
    )
    acked = apply_alert_event(alerts, acknowledged(t(3)))
    assert (acked.escalation_open, acked.acknowledged_by) == (False, RAVI.email)
    assert apply_alert_event(acked, escalated(t(1))).escalation_open is False  # an older escalation, late
    assert apply_alert_event(acked, escalated(t(5))).escalation_open is True  # a newer one
    decision = RenewalDecisionSubmitted(
        decision_id=uuid.uuid4(),
        contract_id=CONTRACT,
        contract_reference="CCC-ICT-0004",
        term_end=date(2025, 6, 30),
        outcome="terminate",
        rationale="Moving to the new platform",
        decided_by=RAVI,
        decided_at=t(4),
    )
    assert apply_alert_event(alerts, decision).escalation_open is False
    assert apply_alert_event(alerts, sent) == alerts  # a replayed sending changes nothing


def test_the_latest_renewal_fact_wins_by_day_and_on_one_day_the_later_rung():
    facts = {
        "contract_id": CONTRACT,
        "contract_reference": "CCC-ICT-0004",
        "act_by": date(2025, 3, 31),
        "current_term_end": date(2025, 6, 30),
        "notice_period_days": 60,
        "internal_lead_time_days": 30,
    }
    window = NoticeWindowOpened(**facts, as_of=date(2024, 10, 2))
    near = ActByApproaching(**facts, as_of=date(2025, 3, 24), days_left=7)
    late = RenewalOverdue(**facts, as_of=date(2025, 4, 2), days_overdue=2)
    alerts = apply_alert_event(None, window)
    alerts = apply_alert_event(alerts, late)
    alerts = apply_alert_event(alerts, near)  # older: ignored
    assert (alerts.fact, alerts.days_overdue, alerts.days_left, alerts.window_opened_on) == (
        "overdue",
        2,
        None,
        date(2024, 10, 2),
    )
    same_day = ActByApproaching(**{**facts, "act_by": date(2025, 4, 2)}, as_of=date(2025, 4, 2), days_left=0)
    assert apply_alert_event(alerts, same_day).fact == "overdue"


async def test_the_same_alert_event_twice_writes_the_row_once():
    store = FakeEstateProjections()
    for _ in range(2):
        await project_alerts(store, escalated(t(2)), at=NOW)
        await project_alerts(store, acknowledged(t(3)), at=NOW)
    assert store.writes == 2
    assert store.alerts[CONTRACT].escalation_open is False


def test_the_pipeline_runs_from_this_month_for_24_months_on_the_councils_day():
    assert pipeline_months(date(2025, 11, 30))[:3] == ["2025-11", "2025-12", "2026-01"]
    assert pipeline_months(date(2025, 11, 30))[-1] == "2027-10"
    assert month_after_window(date(2025, 11, 30)) == date(2027, 11, 1)
    # 23:30 UTC on 31 March 2025 is already 1 April in London (British Summer Time).
    assert council_day(datetime(2025, 3, 31, 23, 30, tzinfo=UTC)) == date(2025, 4, 1)
