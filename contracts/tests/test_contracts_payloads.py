"""Payloads hold their invariants, write money as strings, and match their committed JSON Schemas."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import jsonschema
import pytest
from pydantic import ValidationError

from estate_contracts import notification_events as notifications
from estate_contracts import procurement_events as procurement
from estate_contracts.envelope import Envelope, EventPayload, new_envelope
from estate_contracts.registry import EVENT_TYPES, parse_payload
from estate_contracts.schemas import SCHEMA_DIR, schema_file_name

REQUEST_ID = uuid.UUID("0b7c2f4e-52a4-4d3e-9a51-0f0a3c1d2e01")
CONTRACT_ID = uuid.UUID("5d1e7a90-3c2b-4f6e-8a9d-1b2c3d4e5f60")
ALERT_ID = uuid.UUID("9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d")
CONDITION_ID = uuid.UUID("c0ffee00-0000-4000-8000-000000000001")
WHEN = datetime(2025, 3, 4, 9, 30, tzinfo=UTC)
REQUESTER = {"id": "oid-requester", "name": "Sam Patel", "email": "sam.patel@cambridge.gov.uk"}
CHAIR = {"id": "oid-chair", "name": "Alex Morgan", "email": "alex.morgan@cambridge.gov.uk"}
CAMBRIDGE, SOUTH_CAMBS, HUNTS = "CCC", "SCDC", "HDC"

PROPOSED_SYSTEM: dict[str, Any] = {
    "name": "Online forms platform",
    "description": "Resident-facing forms for revenues and benefits.",
    "service_areas": ["revenues-benefits"],
    "capabilities": ["online-forms"],
    "supplier_name": "IEG4",
    "product_family": "OneVu",
    "hosting": "saas",
    "holds_personal_data": True,
    "councils_in_scope": [CAMBRIDGE],
    "estimated_annual_value": "100000.00",
    "estimated_initial_cost": "0",
    "expected_start_date": "2025-04-01",
    "term_months": 36,
}
RENEWAL: dict[str, Any] = {
    "contract_id": CONTRACT_ID,
    "contract_reference": "CON-0042",
    "current_term_end": date(2025, 9, 30),
    "notice_period_days": 90,
    "internal_lead_time_days": 60,
    "act_by": date(2025, 5, 2),
}

EXAMPLES: dict[type[EventPayload], dict[str, Any]] = {
    procurement.RequestSubmitted: {
        "request_id": REQUEST_ID,
        "reference": "TR-2025-0042",
        "title": "Replace the benefits online forms",
        "requester": REQUESTER,
        "service_area": "revenues-benefits",
        "category": "it",
        "problem_summary": "Residents cannot apply for council tax support online on a phone.",
        "proposed_product": "OneVu",
        "proposed_supplier": "IEG4",
        "capabilities_needed": ["online-forms", "case-management"],
        "estimated_initial_cost": Decimal("12500"),
        "estimated_annual_cost": Decimal("100000.00"),
        "councils_in_scope": [CAMBRIDGE, SOUTH_CAMBS, HUNTS],
        "renews_or_replaces_contract_id": CONTRACT_ID,
        "submitted_at": WHEN,
    },
    procurement.RequestInformationRequested: {
        "request_id": REQUEST_ID,
        "reference": "TR-2025-0042",
        "requester": REQUESTER,
        "asked_by": CHAIR,
        "questions": ["Which integrations are in use today?", "What does each form cost?"],
        "due_date": date(2025, 3, 18),
        "requested_at": WHEN,
    },
    procurement.RequestDecided: {
        "request_id": REQUEST_ID,
        "reference": "TR-2025-0042",
        "requester": REQUESTER,
        "outcome": "approved_with_conditions",
        "rationale": "Renew with only the products in use; re-tender at the end of the term.",
        "decided_by": CHAIR,
        "decided_at": WHEN,
        "conditions": [
            {
                "condition_id": CONDITION_ID,
                "text": "Complete a DPIA before go-live.",
                "owner": REQUESTER,
                "due_date": date(2025, 3, 31),
            }
        ],
        "proposed_system": PROPOSED_SYSTEM,
    },
    procurement.RequestWithdrawn: {
        "request_id": REQUEST_ID,
        "reference": "TR-2025-0042",
        "withdrawn_by": REQUESTER,
        "reason": "An existing system already does the job.",
        "withdrawn_at": WHEN,
    },
    procurement.RequestReviewStarted: {
        "request_id": REQUEST_ID,
        "reference": "TR-2025-0042",
        "started_by": REQUESTER,
        "checklist_version": "tda-review@1",
        "started_at": WHEN,
    },
    procurement.RequestResubmitted: {
        "request_id": REQUEST_ID,
        "reference": "TR-2025-0042",
        "requester": REQUESTER,
        "answers": "The DPIA is attached and the supplier confirmed full data export in CSV.",
        "resubmitted_at": WHEN,
    },
    procurement.RequestReopened: {
        "request_id": REQUEST_ID,
        "reference": "TR-2025-0042",
        "reopened_by": REQUESTER,
        "reason": "The supplier withdrew the product the approval relied on.",
        "reopened_at": WHEN,
    },
    procurement.RequestConditionMet: {
        "request_id": REQUEST_ID,
        "reference": "TR-2025-0042",
        "condition_id": CONDITION_ID,
        "met_by": REQUESTER,
        "met_at": WHEN,
        "evidence": "DPIA signed off by the DPO on 20 March.",
    },
    notifications.AlertSent: {
        "alert_id": ALERT_ID,
        "contract_id": CONTRACT_ID,
        "contract_reference": "CON-0042",
        "recipient_role": "contract_owner",
        "recipient": {"person_id": "oid-owner", "name": "Jo Owner", "email": "jo.owner@cambridge.gov.uk"},
        "rung_days": 90,
        "act_by": date(2025, 5, 2),
        "channel": "email",
        "sent_at": WHEN,
    },
    notifications.AlertEscalated: {
        "alert_id": ALERT_ID,
        "contract_id": CONTRACT_ID,
        "contract_reference": "CON-0042",
        "from_role": "contract_owner",
        "to_role": "budget_holder",
        "reason": "not_acknowledged",
        "rung_days": 90,
        "act_by": date(2025, 5, 2),
        "escalated_at": WHEN,
    },
    notifications.AlertAcknowledged: {
        "alert_id": ALERT_ID,
        "contract_id": CONTRACT_ID,
        "contract_reference": "CON-0042",
        "acknowledged_by": CHAIR,
        "acknowledged_at": WHEN,
        "note": "Usage research started; negotiation in January.",
    },
    notifications.NoticeWindowOpened: {**RENEWAL, "as_of": date(2024, 11, 3)},
    notifications.ActByApproaching: {**RENEWAL, "as_of": date(2025, 4, 2), "days_left": 30},
    notifications.RenewalOverdue: {**RENEWAL, "as_of": date(2025, 5, 9), "days_overdue": 7},
    notifications.RenewalDecisionSubmitted: {
        "decision_id": uuid.UUID("d0d0d0d0-0000-4000-8000-000000000001"),
        "contract_id": CONTRACT_ID,
        "contract_reference": "CON-0042",
        "term_end": date(2025, 9, 30),
        "outcome": "renew",
        "rationale": "Market test found no cheaper product that meets the user needs; renew for two years.",
        "new_term_end": date(2027, 9, 30),
        "decided_by": REQUESTER,
        "decided_at": WHEN,
        "alert_id": ALERT_ID,
    },
}


def committed_schema(model: type[EventPayload]) -> dict[str, Any]:
    path = SCHEMA_DIR / schema_file_name(model.event_type, model.event_version)
    schema: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return schema


def test_every_procurement_and_notification_event_has_an_example() -> None:
    ours = {
        model
        for model in EVENT_TYPES.values()
        if model.__module__ in (procurement.__name__, notifications.__name__)
    }
    assert ours == set(EXAMPLES)


@pytest.mark.parametrize("model", list(EXAMPLES), ids=lambda model: model.event_type)
def test_example_travels_in_an_envelope_and_matches_its_committed_schema(model: type[EventPayload]) -> None:
    payload = model.model_validate(EXAMPLES[model])
    envelope = new_envelope(
        event=payload, source="/estate/test", subject=payload.kafka_key(), correlationid="c-1", time=WHEN
    )

    jsonschema.Draft202012Validator(committed_schema(model)).validate(envelope.data)
    received = Envelope.model_validate_json(envelope.to_bytes())
    assert parse_payload(received) == payload
    assert received.subject == str(getattr(payload, model.key_field))


def test_money_is_written_as_a_two_decimal_string_and_read_back_exactly() -> None:
    submitted = procurement.RequestSubmitted.model_validate(EXAMPLES[procurement.RequestSubmitted])

    data = submitted.model_dump(mode="json")

    assert data["estimated_initial_cost"] == "12500.00"
    assert data["estimated_annual_cost"] == "100000.00"
    assert procurement.RequestSubmitted.model_validate(data).estimated_annual_cost == Decimal("100000")


@pytest.mark.parametrize("amount", ["-1.00", "10.001", "NaN", "1e400"])
def test_money_that_is_negative_has_fractions_of_a_penny_or_is_not_a_number_is_refused(amount: str) -> None:
    with pytest.raises(ValidationError):
        procurement.RequestSubmitted.model_validate(
            {**EXAMPLES[procurement.RequestSubmitted], "estimated_annual_cost": amount}
        )


def decided(**changes: Any) -> procurement.RequestDecided:
    return procurement.RequestDecided.model_validate({**EXAMPLES[procurement.RequestDecided], **changes})


def test_an_approval_must_carry_the_proposed_system() -> None:
    with pytest.raises(ValidationError, match="must carry the proposed system"):
        decided(outcome="approved", conditions=[], proposed_system=None)


def test_a_non_approval_carries_no_proposed_system_and_no_conditions() -> None:
    with pytest.raises(ValidationError, match="no proposed system"):
        decided(outcome="not_approved", conditions=[])
    assert decided(outcome="not_approved", conditions=[], proposed_system=None).proposed_system is None


def test_conditions_come_exactly_with_a_conditional_approval() -> None:
    with pytest.raises(ValidationError, match="conditions are given exactly"):
        decided(outcome="approved_with_conditions", conditions=[])
    with pytest.raises(ValidationError, match="conditions are given exactly"):
        decided(outcome="approved")


def test_condition_ids_are_unique_within_a_decision() -> None:
    condition = EXAMPLES[procurement.RequestDecided]["conditions"][0]

    with pytest.raises(ValidationError, match="unique"):
        decided(conditions=[condition, condition])


def test_an_outcome_outside_the_three_is_refused() -> None:
    with pytest.raises(ValidationError):
        decided(outcome="deferred")


def test_a_naive_timestamp_in_a_payload_is_refused() -> None:
    with pytest.raises(ValidationError):
        procurement.RequestWithdrawn.model_validate(
            {**EXAMPLES[procurement.RequestWithdrawn], "withdrawn_at": datetime(2025, 3, 4, 9, 30)}
        )


def test_a_request_names_at_least_one_council_by_code() -> None:
    base = EXAMPLES[procurement.RequestSubmitted]
    for councils in ([], [""], ["Cambridge City Council, Guildhall, Market Square"]):
        with pytest.raises(ValidationError):
            procurement.RequestSubmitted.model_validate({**base, "councils_in_scope": councils})


def test_an_escalation_moves_to_another_role() -> None:
    with pytest.raises(ValidationError, match="different role"):
        notifications.AlertEscalated.model_validate(
            {**EXAMPLES[notifications.AlertEscalated], "to_role": "contract_owner"}
        )


def test_renewal_day_counts_must_agree_with_their_dates() -> None:
    with pytest.raises(ValidationError, match="days_left"):
        notifications.ActByApproaching.model_validate(
            {**EXAMPLES[notifications.ActByApproaching], "days_left": 29}
        )
    with pytest.raises(ValidationError, match="days_overdue"):
        notifications.RenewalOverdue.model_validate(
            {**EXAMPLES[notifications.RenewalOverdue], "days_overdue": 1}
        )


def test_act_by_cannot_fall_after_the_end_of_the_term() -> None:
    with pytest.raises(ValidationError, match="act_by"):
        notifications.NoticeWindowOpened.model_validate(
            {**EXAMPLES[notifications.NoticeWindowOpened], "act_by": date(2025, 10, 1)}
        )


@pytest.mark.parametrize(
    ("outcome", "new_term_end"),
    [("renew", None), ("extend", date(2025, 9, 30)), ("terminate", date(2027, 9, 30))],
)
def test_a_submitted_decision_gives_a_new_term_end_only_to_renew_or_extend_and_after_the_term(
    outcome: str, new_term_end: date | None
) -> None:
    with pytest.raises(ValidationError, match="new_term_end"):
        notifications.RenewalDecisionSubmitted.model_validate(
            {
                **EXAMPLES[notifications.RenewalDecisionSubmitted],
                "outcome": outcome,
                "new_term_end": new_term_end,
            }
        )
