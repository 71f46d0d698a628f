"""``python -m bench hold``: many long-lived streams open at once (default 10,000 ramped over
20 s at 2 s pacing); the targets are all ok, p99 gap, memory per stream, no connection held."""

from __future__ import annotations

import argparse

from bench.burst import report, summarise, timed_streams
from bench.lifecycle import Run
from bench.summary import Outcome, StreamSummary, Target


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--n", type=int, default=10000)
    p.add_argument("--over", type=float, default=20.0)


def hold_targets(s: StreamSummary, n: int, delay_ms: int) -> dict[str, Target]:
    targets = {
        "all succeed": Target(float(n - s.streams.succeeded), 0),
        "p99 gap ms": Target(s.streams.gap_ms.p99, delay_ms + 150),
        "KB per open stream (PSS)": Target(
            s.memory.kb_per_open_stream_pss if s.memory else None, 40
        ),
    }
    if s.pg is not None:
        targets["pg conns busy while pacing"] = Target(s.pg.pg_busy_max_pure_pacing, 0)
    return targets


def cmd_hold(args: argparse.Namespace) -> Outcome:
    with Run(args, "hold") as run:
        result = timed_streams(run, args)
    s = summarise(run, args, result)
    s.targets = hold_targets(s, args.n, args.delay_ms)
    return report(run, args, s, "hold")
