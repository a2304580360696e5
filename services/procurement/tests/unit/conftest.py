"""Fixtures of the procurement unit tests."""

from __future__ import annotations

import pytest
from procurement_fakes import FakeStore


@pytest.fixture
def store() -> FakeStore:
    """An empty in-memory database; units of work over it (``procurement_fakes.uow``) share it."""
    return FakeStore()
