"""The timed phase of a streaming benchmark: the clients open the planned streams while the
orchestrator samples the server, measures CPU (server, PostgreSQL, client, itself, the
machine) and optionally profiles the workers or runs a job beside the streams."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from bench.lifecycle import BODY, EXPECTED, WORDS, Run
from bench.paths import RESULTS, ROOT
from bench.records import ClientOutput, LoginRecord, Planned, ServerSample, StreamRecord
from bench.sampling import (
    MachineCpu,
    PgBackendCpu,
    Profiler,
    Quiet,
    Sampler,
    self_cpu_s,
    wait_quiet,
)
from bench.stats import Spread, spread


class SideJob(Protocol):
    """What a job run beside the streams returns: its own CPU counts as the run's."""

    cpu_s: float


@dataclass
class PhaseRun:
    """Everything measured over one timed phase."""

    t0: float
    quiet: Quiet
    records: list[StreamRecord]
    logins: list[LoginRecord]
    samples: list[ServerSample]
    baseline: ServerSample
    server_cpu_s: float
    postgres_cpu_s: float
    machine_busy_frac: float | None
    foreign_cores: float | None  # CPU the machine spent on anything but this run
    orchestrator_cpu_s: float
    client_cpu_s: float
    client_wall_s: float
    client_procs: int
    client_ready_margin_s: float
    loop_lag_ms: Spread
    side: Any = None  # what `during` returned
    side_error: str | None = None


@dataclass
class _Marks:
    """Counters read just before t0, once the clients are ready."""

    self_s: float = 0.0
    server_s: float = 0.0
    pg: dict[int, float] = field(default_factory=dict)
    machine: MachineCpu | None = None
    baseline: ServerSample | None = None


def client_specs(
    run: Run, tokens: list[str], plan: list[Planned], t0: float, logins: dict[str, Any] | None
) -> list[dict[str, Any]]:
    """One spec per client process; the plan is dealt round-robin between them."""
    procs = max(1, run.args.client_procs)
    specs = []
    for p in range(procs):
        items = [
            [i, s.offset, s.session.id, s.session.user]
            for i, s in enumerate(plan)
            if i % procs == p
        ]
        spec: dict[str, Any] = {"mode": "streams", "t0": t0, "expected": EXPECTED}
        spec.update(timeout_s=stream_timeout_s(run), body=BODY, tokens=tokens, items=items)
        spec.update(run.stream_spec_extra)
        if logins and p == 0:
            spec["logins"] = logins
        specs.append(spec)
    return specs


def stream_timeout_s(run: Run) -> float:
    return max(30.0, 4 * WORDS * run.args.delay_ms / 1000 + 20)


def run_streams(
    run: Run,
    tokens: list[str],
    plan: list[Planned],
    logins: dict[str, Any] | None = None,
    sample_interval: float = 0.5,
    during: Callable[[float], SideJob] | None = None,
) -> PhaseRun:
    """Open the planned streams from the clients, all relative to one shared t0.

    `during(t0)`, if given, runs in a thread alongside the streams (it sleeps to its own
    start); what it returns is the phase's `side`, and its `cpu_s` counts as this run's.
    """
    quiet = wait_quiet(run.args.quiet_wait, run.args.quiet_cores)
    t0 = time.monotonic() + 1.5 + len(plan) / max(1, run.args.client_procs) / 20000
    specs = client_specs(run, tokens, plan, t0, logins)
    pg_cpu = PgBackendCpu(run.db.name) if run.db.kind == "postgres" else None
    sampler = Sampler(run.server.worker_pids, run.pg, sample_interval, pg_cpu)
    marks = _Marks()
    starter = threading.Thread(target=_mark, args=(run, t0, sampler, pg_cpu, marks), daemon=True)
    starter.start()
    side = _Side(during, t0)
    last_offset = max((s.offset for s in plan), default=0.0)
    spy = _profiler(run, t0, last_offset + WORDS * run.args.delay_ms / 1000 + 2.0)
    try:
        timeout = last_offset + stream_timeout_s(run) + 60
        outs = [ClientOutput.from_json(o) for o in run.clients_run(specs, timeout, "streams")]
    finally:
        starter.join(timeout=30)
        side.join(last_offset + stream_timeout_s(run) + 900)  # its own work is bounded
        if spy is not None:
            print(spy.finish(), flush=True)
        samples = sampler.stop()
    return _phase_run(run, t0, quiet, outs, samples, marks, pg_cpu, side)


def _mark(
    run: Run, t0: float, sampler: Sampler, pg_cpu: PgBackendCpu | None, marks: _Marks
) -> None:
    time.sleep(max(0.0, t0 - time.monotonic() - 0.3))
    marks.self_s = self_cpu_s()
    marks.baseline = sampler.snapshot()
    marks.server_s = run.server.cpu_s()
    marks.pg = pg_cpu.mark() if pg_cpu is not None else {}
    marks.machine = MachineCpu.now()
    sampler.start()


class _Side:
    """`during(t0)` in a thread; its result or its error, never lost."""

    def __init__(self, during: Callable[[float], SideJob] | None, t0: float):
        self.during = during
        self.result: SideJob | None = None
        self.error: str | None = None
        self.thread: threading.Thread | None = None
        if during is not None:
            self.thread = threading.Thread(target=self._run, args=(t0,), daemon=True)
            self.thread.start()

    def _run(self, t0: float) -> None:
        assert self.during is not None
        try:
            self.result = self.during(t0)
        except Exception as exc:  # reported with the phase
            self.error = repr(exc)

    def join(self, timeout: float) -> None:
        if self.thread is not None:
            self.thread.join(timeout=timeout)


def _profiler(run: Run, t0: float, duration_s: float) -> Profiler | None:
    """With --profile: py-spy the workers over the timed phase."""
    if not run.args.profile or run.server.proc is None:
        return None
    out = RESULTS / "profiles" / f"{run.run_id}-{int(t0)}.txt"
    spy = Profiler(run.server.proc.pid, out)
    run.children.append(spy.start(t0, duration_s))
    return spy


def _phase_run(
    run: Run,
    t0: float,
    quiet: Quiet,
    outs: list[ClientOutput],
    samples: list[ServerSample],
    marks: _Marks,
    pg_cpu: PgBackendCpu | None,
    side: _Side,
) -> PhaseRun:
    server_s = run.server.cpu_s() - marks.server_s
    pg_s = pg_cpu.since(marks.pg) if pg_cpu is not None else 0.0
    machine = MachineCpu.now()
    self_s = self_cpu_s() - marks.self_s
    records = sorted((r for out in outs for r in out.records), key=lambda r: r.index)
    _save_raw(run, t0, records, samples)
    client_s = sum(o.cpu_s for o in outs)
    ours = server_s + pg_s + client_s + self_s + getattr(side.result, "cpu_s", 0.0)
    before = marks.machine or machine
    return PhaseRun(
        t0=t0,
        quiet=quiet,
        records=records,
        logins=[row for out in outs for row in out.logins],
        samples=samples,
        baseline=marks.baseline or ServerSample(t=t0),
        server_cpu_s=server_s,
        postgres_cpu_s=pg_s,
        machine_busy_frac=_busy_frac(before, machine),
        foreign_cores=machine.cores_since(before, ours),
        orchestrator_cpu_s=self_s,
        client_cpu_s=client_s,
        client_wall_s=max(o.wall_s for o in outs),
        client_procs=len(outs),
        client_ready_margin_s=min(o.ready_before_t0_s for o in outs),
        loop_lag_ms=spread([lag for o in outs for lag in o.loop_lag_ms]),
        side=side.result,
        side_error=side.error,
    )


def _busy_frac(before: MachineCpu, after: MachineCpu) -> float | None:
    total = after.total - before.total
    return (after.busy - before.busy) / total if total else None


def _save_raw(
    run: Run, t0: float, records: list[StreamRecord], samples: list[ServerSample]
) -> None:
    """With --save-raw: every stream record and server sample, for later analysis."""
    if not run.args.save_raw:
        return
    raw_dir = RESULTS / "raw"
    raw_dir.mkdir(parents=True, exist_ok=True)
    raw_path = raw_dir / f"{run.run_id}-{run.raw_count}.json"
    run.raw_count += 1
    body = {
        "t0": t0,
        "records": [r.to_json() for r in records],
        "samples": [s.to_json() for s in samples],
    }
    raw_path.write_text(json.dumps(body))
    print(f"  raw records: {raw_path.relative_to(ROOT)}", flush=True)
