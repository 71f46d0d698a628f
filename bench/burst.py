"""``python -m bench burst``: N streams of the 12-word reply at 50 ms pacing, all started
within R seconds; the targets are exact text, median duration and p99 gap, CPU per stream."""

from __future__ import annotations

import argparse

from bench import sidebyside
from bench.lifecycle import Run, uniform_plan
from bench.phase import PhaseRun, run_streams
from bench.summary import (
    Outcome,
    StreamSummary,
    Target,
    print_table,
    stream_rows,
    stream_summary,
    target_rows,
    title_of,
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--over", type=float, default=2.0, help="start all streams within R s")
    sidebyside.add_arguments(p)


def burst_targets(s: StreamSummary, n: int) -> dict[str, Target]:
    return {
        "all succeed with exact text": Target(float(n - s.streams.exact_text), 0),
        "median duration / ideal": Target(s.streams.median_duration_over_ideal, 1.10),
        "p99 gap ms": Target(s.streams.gap_ms.p99, 75),
        "server CPU ms / stream": Target(s.cost.server_cpu_ms_per_stream, 2.5),
    }


def timed_streams(run: Run, args: argparse.Namespace) -> PhaseRun:
    """Set up N sessions on a running server and start one stream on each over R s."""
    tokens, sessions = run.setup(args.n, args.users)
    plan = uniform_plan(args.n, args.over, sessions)
    return run_streams(run, tokens, plan, sample_interval=args.sample_interval)


def summarise(run: Run, args: argparse.Namespace, result: PhaseRun) -> StreamSummary:
    """After the server stopped (the GC probe's pauses arrive when the workers exit)."""
    return stream_summary(result, args.delay_ms, run.gc_pauses if args.gc_probe else None)


def report(run: Run, args: argparse.Namespace, s: StreamSummary, bench: str) -> Outcome:
    assert s.targets is not None
    print_table(
        title_of(args, bench, f"n={args.n} over={args.over}s", run.app),
        stream_rows(s) + target_rows(s.targets),
    )
    return Outcome(run.run_id, run.code, s.to_json(), s.cost.foreign_cores or 0.0)


def measured(run: Run, args: argparse.Namespace) -> StreamSummary:
    """One burst on `run` (entered here), summarised once its server has stopped."""
    with run:
        result = timed_streams(run, args)
    s = summarise(run, args, result)
    s.targets = burst_targets(s, args.n)
    report(run, args, s, "burst")
    return s


def cmd_burst(args: argparse.Namespace) -> Outcome:
    if args.checkout or args.with_bare or args.rounds > 1:
        return sidebyside.side_by_side(
            args,
            "burst",
            lambda run: measured(run, args),
            sidebyside.burst_row,
            sidebyside.BURST_HEADERS,
        )
    run = Run(args, "burst")
    s = measured(run, args)
    return Outcome(run.run_id, run.code, s.to_json(), s.cost.foreign_cores or 0.0)
