"""Fixtures of the API tests: a handle on the register under test."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from register_api_support import Register

from estate_register.bootstrap import Container


@pytest.fixture
def register(client: httpx.AsyncClient, container: Container, mint: Any) -> Register:
    return Register(client=client, container=container, mint=mint)
