"""``python -m bench login``: the p99 gap of live streams with and without 20 logins/s
(argon2 on the workers' thread pools), the two phases alternated ``--repeat`` times."""

from __future__ import annotations

import argparse
import time
from dataclasses import asdict, dataclass
from typing import Any

from bench.lifecycle import (
    FINGERPRINT,
    WORDS,
    Run,
    add_live_arguments,
    live_phases,
    mean,
    uniform_plan,
)
from bench.phase import PhaseRun, run_streams
from bench.records import LoginRecord
from bench.stats import Spread, fmt, fmt_spread, spread
from bench.summary import (
    Outcome,
    StreamSummary,
    Target,
    most_foreign,
    print_table,
    stream_rows,
    stream_summary,
    target_rows,
    targets_json,
    title_of,
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_live_arguments(p)
    p.add_argument("--login-rate", type=float, default=20.0)


@dataclass(slots=True)
class Logins:
    count: int
    latency_ms: Spread
    statuses: dict[str, int]

    @classmethod
    def of(cls, rows: list[LoginRecord]) -> Logins:
        statuses: dict[str, int] = {}
        for row in rows:
            statuses[str(row.status)] = statuses.get(str(row.status), 0) + 1
        return cls(len(rows), spread([row.latency_s * 1000 for row in rows]), statuses)


@dataclass(slots=True)
class LoginPhase:
    phase: str
    streams: StreamSummary
    logins: Logins | None

    def to_json(self) -> dict[str, Any]:
        out = dict(self.streams.to_json(), phase=self.phase)
        if self.logins is not None:
            out["logins"] = asdict(self.logins)
        return out


@dataclass(slots=True)
class LoginResult:
    phases: list[LoginPhase]
    p99_gap_no_logins_ms: list[float]
    p99_gap_logins_ms: list[float]
    p99_gap_delta_ms: float
    targets: dict[str, Target]

    def to_json(self) -> dict[str, Any]:
        return {
            "phases": [p.to_json() for p in self.phases],
            "p99_gap_no_logins_ms": self.p99_gap_no_logins_ms,
            "p99_gap_logins_ms": self.p99_gap_logins_ms,
            "p99_gap_delta_ms": self.p99_gap_delta_ms,
            "targets": targets_json(self.targets),
        }


def phase_logins(args: argparse.Namespace, run: Run) -> dict[str, Any]:
    """The client's login schedule: open-loop at --login-rate over the phase."""
    return {
        "rate": args.login_rate,
        "duration_s": args.duration + WORDS * args.delay_ms / 1000,
        "users": run.users,
        "fingerprint": FINGERPRINT,
    }


def one_phase(args: argparse.Namespace, run: Run, phase: str, result: PhaseRun) -> LoginPhase:
    s = stream_summary(result, args.delay_ms)
    out = LoginPhase(phase, s, Logins.of(result.logins) if phase == "logins" else None)
    rows = stream_rows(s)
    if out.logins is not None:
        rows += [
            (
                "logins",
                f"{out.logins.count} at {args.login_rate}/s, statuses {out.logins.statuses}",
            ),
            ("login latency ms p50/p99/max", fmt_spread(out.logins.latency_ms)),
        ]
    extra = f"live={args.live} starts={len(result.records)} over {args.duration}s"
    print_table(title_of(args, f"login/{phase}", extra), rows)
    print(flush=True)
    return out


def cmd_login(args: argparse.Namespace) -> Outcome:
    per_phase, phases = live_phases(args, "no-logins", "logins")
    done: list[LoginPhase] = []
    with Run(args, "login") as run:
        tokens, sessions = run.setup(per_phase * len(phases), args.users)
        for number, phase in enumerate(phases):
            chunk = sessions[number * per_phase : (number + 1) * per_phase]
            logins = phase_logins(args, run) if phase == "logins" else None
            plan = uniform_plan(per_phase, args.duration, chunk)
            result = run_streams(run, tokens, plan, logins, args.sample_interval)
            done.append(one_phase(args, run, phase, result))
            time.sleep(2)
    return _outcome(run, done)


def _outcome(run: Run, done: list[LoginPhase]) -> Outcome:
    base = [p.streams.streams.gap_ms.p99 or 0.0 for p in done if p.phase == "no-logins"]
    with_logins = [p.streams.streams.gap_ms.p99 or 0.0 for p in done if p.phase == "logins"]
    delta = mean(with_logins) - mean(base)
    targets = {"p99 gap moved by logins (ms)": Target(delta, 10, "<")}
    print_table(
        "login burst: p99 inter-token gap",
        [
            ("no logins", ", ".join(fmt(x) for x in base)),
            ("with logins", ", ".join(fmt(x) for x in with_logins)),
            ("delta", fmt(delta)),
            *target_rows(targets),
        ],
    )
    summary = LoginResult(done, base, with_logins, delta, targets)
    foreign = most_foreign([p.streams.cost.foreign_cores for p in done])
    return Outcome(run.run_id, run.code, summary.to_json(), foreign)
