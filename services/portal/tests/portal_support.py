"""What the portal's tests share besides fixtures (a module of its own: every service's tests have a
``conftest``, so tests import from here, never from ``conftest``)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from estate_notifications.bootstrap import Container as NotificationsContainer
from estate_portal.settings import PortalSettings


@dataclass
class Stack:
    """The services behind the portal in this test, for tests that set data up or look behind a page."""

    register: Any
    procurement: Any
    notifications: NotificationsContainer
    clients: dict[str, httpx.AsyncClient]
    settings: PortalSettings


CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "the page has no form token"
    return found.group(1)


SignIn = Callable[[httpx.AsyncClient, str], Awaitable[str]]
