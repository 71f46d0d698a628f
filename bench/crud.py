"""``python -m bench crud``: POST /sessions, GET /sessions, GET /sessions/{id}, each on a
fixed number of keep-alive connections for a fixed time; throughput, latency, CPU/request."""

from __future__ import annotations

import argparse
import json
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from bench.lifecycle import FINGERPRINT, Run
from bench.records import CrudRecord, SessionRef
from bench.sampling import MachineCpu, PgBackendCpu, Quiet, wait_quiet
from bench.stats import Spread, fmt, fmt_spread, spread
from bench.summary import Outcome, most_foreign, print_table

CRUD_OPS = {"get": "GET /sessions/{id}", "list": "GET /sessions", "create": "POST /sessions"}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--duration", type=float, default=10.0)
    p.add_argument("--warmup", type=float, default=2.0)
    p.add_argument("--ops", default="get,list,create")
    p.add_argument("--preload", type=int, default=50, help="sessions per user before the run")


@dataclass(slots=True)
class CrudOp:
    """One op's measured window."""

    total: int
    ok: int
    rps: float
    latency_ms: Spread
    statuses: dict[str, int]
    errors: list[str]
    server_cpu_ms_per_req: float
    postgres_cpu_ms_per_req: float
    machine_busy_frac: float | None
    foreign_cores: float | None
    client_cpu_s: float
    client_wall_s: float
    client_loop_lag_ms: Spread
    quiet: Quiet | None = None


@dataclass
class _Meter:
    """Server, PostgreSQL and machine CPU over [t_measure, t_end], read from a thread."""

    server_s: float = 0.0
    pg_s: float = 0.0
    machine0: MachineCpu | None = None
    machine1: MachineCpu | None = None
    pg_mark: dict[int, float] = field(default_factory=dict)

    def run(self, run: Run, pg: PgBackendCpu | None, t_measure: float, t_end: float) -> None:
        time.sleep(max(0.0, t_measure - time.monotonic()))
        server0 = run.server.cpu_s()
        self.pg_mark = pg.mark() if pg is not None else {}
        self.machine0 = MachineCpu.now()
        while time.monotonic() < t_end:  # see backends that come and go
            time.sleep(min(0.5, max(0.0, t_end - time.monotonic())))
            if pg is not None:
                pg.update()
        self.server_s = run.server.cpu_s() - server0
        self.pg_s = pg.since(self.pg_mark) if pg is not None else 0.0
        self.machine1 = MachineCpu.now()


def crud_phase(run: Run, spec: dict[str, Any]) -> CrudOp:
    """Run one crud op; server CPU is measured over the measured window only."""
    t_measure = spec["t0"] + spec["warmup_s"]
    t_end = t_measure + spec["duration_s"]
    meter = _Meter()
    pg = PgBackendCpu(run.db.name) if run.db.kind == "postgres" else None
    thread = threading.Thread(target=meter.run, args=(run, pg, t_measure, t_end), daemon=True)
    thread.start()
    res = run.client(spec, timeout=spec["warmup_s"] + spec["duration_s"] + 90, tag="crud")
    thread.join(timeout=30)
    results = [CrudRecord(*row) for row in res["results"]]
    ok = [r for r in results if r.status in (200, 201)]
    statuses: dict[str, int] = {}
    for r in results:
        statuses[str(r.status)] = statuses.get(str(r.status), 0) + 1
    client_s = res["cpu_user_s"] + res["cpu_sys_s"]
    # the client's CPU spans warm-up too: scale it to the measured window
    client_window_s = client_s * spec["duration_s"] / max(res["wall_s"], spec["duration_s"])
    m0, m1 = meter.machine0 or MachineCpu.now(), meter.machine1 or MachineCpu.now()
    total_reqs = len(results) or 1
    return CrudOp(
        total=len(results),
        ok=len(ok),
        rps=len(ok) / spec["duration_s"],
        latency_ms=spread([r.latency_s * 1000 for r in ok]),
        statuses=statuses,
        errors=res["errors"],
        server_cpu_ms_per_req=1000 * meter.server_s / total_reqs,
        postgres_cpu_ms_per_req=1000 * meter.pg_s / total_reqs,
        machine_busy_frac=(m1.busy - m0.busy) / (m1.total - m0.total or 1),
        foreign_cores=m1.cores_since(m0, meter.server_s + meter.pg_s + client_window_s),
        client_cpu_s=client_s,
        client_wall_s=res["wall_s"],
        client_loop_lag_ms=spread(res["loop_lag_ms"]),
    )


def op_rows(res: CrudOp) -> list[tuple[str, str]]:
    quiet = res.quiet.busy_cores_before if res.quiet else "-"
    return [
        ("requests ok / total", f"{fmt(res.ok)} / {fmt(res.total)}"),
        ("throughput req/s", fmt(res.rps)),
        ("latency ms p50/p99/max", fmt_spread(res.latency_ms, 2)),
        ("statuses", json.dumps(res.statuses)),
        ("server CPU ms / request", fmt(res.server_cpu_ms_per_req, 2)),
        ("postgres CPU ms / request", fmt(res.postgres_cpu_ms_per_req, 2)),
        ("machine busy (2 cores = 1.0)", fmt(res.machine_busy_frac, 2)),
        ("other jobs on the machine, cores", f"{fmt(res.foreign_cores, 2)} during, {quiet} before"),
        ("client CPU s / wall s", f"{fmt(res.client_cpu_s, 2)} / {fmt(res.client_wall_s, 2)}"),
        ("client loop lag ms p50/p99/max", fmt_spread(res.client_loop_lag_ms)),
        ("error samples", " | ".join(res.errors[:2])[:300] or "-"),
    ]


def op_spec(args: argparse.Namespace, op: str, users: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "mode": "crud",
        "op": op,
        "users": users,
        "t0": time.monotonic() + 1.0,
        "warmup_s": args.warmup,
        "duration_s": args.duration,
        "concurrency": args.concurrency,
        "fingerprint": FINGERPRINT,
    }


def client_users(tokens: list[str], sessions: list[SessionRef]) -> list[dict[str, Any]]:
    """The client's view of each user: its token and its sessions' ids."""
    by_user: dict[int, list[str]] = {}
    for s in sessions:
        by_user.setdefault(s.user, []).append(s.id)
    return [{"token": tok, "sessions": by_user.get(k, [])} for k, tok in enumerate(tokens)]


def cmd_crud(args: argparse.Namespace) -> Outcome:
    ops = [op.strip() for op in args.ops.split(",") if op.strip()]
    done: dict[str, CrudOp] = {}
    with Run(args, "crud") as run:
        tokens, sessions = run.setup(args.preload * args.users, args.users)
        users = client_users(tokens, sessions)
        for op in ops:
            quiet = wait_quiet(args.quiet_wait, args.quiet_cores)
            res = crud_phase(run, op_spec(args, op, users))
            res.quiet = quiet
            done[op] = res
            print_table(
                f"crud {CRUD_OPS[op]} [{args.app}] workers={args.workers} db={args.db} "
                f"concurrency={args.concurrency} duration={args.duration}s",
                op_rows(res),
            )
            print(flush=True)
    summary = {"ops": {op: asdict(res) for op, res in done.items()}}
    foreign = most_foreign([res.foreign_cores for res in done.values()])
    return Outcome(run.run_id, run.code, summary, foreign)
