"""What `estate up` decides before it starts anything: ports, broker, databases and environment."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

from estate_contracts.topics import ALL_TOPICS
from estate_devstack import plan as plan_module
from estate_devstack.plan import PlanError, make_plan
from estate_devstack.specs import SERVICES, topics
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
    ]
    assert plan.broker.embedded
    for process in processes:
        service = process.argv[-2].split(".")[0].removeprefix("estate_")
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
