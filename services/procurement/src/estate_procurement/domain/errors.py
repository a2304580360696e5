"""Errors the procurement rules raise: the shared kinds of ``estate_runtime.errors`` plus two of our own.

The API maps each kind once to an RFC 9457 problem: InvalidValue and IncompleteRequest -> 422 (an
IncompleteRequest lists every field to fix in ``missing``), InvalidTransition -> 409, NotFound -> 404,
Conflict -> 409, StaleVersion -> 412, NotAllowed -> 403.
"""

from __future__ import annotations

from estate_runtime.errors import (
    Conflict,
    DomainError,
    InvalidTransition,
    InvalidValue,
    NotFound,
    StaleVersion,
)

__all__ = [
    "Conflict",
    "DomainError",
    "IncompleteRequest",
    "InvalidTransition",
    "InvalidValue",
    "NotAllowed",
    "NotFound",
    "StaleVersion",
]


class NotAllowed(DomainError):
    """The actor's roles do not allow this action on this request (the API answers 403).

    Examples: a requester editing someone else's draft, a TDA member deciding, an admin reopening.
    """


class IncompleteRequest(InvalidValue):
    """A request cannot be submitted yet; ``missing`` lists every problem as (field, message) pairs, so
    that the requester sees all of them at once rather than one per attempt (the API answers 422)."""

    def __init__(self, missing: list[tuple[str, str]]) -> None:
        self.missing = list(missing)
        listed = "; ".join(f"{name}: {message}" for name, message in self.missing)
        super().__init__(
            f"the request is not complete ({len(self.missing)} to fix): {listed}",
            field=self.missing[0][0] if self.missing else None,
        )
