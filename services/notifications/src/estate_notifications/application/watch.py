"""The renewal watch: a projection of every register contract (and the owners of the systems they cover),
kept from the register's events alone.

Rules:

* **Idempotent and order-safe.** A snapshot is applied only if its version is newer than the one held;
  a duplicate or an older snapshot arriving late changes nothing. Register events carry the whole record
  (event-carried state transfer), so the newest snapshot is the whole truth.
* **Rebuildable.** Everything here is derived from the snapshots and the alert policy, so replaying the
  register's events into an empty watch (``estate-notifications rebuild-watch`` then a consumer reset)
  gives the same watch. The alerts and deliveries already raised are kept: a step raised once is never
  raised again (their unique keys), so a rebuild sends nothing twice.
* A notice period of 0 means "not recorded" (the council's records never give one): the policy's default
  is assumed and the contract is flagged *notice unknown*.
* A contract whose dates are out of order or whose notice is longer than its term is kept, with the
  problem in words (``problems``), and alerted where a date can still be worked out.
* When a contract ends (terminated, cancelled), its term moves (renewed, extended) or a decision ends
  the ladder (terminate, re-procure), its open alerts close and their unsent messages are cancelled.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from estate_contracts.register_events import ContractSnapshot, SystemSnapshot
from estate_notifications.adapters.db.records import (
    AlertRecord,
    ContractTypeLadderRecord,
    DeliveryRecord,
    WatchedContractRecord,
    WatchedSystemRecord,
)
from estate_notifications.domain.dates import london_today
from estate_notifications.domain.renewal import (
    DECIDED_OUTCOMES_ENDING_TERM,
    AlertPolicy,
    ContractTerms,
    Ladder,
    RenewalPlan,
    StepKind,
    WatchState,
    plan_renewal,
    renewal_position,
)
from estate_runtime.workdays import WorkingCalendar

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class PolicyBook:
    """The alert policy of every contract: the default ladder, one per contract type, one per contract."""

    default: AlertPolicy
    by_type: dict[str, Ladder]

    def for_contract(self, contract_type: str, override: list[int] | None) -> AlertPolicy:
        if override:
            ladder = Ladder(rungs=tuple(override))
        else:
            ladder = self.by_type.get(contract_type, self.default.ladder)
        return AlertPolicy(
            ladder=ladder,
            overdue_every_days=self.default.overdue_every_days,
            default_notice_days=self.default.default_notice_days,
        )

    @classmethod
    async def load(cls, session: AsyncSession, default: AlertPolicy) -> PolicyBook:
        rows = (await session.scalars(select(ContractTypeLadderRecord))).all()
        return cls(
            default=default, by_type={row.contract_type: Ladder(rungs=tuple(row.rungs)) for row in rows}
        )


def terms_of(record: WatchedContractRecord) -> ContractTerms:
    return ContractTerms(
        start_date=record.start_date,
        current_term_end=record.current_term_end,
        renewal_type=record.renewal_type,
        renewal_period_months=record.renewal_period_months,
        extension_options_left=record.extension_options_left,
        notice_period_days=record.notice_period_days,
        internal_lead_time_days=record.internal_lead_time_days,
        status=record.status,
    )


def plan_for(
    record: WatchedContractRecord, *, book: PolicyBook, today: date, calendar: WorkingCalendar
) -> RenewalPlan:
    return plan_renewal(
        terms_of(record),
        WatchState(term_end=record.term_end, last_raised_on=record.last_raised_on),
        today=today,
        policy=book.for_contract(record.contract_type, record.ladder),
        calendar=calendar,
        decided_term_ends=[record.decided_term_end] if record.decided_term_end else [],
    )


def apply_plan(record: WatchedContractRecord, plan: RenewalPlan, *, today: date, raised: bool) -> None:
    """Write the plan's dates on the watch. Without ``raised`` the step due now is left for the sweep:
    the state keeps the last step actually raised."""
    record.problems = list(plan.problems)
    if plan.position is None:
        record.act_by = None
        record.next_due_on = None
        return
    record.act_by = plan.position.act_by
    record.notice_unknown = plan.position.notice_unknown
    if raised:
        record.term_end, record.last_raised_on = plan.state.term_end, plan.state.last_raised_on
        record.next_due_on = plan.next_due_on
    else:
        if record.term_end != plan.position.term_end:
            record.term_end, record.last_raised_on = plan.position.term_end, None
        due = plan.raise_now.due_on if plan.raise_now else plan.next_due_on
        record.next_due_on = due
    if record.next_due_on is not None and raised and record.next_due_on <= today:
        record.next_due_on = date.fromordinal(today.toordinal() + 1)  # never the same day twice


def _decided_term_end(
    snapshot: ContractSnapshot, terms: ContractTerms, default_notice_days: int, calendar: WorkingCalendar
) -> date | None:
    decision = snapshot.latest_renewal_decision
    if decision is None or decision.outcome not in DECIDED_OUTCOMES_ENDING_TERM:
        return None
    # The term the decision was taken in: the one running on the day it was recorded.
    day = london_today(decision.decided_at)
    return renewal_position(
        terms, today=day, default_notice_days=default_notice_days, calendar=calendar
    ).term_end


async def project_contract(
    session: AsyncSession,
    snapshot: ContractSnapshot,
    *,
    now: datetime,
    book: PolicyBook,
    calendar: WorkingCalendar,
) -> bool:
    """Apply a contract snapshot; False if it was not newer than the one held (nothing changed)."""
    record = await session.get(WatchedContractRecord, snapshot.id, with_for_update=True)
    if record is not None and record.version >= snapshot.version:
        log.info("contract %s v%s ignored: v%s is held", snapshot.reference, snapshot.version, record.version)
        return False
    previous_term = record.term_end if record else None
    if record is None:
        record = WatchedContractRecord(
            contract_id=snapshot.id,
            ladder=None,
            term_end=None,
            last_raised_on=None,
            problems=[],
            pending_decision_id=None,
            pending_decision_at=None,
            pending_decision_by=None,
            decided_term_end=None,
        )
        session.add(record)
    record.version = snapshot.version
    record.reference = snapshot.reference
    record.title = snapshot.title
    record.supplier_name = snapshot.supplier.name
    record.contract_type = snapshot.contract_type
    record.status = snapshot.status
    record.start_date = snapshot.start_date
    record.current_term_end = snapshot.current_term_end
    record.renewal_type = snapshot.renewal_type
    record.renewal_period_months = snapshot.renewal_period_months
    record.extension_options_left = snapshot.extension_options_left
    record.notice_period_days = snapshot.notice_period_days or None
    record.internal_lead_time_days = snapshot.internal_lead_time_days
    record.annual_value = snapshot.annual_value
    record.owner_email = snapshot.owner.email.lower() if snapshot.owner else None
    record.owner_name = snapshot.owner.name if snapshot.owner else None
    record.budget_holder_email = snapshot.budget_holder.email.lower() if snapshot.budget_holder else None
    record.budget_holder_name = snapshot.budget_holder.name if snapshot.budget_holder else None
    record.system_ids = [str(ref.id) for ref in snapshot.systems]
    record.updated_at = now
    terms = terms_of(record)
    policy = book.for_contract(record.contract_type, record.ladder)
    decided = _decided_term_end(snapshot, terms, policy.default_notice_days, calendar)
    if decided is not None:
        record.decided_term_end = decided
    today = london_today(now)
    plan = plan_for(record, book=book, today=today, calendar=calendar)
    apply_plan(record, plan, today=today, raised=False)
    if record.pending_decision_id is not None and (
        (
            snapshot.latest_renewal_decision
            and snapshot.latest_renewal_decision.id == record.pending_decision_id
        )
        or plan.position is None
        or plan.position.term_end != record.decided_term_end
    ):
        # The register recorded the decision, or the term it was for is over: nothing is pending.
        record.pending_decision_id = record.pending_decision_at = record.pending_decision_by = None
    await session.flush()
    if plan.position is None:
        await close_alerts(session, snapshot.id, reason="contract_ended", now=now)
    else:
        if previous_term is not None and previous_term != plan.position.term_end:
            await close_alerts(session, snapshot.id, reason="term_moved", now=now, term_end=previous_term)
        if record.decided_term_end is not None and record.decided_term_end == plan.position.term_end:
            # The decision answers the ladder and overdue alerts; the end-of-term alert is still due (and
            # a later snapshot of the same term must not cancel it once it has been raised).
            await close_alerts(
                session,
                snapshot.id,
                reason="decided",
                now=now,
                term_end=record.decided_term_end,
                kinds=(StepKind.LADDER.value, StepKind.OVERDUE.value),
            )
    return True


async def close_alerts(
    session: AsyncSession,
    contract_id: uuid.UUID,
    *,
    reason: str,
    now: datetime,
    term_end: date | None = None,
    kinds: tuple[str, ...] | None = None,
) -> int:
    """Close a contract's open alerts (of one term and of some kinds of step, if given) and cancel their
    unsent messages."""
    where = [AlertRecord.contract_id == contract_id, AlertRecord.closed_at.is_(None)]
    if term_end is not None:
        where.append(AlertRecord.term_end == term_end)
    if kinds is not None:
        where.append(AlertRecord.kind.in_(kinds))
    ids = list((await session.scalars(select(AlertRecord.id).where(*where))).all())
    if not ids:
        return 0
    await session.execute(
        update(AlertRecord)
        .where(AlertRecord.id.in_(ids))
        .values(closed_at=now, close_reason=reason, escalate_at=None)
    )
    await session.execute(
        update(DeliveryRecord)
        .where(DeliveryRecord.alert_id.in_(ids), DeliveryRecord.status.in_(("pending", "held")))
        .values(status="cancelled", last_error=f"not sent: the alert closed ({reason.replace('_', ' ')})")
    )
    return len(ids)


async def project_system(session: AsyncSession, snapshot: SystemSnapshot) -> bool:
    """Apply a system snapshot (its name and owner, for copying alerts); False if not newer."""
    record = await session.get(WatchedSystemRecord, snapshot.id, with_for_update=True)
    if record is not None and record.version >= snapshot.version:
        return False
    if record is None:
        record = WatchedSystemRecord(system_id=snapshot.id)
        session.add(record)
    record.version = snapshot.version
    record.name = snapshot.name
    record.owner_email = snapshot.system_owner.email.lower() if snapshot.system_owner else None
    record.owner_name = snapshot.system_owner.name if snapshot.system_owner else None
    record.retired = snapshot.lifecycle_stage == "retired"
    await session.flush()
    return True
