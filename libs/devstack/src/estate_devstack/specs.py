"""What ``estate up`` runs, service by service, in start order.

To add a service, append its :class:`ServiceSpec` to :data:`SERVICES`: ``estate up`` then creates its
database under the data directory, its consumer groups' dead-letter topics, runs its set-up commands,
starts its processes, waits for its health check and stops it with the rest. A service with no database
(the portal) leaves out ``database_file`` and has ``setup=()``. Each service is driven only through its own command line
(``python -m <cli_module> <command>``) and ``ESTATE_*`` environment variables, exactly as it runs in
production, so nothing here knows a service's internals.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from estate_contracts.topics import ALL_TOPICS, dead_letter_topic

if TYPE_CHECKING:
    from estate_devstack.plan import Plan


@dataclass(frozen=True, slots=True)
class ProcessSpec:
    """A long-running process of a service: ``<cli> <command>``, logged as ``<service>-<command>``."""

    command: str
    serves_http: bool = False
    """It listens on the service's HTTP port; ``estate up`` waits for its ``/health/ready``."""


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    name: str
    cli_module: str
    """Runs as ``python -m cli_module``; it must call its app under ``if __name__ == "__main__"``."""
    env_prefix: str
    """``<prefix>DATABASE_URL``, ``<prefix>HTTP_HOST`` and ``<prefix>HTTP_PORT`` are set from the plan."""
    web: bool = False
    """It serves people (the portal), not an API: the banner leads with its address, and lists no API
    docs or metrics for it."""
    http_port: int | None = None
    """A default HTTP port of its own (the portal's 8080, which people type), rather than the next one
    after ``--http-port``; ``<prefix>HTTP_PORT`` in the environment chooses another."""
    database_file: str | None = None
    """SQLite file under the data directory, unless ``<prefix>DATABASE_URL`` is already set."""
    consumer_groups: tuple[str, ...] = ()
    """Groups its workers consume as: their dead-letter topics are created up front. Written out rather
    than imported, so that ``estate`` starts without importing every service (a test checks them)."""
    setup: tuple[tuple[str, ...], ...] = (("migrate",),)
    """One-off commands run, in order, before any process of any service starts."""
    demo_data: tuple[str, ...] | None = None
    """The command that loads demo data; it must be idempotent (``--no-demo-data`` skips it)."""
    processes: tuple[ProcessSpec, ...] = ()
    extra_env: Callable[[Plan], Mapping[str, str]] | None = field(default=None)
    """More environment from the plan, e.g. a portal's URLs of the other services' APIs."""
    ports: Mapping[str, int] = field(default_factory=dict)
    """More ports the service listens on (name: default), chosen like the HTTP ports (a default that is
    taken is replaced by a free one); ``Plan.ports[(service, name)]`` holds the choice."""

    @property
    def http_process(self) -> ProcessSpec | None:
        return next((p for p in self.processes if p.serves_http), None)


PORTAL = "portal"


def _notifications_env(plan: Plan) -> Mapping[str, str]:
    env = {
        "ESTATE_NOTIFICATIONS_SMTP_HOST": "127.0.0.1",
        "ESTATE_NOTIFICATIONS_SMTP_PORT": str(plan.ports[("notifications", "smtp")]),
        "ESTATE_NOTIFICATIONS_SMTP_SECURITY": "none",
        "ESTATE_NOTIFICATIONS_SINK_DIR": str(plan.data_dir / "mail"),
        "ESTATE_NOTIFICATIONS_PUBLIC_URL": plan.http_url("notifications"),
        "ESTATE_NOTIFICATIONS_SWEEP_INTERVAL_SECONDS": "10",
        "ESTATE_NOTIFICATIONS_LINK_SECRET_FILE": str(plan.data_dir / "notifications-link-secret"),
    }
    if PORTAL in plan.http_ports:
        # An alert's "act on this" link opens the portal's page for it, not the service's own bare one.
        env["ESTATE_NOTIFICATIONS_ACTION_URL"] = plan.http_url(PORTAL)
    return env


def _portal_env(plan: Plan) -> Mapping[str, str]:
    return {
        "ESTATE_PORTAL_REGISTER_URL": plan.http_url("register"),
        "ESTATE_PORTAL_PROCUREMENT_URL": plan.http_url("procurement"),
        "ESTATE_PORTAL_NOTIFICATIONS_URL": plan.http_url("notifications"),
        "ESTATE_PORTAL_PUBLIC_URL": plan.http_url(PORTAL),
        # Sign in as a demo person, with a token from the stack's own development key.
        "ESTATE_PORTAL_DEV_SIGN_IN": "true",
        "ESTATE_PORTAL_SESSION_SECRET_FILE": str(plan.data_dir / "portal-session-secret"),
    }


SERVICES: list[ServiceSpec] = [
    ServiceSpec(
        name="register",
        cli_module="estate_register.entrypoints.cli",
        env_prefix="ESTATE_REGISTER_",
        database_file="register.db",
        consumer_groups=("estate-register-worker",),  # estate_register...subscribers.GROUP_ID
        setup=(("migrate",),),
        demo_data=("demo-data",),
        processes=(ProcessSpec("http", serves_http=True), ProcessSpec("worker"), ProcessSpec("relay")),
    ),
    ServiceSpec(
        name="procurement",
        cli_module="estate_procurement.entrypoints.cli",
        env_prefix="ESTATE_PROCUREMENT_",
        database_file="procurement.db",
        consumer_groups=("estate-procurement-worker",),  # estate_procurement...subscribers.GROUP_ID
        setup=(("migrate",),),
        demo_data=("demo-data",),
        processes=(ProcessSpec("http", serves_http=True), ProcessSpec("worker"), ProcessSpec("relay")),
    ),
    ServiceSpec(
        name="notifications",
        cli_module="estate_notifications.entrypoints.cli",
        env_prefix="ESTATE_NOTIFICATIONS_",
        database_file="notifications.db",
        consumer_groups=("estate-notifications-worker",),  # estate_notifications...subscribers.GROUP_ID
        setup=(("migrate",),),
        processes=(
            ProcessSpec("smtp-sink"),
            ProcessSpec("http", serves_http=True),
            ProcessSpec("worker"),
            ProcessSpec("relay"),
            ProcessSpec("sweep"),
            ProcessSpec("send"),
        ),
        extra_env=_notifications_env,
        ports={"smtp": 8025},
    ),
    # Last: it only calls the others' APIs, and its readiness waits for them.
    ServiceSpec(
        name=PORTAL,
        cli_module="estate_portal.entrypoints.cli",
        env_prefix="ESTATE_PORTAL_",
        web=True,
        http_port=8080,
        setup=(),  # no database, nothing to migrate
        processes=(ProcessSpec("http", serves_http=True),),
        extra_env=_portal_env,
    ),
]


def topics(services: list[ServiceSpec]) -> list[str]:
    """Every event topic, and the dead-letter topic of every consumer group of ``services``."""
    names = list(ALL_TOPICS)
    names += [dead_letter_topic(group) for service in services for group in service.consumer_groups]
    return list(dict.fromkeys(names))
