"""A renewal decision submitted through the notifications service is recorded on the register's contract.

The notifications service asks the contract owner to decide before the act-by date and publishes what
they decided (``estate.notifications.renewal.decision_submitted``); the register is where the decision
is kept. Recording it is the same change as a decision made through the register's own API
(``POST /contracts/{id}/renewal-decisions``): the contract's rules apply, the decision is audited with
the person who took it as the actor (their e-mail, as the API names a caller), and the register
publishes ``estate.register.contract.renewal_decision_recorded`` from its outbox in the same commit.

- The decision keeps the id the notifications service gave it, so a decision delivered again under
  another event id (a replay) is recognised and recorded once.
- A decision is for one term, the one ending on ``term_end``. A tacit (automatic) renewal rolls a term
  on by itself without anyone recording it here, so for a tacit contract a ``term_end`` later than the
  recorded one, reached by whole renewal periods, is the running term: the register records the roll
  (audited, with the decider as actor) and then the decision. If the contract's current term ends on
  another day, the term has moved on meanwhile (a renewal was recorded in the register directly): the
  decision is stale, a warning is logged and nothing is recorded. Likewise when the contract is no
  longer active or expired (terminated, cancelled) or not yet active (pending). These are races between
  two services, not bad messages.
- A decision the contract's rules refuse (extend with no extension options left, a new term end not
  after the current one) raises the domain's error, and so does an unknown contract (NotFound): the
  message can never be recorded, and the subscriber dead-letters it.
"""

from __future__ import annotations

import logging
from datetime import date

from estate_contracts.notification_events import RenewalDecisionSubmitted
from estate_register.application import services
from estate_register.application.ports import UnitOfWork
from estate_register.domain.errors import NotFound
from estate_register.domain.model import Contract, RenewalDecision
from estate_register.domain.values import ContractStatus, RenewalOutcome, RenewalType
from estate_runtime.workdays import add_months

log = logging.getLogger(__name__)

DECIDABLE = frozenset({ContractStatus.ACTIVE, ContractStatus.EXPIRED})


async def record_submitted_decision(uow: UnitOfWork, submitted: RenewalDecisionSubmitted) -> Contract | None:
    """Record the submitted decision on its contract and commit. Returns the contract, or None when
    nothing was recorded (already recorded, stale term, contract not active or expired).

    Raises NotFound for a contract the register does not have, and InvalidValue or InvalidTransition
    for a decision the contract's rules refuse.
    """
    contract = await uow.contracts.get(submitted.contract_id)
    if contract is None:
        raise NotFound(f"no contract {submitted.contract_id} in the register")
    if any(d.id == submitted.decision_id for d in contract.renewal_decisions):
        log.info(
            "renewal decision %s on %s is already recorded; nothing to do",
            submitted.decision_id,
            contract.reference,
        )
        return None
    if contract.status not in DECIDABLE:
        log.warning(
            "renewal decision %s (%s by %s) on %s not recorded: the contract is %s; a decision needs an "
            "active or expired contract",
            submitted.decision_id,
            submitted.outcome,
            submitted.decided_by.email,
            contract.reference,
            contract.status,
        )
        return None
    version = contract.version
    if submitted.term_end != contract.current_term_end and _rolled_to(contract, submitted.term_end):
        contract.apply_changes(
            {"current_term_end": submitted.term_end},
            actor=submitted.decided_by.email,
            at=submitted.decided_at,
        )
    if submitted.term_end != contract.current_term_end:
        log.warning(
            "renewal decision %s (%s by %s) on %s not recorded: it is for the term ending %s, but the "
            "contract's current term ends %s (the term moved on meanwhile)",
            submitted.decision_id,
            submitted.outcome,
            submitted.decided_by.email,
            contract.reference,
            submitted.term_end.isoformat(),
            contract.current_term_end.isoformat(),
        )
        return None
    decision = RenewalDecision(
        id=submitted.decision_id,
        outcome=RenewalOutcome(submitted.outcome),
        rationale=submitted.rationale,
        decided_by=submitted.decided_by.email,
        decided_at=submitted.decided_at,
        new_term_end=submitted.new_term_end,
    )
    contract.record_renewal_decision(decision, calendar=uow.calendar)
    await uow.contracts.save(contract, expected_version=version)
    await services.commit(uow)
    return contract


def _rolled_to(contract: Contract, term_end: date) -> bool:
    """Whether ``term_end`` is where the contract's tacit renewals have taken its recorded term."""
    months = contract.renewal_period_months or 0
    if contract.renewal_type is not RenewalType.TACIT or months < 1 or term_end <= contract.current_term_end:
        return False
    for periods in range(1, 121):
        rolled = add_months(contract.current_term_end, periods * months)
        if rolled == term_end:
            return True
        if rolled > term_end:
            return False
    return False


__all__ = ["record_submitted_decision"]
