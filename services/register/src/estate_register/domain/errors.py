"""Errors the register's rules raise: the shared kinds, which the API maps once to RFC 9457 problems."""

from __future__ import annotations

from estate_runtime.errors import (
    Conflict,
    DomainError,
    InvalidTransition,
    InvalidValue,
    NotFound,
    StaleVersion,
)

__all__ = ["Conflict", "DomainError", "InvalidTransition", "InvalidValue", "NotFound", "StaleVersion"]
