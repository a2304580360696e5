"""Where everything goes: ports, broker, databases, key and environment, decided before anything starts.

Decisions, in the order a newcomer would expect them:

* **Broker.** ``ESTATE_KAFKA_BOOTSTRAP_SERVERS`` set: use that broker, with the profile the user gave in
  ``ESTATE_KAFKA_PROFILE`` (``kafka`` when unset). Otherwise start the embedded broker on
  ``--kafka-port``, else 9092, else (9092 taken) any free port; only then is the ``embedded`` profile
  (Tansu's short session and fetch timings) given to the services, because real Kafka rejects it.
* **Databases.** ``<SERVICE>_DATABASE_URL`` set (PostgreSQL): used as given. Otherwise a SQLite file
  per service in the data directory (``./var`` by default).
* **HTTP.** 127.0.0.1, ``--http-port`` (8000 by default) for the first service with an API and the
  following ports for the next ones. A service with a port of its own (``ServiceSpec.http_port``: the
  portal's 8080, the address people type) keeps it whatever ``--http-port`` says; its
  ``<PREFIX>HTTP_PORT`` in the environment names another. A port named on the command line or in the
  environment that is taken is an error; a default port that is taken is replaced by a free one, and
  the banner says which.
* **Identity.** The local development issuer's key is ``<data dir>/dev-jwt-key.pem`` unless
  ``ESTATE_AUTH_DEV_KEY_PATH`` says otherwise; ``estate token`` reads the same file.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from estate_devstack.specs import SERVICES, ServiceSpec
from estate_devstack.supervisor import ProcessDef, child_environment

DEFAULT_DATA_DIR = Path("var")
DEFAULT_HTTP_PORT = 8000
DEFAULT_KAFKA_PORT = 9092
HTTP_HOST = "127.0.0.1"
KEY_FILE = "dev-jwt-key.pem"
STATE_FILE = "estate-up.json"
LOCK_FILE = ".estate-up.lock"


class PlanError(Exception):
    """The options or environment cannot work; the message says what to change."""


def port_free(port: int, host: str = HTTP_HOST) -> bool:
    """Whether a server could listen on ``host:port`` now (with SO_REUSEADDR, as servers bind)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def free_port(host: str = HTTP_HOST, avoid: set[int] | None = None) -> int:
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((host, 0))
            port = int(sock.getsockname()[1])
        if port not in (avoid or set()):
            return port


def _choose_port(explicit: int | None, default: int, what: str, flag: str, taken: set[int]) -> int:
    if explicit is not None:
        if explicit in taken or not port_free(explicit):
            raise PlanError(f"{what}: port {explicit} is in use; choose another with {flag}")
        return explicit
    if default not in taken and port_free(default):
        return default
    return free_port(avoid=taken)


def key_path_for(data_dir: Path, environ: Mapping[str, str] | None = None) -> Path:
    """The local issuer's private key shared by ``estate up``, the services and ``estate token``."""
    environ = os.environ if environ is None else environ
    explicit = environ.get("ESTATE_AUTH_DEV_KEY_PATH")
    return Path(explicit).resolve() if explicit else data_dir.resolve() / KEY_FILE


@dataclass(frozen=True, slots=True)
class BrokerPlan:
    bootstrap_servers: str
    embedded: bool
    profile: str

    @property
    def port(self) -> int:
        return int(self.bootstrap_servers.rsplit(":", 1)[1])


@dataclass(frozen=True)
class Plan:
    data_dir: Path
    broker: BrokerPlan
    http_ports: dict[str, int]
    database_urls: dict[str, str]
    key_path: Path
    services: list[ServiceSpec]
    demo_data: bool
    http_port_replaced: bool = False
    python: str = "python"
    ports: dict[tuple[str, str], int] = field(default_factory=dict)
    """The services' other ports (``ServiceSpec.ports``), by (service, name)."""

    @property
    def state_file(self) -> Path:
        return self.data_dir / STATE_FILE

    @property
    def lock_file(self) -> Path:
        return self.data_dir / LOCK_FILE

    def http_url(self, service: str) -> str:
        return f"http://{HTTP_HOST}:{self.http_ports[service]}"

    def shown_database_url(self, service: str) -> str:
        """The URL with any password hidden, for the banner."""
        from sqlalchemy.engine import make_url

        return make_url(self.database_urls[service]).render_as_string(hide_password=True)

    def service_env(self, service: ServiceSpec) -> dict[str, str]:
        prefix = service.env_prefix
        env = {
            "ESTATE_KAFKA_BOOTSTRAP_SERVERS": self.broker.bootstrap_servers,
            "ESTATE_AUTH_DEV_KEY_PATH": str(self.key_path),
        }
        if self.broker.embedded:
            env["ESTATE_KAFKA_PROFILE"] = "embedded"
        if service.name in self.database_urls:
            env[f"{prefix}DATABASE_URL"] = self.database_urls[service.name]
        if service.name in self.http_ports:
            env[f"{prefix}HTTP_HOST"] = HTTP_HOST
            env[f"{prefix}HTTP_PORT"] = str(self.http_ports[service.name])
        if service.extra_env is not None:
            env.update(service.extra_env(self))
        return child_environment(env)

    def _command(
        self, service: ServiceSpec, args: tuple[str, ...], ready_url: str | None = None
    ) -> ProcessDef:
        return ProcessDef(
            name=f"{service.name}-{args[0]}",
            argv=[self.python, "-m", service.cli_module, *args],
            env=self.service_env(service),
            ready_url=ready_url,
        )

    def setup_tasks(self) -> list[ProcessDef]:
        """Migrations (and demo data, unless turned off) of every service, in service order."""
        tasks = [self._command(s, args) for s in self.services for args in s.setup]
        if self.demo_data:
            tasks += [self._command(s, s.demo_data) for s in self.services if s.demo_data]
        return tasks

    def processes(self) -> list[ProcessDef]:
        defs = []
        for service in self.services:
            for process in service.processes:
                ready = f"{self.http_url(service.name)}/health/ready" if process.serves_http else None
                defs.append(self._command(service, (process.command,), ready_url=ready))
        return defs


def make_plan(
    *,
    data_dir: Path,
    http_port: int | None,
    kafka_port: int | None,
    demo_data: bool,
    python: str,
    environ: Mapping[str, str] | None = None,
    services: list[ServiceSpec] | None = None,
) -> Plan:
    environ = os.environ if environ is None else environ
    services = SERVICES if services is None else services
    data_dir = data_dir.resolve()
    taken: set[int] = set()

    external = environ.get("ESTATE_KAFKA_BOOTSTRAP_SERVERS", "").strip()
    if external:
        if kafka_port is not None:
            raise PlanError(
                "--kafka-port starts the embedded broker, but ESTATE_KAFKA_BOOTSTRAP_SERVERS names a broker "
                "already: unset one of them"
            )
        broker = BrokerPlan(external, embedded=False, profile=environ.get("ESTATE_KAFKA_PROFILE") or "kafka")
    else:
        port = _choose_port(kafka_port, DEFAULT_KAFKA_PORT, "the embedded broker", "--kafka-port", taken)
        taken.add(port)
        broker = BrokerPlan(f"{HTTP_HOST}:{port}", embedded=True, profile="embedded")

    http_ports: dict[str, int] = {}
    replaced = False
    counted = [s for s in services if s.http_process and s.http_port is None]
    next_default = http_port if http_port is not None else DEFAULT_HTTP_PORT
    for index, service in enumerate(counted):
        explicit = http_port + index if http_port is not None else None
        port = _choose_port(explicit, next_default, f"the {service.name} API", "--http-port", taken)
        replaced = replaced or port != next_default
        http_ports[service.name] = port
        taken.add(port)
        next_default += 1
    for service in services:
        if not service.http_process or service.http_port is None:
            continue
        variable = f"{service.env_prefix}HTTP_PORT"
        given = environ.get(variable, "").strip()
        if given and not given.isdigit():
            raise PlanError(f"{variable}={given!r} is not a port number")
        explicit = int(given) if given else None
        port = _choose_port(explicit, service.http_port, f"the {service.name}", variable, taken)
        replaced = replaced or port != service.http_port
        http_ports[service.name] = port
        taken.add(port)
    http_ports = {s.name: http_ports[s.name] for s in services if s.name in http_ports}  # start order

    ports: dict[tuple[str, str], int] = {}
    for service in services:
        for name, default in service.ports.items():
            port = _choose_port(None, default, f"the {service.name} {name} port", "", taken)
            ports[(service.name, name)] = port
            taken.add(port)

    database_urls: dict[str, str] = {}
    for service in services:
        if service.database_file is None:
            continue
        given = environ.get(f"{service.env_prefix}DATABASE_URL", "").strip()
        database_urls[service.name] = given or f"sqlite+aiosqlite:///{data_dir / service.database_file}"

    return Plan(
        data_dir=data_dir,
        broker=broker,
        http_ports=http_ports,
        database_urls=database_urls,
        key_path=key_path_for(data_dir, environ),
        services=services,
        demo_data=demo_data,
        http_port_replaced=replaced,
        python=python,
        ports=ports,
    )
