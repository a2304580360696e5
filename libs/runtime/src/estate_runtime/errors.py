"""Errors a service's rules raise. Each service's API maps each kind once to an RFC 9457 problem.

Pure Python: a domain package may import this module and nothing else of the runtime.
"""

from __future__ import annotations


class DomainError(Exception):
    """A rule of the service was broken; ``field`` names what to fix, when one field is to blame."""

    def __init__(self, detail: str, *, field: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field


class InvalidValue(DomainError):
    """A value is out of range or contradicts another (end before start, negative money)."""


class InvalidTransition(DomainError):
    """A lifecycle or status change that the rules do not allow from the current state."""


class NotFound(DomainError):
    """The record, or a record it refers to, does not exist."""


class Conflict(DomainError):
    """The change clashes with another record (a duplicate reference or name)."""


class StaleVersion(DomainError):
    """The caller changed an older version of the record than the one stored (lost update refused)."""
