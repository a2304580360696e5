"""TechnologyRequest <-> ``technology_requests`` row (and its ``request_conditions`` and ``decision_log``
rows).

Invariant: ``request_from_row(request_row(r)) == r`` for every request ``r`` (pending facts aside, which
are never stored). The JSON ``body`` holds every field without a column of its own, in plain form:
enums by value, Decimal money and scores as strings (so pence and score digits are exact), UUIDs as
strings, dates ISO, instants ISO in UTC. Reading decodes each value by the domain classes' type hints,
so a field added to the domain with a default reads old rows without a migration.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
import uuid
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, get_args, get_origin

from estate_procurement.domain.request import TechnologyRequest
from estate_procurement.domain.review import Decision
from estate_procurement.domain.values import ConditionStatus, PersonRef, RequestCategory, RequestState

COLUMN_FIELDS = frozenset(
    {
        "id",
        "reference",
        "requester",
        "state",
        "version",
        "created_at",
        "updated_at",
        "submitted_at",
        "title",
        "service_area",
        "category",
    }
)
"""Fields of the aggregate stored in their own columns (everything else goes to ``body``)."""

NOT_STORED = frozenset({"events"})
"""Pending facts: the audit trail and the outbox store them, at commit."""


# --- encoding ---------------------------------------------------------------------------------------


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("a naive datetime cannot be stored: every instant is timezone-aware")
    return value.astimezone(UTC)


def plain(value: Any) -> Any:
    """JSON-ready form of a domain value (instants in UTC; naive instants refused)."""
    if value is None or (isinstance(value, str | int | float | bool) and not isinstance(value, Enum)):
        return value
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return _utc(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [plain(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted((plain(v) for v in value), key=str)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    raise TypeError(f"cannot store a {type(value).__name__} as JSON")


# --- decoding ---------------------------------------------------------------------------------------


@functools.cache
def _hints(cls: type[Any]) -> dict[str, Any]:
    """The stored fields of a domain dataclass and their types."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls) if f.init and f.name not in NOT_STORED}


def decode(tp: Any, value: Any) -> Any:
    """The typed domain value of type ``tp`` for a plain (JSON) value."""
    if value is None:
        return None
    origin = get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in get_args(tp) if a is not type(None)]
        if len(inner) != 1:
            raise TypeError(f"cannot decode the union {tp}")
        return decode(inner[0], value)
    if origin is tuple:
        return tuple(decode(get_args(tp)[0], v) for v in value)
    if origin is list:
        return [decode(get_args(tp)[0], v) for v in value]
    if tp is Any or not isinstance(tp, type):
        return value
    if issubclass(tp, Enum):
        return tp(value)
    if tp is uuid.UUID:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    if tp is Decimal:
        return Decimal(str(value))
    if tp is datetime:
        instant = value if isinstance(value, datetime) else datetime.fromisoformat(value)
        return _utc(instant)
    if tp is date:
        return value if isinstance(value, date) else date.fromisoformat(value)
    if dataclasses.is_dataclass(tp):
        hints = _hints(tp)
        return tp(**{name: decode(hints[name], v) for name, v in value.items() if name in hints})
    return value


# --- the request ------------------------------------------------------------------------------------


def request_body(request: TechnologyRequest) -> dict[str, Any]:
    """The JSON body: every stored field of the aggregate that has no column."""
    return {
        name: plain(getattr(request, name)) for name in _hints(TechnologyRequest) if name not in COLUMN_FIELDS
    }


def request_row(request: TechnologyRequest) -> dict[str, Any]:
    """Column values of ``technology_requests`` for ``request`` (the version as the aggregate holds it)."""
    decision = request.latest_decision
    since = request.history[-1].entered_at if request.history else request.created_at
    return {
        "id": request.id,
        "reference": request.reference,
        "state": request.state.value,
        "requester_id": request.requester.id,
        "requester_email": request.requester.email,
        "requester_name": request.requester.name,
        "service_area": request.service_area,
        "title": request.title,
        "category": request.category.value if request.category is not None else None,
        "version": request.version,
        "created_at": _utc(request.created_at),
        "updated_at": _utc(request.updated_at),
        "state_since": _utc(since),
        "submitted_at": _utc(request.submitted_at) if request.submitted_at is not None else None,
        "decided_at": _utc(decision.decided_at) if decision is not None else None,
        "outcome": decision.outcome.value if decision is not None else None,
        "round_number": len(request.rounds),
        "body": request_body(request),
    }


def request_from_row(row: Mapping[Any, Any]) -> TechnologyRequest:
    """The aggregate stored in a ``technology_requests`` row (a mapping of its columns)."""
    hints = _hints(TechnologyRequest)
    body: Mapping[str, Any] = row["body"]
    fields = {
        name: decode(hints[name], v)
        for name, v in body.items()
        if name in hints and name not in COLUMN_FIELDS
    }
    category = row["category"]
    return TechnologyRequest(
        id=decode(uuid.UUID, row["id"]),
        reference=row["reference"],
        requester=PersonRef(id=row["requester_id"], name=row["requester_name"], email=row["requester_email"]),
        state=RequestState(row["state"]),
        version=row["version"],
        created_at=_utc(row["created_at"]),
        updated_at=_utc(row["updated_at"]),
        submitted_at=_utc(row["submitted_at"]) if row["submitted_at"] is not None else None,
        title=row["title"],
        service_area=row["service_area"],
        category=RequestCategory(category) if category is not None else None,
        **fields,
    )


def condition_rows(request: TechnologyRequest) -> list[dict[str, Any]]:
    """Rows of ``request_conditions``: the conditions of the latest decision, with their progress."""
    decision = request.latest_decision
    if decision is None:
        return []
    met = {m.condition_id: m for m in request.conditions_met}
    rows = []
    for condition in decision.conditions:
        done = met.get(condition.id)
        rows.append(
            {
                "condition_id": condition.id,
                "request_id": request.id,
                "round_number": decision.round,
                "text": condition.text,
                "owner_id": condition.owner.id,
                "owner_email": condition.owner.email,
                "owner_name": condition.owner.name,
                "due_date": condition.due_date,
                "status": (ConditionStatus.MET if done else ConditionStatus.OPEN).value,
                "met_at": _utc(done.met_at) if done else None,
                "met_by_id": done.met_by.id if done else None,
                "met_by_name": done.met_by.name if done else None,
                "met_by_email": done.met_by.email if done else None,
                "evidence": done.evidence if done else None,
            }
        )
    return rows


def decision_log_row(request: TechnologyRequest, decision: Decision) -> dict[str, Any]:
    """The ``decision_log`` row of one of the request's decisions, as it was published: the conditions
    as recorded (their progress is in ``request_conditions``)."""
    return {
        "request_id": request.id,
        "round": decision.round,
        "reference": request.reference,
        "title": request.title,
        "service_area": request.service_area,
        "outcome": decision.outcome.value,
        "rationale": decision.rationale,
        "decided_by_id": decision.decided_by.id,
        "decided_by_name": decision.decided_by.name,
        "decided_by_email": decision.decided_by.email,
        "decided_at": _utc(decision.decided_at),
        "recommended_outcome": decision.recommended_outcome.value,
        "checklist_version": decision.checklist_version,
        "conditions": plain(decision.conditions),
    }
