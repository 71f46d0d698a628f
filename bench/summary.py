"""What a run reports: the summary of a streaming phase, the targets, the printed table and
the JSON line appended to ``bench/results/<bench>.jsonl``.

Summaries are dataclasses; ``to_json()`` flattens them into the keys the results files have
always had, so ``bench.report`` reads old and new lines alike.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass
from typing import Any

from bench.lifecycle import WORDS
from bench.paths import RESULTS
from bench.phase import PhaseRun
from bench.records import GcPause, ServerSample
from bench.sampling import GcSummary, Quiet, gc_summary
from bench.stats import OpenStreams, Spread, StreamStats, analyse_streams, fmt, fmt_spread, table


@dataclass(slots=True)
class Target:
    value: float | None
    limit: float
    op: str = "<="

    @property
    def met(self) -> bool | None:
        if self.value is None:
            return None
        return self.value <= self.limit if self.op == "<=" else self.value < self.limit

    def to_json(self) -> dict[str, Any]:
        return {"value": self.value, "limit": f"{self.op} {self.limit:g}", "pass": self.met}


def target_rows(targets: dict[str, Target]) -> list[tuple[str, str]]:
    rows = []
    for name, t in targets.items():
        mark = "PASS" if t.met else ("FAIL" if t.met is False else "n/a")
        rows.append((f"target: {name}", f"{fmt(t.value, 2)} vs {t.op} {t.limit:g}  {mark}"))
    return rows


def targets_json(targets: dict[str, Target]) -> dict[str, Any]:
    return {name: t.to_json() for name, t in targets.items()}


@dataclass(slots=True)
class PhaseCost:
    """CPU of the phase, and who else was on the machine."""

    server_cpu_s: float
    server_cpu_ms_per_stream: float
    postgres_cpu_ms_per_stream: float
    client_cpu_s: float
    client_wall_s: float
    client_procs: int
    client_cpu_frac: float
    client_loop_lag_ms: Spread
    client_ready_margin_s: float
    machine_busy_frac: float | None
    foreign_cores: float | None
    quiet: Quiet
    orchestrator_cpu_s: float
    client_bound: bool

    @classmethod
    def of(cls, run: PhaseRun, succeeded: int) -> PhaseCost:
        done = succeeded or 1
        client_frac = run.client_cpu_s / (run.client_wall_s * run.client_procs or 1)
        return cls(
            server_cpu_s=run.server_cpu_s,
            server_cpu_ms_per_stream=1000 * run.server_cpu_s / done,
            postgres_cpu_ms_per_stream=1000 * run.postgres_cpu_s / done,
            client_cpu_s=run.client_cpu_s,
            client_wall_s=run.client_wall_s,
            client_procs=run.client_procs,
            client_cpu_frac=client_frac,
            client_loop_lag_ms=run.loop_lag_ms,
            client_ready_margin_s=run.client_ready_margin_s,
            machine_busy_frac=run.machine_busy_frac,
            foreign_cores=run.foreign_cores,
            quiet=run.quiet,
            orchestrator_cpu_s=run.orchestrator_cpu_s,
            # a busy client, or one whose timers fire late, skews every timestamp
            client_bound=client_frac > 0.8 or (run.loop_lag_ms.p99 or 0) > 10.0,
        )


@dataclass(slots=True)
class Memory:
    """Workers' memory and fds against the number of open streams."""

    baseline_pss_mb: float
    baseline_rss_mb: float
    baseline_fds: int
    peak_open_streams_sampled: int
    pss_at_peak_mb: float
    rss_at_peak_mb: float
    fds_at_peak: int
    worker_fds_at_peak: list[int]
    max_pss_mb: float
    max_fds: int
    kb_per_open_stream_pss: float | None
    kb_per_open_stream_rss: float | None

    @classmethod
    def of(cls, samples: list[ServerSample], base: ServerSample, opens: OpenStreams) -> Memory:
        peak = max(samples, key=lambda x: opens.open_at(x.t))
        at_peak = opens.open_at(peak.t)
        return cls(
            baseline_pss_mb=base.pss_kb / 1024,
            baseline_rss_mb=base.rss_kb / 1024,
            baseline_fds=base.fds,
            peak_open_streams_sampled=at_peak,
            pss_at_peak_mb=peak.pss_kb / 1024,
            rss_at_peak_mb=peak.rss_kb / 1024,
            fds_at_peak=peak.fds,
            worker_fds_at_peak=peak.worker_fds,
            max_pss_mb=max(x.pss_kb for x in samples) / 1024,
            max_fds=max(x.fds for x in samples),
            kb_per_open_stream_pss=(peak.pss_kb - base.pss_kb) / at_peak if at_peak else None,
            kb_per_open_stream_rss=(peak.rss_kb - base.rss_kb) / at_peak if at_peak else None,
        )


@dataclass(slots=True)
class PgConns:
    """PostgreSQL connections while streams were open, and while they were only pacing."""

    pg_baseline: dict[str, int]
    pg_total_max: int
    pg_busy_max: int
    pg_idle_in_tx_max: int
    pg_pacing_samples: int
    pg_busy_max_pure_pacing: int | None
    pg_total_max_pure_pacing: int | None
    pg_states_seen: list[str]
    pg_oldest_xact_ms: float
    pg_oldest_xact_ms_pure_pacing: float | None

    @classmethod
    def of(cls, samples: list[ServerSample], base: ServerSample, opens: OpenStreams) -> PgConns:
        acts = [x.pg for x in samples if x.pg is not None]
        during = [a for a in acts if opens.open_at(a.queried[0]) > 0]
        # no stream started up or finished while the query ran: every open one was pacing
        pacing = [a for a in during if opens.db_phase_between(*a.queried) == 0]
        return cls(
            pg_baseline=base.pg.by_state if base.pg else {},
            pg_total_max=max((a.total for a in during), default=0),
            pg_busy_max=max((a.busy for a in during), default=0),
            pg_idle_in_tx_max=max(
                (a.by_state.get("idle in transaction", 0) for a in during), default=0
            ),
            pg_pacing_samples=len(pacing),
            pg_busy_max_pure_pacing=max((a.busy for a in pacing), default=None),
            pg_total_max_pure_pacing=max((a.total for a in pacing), default=None),
            pg_states_seen=sorted({k for a in during for k in a.by_state}),
            pg_oldest_xact_ms=max((a.oldest_xact_ms for a in during), default=0),
            pg_oldest_xact_ms_pure_pacing=max((a.oldest_xact_ms for a in pacing), default=None),
        )


@dataclass(slots=True)
class StreamSummary:
    """Everything reported about a streaming phase (burst, hold, login, expire)."""

    streams: StreamStats
    cost: PhaseCost
    memory: Memory | None = None
    pg: PgConns | None = None
    server_gc: GcSummary | None = None
    targets: dict[str, Target] | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {**asdict(self.streams), **asdict(self.cost)}
        out.update(asdict(self.memory) if self.memory else {})
        out.update(asdict(self.pg) if self.pg else {})
        if self.server_gc is not None:
            out["server_gc"] = asdict(self.server_gc)
        if self.targets is not None:
            out["targets"] = targets_json(self.targets)
        return out


def stream_summary(
    run: PhaseRun, delay_ms: int, gc_pauses: list[GcPause] | None = None
) -> StreamSummary:
    s = analyse_streams(run.records, delay_ms, WORDS)
    samples = [x for x in run.samples if x.error is None]
    opens = OpenStreams(run.records)
    return StreamSummary(
        streams=s,
        cost=PhaseCost.of(run, s.succeeded),
        memory=Memory.of(samples, run.baseline, opens) if samples else None,
        pg=PgConns.of(samples, run.baseline, opens) if any(x.pg for x in samples) else None,
        server_gc=gc_summary(gc_pauses, run.t0, s.last_end) if gc_pauses is not None else None,
    )


# --------------------------------------------------------------------------- printed


def stream_rows(summary: StreamSummary) -> list[tuple[str, str]]:
    s, c = summary.streams, summary.cost
    rows = [
        ("streams ok / total", f"{fmt(s.succeeded)} / {fmt(s.streams)}"),
        ("exact text", fmt(s.exact_text)),
        ("outcomes", json.dumps(s.outcomes)),
        ("ttft ms p50/p99/max", fmt_spread(s.ttft_ms)),
        ("gap ms p50/p99/max", fmt_spread(s.gap_ms)),
        ("duration ms p50/p99/max", fmt_spread(s.duration_ms)),
        (
            "median duration / ideal",
            f"{fmt(s.median_duration_over_ideal, 3)} (ideal {s.ideal_ms} ms = {WORDS} x delay)",
        ),
        ("connect ms p50/p99/max", fmt_spread(s.connect_ms)),
        ("start lag ms p50/p99/max", fmt_spread(s.start_lag_ms)),
    ]
    rows += cost_rows(c)
    rows += gc_rows(summary.server_gc) + memory_rows(summary.memory) + pg_rows(summary.pg)
    if s.errors:
        rows.append(("errors", json.dumps(s.errors)))
    if s.error_samples:
        samples = " | ".join(x.replace("\r\n", " ") for x in s.error_samples)
        rows.append(("error samples", samples[:400]))
    if s.mismatched_text_samples:
        rows.append(("mismatched text", " | ".join(s.mismatched_text_samples)[:300]))
    return rows


def cost_rows(c: PhaseCost) -> list[tuple[str, str]]:
    return [
        ("server CPU s (master+workers)", fmt(c.server_cpu_s, 2)),
        ("server CPU ms / stream", fmt(c.server_cpu_ms_per_stream, 2)),
        ("postgres CPU ms / stream", fmt(c.postgres_cpu_ms_per_stream, 2)),
        ("machine busy (2 cores = 1.0)", fmt(c.machine_busy_frac, 2)),
        (
            "other jobs on the machine, cores",
            f"{fmt(c.foreign_cores, 2)} during, "
            f"{c.quiet.busy_cores_before} before (waited {c.quiet.waited_s}s)",
        ),
        (
            "client CPU s / wall s",
            f"{fmt(c.client_cpu_s, 2)} / {fmt(c.client_wall_s, 2)}"
            f" ({c.client_procs} proc, {100 * c.client_cpu_frac:.0f}% of its cores)",
        ),
        ("client loop lag ms p50/p99/max", fmt_spread(c.client_loop_lag_ms)),
        ("client-bound?", "YES - timings suspect" if c.client_bound else "no"),
    ]


def gc_rows(g: GcSummary | None) -> list[tuple[str, str]]:
    if g is None:
        return []
    text = (
        f"{g.pauses_ge_1ms} >= 1 ms, {g.over_20ms} >= 20 ms, max {fmt(g.max_ms)} ms, "
        f"gen2 {g.gen2_pauses} (max {fmt(g.gen2_max_ms)}), total {fmt(g.total_ms)} ms"
    )
    return [("server GC pauses (probe)", text)]


def memory_rows(m: Memory | None) -> list[tuple[str, str]]:
    if m is None:
        return []
    return [
        ("peak open streams (sampled)", fmt(m.peak_open_streams_sampled)),
        ("worker PSS MB base -> peak", f"{fmt(m.baseline_pss_mb)} -> {fmt(m.pss_at_peak_mb)}"),
        (
            "KB / open stream (PSS, RSS)",
            f"{fmt(m.kb_per_open_stream_pss)}, {fmt(m.kb_per_open_stream_rss)}",
        ),
        (
            "worker fds base -> peak",
            f"{fmt(m.baseline_fds)} -> {fmt(m.fds_at_peak)} {m.worker_fds_at_peak}",
        ),
    ]


def pg_rows(p: PgConns | None) -> list[tuple[str, str]]:
    if p is None:
        return []
    return [
        (
            "pg conns: total max / busy max",
            f"{p.pg_total_max} / {p.pg_busy_max} (states {p.pg_states_seen}, baseline "
            f"{p.pg_baseline}), oldest transaction {fmt(p.pg_oldest_xact_ms)} ms",
        ),
        (
            "pg busy in pure-pacing samples",
            f"{fmt(p.pg_busy_max_pure_pacing)}, oldest transaction "
            f"{fmt(p.pg_oldest_xact_ms_pure_pacing)} ms "
            f"(total {fmt(p.pg_total_max_pure_pacing)}, {p.pg_pacing_samples} samples)",
        ),
    ]


def title_of(args: argparse.Namespace, bench: str, extra: str, app: str | None = None) -> str:
    app = app or args.app
    db = "none" if app == "bare" else args.db
    return (
        f"{bench} [{app}] {extra} workers={args.workers} db={db} "
        f"delay={args.delay_ms}ms client_procs={args.client_procs}"
    )


def print_table(title: str, rows: list[tuple[str, str]]) -> None:
    print(table(title, rows), flush=True)


# --------------------------------------------------------------------------- saved


def config_of(args: argparse.Namespace, bench: str) -> dict[str, Any]:
    skip = ("func", "keep_db", "no_save", "retries", "max_foreign", "quiet_wait", "quiet_cores")
    config = {k: v for k, v in vars(args).items() if k not in skip}
    config["bench"] = bench
    if args.app == "bare":
        config["db"] = "none"
    return config


def save(bench: str, line: dict[str, Any], args: argparse.Namespace) -> None:
    if args.no_save:
        return
    RESULTS.mkdir(parents=True, exist_ok=True)
    with open(RESULTS / f"{bench}.jsonl", "a") as fh:
        fh.write(json.dumps(line, separators=(",", ":")) + "\n")


@dataclass(slots=True)
class Outcome:
    """What a command hands the CLI: the run, what it served, its summary as saved."""

    run_id: str
    code: dict[str, Any]
    summary: dict[str, Any]  # the JSON form, as saved
    foreign_cores: float  # the most CPU other jobs took during any of its timed phases


def most_foreign(values: list[float | None]) -> float:
    return max((v for v in values if v is not None), default=0.0)
