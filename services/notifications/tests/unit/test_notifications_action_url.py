"""Where an alert's personal link points: the staff portal when ESTATE_NOTIFICATIONS_ACTION_URL names
it, else this service's own page at its public URL. Calendar feeds stay on the public URL."""

from __future__ import annotations

import pytest

from estate_notifications.bootstrap import bootstrap
from estate_notifications.settings import NotificationsSettings

PUBLIC = "https://estate.example.gov.uk/notifications"
PORTAL = "https://estate.example.gov.uk"
SECRET = "s" * 48


def settings(**values: object) -> NotificationsSettings:
    return NotificationsSettings(
        database_url="sqlite+aiosqlite:///:memory:",
        environment="test",
        link_secret=SECRET,
        public_url=PUBLIC,
        **values,  # type: ignore[arg-type]
    )


def test_alert_links_open_this_service_when_no_action_url_is_set() -> None:
    assert settings().action_url == PUBLIC


@pytest.mark.parametrize("blank", ["", "   "])
def test_a_blank_action_url_from_compose_or_kubernetes_counts_as_unset(
    blank: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ESTATE_NOTIFICATIONS_ACTION_URL", blank)
    assert settings().action_url == PUBLIC


def test_the_action_url_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ESTATE_NOTIFICATIONS_ACTION_URL", PORTAL)
    chosen = settings()
    assert chosen.action_url == PORTAL
    assert chosen.public_url == PUBLIC, "calendar feeds and the API stay where they were"


async def test_both_the_sweep_and_the_sender_write_links_to_the_action_url() -> None:
    """A digest is written by the sweep and a single alert by the sender: both must link to the portal."""
    container = bootstrap(settings(action_url=f"{PORTAL}/"))
    try:
        assert container.sweeper().composer.action_url == PORTAL
        dispatcher_composer = container.dispatcher().composer
        assert dispatcher_composer is not None
        assert dispatcher_composer.action_url == PORTAL
    finally:
        await container.close()
