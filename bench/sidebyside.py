"""Several servings measured in one run: checkouts of two commits (``--checkout DIR``,
repeatable; ``git worktree add --detach DIR COMMIT`` makes one) and/or the bare floor
(``--with-bare``), each in turn with a fresh database and server, alternated ``--rounds``
times so that drift in the machine's load falls on all of them alike. The load client, the
orchestrator and the virtualenv are this checkout's for every serving."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.lifecycle import Run
from bench.paths import ROOT
from bench.stats import fmt, fmt_spread
from bench.summary import Outcome, StreamSummary, most_foreign, print_table


@dataclass(slots=True)
class Serving:
    """What one turn serves: the app from a checkout, or the bare floor."""

    app: str  # "app" | "bare"
    root: Path

    @property
    def label(self) -> str:
        return "bare" if self.app == "bare" else str(self.root)


@dataclass(slots=True)
class Turn:
    serving: Serving
    round: int
    run_id: str
    code: dict[str, Any]
    summary: StreamSummary

    def to_json(self) -> dict[str, Any]:
        return {
            "app": self.serving.app,
            "checkout": str(self.serving.root),
            "round": self.round,
            "run_id": self.run_id,
            "code": self.code,
            "summary": self.summary.to_json(),
        }

    @property
    def name(self) -> str:
        commit = self.code.get("commit", "bare" if self.serving.app == "bare" else "?")
        return f"{commit} ({self.code.get('sha256_12', '-')})"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--with-bare", action="store_true", help="also serve the bare floor, in turn")
    p.add_argument("--rounds", type=int, default=1, help="alternate the servings N times")


def servings(args: argparse.Namespace) -> list[Serving]:
    roots = [Path(d).resolve() for d in (args.checkout or [])]
    out = [Serving(args.app, root) for root in roots] or [Serving(args.app, ROOT)]
    if args.with_bare and args.app != "bare":
        out.append(Serving("bare", ROOT))
    return out


def side_by_side(
    args: argparse.Namespace,
    bench: str,
    measure: Callable[[Run], StreamSummary],
    row: Callable[[Turn], list[str]],
    headers: list[str],
) -> Outcome:
    """Every serving in turn, `--rounds` times; one table of all of them at the end."""
    turns: list[Turn] = []
    for number in range(args.rounds):
        for i, serving in enumerate(servings(args)):
            run = Run(args, f"{bench}_{i}", root=serving.root, app=serving.app)
            try:
                summary = measure(run)  # enters and leaves the run
            except RuntimeError as exc:  # one failed turn must not lose the others
                print(f"turn {serving.label} round {number + 1} failed: {exc}", flush=True)
                continue
            turns.append(Turn(serving, number, run.run_id, run.code, summary))
            time.sleep(2)
    print_table(
        f"{bench} side by side, {args.rounds} round(s)",
        [(t.name, " | ".join(row(t))) for t in turns],
    )
    print("\n" + markdown(headers, [[t.name, *row(t)] for t in turns]), flush=True)
    summary_json = {"side_by_side": [t.to_json() for t in turns]}
    foreign = most_foreign([t.summary.cost.foreign_cores for t in turns])
    return Outcome(turns[0].run_id, turns[0].code, summary_json, foreign)


def markdown(headers: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    return "\n".join(out + ["| " + " | ".join(r) + " |" for r in rows])


BURST_HEADERS = [
    "code (commit, digest)",
    "round",
    "ok / exact",
    "TTFT ms p50/p99/max",
    "gap ms p50/p99/max",
    "median ÷ ideal",
    "server CPU ms/stream",
    "PG CPU ms/stream",
    "other jobs, cores",
]


def burst_row(t: Turn) -> list[str]:
    s, c = t.summary.streams, t.summary.cost
    return [
        str(t.round + 1),
        f"{s.succeeded} / {s.exact_text}",
        fmt_spread(s.ttft_ms, 0),
        fmt_spread(s.gap_ms, 1),
        fmt(s.median_duration_over_ideal, 3),
        fmt(c.server_cpu_ms_per_stream, 2),
        fmt(c.postgres_cpu_ms_per_stream, 2),
        fmt(c.foreign_cores, 2),
    ]
