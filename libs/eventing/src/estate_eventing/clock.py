"""An injectable clock: every instant this package writes comes from one, and is aware UTC."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """Aware UTC. A naive value can only come back from SQLite, which this package fills with UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


class SettableClock:
    """A clock that says what it is told; ``set`` moves it. For tests, and for loaders that replay a
    history at the dates it would have had (demo data)."""

    def __init__(self, now: datetime) -> None:
        if now.tzinfo is None:
            raise ValueError("a clock tells aware instants; give a timezone")
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def set(self, now: datetime) -> None:
        if now.tzinfo is None:
            raise ValueError("a clock tells aware instants; give a timezone")
        self.now = now
