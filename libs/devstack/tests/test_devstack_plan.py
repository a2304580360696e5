"""What `estate up` decides before it starts anything: ports, broker, databases and environment."""

from __future__ import annotations

import dataclasses
import re
import socket
import sys
from pathlib import Path

import pytest

from estate_contracts.topics import ALL_TOPICS
from estate_devstack import plan as plan_module
from estate_devstack.plan import PlanError, free_port, make_plan
from estate_devstack.specs import SERVICES, ServiceSpec, topics
from estate_devstack.up import banner
from estate_notifications.adapters.messaging.subscribers import GROUP_ID as NOTIFICATIONS_GROUP_ID
from estate_procurement.adapters.messaging.subscribers import GROUP_ID as PROCUREMENT_GROUP_ID
from estate_register.adapters.messaging.subscribers import GROUP_ID as REGISTER_GROUP_ID


def plan_for(tmp_path: Path, environ: dict[str, str] | None = None, **options: object):  # type: ignore[no-untyped-def]
    defaults: dict[str, object] = {"http_port": None, "kafka_port": None, "demo_data": True}
    return make_plan(
        data_dir=tmp_path / "var",
        python=sys.executable,
        environ=environ or {},
        **(defaults | options),  # type: ignore[arg-type]
    )


def test_embedded_broker_gets_the_embedded_profile_and_sqlite_lives_in_the_data_dir(tmp_path: Path) -> None:
    plan = plan_for(tmp_path)
    processes = plan.processes()
    assert [p.argv[-2:] for p in processes] == [
        [f"estate_{service}.entrypoints.cli", command]
        for service in ("register", "procurement")
        for command in ("http", "worker", "relay")
    ] + [
        ["estate_notifications.entrypoints.cli", command]
        for command in ("smtp-sink", "http", "worker", "relay", "sweep", "send")
    ] + [["estate_portal.entrypoints.cli", "http"]]
    assert plan.broker.embedded
    for process in processes:
        service = process.argv[-2].split(".")[0].removeprefix("estate_")
        if service == "portal":  # no database: checked in its own test below
            continue
        assert process.env["ESTATE_KAFKA_PROFILE"] == "embedded"
        assert process.env["ESTATE_KAFKA_BOOTSTRAP_SERVERS"] == plan.broker.bootstrap_servers
        assert process.env[f"ESTATE_{service.upper()}_DATABASE_URL"] == (
            f"sqlite+aiosqlite:///{(tmp_path / 'var' / f'{service}.db').resolve()}"
        )
        assert process.env["ESTATE_AUTH_DEV_KEY_PATH"] == str(
            (tmp_path / "var" / "dev-jwt-key.pem").resolve()
        )
    http, worker, _relay, procurement_http = processes[:4]
    assert http.argv[1:] == ["-m", "estate_register.entrypoints.cli", "http"]
    assert http.ready_url == f"http://127.0.0.1:{plan.http_ports['register']}/health/ready"
    assert procurement_http.ready_url == f"http://127.0.0.1:{plan.http_ports['procurement']}/health/ready"
    assert plan.http_ports["procurement"] == plan.http_ports["register"] + 1
    assert plan.http_ports["notifications"] == plan.http_ports["register"] + 2
    assert worker.ready_url is None
    # The notifications service sends through the plan's SMTP sink, which keeps mail in the data dir.
    sink = plan.ports[("notifications", "smtp")]
    notifications = next(p for p in processes if p.argv[-1] == "smtp-sink")
    assert notifications.env["ESTATE_NOTIFICATIONS_SMTP_PORT"] == str(sink)
    assert notifications.env["ESTATE_NOTIFICATIONS_SINK_DIR"] == str((tmp_path / "var" / "mail").resolve())
    assert sink not in plan.http_ports.values() and sink != plan.broker.port


def test_a_broker_from_the_environment_is_used_with_the_kafka_profile_unless_told(tmp_path: Path) -> None:
    plan = plan_for(tmp_path, {"ESTATE_KAFKA_BOOTSTRAP_SERVERS": "kafka-1:9092,kafka-2:9092"})
    assert not plan.broker.embedded
    env = plan.processes()[0].env
    assert env["ESTATE_KAFKA_BOOTSTRAP_SERVERS"] == "kafka-1:9092,kafka-2:9092"
    assert plan.broker.profile == "kafka"
    assert env.get("ESTATE_KAFKA_PROFILE") != "embedded"

    told = plan_for(tmp_path, {"ESTATE_KAFKA_BOOTSTRAP_SERVERS": "h:1", "ESTATE_KAFKA_PROFILE": "embedded"})
    assert told.broker.profile == "embedded"


def test_kafka_port_and_an_external_broker_together_are_refused(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match="unset one of them"):
        plan_for(tmp_path, {"ESTATE_KAFKA_BOOTSTRAP_SERVERS": "h:1"}, kafka_port=19092)


def test_a_postgresql_url_from_the_environment_is_kept(tmp_path: Path) -> None:
    url = "postgresql+asyncpg://estate:secret@db.example:5432/register"
    plan = plan_for(tmp_path, {"ESTATE_REGISTER_DATABASE_URL": url})
    assert plan.processes()[0].env["ESTATE_REGISTER_DATABASE_URL"] == url
    assert "secret" not in plan.shown_database_url("register")


def test_a_taken_port_named_on_the_command_line_is_an_error_but_a_taken_default_is_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(PlanError, match=f"port {port} is in use"):
            plan_for(tmp_path, http_port=port)
        with pytest.raises(PlanError, match=f"port {port} is in use"):
            plan_for(tmp_path, kafka_port=port)
        with monkeypatch.context() as patch:
            patch.setattr(plan_module, "DEFAULT_HTTP_PORT", port)
            patch.setattr(plan_module, "DEFAULT_KAFKA_PORT", port)
            plan = plan_for(tmp_path)
        assert plan.http_ports["register"] != port
        assert plan.broker.port != port
        assert plan.http_port_replaced


def test_no_demo_data_leaves_out_only_the_demo_data_command(tmp_path: Path) -> None:
    with_demo = [task.argv[-1] for task in plan_for(tmp_path).setup_tasks()]
    without = [task.argv[-1] for task in plan_for(tmp_path, demo_data=False).setup_tasks()]
    # Every service is migrated before any demo data is loaded (the demo requests' approval is planned
    # in a register that already exists).
    assert with_demo == ["migrate", "migrate", "migrate", "demo-data", "demo-data"]
    assert without == ["migrate", "migrate", "migrate"]


def test_topics_include_every_event_topic_and_each_worker_dead_letter_topic() -> None:
    assert set(topics(SERVICES)) == {
        *ALL_TOPICS,
        f"estate.dlq.{REGISTER_GROUP_ID}",
        f"estate.dlq.{PROCUREMENT_GROUP_ID}",
        f"estate.dlq.{NOTIFICATIONS_GROUP_ID}",
    }


def portal_spec() -> ServiceSpec:
    return next(service for service in SERVICES if service.name == "portal")


def with_portal_port(port: int) -> list[ServiceSpec]:
    """SERVICES with the portal's own default port moved to ``port`` (8080 may be busy on this machine)."""
    return [dataclasses.replace(s, http_port=port) if s.name == "portal" else s for s in SERVICES]


def test_the_portal_starts_last_with_no_database_and_the_other_services_addresses(tmp_path: Path) -> None:
    plan = plan_for(tmp_path)
    assert SERVICES[-1].name == "portal"
    assert "portal" not in plan.database_urls
    assert not any("estate_portal" in " ".join(task.argv) for task in plan.setup_tasks())
    *_, portal = plan.processes()
    assert portal.name == "portal-http"
    assert portal.argv[1:] == ["-m", "estate_portal.entrypoints.cli", "http"]
    assert portal.ready_url == f"{plan.http_url('portal')}/health/ready"
    env = portal.env
    assert "ESTATE_PORTAL_DATABASE_URL" not in env
    assert env["ESTATE_PORTAL_HTTP_HOST"] == "127.0.0.1"
    assert env["ESTATE_PORTAL_HTTP_PORT"] == str(plan.http_ports["portal"])
    for service in ("register", "procurement", "notifications"):
        assert env[f"ESTATE_PORTAL_{service.upper()}_URL"] == plan.http_url(service)
    assert env["ESTATE_PORTAL_PUBLIC_URL"] == plan.http_url("portal")
    assert env["ESTATE_PORTAL_DEV_SIGN_IN"] == "true"
    assert env["ESTATE_PORTAL_SESSION_SECRET_FILE"] == str(
        (tmp_path / "var" / "portal-session-secret").resolve()
    )
    # It mints and checks tokens with the stack's development key, like the APIs.
    assert env["ESTATE_AUTH_DEV_KEY_PATH"] == str((tmp_path / "var" / "dev-jwt-key.pem").resolve())


def test_alert_emails_link_to_the_portal(tmp_path: Path) -> None:
    plan = plan_for(tmp_path)
    for process in plan.processes():
        if process.argv[-2] == "estate_notifications.entrypoints.cli":
            assert process.env["ESTATE_NOTIFICATIONS_ACTION_URL"] == plan.http_url("portal"), process.name
            assert process.env["ESTATE_NOTIFICATIONS_PUBLIC_URL"] == plan.http_url("notifications")

    without_portal = plan_for(tmp_path, services=[s for s in SERVICES if s.name != "portal"])
    env = without_portal.processes()[-1].env
    assert "ESTATE_NOTIFICATIONS_ACTION_URL" not in env, "no portal: the links open the service's own page"


def test_the_portal_keeps_its_own_port_whatever_http_port_says(tmp_path: Path) -> None:
    assert portal_spec().http_port == 8080, "the address the banner and the README give people"
    own = free_port()
    apis = next(
        port
        for port in iter(lambda: free_port(avoid={own - 2, own - 1, own}), None)
        if port < 65533 and plan_module.port_free(port + 1) and plan_module.port_free(port + 2)
    )
    plan = plan_for(tmp_path, http_port=apis, services=with_portal_port(own))
    assert plan.http_ports == {
        "register": apis,
        "procurement": apis + 1,
        "notifications": apis + 2,
        "portal": own,
    }
    assert not plan.http_port_replaced


def test_the_portal_port_comes_from_the_environment_and_a_taken_one_is_an_error(tmp_path: Path) -> None:
    chosen = free_port()
    plan = plan_for(tmp_path, {"ESTATE_PORTAL_HTTP_PORT": str(chosen)})
    assert plan.http_ports["portal"] == chosen
    assert plan.processes()[-1].env["ESTATE_PORTAL_HTTP_PORT"] == str(chosen)
    with pytest.raises(PlanError, match="ESTATE_PORTAL_HTTP_PORT"):
        plan_for(tmp_path, {"ESTATE_PORTAL_HTTP_PORT": "eighty"})
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(
            PlanError, match=f"port {port} is in use; choose another with ESTATE_PORTAL_HTTP_PORT"
        ):
            plan_for(tmp_path, {"ESTATE_PORTAL_HTTP_PORT": str(port)})
        # Its default taken: another port, and the banner says so.
        plan = plan_for(tmp_path, services=with_portal_port(port))
        assert plan.http_ports["portal"] != port
        assert plan.http_port_replaced


def test_the_banner_leads_with_the_portal_then_the_apis(tmp_path: Path) -> None:
    plan = plan_for(tmp_path)
    lines = banner(plan, "TOKEN").splitlines()
    first = next(
        i for i, line in enumerate(lines) if line.strip() and not line.startswith(("-", "Estate is up"))
    )
    assert lines[first] == f"Open {plan.http_url('portal')} and sign in as any of the demo people."
    text = "\n".join(lines)
    register = re.search(r"register\s+API docs", text)
    assert register and text.index("Open ") < register.start()
    assert not re.search(r"portal\s+API docs", text), "the portal serves people, not an API"
    assert f"{plan.http_url('register')}/api/v1/systems" in text, "the curl example uses an API"
