"""A closed-loop HTTP load: N concurrent clients, each with its own keep-alive connection (asyncio +
httpx), each sending its next request as soon as the previous one answered. Bounded by time and by a
total request count, whichever comes first; loopback only.

Latency is measured in the client, from just before ``client.get`` to the full body read, so it
includes the client's own overhead (which the bare-endpoint baseline measures too).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import httpx
from harness import cpu_seconds, latency_summary

Params = list[tuple[str, str]]


@dataclass(frozen=True)
class Kind:
    """One type of request: a name for the report, a weight in the mix, and how to build it."""

    name: str
    weight: float
    build: Callable[[random.Random, dict[str, Any]], tuple[str, Params]]
    # Responses whose next_cursor later "cursor page" requests follow, and the slot a kind follows.
    cursor_slot: str | None = None
    needs: str | None = None


@dataclass
class Recorder:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    error_samples: list[str] = field(default_factory=list)
    count: int = 0


def register_mix(pools: dict[str, Any], today: date) -> list[Kind]:
    """The realistic mix for the register: list and search screens, filters, sorts, next pages.

    ``pools`` holds ids and values drawn from the imported data: service_area_ids, supplier_ids,
    owner_ids, councils, words (for q).
    """

    def pick(key: str) -> Callable[[random.Random], str]:
        return lambda rng: str(rng.choice(pools[key]))

    area, supplier, owner, council, word = (
        pick("service_area_ids"),
        pick("supplier_ids"),
        pick("owner_ids"),
        pick("councils"),
        pick("words"),
    )

    def days(rng: random.Random, low: int, high: int) -> str:
        return (today + timedelta(days=rng.randint(low, high))).isoformat()

    stages = ["live", "under_review", "decommissioning", "planned", "retired"]
    hostings = ["saas", "on_premises", "cloud", "hybrid"]

    def sys_next(_: random.Random, state: dict[str, Any]) -> tuple[str, Params]:
        return "/api/v1/systems", [("sort", "name"), ("cursor", state["systems_name"])]

    def con_next(_: random.Random, state: dict[str, Any]) -> tuple[str, Params]:
        return "/api/v1/contracts", [("sort", "act_by"), ("cursor", state["contracts_act_by"])]

    def k(
        name: str,
        weight: float,
        path: str,
        params: Callable[[random.Random], Params],
        slot: str | None = None,
    ) -> Kind:
        return Kind(name, weight, lambda rng, _state: (path, params(rng)), slot)

    sys_path, con_path = "/api/v1/systems", "/api/v1/contracts"
    return [
        k("systems: first page, sort=name", 6, sys_path, lambda r: [("sort", "name")], "systems_name"),
        Kind("systems: next page (cursor)", 8, sys_next, needs="systems_name"),
        k("systems: service_area_id", 6, sys_path, lambda r: [("service_area_id", area(r))]),
        k("systems: supplier_id", 6, sys_path, lambda r: [("supplier_id", supplier(r))]),
        k(
            "systems: lifecycle_stage x2",
            5,
            sys_path,
            lambda r: [("lifecycle_stage", s) for s in r.sample(stages, 2)],
        ),
        k("systems: hosting", 4, sys_path, lambda r: [("hosting", r.choice(hostings))]),
        k(
            "systems: holds_personal_data",
            4,
            sys_path,
            lambda r: [("holds_personal_data", r.choice(["true", "false"]))],
        ),
        k("systems: owner_id", 6, sys_path, lambda r: [("owner_id", owner(r))]),
        k("systems: council", 5, sys_path, lambda r: [("council", council(r))]),
        k(
            "systems: contract_ending_before",
            5,
            sys_path,
            lambda r: [("contract_ending_before", days(r, 30, 180))],
        ),
        k("systems: q text", 8, sys_path, lambda r: [("q", word(r))]),
        k(
            "systems: sort=-updated_at + hosting + council",
            4,
            sys_path,
            lambda r: [("sort", "-updated_at"), ("hosting", r.choice(hostings)), ("council", council(r))],
        ),
        k(
            "contracts: act_by_before",
            6,
            con_path,
            lambda r: [("act_by_before", days(r, 30, 120)), ("sort", "act_by")],
        ),
        k(
            "contracts: ending_before",
            6,
            con_path,
            lambda r: [("ending_before", days(r, 60, 365)), ("sort", "current_term_end")],
        ),
        k("contracts: sort=act_by", 5, con_path, lambda r: [("sort", "act_by")], "contracts_act_by"),
        Kind("contracts: next page (cursor)", 6, con_next, needs="contracts_act_by"),
    ]


def bare_mix() -> list[Kind]:
    return [Kind("bare FastAPI GET /ping", 1, lambda rng, state: ("/ping", []))]


async def _client(
    index: int,
    base_url: str,
    headers: dict[str, str],
    kinds: Sequence[Kind],
    recorder: Recorder,
    budget: dict[str, Any],
    state: dict[str, Any],
    warmup: int,
) -> None:
    rng = random.Random(1000 + index)
    weights = [kind.weight for kind in kinds]
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with httpx.AsyncClient(base_url=base_url, headers=headers, limits=limits, timeout=30.0) as client:
        done = 0
        while True:
            if time.perf_counter() >= budget["deadline"] or recorder.count >= budget["max_requests"]:
                return
            kind = rng.choices(kinds, weights)[0]
            path, params = kind.build(rng, state)
            started = time.perf_counter()
            try:
                response = await client.get(path, params=params)
                body = response.content
                ok = response.status_code == 200
            except httpx.HTTPError as exc:
                ok, body = False, str(exc).encode()
                response = None
            elapsed = time.perf_counter() - started
            done += 1
            if done <= warmup:
                continue
            recorder.count += 1
            recorder.latencies[kind.name].append(elapsed)
            if not ok:
                recorder.errors[kind.name] += 1
                if len(recorder.error_samples) < 5:
                    status = response.status_code if response is not None else "-"
                    recorder.error_samples.append(f"{kind.name}: {status} {body[:300]!r}")
            elif kind.cursor_slot is not None:
                cursor = response.json().get("next_cursor") if response is not None else None
                if cursor:
                    state[kind.cursor_slot] = cursor


async def run_load(
    base_url: str,
    kinds: Sequence[Kind],
    *,
    clients: int = 32,
    duration_s: float = 20.0,
    max_requests: int = 5000,
    headers: dict[str, str] | None = None,
    server_pid: int | None = None,
    warmup_per_client: int = 3,
) -> dict[str, Any]:
    """Run the load; per-kind and overall latency summaries, plus the CPU the server and the client used."""
    recorder = Recorder()
    state: dict[str, Any] = {}
    # Warm the cursor slots, so that "next page" requests have something to follow from the start.
    async with httpx.AsyncClient(base_url=base_url, headers=headers or {}, timeout=30.0) as client:
        for kind in kinds:
            if kind.cursor_slot is not None:
                path, params = kind.build(random.Random(0), state)
                cursor = (await client.get(path, params=params)).json().get("next_cursor")
                if cursor:
                    state[kind.cursor_slot] = cursor
    kinds = [kind for kind in kinds if kind.needs is None or kind.needs in state]
    budget = {"deadline": time.perf_counter() + duration_s + 5.0, "max_requests": max_requests}
    server_cpu0 = cpu_seconds(server_pid) if server_pid else 0.0
    client_cpu0 = time.process_time()
    started = time.perf_counter()
    budget["deadline"] = started + duration_s
    await asyncio.gather(
        *(
            _client(i, base_url, headers or {}, kinds, recorder, budget, state, warmup_per_client)
            for i in range(clients)
        )
    )
    elapsed = time.perf_counter() - started
    everything = [v for values in recorder.latencies.values() for v in values]
    result: dict[str, Any] = {
        "clients": clients,
        "elapsed_s": round(elapsed, 2),
        "overall": latency_summary(everything, elapsed, sum(recorder.errors.values())),
        "by_kind": {
            kind.name: latency_summary(
                recorder.latencies.get(kind.name, []), elapsed, recorder.errors.get(kind.name, 0)
            )
            for kind in kinds
        },
        "server_cpu_pct": round(100 * (cpu_seconds(server_pid) - server_cpu0) / elapsed, 1)
        if server_pid
        else None,
        "client_cpu_pct": round(100 * (time.process_time() - client_cpu0) / elapsed, 1),
        "error_samples": recorder.error_samples,
    }
    return result
