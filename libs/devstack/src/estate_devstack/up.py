"""``estate up``: broker, topics, databases, key, demo data, every service's processes; then supervise.

Steps, each of which must succeed before the next starts (a failure stops what was started and exits
non-zero, with the failing command's output above the message):

1. the embedded broker (unless ``ESTATE_KAFKA_BOOTSTRAP_SERVERS`` names one) and every topic, including
   each consumer group's dead-letter topic;
2. the local issuer's signing key;
3. each service's set-up commands (migrations), then its demo data (idempotent);
4. each service's processes, in :data:`estate_devstack.specs.SERVICES` order; the stack is up when
   every HTTP service answers ``/health/ready``;
5. the banner (the portal's address first, then the APIs', an admin token, how to mint others), then
   supervision until Ctrl-C or SIGTERM, which stops everything in reverse order and exits 0.
"""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import time
from datetime import UTC, datetime

from estate_devstack.plan import DEFAULT_DATA_DIR, HTTP_HOST, Plan
from estate_devstack.specs import topics
from estate_devstack.supervisor import (
    Output,
    ProcessDef,
    RestartPolicy,
    Supervisor,
    child_environment,
    run_task,
)

ADMIN_TOKEN_HOURS = 8
RULE = "-" * 100


def broker_process(plan: Plan) -> ProcessDef:
    from estate_eventing.embedded import broker_command

    return ProcessDef(
        name="broker",
        argv=broker_command(plan.broker.bootstrap_servers),
        env=child_environment({}),
        # A restarted in-memory broker has lost every event and offset, and clients connected across
        # the restart can skip records silently (BROKER.md): the whole stack must start again instead.
        restart=False,
    )


async def _accepting(supervisor: Supervisor, port: int, timeout_s: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not supervisor.done and time.monotonic() < deadline:
        try:
            _, writer = await asyncio.open_connection(HTTP_HOST, port)
        except OSError:
            await asyncio.sleep(0.02)
            continue
        writer.close()
        await writer.wait_closed()
        return True
    return False


def admin_token(plan: Plan) -> str:
    from estate_runtime.auth import AuthSettings, mint_token

    return mint_token(
        AuthSettings(dev_key_path=plan.key_path),
        subject="estate-up-admin",
        roles=["admin"],
        email="admin@estate.local",
        name="Local administrator",
        ttl_seconds=ADMIN_TOKEN_HOURS * 3600,
    )


def ensure_key(plan: Plan) -> None:
    from estate_runtime.auth import ensure_dev_key

    ensure_dev_key(plan.key_path)


def token_command(plan: Plan) -> str:
    command = "uv run estate token --role tda_chair --email you@cambridge.gov.uk"
    if plan.data_dir != DEFAULT_DATA_DIR.resolve():
        command += f" --data-dir {shlex.quote(str(plan.data_dir))}"
    return command


def banner(plan: Plan, token: str) -> str:
    lines = [RULE, "Estate is up.", ""]
    web = [s.name for s in plan.services if s.web and s.name in plan.http_ports]
    apis = [name for name in plan.http_ports if name not in web]
    w = max(10, *(len(name) for name in apis))  # the label column
    for service in web:
        lines += [f"Open {plan.http_url(service)} and sign in as any of the demo people.", ""]
    for service in apis:
        base = plan.http_url(service)
        lines += [
            f"  {service:<{w}} API docs  {base}/docs",
            f"  {'':<{w}} health    {base}/health/ready",
            f"  {'':<{w}} metrics   {base}/metrics",
        ]
    kind = (
        "embedded Tansu broker, in memory: stopping Estate empties it"
        if plan.broker.embedded
        else f"profile {plan.broker.profile}"
    )
    lines.append(f"  {'Kafka':<{w}} {plan.broker.bootstrap_servers} ({kind})")
    for service in plan.database_urls:
        lines.append(f"  {'Database':<{w}} {service}: {plan.shown_database_url(service)}")
    if ("notifications", "smtp") in plan.ports:
        lines.append(
            f"  {'Mail':<{w}} SMTP sink 127.0.0.1:{plan.ports[('notifications', 'smtp')]}: every alert sent is kept; "
            f"read them at {plan.http_url('notifications')}/api/v1/sink/messages"
        )
    lines += [f"  {'Data':<{w}} {plan.data_dir}", ""]
    if plan.http_port_replaced:
        lines += ["  (a default port was taken, so another was chosen: use the URLs above)", ""]
    first = next(iter(apis), None)
    lines += [
        f"An admin token, valid for {ADMIN_TOKEN_HOURS} hours:",
        "",
        f"  export ESTATE_TOKEN={token}",
        "",
    ]
    if first is not None:
        lines += [
            f'  curl -H "Authorization: Bearer $ESTATE_TOKEN" {plan.http_url(first)}/api/v1/systems',
            "",
        ]
    lines += [
        "Tokens for other roles (requester, tda_member, tda_chair, owner, contract_manager, admin, auditor):",
        "",
        f"  {token_command(plan)}",
        "",
        "Stop with Ctrl-C.",
        RULE,
    ]
    return "\n".join(lines) + "\n"


def write_state(plan: Plan, supervisor: Supervisor) -> None:
    state = {
        "pid": os.getpid(),
        "started_at": datetime.now(UTC).isoformat(),
        "data_dir": str(plan.data_dir),
        "broker": {"bootstrap_servers": plan.broker.bootstrap_servers, "embedded": plan.broker.embedded},
        "http": {service: plan.http_url(service) for service in plan.http_ports},
        "databases": {service: plan.shown_database_url(service) for service in plan.database_urls},
        "key_path": str(plan.key_path),
        "pids_at_start": supervisor.pids(),
    }
    temporary = plan.state_file.with_suffix(".tmp")
    temporary.write_text(json.dumps(state, indent=2) + "\n")
    temporary.replace(plan.state_file)


async def run_up(plan: Plan, out: Output, *, policy: RestartPolicy | None = None) -> int:
    """Bring the stack up and supervise it; the exit code (0 after Ctrl-C/SIGTERM)."""
    supervisor = Supervisor(out, policy=policy)
    supervisor.install_signal_handlers()
    try:
        return await _up(plan, out, supervisor)
    finally:
        await supervisor.stop_all()
        plan.state_file.unlink(missing_ok=True)
        out.say("stopped")


async def _up(plan: Plan, out: Output, supervisor: Supervisor) -> int:
    from estate_eventing.embedded import ensure_topics

    def interrupted() -> bool:
        return supervisor.stop_requested.is_set()

    plan.data_dir.mkdir(parents=True, exist_ok=True)
    if plan.broker.embedded:
        out.say(f"starting the embedded broker on {plan.broker.bootstrap_servers}")
        await supervisor.start(broker_process(plan))
        if not await _accepting(supervisor, plan.broker.port):
            if interrupted():
                return 0
            out.say(f"the embedded broker did not accept connections on {plan.broker.bootstrap_servers}")
            return 1
    else:
        out.say(f"using the broker at {plan.broker.bootstrap_servers} (profile {plan.broker.profile})")

    wanted = topics(plan.services)
    try:
        created = await asyncio.wait_for(ensure_topics(plan.broker.bootstrap_servers, wanted), 60)
    except Exception as exc:
        if interrupted():
            return 0
        out.say(f"could not create topics on {plan.broker.bootstrap_servers}: {type(exc).__name__}: {exc}")
        if not plan.broker.embedded:
            out.say("is that broker running? (unset ESTATE_KAFKA_BOOTSTRAP_SERVERS to use the embedded one)")
        return 1
    out.say(f"topics: {len(created)} created, {len(wanted) - len(created)} already there")

    ensure_key(plan)
    for task in plan.setup_tasks():
        if interrupted():
            return 0
        out.say(f"running {' '.join(task.argv[3:])} ({task.name})")
        code = await run_task(task, out, supervisor.stop_requested)
        if code is None:
            return 0
        if code != 0:
            out.say(f"{task.name} failed with exit code {code}; see its output above")
            return 1

    for definition in plan.processes():
        if interrupted():
            return 0
        await supervisor.start(definition)
    if not await supervisor.wait_ready():
        return 1 if supervisor.failure else 0

    write_state(plan, supervisor)
    out.raw(banner(plan, admin_token(plan)))
    return await supervisor.run()
