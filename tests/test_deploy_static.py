"""Offline checks of everything under deploy/, docker-compose.yml, the Makefile and .ci/run.

No Docker engine runs on the project's machines, so nothing here starts a container. What can be
checked without one is checked hard: the compose file's structure (keys, dependency conditions,
restart policies), the Kafka KRaft settings, the wiring between services (a
``service_healthy`` dependency on a service that has no health check would wait forever), one database
per service, topic lists against the message contracts, the Dockerfile's stages and user, and every
Kubernetes document's probes, resources and security context. Where the ``docker compose`` plugin is
installed, ``docker compose config -q`` runs as well.
"""

from __future__ import annotations

import base64
import copy
import fnmatch
import glob
import http.server
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from estate_contracts import topics

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = DEPLOY / "Dockerfile"
INIT_SQL = DEPLOY / "postgres" / "init" / "01-databases.sql"
TOPICS_FILE = DEPLOY / "kafka" / "topics.txt"
K8S = DEPLOY / "k8s"

#: Services that own a database (DESIGN.md), a Kafka consumer group and a migration; the portal owns
#: nothing durable and uses no broker: it calls the others' HTTP APIs.
SERVICES_WITH_A_DATABASE = {"register", "procurement", "notifications"}
#: Services that docker-compose.yml and deploy/k8s/ run, each with its host port for the http process.
DEPLOYED_SERVICES = {"register": 8000, "procurement": 8001, "notifications": 8002, "portal": 8080}
#: Consumer groups that have a dead-letter topic of their own.
CONSUMER_GROUPS = {"estate-register-worker", "estate-procurement-worker", "estate-notifications-worker"}
#: The processes every deployed service runs: subcommands of its console script ``estate-<service>``.
PROCESSES = {"http", "worker", "relay", "migrate"}
#: Each deployed service's processes. The notifications service adds its sweep (renewal alerts on a
#: schedule) and its sender (e-mail and Teams); its ``smtp-sink`` is for development and is not deployed.
SERVICE_PROCESSES = {
    "register": PROCESSES,
    "procurement": PROCESSES,
    "notifications": PROCESSES | {"sweep", "send"},
    "portal": {"http"},
}
#: Long-running processes that serve no API, only their Prometheus metrics, on which they are checked.
METRICS_ONLY_PROCESSES = {"worker", "relay", "sweep", "send"}
#: The keys of each service's Secret: whatever holds a password or grants access, and nothing else.
SECRET_KEYS = {
    "register": {"ESTATE_REGISTER_DATABASE_URL"},
    "procurement": {"ESTATE_PROCUREMENT_DATABASE_URL"},
    "notifications": {
        "ESTATE_NOTIFICATIONS_DATABASE_URL",
        "ESTATE_NOTIFICATIONS_LINK_SECRET",
        "ESTATE_NOTIFICATIONS_SMTP_USERNAME",
        "ESTATE_NOTIFICATIONS_SMTP_PASSWORD",
        "ESTATE_NOTIFICATIONS_TEAMS_WEBHOOK_URL",
    },
    "portal": {"ESTATE_PORTAL_SESSION_SECRET", "ESTATE_PORTAL_OIDC_CLIENT_SECRET"},
}
#: Consumer timings only the embedded broker (Tansu) needs; real Kafka rejects or suffers them.
EMBEDDED_ONLY_OPTIONS = ("session_timeout", "heartbeat_interval", "fetch_max_wait")
#: The uid the image runs as (Dockerfile) and the manifests demand.
APP_UID = 10001


# --------------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------------


def _compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(loaded, dict), "docker-compose.yml must be a mapping"
    return loaded


def _services() -> dict[str, dict[str, Any]]:
    services = _compose()["services"]
    assert isinstance(services, dict)
    return services


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def _healthcheck_active(service: dict[str, Any]) -> bool:
    check = service.get("healthcheck")
    return bool(check) and not check.get("disable", False) and bool(check.get("test"))


def _is_one_shot(service: dict[str, Any]) -> bool:
    return str(service.get("restart", "no")) == "no"


def _app_services() -> dict[str, dict[str, Any]]:
    """Services built from this repository's Dockerfile (the Estate processes)."""
    return {name: svc for name, svc in _services().items() if "build" in svc}


def _walk(node: Any) -> Iterator[str]:
    """Every key and scalar value in a parsed YAML tree, as text."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield str(key)
            yield from _walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item)
    elif node is not None:
        yield str(node)


def _workspace_members() -> list[str]:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    members: list[str] = []
    for pattern in pyproject["tool"]["uv"]["workspace"]["members"]:
        matches = sorted(glob.glob(pattern, root_dir=ROOT))
        members.extend(m for m in matches if (ROOT / m / "pyproject.toml").exists())
    assert members, "the root pyproject.toml names no workspace members"
    return members


def _required_variables() -> set[str]:
    """Variables docker-compose.yml cannot do without (``${VAR:?message}``): no default would be safe."""
    return set(re.findall(r"\$\{(\w+):\?", COMPOSE_FILE.read_text()))


def _image_is_pinned(image: str) -> bool:
    name, _, tag = image.rpartition(":")
    return bool(name) and "/" not in tag and tag not in {"", "latest"}


# --------------------------------------------------------------------------------------------------
# docker-compose.yml
# --------------------------------------------------------------------------------------------------


COMPOSE_TOP_LEVEL = {"name", "services", "volumes", "networks", "configs", "secrets", "x-estate-app"}
SERVICE_KEYS = {
    "image",
    "build",
    "command",
    "entrypoint",
    "environment",
    "env_file",
    "ports",
    "depends_on",
    "healthcheck",
    "restart",
    "volumes",
    "networks",
    "user",
    "working_dir",
    "labels",
    "deploy",
    "stop_grace_period",
    "init",
    "hostname",
    "read_only",
    "tmpfs",
    "profiles",
    "container_name",
    "expose",
}
DEPENDENCY_CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}
RESTART_POLICIES = {"no", "always", "on-failure", "unless-stopped"}


def compose_problems(compose: dict[str, Any]) -> list[str]:
    """The structural rules of the Compose Specification that a typo most often breaks."""
    problems = [
        f"unknown top-level key {k!r}"
        for k in compose
        if k not in COMPOSE_TOP_LEVEL and not k.startswith("x-")
    ]
    services = compose.get("services") or {}
    for name, service in services.items():
        problems += [
            f"{name}: unknown key {k!r}" for k in service if k not in SERVICE_KEYS and not k.startswith("x-")
        ]
        if "image" not in service and "build" not in service:
            problems.append(f"{name}: needs an image or a build")
        if service.get("restart", "no") not in RESTART_POLICIES:
            problems.append(f"{name}: restart {service['restart']!r} is not a restart policy")
        depends = service.get("depends_on") or {}
        if isinstance(depends, dict):
            for other, rule in depends.items():
                if other not in services:
                    problems.append(f"{name}: depends on unknown service {other!r}")
                if rule.get("condition") not in DEPENDENCY_CONDITIONS:
                    problems.append(f"{name}: depends_on {other} has condition {rule.get('condition')!r}")
        for port in service.get("ports", []):
            container_port = str(port).rsplit(":", 1)[-1].removesuffix("/tcp")
            if not isinstance(port, str) or ":" not in port or not container_port.isdigit():
                problems.append(f"{name}: port {port!r} is not [HOST_IP:]HOST_PORT:CONTAINER_PORT")
    return problems


def test_compose_file_follows_the_compose_specification_structure() -> None:
    problems = compose_problems(_compose())
    assert not problems, "\n".join(problems)

    # Where the compose plugin exists it also checks interpolation and merges; it needs no engine. The
    # required variables get a stand-in unless this machine sets them (a .env would be overridden).
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        stand_ins = dict.fromkeys(_required_variables(), "stand-in-for-docker-compose-config-" + "x" * 32)
        result = subprocess.run(
            [docker, "compose", "-f", str(COMPOSE_FILE), "config", "-q"],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env={**stand_ins, **os.environ},
        )
        assert result.returncode == 0, result.stderr


def test_compose_structure_check_rejects_a_misspelt_dependency_condition() -> None:
    """Guards the check above: a check that accepted anything would pass any file."""
    broken = copy.deepcopy(_compose())
    broken["services"]["register-http"]["depends_on"]["postgres"]["condition"] = "service_ready"
    broken["services"]["register-http"]["enviroment"] = {}
    problems = compose_problems(broken)
    assert any("service_ready" in p for p in problems)
    assert any("enviroment" in p for p in problems)


def test_kafka_is_the_official_image_in_single_node_kraft_mode() -> None:
    services = _services()
    kafka = services["kafka"]
    assert kafka["image"].startswith("apache/kafka:"), kafka["image"]
    assert _image_is_pinned(kafka["image"])
    env = _environment(kafka)

    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    node_id = env["KAFKA_NODE_ID"]
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == f"{node_id}@kafka:9093"

    listeners = dict(item.split("://", 1) for item in env["KAFKA_LISTENERS"].split(","))
    advertised = dict(item.split("://", 1) for item in env["KAFKA_ADVERTISED_LISTENERS"].split(","))
    protocol_map = dict(item.split(":", 1) for item in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    controller = env["KAFKA_CONTROLLER_LISTENER_NAMES"]
    assert controller in listeners
    assert controller not in advertised, "the controller listener is never advertised to clients"
    assert set(listeners) == set(protocol_map), "every listener needs a security protocol"
    assert env["KAFKA_INTER_BROKER_LISTENER_NAME"] in advertised
    assert "kafka:9092" in advertised.values(), "containers reach the broker at kafka:9092"
    assert listeners[controller].endswith(":9093")

    # A host listener, published on a host port that matches what it advertises.
    host_listeners = [name for name, addr in advertised.items() if not addr.startswith("kafka:")]
    assert host_listeners, "no listener for clients on the host"
    host_port = listeners[host_listeners[0]].rsplit(":", 1)[1]
    assert any(str(p).endswith(f":{host_port}") for p in kafka["ports"])

    assert len(base64.urlsafe_b64decode(env["CLUSTER_ID"] + "==")) == 16, "CLUSTER_ID is a base64 UUID"
    assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "1", "one broker cannot replicate twice"

    everything = " ".join(_walk(services)).lower()
    assert "zookeeper" not in everything


def test_every_long_running_service_has_a_restart_policy_and_a_health_signal() -> None:
    for name, service in _services().items():
        restart = str(service.get("restart"))
        if _is_one_shot(service):
            assert "restart" in service, f"{name}: say restart: 'no' for a one-shot"
            continue
        assert restart in {"always", "unless-stopped", "on-failure"}, f"{name}: restart is {restart!r}"
        if _healthcheck_active(service):
            continue
        # Only processes that serve no HTTP may go without a health check.
        command = service.get("command") or [""]
        assert "build" in service, f"{name} has no health check"
        assert command[0] in {"worker", "relay"}, f"{name} has no health check, yet serves HTTP"


def test_dependency_conditions_can_be_met() -> None:
    """service_healthy on a service with no check, or completed_successfully on one that never
    exits, would leave the dependant waiting for ever."""
    services = _services()
    for name, service in services.items():
        depends = service.get("depends_on", {})
        assert isinstance(depends, dict), f"{name}: use depends_on with conditions, not a bare list"
        for target, rule in depends.items():
            assert target in services, f"{name} depends on unknown service {target}"
            condition = rule["condition"]
            if condition == "service_healthy":
                assert _healthcheck_active(services[target]), f"{name} waits for {target} to be healthy"
            elif condition == "service_completed_successfully":
                assert _is_one_shot(services[target]), f"{name} waits for {target} to exit"
            else:
                pytest.fail(f"{name} -> {target}: condition {condition!r} does not wait for readiness")


def test_compose_runs_exactly_the_processes_of_each_deployed_service() -> None:
    assert set(SERVICE_PROCESSES) == set(DEPLOYED_SERVICES)
    expected = {
        f"{service}-{process}" for service in DEPLOYED_SERVICES for process in SERVICE_PROCESSES[service]
    }
    assert set(_app_services()) == expected


@pytest.mark.parametrize("service", sorted(SERVICES_WITH_A_DATABASE))
def test_service_processes_start_after_migrations_topics_and_infrastructure(service: str) -> None:
    services = _services()
    prefix = f"ESTATE_{service.upper()}"
    migrate = services[f"{service}-migrate"]
    assert migrate["command"] == ["migrate"]
    assert migrate["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert _is_one_shot(migrate)
    long_running = SERVICE_PROCESSES[service] - {"migrate"}
    assert long_running - {"http"} <= METRICS_ONLY_PROCESSES
    for process in sorted(long_running):
        compose_service = services[f"{service}-{process}"]
        assert compose_service["command"] == [process]
        assert compose_service["build"]["args"]["SERVICE"] == service
        assert compose_service["depends_on"] == {
            "postgres": {"condition": "service_healthy"},
            "kafka": {"condition": "service_healthy"},
            "kafka-init": {"condition": "service_completed_successfully"},
            f"{service}-migrate": {"condition": "service_completed_successfully"},
        }
        assert _healthcheck_active(compose_service), f"{service}-{process} has no health check"
        assert "estate-healthcheck" in " ".join(compose_service["healthcheck"]["test"])
    http = services[f"{service}-http"]
    host_port = DEPLOYED_SERVICES[service]
    assert any(str(p).endswith(f"{host_port}}}:8000") for p in http["ports"]), http["ports"]
    http_env = _environment(http)
    assert http_env[f"{prefix}_HTTP_HOST"] == "0.0.0.0", "loopback is unreachable through the port"
    assert http_env[f"{prefix}_HTTP_PORT"] == "8000", "the image's health check and EXPOSE use 8000"
    assert "ESTATE_HEALTHCHECK_URL" not in http_env, "the http check reads the service's own port"
    for process in sorted(long_running - {"http"}):
        env = _environment(services[f"{service}-{process}"])
        port = env[f"{prefix}_METRICS_PORT"]
        assert env["ESTATE_HEALTHCHECK_URL"] == f"http://127.0.0.1:{port}/metrics", f"{service}-{process}"


def test_the_portal_starts_after_the_apis_it_calls_and_needs_no_database_or_broker() -> None:
    services = _services()
    portal = services["portal-http"]
    assert portal["command"] == ["http"]
    assert portal["build"]["args"]["SERVICE"] == "portal"
    apis = sorted(SERVICES_WITH_A_DATABASE)
    assert portal["depends_on"] == {f"{api}-http": {"condition": "service_healthy"} for api in apis}
    assert "portal-migrate" not in services
    assert any(str(p).endswith("8080}:8000") for p in portal["ports"]), portal["ports"]
    env = _environment(portal)
    assert env["ESTATE_PORTAL_HTTP_HOST"] == "0.0.0.0"
    assert env["ESTATE_PORTAL_HTTP_PORT"] == "8000", "the image's health check and EXPOSE use 8000"
    for api in apis:
        assert env[f"ESTATE_PORTAL_{api.upper()}_URL"] == f"http://{api}-http:8000"
    assert not any(key.startswith("ESTATE_KAFKA") or key.endswith("DATABASE_URL") for key in env)
    assert env["ESTATE_PORTAL_ENVIRONMENT"] == "production"
    # People sign in with the council's identity provider; the demo people never appear outside a laptop.
    assert "ESTATE_PORTAL_DEV_SIGN_IN" not in env
    for key in ("ESTATE_PORTAL_OIDC_ISSUER", "ESTATE_PORTAL_OIDC_CLIENT_ID", "ESTATE_PORTAL_PUBLIC_URL"):
        assert env[key].startswith(f"${{{key}:-"), key
    assert portal["environment"]["ESTATE_PORTAL_OIDC_CLIENT_SECRET"] is None, "passed on from .env only"
    assert str(portal["environment"]["ESTATE_PORTAL_SESSION_SECRET"]).startswith(
        "${ESTATE_PORTAL_SESSION_SECRET:?"
    ), "no default session key is safe"
    # Alert e-mails link to the portal's page for the alert, at the portal's public address.
    for process in SERVICE_PROCESSES["notifications"]:
        notifications = _environment(services[f"notifications-{process}"])
        assert notifications["ESTATE_NOTIFICATIONS_ACTION_URL"] == env["ESTATE_PORTAL_PUBLIC_URL"]


def test_published_host_ports_do_not_collide() -> None:
    published = [
        str(port).rsplit(":", 1)[0].split(":-")[-1].rstrip("}")
        for service in _services().values()
        for port in service.get("ports", [])
    ]
    assert len(published) == len(set(published)), published


def test_app_services_talk_to_real_kafka_and_their_own_database() -> None:
    apps = _app_services()
    assert apps
    for name, service in apps.items():
        env = _environment(service)
        prefix = service["build"]["args"]["SERVICE"]
        for key in ("ESTATE_AUTH_JWKS_URL", "ESTATE_AUTH_ISSUER", "ESTATE_AUTH_AUDIENCE", "ESTATE_LOG_LEVEL"):
            assert key in env, f"{name} lacks {key}"
        if prefix not in SERVICES_WITH_A_DATABASE:
            continue  # the portal: checked above
        assert env["ESTATE_KAFKA_PROFILE"] == "kafka", name
        assert env["ESTATE_KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092", name
        url = env[f"ESTATE_{prefix.upper()}_DATABASE_URL"]
        assert url.startswith(f"postgresql+asyncpg://{prefix}:"), f"{name}: {url}"
        assert url.endswith(f"@postgres:5432/{prefix}"), f"{name}: {url}"


def test_notifications_mail_and_link_settings_come_from_the_operator() -> None:
    """No relay runs in compose and no default secret is safe: the operator must name both (and the
    portal's session key, checked with the portal)."""
    assert _required_variables() == {
        "ESTATE_NOTIFICATIONS_LINK_SECRET",
        "ESTATE_NOTIFICATIONS_SMTP_HOST",
        "ESTATE_PORTAL_SESSION_SECRET",
    }
    for process in SERVICE_PROCESSES["notifications"]:
        env = _services()[f"notifications-{process}"]["environment"]
        for key in ("ESTATE_NOTIFICATIONS_LINK_SECRET", "ESTATE_NOTIFICATIONS_SMTP_HOST"):
            assert str(env[key]).startswith(f"${{{key}:?"), f"notifications-{process}: {key} is required"
        # Passed on from .env when set there, else unset: an empty user name would still be used to log in.
        for key in (
            "ESTATE_NOTIFICATIONS_SMTP_USERNAME",
            "ESTATE_NOTIFICATIONS_SMTP_PASSWORD",
            "ESTATE_NOTIFICATIONS_TEAMS_WEBHOOK_URL",
        ):
            assert key in env and env[key] is None, f"notifications-{process}: {key}"
        assert env["ESTATE_NOTIFICATIONS_SMTP_SECURITY"] == "${ESTATE_NOTIFICATIONS_SMTP_SECURITY:-starttls}"
        assert env["ESTATE_NOTIFICATIONS_ENVIRONMENT"] == "production"
    config = next(d["data"] for _, d in _objects() if d["metadata"]["name"] == "estate-notifications-config")
    assert config["ESTATE_NOTIFICATIONS_SMTP_SECURITY"] == "starttls"
    for key in ("SMTP_HOST", "SMTP_PORT", "MAIL_FROM", "TDA_EMAIL", "PUBLIC_URL", "ACTION_URL"):
        assert config.get(f"ESTATE_NOTIFICATIONS_{key}"), f"estate-notifications-config lacks {key}"


def test_no_embedded_broker_setting_reaches_compose_or_kubernetes() -> None:
    trees: list[tuple[str, Any]] = [("docker-compose.yml", _compose())]
    trees += [(path.name, doc) for path, doc in _k8s_documents()]
    for source, tree in trees:
        for text in _walk(tree):
            lowered = text.lower()
            for option in EMBEDDED_ONLY_OPTIONS:
                assert option not in lowered, f"{source}: {text!r} is a Tansu-only setting"
            assert lowered != "embedded", f"{source}: the embedded broker profile is for laptops only"
            assert "tansu" not in lowered, f"{source}: {text!r}"


def test_every_build_uses_the_shared_dockerfile_for_an_existing_service() -> None:
    apps = _app_services()
    for name, service in apps.items():
        build = service["build"]
        assert build["context"] == "."
        assert build["dockerfile"] == "deploy/Dockerfile"
        assert (ROOT / build["context"] / build["dockerfile"]).is_file()
        prefix = build["args"]["SERVICE"]
        assert (ROOT / "services" / prefix / "pyproject.toml").is_file(), f"{name}: no service {prefix}"
        assert name.startswith(f"{prefix}-")


def test_images_are_pinned_and_bind_mounts_exist() -> None:
    for name, service in _services().items():
        if "image" in service and "build" not in service:
            assert _image_is_pinned(service["image"]), f"{name}: pin {service['image']}"
        for volume in service.get("volumes", []):
            source = str(volume).split(":", 1)[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"


# --------------------------------------------------------------------------------------------------
# PostgreSQL init and Kafka topics
# --------------------------------------------------------------------------------------------------


def test_postgres_init_creates_one_database_and_login_per_service() -> None:
    sql = INIT_SQL.read_text()
    code = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
    databases = dict(re.findall(r"CREATE DATABASE (\w+) OWNER (\w+)", code))
    roles = dict(re.findall(r"CREATE ROLE (\w+) LOGIN PASSWORD :'(\w+)'", code))
    getenv = dict(re.findall(r"\\getenv (\w+) (\w+)", code))

    assert set(databases) == SERVICES_WITH_A_DATABASE
    for database, owner in databases.items():
        assert owner == database, f"database {database} must be owned by its own role"
        assert owner in roles, f"no login role {owner}"
        assert f"REVOKE ALL ON DATABASE {database} FROM PUBLIC" in code
    assert len(set(roles.values())) == len(roles), "each role has its own password"

    postgres = _services()["postgres"]
    env = _environment(postgres)
    for variable in roles.values():
        assert variable in getenv, f"password variable {variable} is never read"
        assert getenv[variable] in env, f"postgres container lacks {getenv[variable]}"
    assert "./deploy/postgres/init:/docker-entrypoint-initdb.d:ro" in postgres["volumes"]
    assert postgres["image"].startswith("postgres:16")

    # Each service's URL must carry the very password the init script gives its role.
    for service in SERVICES_WITH_A_DATABASE:
        variable = f"ESTATE_{service.upper()}_DB_PASSWORD"
        assert getenv[roles[service]] == variable, f"{service}: role password from {variable}"
        for process in SERVICE_PROCESSES[service]:
            url = _environment(_services()[f"{service}-{process}"])[f"ESTATE_{service.upper()}_DATABASE_URL"]
            assert f"//{service}:{env[variable]}@" in url, f"{service}-{process}"


def _topics_file() -> dict[str, int]:
    listed: dict[str, int] = {}
    for line in TOPICS_FILE.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, partitions, *configs = line.split()
        assert name not in listed, f"{name} listed twice"
        assert all("=" in c for c in configs), line
        listed[name] = int(partitions)
    return listed


def test_topic_list_covers_every_contract_topic_and_dead_letter_topic() -> None:
    listed = _topics_file()
    expected = set(topics.ALL_TOPICS) | {topics.dead_letter_topic(group) for group in CONSUMER_GROUPS}
    assert set(listed) == expected
    assert all(count >= 1 for count in listed.values())
    for topic in topics.ALL_TOPICS:
        assert listed[topic] >= 3, f"{topic}: too few partitions for a scaled-out consumer group"


def test_kafka_init_runs_the_topic_script_after_kafka_is_healthy() -> None:
    init = _services()["kafka-init"]
    assert init["image"] == _services()["kafka"]["image"], "the same Kafka tools as the broker"
    assert _is_one_shot(init)
    assert init["depends_on"] == {"kafka": {"condition": "service_healthy"}}
    assert init["entrypoint"][-1] == "/opt/estate/kafka/create-topics.sh"
    assert "./deploy/kafka:/opt/estate/kafka:ro" in init["volumes"]


def test_topic_script_creates_each_listed_topic_with_its_partitions_and_configs(tmp_path: Path) -> None:
    fake = tmp_path / "kafka-topics.sh"
    log = tmp_path / "calls"
    fake.write_text(f'#!/bin/sh\necho "$*" >> {shlex.quote(str(log))}\n')
    fake.chmod(0o755)
    result = subprocess.run(
        ["sh", str(DEPLOY / "kafka" / "create-topics.sh")],
        env={"PATH": "/usr/bin:/bin", "KAFKA_TOPICS_BIN": str(fake), "KAFKA_BOOTSTRAP": "kafka:9092"},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    calls = log.read_text().splitlines()
    creates = [c for c in calls if "--create" in c]
    assert len(creates) == len(_topics_file())
    for group in CONSUMER_GROUPS:
        dlq = topics.dead_letter_topic(group)
        assert any(f"--topic {dlq} --partitions 3" in c and "--config retention.ms=" in c for c in creates)
    assert all("--if-not-exists" in c and "--bootstrap-server kafka:9092" in c for c in creates)


# --------------------------------------------------------------------------------------------------
# Dockerfile
# --------------------------------------------------------------------------------------------------


def _dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        keyword, _, rest = line.partition(" ")
        instructions.append((keyword.upper(), rest.strip()))
    assert not pending, "the Dockerfile ends inside a continued line"
    return instructions


def _stages() -> dict[str, list[tuple[str, str]]]:
    instructions = _dockerfile_instructions()
    global_args = {}
    for keyword, rest in instructions:
        if keyword == "FROM":
            break
        if keyword == "ARG" and "=" in rest:
            key, value = rest.split("=", 1)
            global_args[key] = value
    stages: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] | None = None
    for keyword, rest in instructions:
        if keyword == "FROM":
            parts = rest.split()
            assert len(parts) == 3, f"name every stage: FROM {rest}"
            assert parts[1].upper() == "AS", f"name every stage: FROM {rest}"
            image = re.sub(r"\$\{(\w+)\}", lambda m: global_args[m.group(1)], parts[0])
            current = [("FROM", image)]
            stages[parts[2]] = current
        elif current is not None:
            current.append((keyword, rest))
    return stages


def test_dockerfile_builds_in_a_separate_stage_from_a_pinned_slim_python() -> None:
    stages = _stages()
    assert list(stages) == ["build", "runtime"]
    for name, instructions in stages.items():
        image = instructions[0][1]
        assert image.startswith("python:3.11-slim"), f"{name}: {image}"
        assert _image_is_pinned(image)
    build = " ".join(rest for _, rest in stages["build"])
    assert re.search(r"pip install \"?uv==", build), "uv is pinned"
    assert 'uv sync --frozen --no-dev --no-install-workspace --package "estate-${SERVICE}"' in build
    assert 'uv sync --frozen --no-dev --no-editable --package "estate-${SERVICE}"' in build


def test_dockerfile_copies_every_workspace_manifest_before_installing() -> None:
    """uv reads the lock only with every member's pyproject.toml present, whatever SERVICE is."""
    build = _stages()["build"]
    first_sync = next(i for i, (k, rest) in enumerate(build) if k == "RUN" and "uv sync" in rest)
    copied = {rest.split()[0] for k, rest in build[:first_sync] if k == "COPY"}
    copied |= {part for k, rest in build[:first_sync] if k == "COPY" for part in rest.split()[:-1]}
    for member in _workspace_members():
        assert f"{member}/pyproject.toml" in copied, f"the Dockerfile must COPY {member}/pyproject.toml"
    assert {"pyproject.toml", "uv.lock"} <= copied


def test_the_portal_image_builds_its_assets_with_node_in_the_build_stage_only() -> None:
    """The portal's wheel build runs npm (services/portal/hatch_build.py); the runtime stage has no Node."""
    build = _stages()["build"]
    text = " ".join(rest for _, rest in build)
    assert "apt-get install -y --no-install-recommends nodejs npm" in text
    copied = {part for k, rest in build if k == "COPY" for part in rest.split()[:-1]}
    assert {
        f"services/portal/{name}" for name in ("package.json", "package-lock.json", "hatch_build.py")
    } <= copied
    npm_layer = next(i for i, (k, rest) in enumerate(build) if k == "RUN" and "hatch_build.py" in rest)
    final_sync = next(i for i, (k, rest) in enumerate(build) if k == "RUN" and "--no-editable" in rest)
    source_copy = next(i for i, (k, rest) in enumerate(build) if k == "COPY" and rest == ". .")
    assert npm_layer < source_copy < final_sync, "npm packages in their own layer, before the sources"
    runtime = " ".join(rest for k, rest in _stages()["runtime"] if k == "ENV")
    assert "ESTATE_PORTAL_HTTP_HOST=0.0.0.0" in runtime


def test_runtime_image_runs_as_a_non_root_user_with_a_health_check() -> None:
    runtime = _stages()["runtime"]
    keywords = [k for k, _ in runtime]
    users = [rest for k, rest in runtime if k == "USER"]
    assert users, "the runtime stage sets no USER"
    final_user = users[-1].split(":")[0]
    assert final_user not in {"root", "0"}
    assert final_user == str(APP_UID), "Kubernetes' runAsUser must match the image's uid"
    assert max(i for i, k in enumerate(keywords) if k == "USER") > max(
        i for i, k in enumerate(keywords) if k in {"RUN", "COPY"}
    ), "switch user after the last RUN/COPY"

    healthcheck = next(rest for k, rest in runtime if k == "HEALTHCHECK")
    assert "estate-healthcheck" in healthcheck
    assert "/health/live" in (DEPLOY / "healthcheck.py").read_text()

    env = " ".join(rest for k, rest in runtime if k == "ENV")
    assert "ESTATE_REGISTER_HTTP_HOST=0.0.0.0" in env, "the service defaults to loopback"
    assert dict(runtime)["ENTRYPOINT"] == '["estate-service"]'
    assert dict(runtime)["CMD"] == '["http"]'
    text = " ".join(rest for _, rest in runtime)
    assert 'ln -s "/app/.venv/bin/estate-${SERVICE}" /usr/local/bin/estate-service' in text


def test_runtime_image_carries_no_build_tools() -> None:
    runtime = _stages()["runtime"]
    for keyword, rest in runtime:
        if keyword == "RUN":
            for tool in ("pip install", "uv ", "apt-get"):
                assert tool not in rest, rest
        if keyword == "COPY" and "--from=build" in rest:
            assert rest.split()[-2:] == ["/app/.venv", "/app/.venv"], "only the venv leaves the build stage"


def test_dockerignore_keeps_local_state_out_but_the_sources_in() -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]

    def ignored(path: str) -> bool:
        # Docker's rule: the last matching pattern wins; "!" re-includes.
        verdict = False
        for pattern in patterns:
            negate = pattern.startswith("!")
            bare = pattern.lstrip("!").rstrip("/")
            candidates = {bare, bare.removeprefix("**/")}
            parts = path.split("/")
            prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
            if any(fnmatch.fnmatch(p, c) for p in prefixes for c in candidates) or any(
                fnmatch.fnmatch(part, bare.removeprefix("**/")) for part in parts if bare.startswith("**/")
            ):
                verdict = not negate
        return verdict

    for path in (
        ".venv/bin/python",
        ".git/HEAD",
        "tests/test_x.py",
        "services/register/tests/unit/t.py",
        ".env",
        "deploy/k8s/namespace.yaml",
        "services/portal/node_modules/govuk-frontend/package.json",
        "services/portal/src/estate_portal/static/govuk/govuk-frontend.min.css",
    ):
        assert ignored(path), f"{path} should stay out of the build context"
    for path in (
        "pyproject.toml",
        "uv.lock",
        "deploy/healthcheck.py",
        "services/portal/package.json",
        "services/portal/package-lock.json",
        "services/portal/hatch_build.py",
        "services/portal/src/estate_portal/static/estate/estate.css",
        "services/portal/src/estate_portal/templates/layouts/base.html",
    ):
        assert not ignored(path), f"{path} is needed by the build"
    for member in _workspace_members():
        assert not ignored(f"{member}/pyproject.toml")
        assert not ignored(f"{member}/src/pkg/__init__.py")


def test_container_healthcheck_passes_on_200_and_fails_otherwise() -> None:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/health/live" else 503)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]

        def check(env: dict[str, str]) -> int:
            return subprocess.run(
                [sys.executable, str(DEPLOY / "healthcheck.py")], env=env, capture_output=True, timeout=10
            ).returncode

        for service in DEPLOYED_SERVICES:
            env = {"ESTATE_SERVICE": service, f"ESTATE_{service.upper()}_HTTP_PORT": str(port)}
            assert check(env) == 0, service
        assert check({"ESTATE_HEALTHCHECK_URL": f"http://127.0.0.1:{port}/health/ready"}) == 1
        assert check({"ESTATE_HEALTHCHECK_URL": "file:///etc/passwd"}) == 2
    finally:
        server.shutdown()
        server.server_close()
    assert check({"ESTATE_REGISTER_HTTP_PORT": str(port)}) == 1, "nothing listening must fail the check"


# --------------------------------------------------------------------------------------------------
# Kubernetes
# --------------------------------------------------------------------------------------------------


def _k8s_documents() -> list[tuple[Path, dict[str, Any]]]:
    documents = []
    for path in sorted(K8S.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc is not None:
                assert isinstance(doc, dict), f"{path.name}: a document is not a mapping"
                documents.append((path, doc))
    assert documents
    return documents


def _objects() -> list[tuple[Path, dict[str, Any]]]:
    return [(p, d) for p, d in _k8s_documents() if d.get("kind") != "Kustomization"]


def _pod_templates() -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(object name, pod template, owning object) for every Deployment and Job."""
    templates = []
    for _, doc in _objects():
        if doc["kind"] in {"Deployment", "Job"}:
            templates.append((doc["metadata"]["name"], doc["spec"]["template"], doc))
    return templates


def test_every_kubernetes_document_is_a_named_object_in_the_estate_namespace() -> None:
    cluster_scoped = {"Namespace"}
    for path, doc in _objects():
        assert doc.get("apiVersion"), f"{path.name}: no apiVersion"
        assert doc.get("kind"), f"{path.name}: no kind"
        metadata = doc.get("metadata") or {}
        assert metadata.get("name"), f"{path.name}: {doc['kind']} has no name"
        if doc["kind"] not in cluster_scoped:
            assert metadata.get("namespace") == "estate", f"{path.name}: {doc['kind']} outside estate"
        assert metadata.get("labels", {}).get("app.kubernetes.io/part-of") == "estate", path.name


def test_kustomization_applies_every_manifest_except_the_secret_placeholder_and_the_job() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    resources = set(kustomization["resources"])
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert resources <= on_disk, f"missing: {resources - on_disk}"
    assert on_disk - resources == {f"{service}-secret.example.yaml" for service in DEPLOYED_SERVICES} | {
        f"{service}-migrate-job.yaml" for service in SERVICES_WITH_A_DATABASE
    }

    images = {i["name"]: i for i in kustomization["images"]}
    assert set(images) == {f"estate-{service}" for service in DEPLOYED_SERVICES}
    for service in SERVICES_WITH_A_DATABASE:
        tag = images[f"estate-{service}"]["newTag"]
        job = next(t for n, t, _ in _pod_templates() if n == f"{service}-migrate")["spec"]["containers"][0]
        assert job["image"] == f"estate-{service}:{tag}", "the migration Job runs the release being deployed"


def test_every_container_is_bounded_and_cannot_become_root() -> None:
    templates = _pod_templates()
    assert {name for name, _, _ in templates} == {
        f"{s}-{p}" for s in DEPLOYED_SERVICES for p in SERVICE_PROCESSES[s]
    }
    for name, template, _ in templates:
        service = template["metadata"]["labels"]["app.kubernetes.io/name"]
        assert service in DEPLOYED_SERVICES, name
        pod = template["spec"]
        pod_security = pod.get("securityContext", {})
        assert pod.get("automountServiceAccountToken") is False, name
        assert pod_security.get("seccompProfile", {}).get("type") == "RuntimeDefault", name
        for container in pod["containers"]:
            security = {**pod_security, **container.get("securityContext", {})}
            assert security.get("runAsNonRoot") is True, name
            assert security.get("runAsUser", APP_UID) == APP_UID, name
            assert security.get("allowPrivilegeEscalation") is False, name
            assert security.get("readOnlyRootFilesystem") is True, name
            assert security.get("capabilities", {}).get("drop") == ["ALL"], name

            resources = container.get("resources", {})
            assert {"cpu", "memory"} <= set(resources.get("requests", {})), f"{name}: requests"
            assert "memory" in resources.get("limits", {}), f"{name}: memory limit"

            image = container["image"]
            assert image.split(":")[0] == f"estate-{service}", name
            assert not image.endswith(":latest"), name
            assert container["args"][0] in SERVICE_PROCESSES[service], name
            assert name == f"{service}-{container['args'][0]}", "object named after its process"
            assert container["name"] == name, name
            assert template["metadata"]["labels"]["app.kubernetes.io/component"] == container["args"][0]
            sources = [next(iter(s.values()))["name"] for s in container["envFrom"]]
            assert sources == [f"estate-{service}-config", f"estate-{service}-secrets"], name


def test_http_containers_have_liveness_and_readiness_probes() -> None:
    serving = 0
    for name, template, _ in _pod_templates():
        for container in template["spec"]["containers"]:
            port_names = {p["name"] for p in container.get("ports", [])}
            if port_names == {"metrics"}:
                # A process that serves only its metrics (worker, relay, sweep, send) is live while they
                # answer.
                live = container.get("livenessProbe")
                assert live, f"{name}: a process that serves metrics needs a liveness probe"
                assert live["httpGet"] == {"path": "/metrics", "port": "metrics"}
                continue
            if not container.get("ports"):
                continue
            serving += 1
            port_names = {p["name"] for p in container["ports"]}
            live, ready = container.get("livenessProbe"), container.get("readinessProbe")
            assert live, f"{name}: a container that serves HTTP needs a liveness probe"
            assert ready, f"{name}: a container that serves HTTP needs a readiness probe"
            assert live["httpGet"]["path"] == "/health/live"
            assert ready["httpGet"]["path"] == "/health/ready"
            assert live["httpGet"]["port"] in port_names
            assert ready["httpGet"]["port"] in port_names
    assert serving, "no container serves HTTP"


@pytest.mark.parametrize("service", sorted(SERVICES_WITH_A_DATABASE))
def test_config_points_at_real_kafka_and_env_sources_exist(service: str) -> None:
    objects = {(d["kind"], d["metadata"]["name"]): d for _, d in _objects()}
    prefix = f"ESTATE_{service.upper()}"
    config = objects[("ConfigMap", f"estate-{service}-config")]["data"]
    assert config["ESTATE_KAFKA_PROFILE"] == "kafka"
    assert config[f"{prefix}_HTTP_HOST"] == "0.0.0.0", "probes reach the pod IP, not its loopback"
    assert config[f"{prefix}_ENVIRONMENT"] == "production"
    for key in (
        "ESTATE_KAFKA_BOOTSTRAP_SERVERS",
        "ESTATE_AUTH_JWKS_URL",
        "ESTATE_AUTH_ISSUER",
        "ESTATE_AUTH_AUDIENCE",
    ):
        assert config.get(key), f"estate-{service}-config lacks {key}"
    http = next(t for n, t, _ in _pod_templates() if n == f"{service}-http")["spec"]["containers"][0]
    assert str(http["ports"][0]["containerPort"]) == config[f"{prefix}_HTTP_PORT"]
    assert f"{prefix}_DATABASE_URL" not in config, "the database URL holds a password: Secret"
    assert not SECRET_KEYS[service] & set(config), "secrets belong in the Secret, not the ConfigMap"
    secret = objects[("Secret", f"estate-{service}-secrets")]
    assert set(secret["stringData"]) == SECRET_KEYS[service]
    url = secret["stringData"][f"{prefix}_DATABASE_URL"]
    assert url.startswith(f"postgresql+asyncpg://{service}:") and url.endswith(f"/{service}"), url
    for process in sorted(SERVICE_PROCESSES[service] & METRICS_ONLY_PROCESSES):
        template = next(t for n, t, _ in _pod_templates() if n == f"{service}-{process}")
        container = template["spec"]["containers"][0]
        env = {e["name"]: e["value"] for e in container.get("env", [])}
        metrics = next(p for p in container["ports"] if p["name"] == "metrics")
        assert env[f"{prefix}_METRICS_PORT"] == str(metrics["containerPort"]), f"{service}-{process}"
    for name, template, _ in _pod_templates():
        for container in template["spec"]["containers"]:
            for source in container["envFrom"]:
                if "configMapRef" in source:
                    assert ("ConfigMap", source["configMapRef"]["name"]) in objects, name
                if "secretRef" in source:
                    assert ("Secret", source["secretRef"]["name"]) in objects, name


def test_portal_config_reaches_the_apis_in_cluster_and_signs_in_with_oidc_only() -> None:
    objects = {(d["kind"], d["metadata"]["name"]): d for _, d in _objects()}
    config = objects[("ConfigMap", "estate-portal-config")]["data"]
    assert config["ESTATE_PORTAL_HTTP_HOST"] == "0.0.0.0"
    assert config["ESTATE_PORTAL_ENVIRONMENT"] == "production"
    http = next(t for n, t, _ in _pod_templates() if n == "portal-http")["spec"]["containers"][0]
    assert str(http["ports"][0]["containerPort"]) == config["ESTATE_PORTAL_HTTP_PORT"]
    for api in sorted(SERVICES_WITH_A_DATABASE):
        url = config[f"ESTATE_PORTAL_{api.upper()}_URL"]
        assert url.startswith(f"http://{api}-http."), url
        assert ("Service", f"{api}-http") in objects, url
    for key in ("ESTATE_AUTH_JWKS_URL", "ESTATE_AUTH_ISSUER", "ESTATE_AUTH_AUDIENCE"):
        assert config.get(key), f"estate-portal-config lacks {key}"
    for key in ("OIDC_ISSUER", "OIDC_CLIENT_ID", "OIDC_SCOPES", "PUBLIC_URL"):
        assert config.get(f"ESTATE_PORTAL_{key}"), f"estate-portal-config lacks ESTATE_PORTAL_{key}"
    assert config.get("ESTATE_PORTAL_DEV_SIGN_IN", "false") == "false", "demo sign-in is for laptops"
    assert not any(key.startswith("ESTATE_KAFKA") or key.endswith("DATABASE_URL") for key in config)
    assert not SECRET_KEYS["portal"] & set(config), "secrets belong in the Secret, not the ConfigMap"
    assert set(objects[("Secret", "estate-portal-secrets")]["stringData"]) == SECRET_KEYS["portal"]

    # The Ingress sends people to the portal's Service at the address the portal and the alert links use.
    (ingress,) = [d for (kind, _), d in objects.items() if kind == "Ingress"]
    (rule,) = ingress["spec"]["rules"]
    (path,) = rule["http"]["paths"]
    assert path["backend"]["service"] == {"name": "portal-http", "port": {"name": "http"}}
    service_ports = {p["name"] for p in objects[("Service", "portal-http")]["spec"]["ports"]}
    assert "http" in service_ports
    assert config["ESTATE_PORTAL_PUBLIC_URL"] == f"https://{rule['host']}"
    assert rule["host"] in ingress["spec"]["tls"][0]["hosts"]
    notifications = objects[("ConfigMap", "estate-notifications-config")]["data"]
    assert notifications["ESTATE_NOTIFICATIONS_ACTION_URL"] == config["ESTATE_PORTAL_PUBLIC_URL"]


def test_services_autoscalers_and_budgets_select_real_pods() -> None:
    objects = [d for _, d in _objects()]
    deployments = {d["metadata"]["name"]: d for d in objects if d["kind"] == "Deployment"}

    def selected(selector: dict[str, str]) -> list[str]:
        return [
            name
            for name, d in deployments.items()
            if selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()
        ]

    for doc in objects:
        kind = doc["kind"]
        if kind == "Service":
            name = doc["metadata"]["name"]
            targets = selected(doc["spec"]["selector"])
            assert targets == [name], f"Service {name} selects {targets}"
            assert name.removesuffix("-http") in DEPLOYED_SERVICES, name
            ports = {
                p["name"]
                for c in deployments[name]["spec"]["template"]["spec"]["containers"]
                for p in c.get("ports", [])
            }
            assert all(p["targetPort"] in ports for p in doc["spec"]["ports"])
        elif kind == "PodDisruptionBudget":
            assert selected(doc["spec"]["selector"]["matchLabels"]), doc["metadata"]["name"]
        elif kind == "HorizontalPodAutoscaler":
            target = doc["spec"]["scaleTargetRef"]["name"]
            assert target in deployments
            assert "replicas" not in deployments[target]["spec"], "the HPA owns the replica count"
            assert 1 < doc["spec"]["minReplicas"] <= doc["spec"]["maxReplicas"]
    for name, deployment in deployments.items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items(), name
    assert {"Service", "HorizontalPodAutoscaler", "PodDisruptionBudget", "Job", "Namespace"} <= {
        d["kind"] for d in objects
    }


# --------------------------------------------------------------------------------------------------
# Makefile and CI
# --------------------------------------------------------------------------------------------------


def test_makefile_type_checks_every_package_mypy_knows_and_declares_its_verbs_phony() -> None:
    makefile = (ROOT / "Makefile").read_text()
    src_dirs = re.search(r"^SRC_DIRS \?= (.+)$", makefile, re.MULTILINE)
    assert src_dirs
    mypy_path = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]["mypy_path"]
    assert set(src_dirs.group(1).split()) == set(mypy_path)

    phony = re.search(r"^\.PHONY: ((?:.*\\\n)*.*)$", makefile, re.MULTILINE)
    assert phony
    declared = set(phony.group(1).replace("\\\n", " ").split())
    targets = set(re.findall(r"^([a-z][a-z-]*):", makefile, re.MULTILINE))
    assert targets == declared
    required = {"install", "up", "test", "test-only", "lint", "fmt", "bench", "schemas", "asyncapi"}
    assert required | {"compose-config", "clean"} <= targets
    assert re.search(r"^test: (install )?lint test-only", makefile, re.MULTILINE), (
        "make test runs the linters too"
    )


def test_shell_scripts_parse() -> None:
    for shell, script in (("bash", ROOT / ".ci" / "run"), ("sh", DEPLOY / "kafka" / "create-topics.sh")):
        result = subprocess.run([shell, "-n", str(script)], capture_output=True, text=True)
        assert result.returncode == 0, f"{script}: {result.stderr}"
    ci = (ROOT / ".ci" / "run").read_text()
    assert "set -euo pipefail" in ci
    assert "make test" in ci
    assert "uv sync --frozen" in ci
    # The portal's package build runs npm (services/portal/hatch_build.py): CI says so before uv sync.
    assert ci.index("node --version") < ci.index("uv sync --frozen")
    assert ci.index("npm --version") < ci.index("uv sync --frozen")
