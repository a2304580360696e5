"""A renewal decision submitted through the notifications service is recorded on the contract once, as a
decision made through the register's API would be: audited with the person as the actor and published
as ``contract.renewal_decision_recorded``. A decision for a term that has moved on, or on a contract that
is no longer active, is skipped with a warning; one the contract's rules refuse raises their error."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, date, datetime

import pytest
from fakes import NOW, FakeStore, FakeUnitOfWork, a_contract

from estate_contracts.common import Person as EventPerson
from estate_contracts.notification_events import RenewalDecisionSubmitted
from estate_contracts.topics import REGISTER_CONTRACTS
from estate_eventing.correlation import correlation_scope
from estate_register.application import services
from estate_register.application.renewals import record_submitted_decision
from estate_register.domain.errors import InvalidTransition, InvalidValue, NotFound
from estate_register.domain.model import Contract
from estate_register.domain.values import ContractStatus, RenewalOutcome, RenewalType

OWNER = EventPerson(id="oid-owner", name="Sam Whitfield", email="sam.whitfield@cambridge.gov.uk")
TERM_END = date(2028, 3, 31)
DECIDED_AT = datetime(2025, 3, 1, 16, 45, tzinfo=UTC)
LOGGER = "estate_register.application.renewals"


def submitted(
    contract: Contract,
    outcome: str = "renew",
    *,
    decision_id: uuid.UUID | None = None,
    term_end: date = TERM_END,
    new_term_end: date | None = date(2031, 3, 31),
    rationale: str = "Still the best value; re-tendering would cost more than it saves",
) -> RenewalDecisionSubmitted:
    return RenewalDecisionSubmitted(
        decision_id=decision_id or uuid.uuid4(),
        contract_id=contract.id,
        contract_reference=contract.reference,
        term_end=term_end,
        outcome=outcome,  # type: ignore[arg-type]
        rationale=rationale,
        new_term_end=new_term_end if outcome in ("renew", "extend") else None,
        decided_by=OWNER,
        decided_at=DECIDED_AT,
        alert_id=uuid.uuid4(),
    )


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()


@pytest.fixture
def contract(store: FakeStore) -> Contract:
    """An active three-year licence ending 2028-03-31 with one extension option, 90 days' notice."""
    contract = a_contract(extension_options_left=1, notice_period_days=90)
    store.contracts[contract.id] = contract
    return contract


def written(store: FakeStore) -> tuple[int, int, int]:
    return len(store.audit), len(store.outbox), store.commits


async def test_a_submitted_renewal_is_recorded_with_its_id_person_and_time(store, contract):
    decision = submitted(contract, "renew")

    with correlation_scope("corr-alert", "cause-event"):
        result = await record_submitted_decision(FakeUnitOfWork(store), decision)

    assert result is not None
    stored = store.contracts[contract.id]
    (recorded,) = stored.renewal_decisions
    assert recorded.id == decision.decision_id
    assert (recorded.outcome, recorded.new_term_end) == (RenewalOutcome.RENEW, date(2031, 3, 31))
    assert (recorded.decided_by, recorded.decided_at) == (OWNER.email, DECIDED_AT)
    assert recorded.rationale == decision.rationale
    assert stored.current_term_end == date(2031, 3, 31)
    assert stored.act_by == date(2030, 12, 31)  # 90 days before the new term end, a Tuesday
    assert stored.version == contract.version + 1
    assert store.commits == 1


async def test_the_decision_is_audited_with_the_person_as_actor(store, contract):
    decision = submitted(contract, "terminate", new_term_end=None)

    with correlation_scope("corr-alert", "cause-event"):
        await record_submitted_decision(FakeUnitOfWork(store), decision)

    (entry,) = store.audit
    assert (entry.fact.kind, entry.fact.action, entry.fact.record_id) == (
        "contract",
        "renewal_decision_recorded",
        contract.id,
    )
    assert (entry.fact.actor, entry.fact.at) == (OWNER.email, DECIDED_AT)
    assert entry.correlation_id == "corr-alert"
    assert entry.fact.detail["decision"]["id"] == str(decision.decision_id)
    assert entry.fact.after["renewal_decisions"][-1]["outcome"] == "terminate"
    assert entry.fact.after["current_term_end"] == TERM_END.isoformat()  # terminate keeps the term


async def test_the_register_publishes_its_own_renewal_decision_recorded_event(store, contract):
    decision = submitted(contract, "extend", new_term_end=date(2029, 3, 31))

    with correlation_scope("corr-alert", "cause-event"):
        await record_submitted_decision(FakeUnitOfWork(store), decision)

    (entry,) = store.outbox
    assert entry.topic == REGISTER_CONTRACTS
    envelope = entry.envelope
    assert envelope.type == "estate.register.contract.renewal_decision_recorded"
    assert (envelope.subject, envelope.correlationid, envelope.causationid) == (
        str(contract.id),
        "corr-alert",
        "cause-event",
    )
    assert envelope.data["decision"] == {
        "id": str(decision.decision_id),
        "outcome": "extend",
        "rationale": decision.rationale,
        "decided_by": OWNER.email,
        "decided_at": DECIDED_AT.isoformat().replace("+00:00", "Z"),
        "new_term_end": "2029-03-31",
    }
    assert envelope.data["contract"]["current_term_end"] == "2029-03-31"
    assert envelope.data["contract"]["extension_options_left"] == 0
    assert envelope.data["contract"]["latest_renewal_decision"]["id"] == str(decision.decision_id)


async def test_the_same_decision_delivered_twice_is_recorded_once(store, contract):
    decision = submitted(contract, "renew")
    await record_submitted_decision(FakeUnitOfWork(store), decision)
    before = written(store)

    # A redelivery, or the same decision replayed under another event id: the payload is the same.
    again = await record_submitted_decision(FakeUnitOfWork(store), decision)

    assert again is None
    assert len(store.contracts[contract.id].renewal_decisions) == 1
    assert store.contracts[contract.id].current_term_end == date(2031, 3, 31)
    assert written(store) == before


async def test_a_recorded_terminate_delivered_again_is_not_recorded_twice(store, contract):
    # Terminate keeps the term, so only the decision id tells the replay from a new decision.
    decision = submitted(contract, "terminate", new_term_end=None)
    await record_submitted_decision(FakeUnitOfWork(store), decision)
    before = written(store)

    assert await record_submitted_decision(FakeUnitOfWork(store), decision) is None

    assert len(store.contracts[contract.id].renewal_decisions) == 1
    assert written(store) == before


async def test_a_decision_for_a_term_that_moved_on_is_skipped_with_a_warning(store, contract, caplog):
    # Someone recorded a renewal in the register directly before the alert's decision arrived.
    await services.decide_renewal(
        FakeUnitOfWork(store),
        contract_id=contract.id,
        outcome=RenewalOutcome.RENEW,
        rationale="Renewed at the contract review meeting",
        new_term_end=date(2030, 3, 31),
        expected_version=None,
        actor="priya.shah@cambridge.gov.uk",
    )
    before = written(store)
    decision = submitted(contract, "extend", new_term_end=date(2029, 3, 31))

    with caplog.at_level(logging.WARNING, logger=LOGGER):
        result = await record_submitted_decision(FakeUnitOfWork(store), decision)

    assert result is None
    stored = store.contracts[contract.id]
    assert [d.decided_by for d in stored.renewal_decisions] == ["priya.shah@cambridge.gov.uk"]
    assert (stored.current_term_end, stored.extension_options_left) == (date(2030, 3, 31), 1)
    assert written(store) == before
    (warning,) = caplog.records
    assert warning.levelno == logging.WARNING
    message = warning.getMessage()
    assert str(decision.decision_id) in message and contract.reference in message
    assert "2028-03-31" in message and "2030-03-31" in message


@pytest.mark.parametrize("status", [ContractStatus.TERMINATED, ContractStatus.CANCELLED])
async def test_a_decision_on_a_contract_that_is_no_longer_active_is_skipped(store, contract, caplog, status):
    store.contracts[contract.id].status = status

    with caplog.at_level(logging.WARNING, logger=LOGGER):
        result = await record_submitted_decision(FakeUnitOfWork(store), submitted(contract, "renew"))

    assert result is None
    assert store.contracts[contract.id].renewal_decisions == ()
    assert written(store) == (0, 0, 0)
    (warning,) = caplog.records
    assert str(status) in warning.getMessage()


async def test_a_decision_on_an_expired_contract_renews_it(store, contract):
    store.contracts[contract.id].status = ContractStatus.EXPIRED

    await record_submitted_decision(FakeUnitOfWork(store), submitted(contract, "renew"))

    assert store.contracts[contract.id].status is ContractStatus.ACTIVE


async def test_an_extension_with_no_options_left_is_refused_by_the_contract(store):
    contract = a_contract(extension_options_left=0)
    store.contracts[contract.id] = contract

    with pytest.raises(InvalidTransition, match="no extension options are left"):
        await record_submitted_decision(
            FakeUnitOfWork(store), submitted(contract, "extend", new_term_end=date(2029, 3, 31))
        )

    assert store.contracts[contract.id].renewal_decisions == ()
    assert written(store) == (0, 0, 0)


async def test_a_rationale_longer_than_the_register_keeps_is_refused(store, contract):
    with pytest.raises(InvalidValue, match="rationale"):
        await record_submitted_decision(
            FakeUnitOfWork(store), submitted(contract, "terminate", rationale="x" * 4001)
        )

    assert written(store) == (0, 0, 0)


async def test_a_decision_on_a_contract_the_register_does_not_have_is_not_found(store):
    unknown = a_contract()

    with pytest.raises(NotFound, match=f"no contract {unknown.id} in the register"):
        await record_submitted_decision(FakeUnitOfWork(store), submitted(unknown, "renew"))

    assert written(store) == (0, 0, 0)


async def test_the_decision_keeps_the_time_it_was_taken_not_the_time_it_arrived(store, contract):
    assert DECIDED_AT != NOW

    await record_submitted_decision(FakeUnitOfWork(store), submitted(contract, "reprocure"))

    stored = store.contracts[contract.id]
    assert stored.renewal_decisions[0].decided_at == DECIDED_AT
    assert stored.updated_at == DECIDED_AT


async def test_a_decision_for_a_term_a_tacit_renewal_rolled_on_records_the_roll_then_the_decision(store):
    contract = a_contract(renewal_type=RenewalType.TACIT, renewal_period_months=12, notice_period_days=90)
    store.contracts[contract.id] = contract
    rolled_term = date(2029, 3, 31)  # the recorded term ends 2028-03-31; it renewed itself for a year

    await record_submitted_decision(
        FakeUnitOfWork(store), submitted(contract, "terminate", term_end=rolled_term, new_term_end=None)
    )

    stored = store.contracts[contract.id]
    assert stored.current_term_end == rolled_term
    assert [d.outcome for d in stored.renewal_decisions] == [RenewalOutcome.TERMINATE]
    assert [entry.fact.action for entry in store.audit][-2:] == ["changed", "renewal_decision_recorded"]


async def test_a_later_term_end_that_is_not_a_whole_number_of_tacit_periods_is_skipped(store, caplog):
    contract = a_contract(renewal_type=RenewalType.TACIT, renewal_period_months=12, notice_period_days=90)
    store.contracts[contract.id] = contract

    with caplog.at_level(logging.WARNING, logger=LOGGER):
        result = await record_submitted_decision(
            FakeUnitOfWork(store),
            submitted(contract, "terminate", term_end=date(2028, 9, 30), new_term_end=None),
        )

    assert result is None
    assert store.contracts[contract.id].current_term_end == TERM_END
    assert "moved on" in caplog.text
