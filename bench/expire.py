"""``python -m bench expire``: the p99 gap of live streams with and without ``flask --app
wsgi sessions expire`` running on a backlog of idle sessions (PostgreSQL only)."""

from __future__ import annotations

import argparse
import functools
import json
import os
import re
import subprocess
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from bench.lifecycle import Run, add_live_arguments, live_phases, mean, uniform_plan
from bench.paths import VENV_BIN
from bench.phase import PhaseRun, run_streams
from bench.records import SessionRef, StreamRecord
from bench.stats import Spread, fmt, gaps_between
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

EXPIRE_LINE = re.compile(
    r"Abandoned (\d+) sessions? idle since before (\S+) \((\d+) batch(?:es)?\)\."
)
BACKLOG_AGE = "30 days"  # the seeded backlog's created_at / last_active_at: now() minus this


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_live_arguments(p)
    p.add_argument("--backlog", type=int, default=100000, help="idle active sessions to expire")
    p.add_argument("--batch-size", type=int, default=500, help="sessions expire --batch-size")
    p.add_argument("--older-than", default="7d", help="sessions expire --older-than")
    p.add_argument(
        "--expire-at", type=float, default=1.0, help="start the command S s into the phase"
    )


# --------------------------------------------------------------------------- the backlog


def seed_backlog(run: Run, n: int) -> dict[str, int]:
    """Untimed: N idle active sessions of the first bench user, 30 days old, in one INSERT.

    A backlog left by an earlier phase is deleted first, then the table is vacuumed and
    analysed, as autovacuum would have done long before sessions are a week old.
    """
    started = time.monotonic()
    run.db.rows("DELETE FROM solve_sessions WHERE created_at < now() - interval '1 day'")
    run.db.rows(
        "INSERT INTO solve_sessions (id, user_id, device_id, status, current_step, created_at, "
        "completed_at, last_active_at) "
        "SELECT gen_random_uuid(), u.id, NULL, 'active', 'clarify', now() - %s::interval, "
        "NULL, now() - %s::interval "
        "FROM users u CROSS JOIN generate_series(1, %s) WHERE u.email = %s",
        (BACKLOG_AGE, BACKLOG_AGE, n, run.users[0]["email"]),
    )
    run.db.rows("VACUUM (ANALYZE) solve_sessions")
    counts = status_counts(run)
    print(
        f"  set-up: backlog of {n:,} idle sessions in {time.monotonic() - started:.1f}s "
        f"(untimed); solve_sessions by status {counts}",
        flush=True,
    )
    return counts


def status_counts(run: Run, ids: list[str] | None = None) -> dict[str, int]:
    """solve_sessions by status: all of them, or only these ids."""
    if ids is None:
        rows = run.db.rows("SELECT status, count(*) FROM solve_sessions GROUP BY 1")
    else:
        rows = run.db.rows(
            "SELECT status, count(*) FROM solve_sessions WHERE id = ANY(%s::uuid[]) GROUP BY 1",
            (ids,),
        )
    return {str(status): int(count) for status, count in sorted(rows)}


# --------------------------------------------------------------------------- the command


@dataclass(slots=True)
class ExpireRun:
    """One ``sessions expire``: wall time, CPU (user + sys, from wait4), exit and output."""

    start: float
    end: float
    wall_s: float
    cpu_s: float
    exit: int
    output: str
    line: str | None
    abandoned: int | None
    batches: int | None
    # filled in once the phase is over
    start_offset_s: float = 0.0
    end_offset_s: float = 0.0
    streams_end_offset_s: float = 0.0
    overran_streams: bool = False
    rate_per_s: float | None = None
    noop_wall_s: float = 0.0
    noop_line: str | None = None
    live_sessions_by_status: dict[str, int] = field(default_factory=dict)
    all_sessions_by_status: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        del out["start"], out["end"]  # monotonic: meaningless outside this run
        return out


def _wait4(proc: subprocess.Popen[bytes], deadline: float) -> tuple[float, float]:
    """Reap `proc` with wait4 (for its CPU), polling so the wait stays bounded."""
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return time.monotonic(), usage.ru_utime + usage.ru_stime
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("sessions expire did not finish in time")
        time.sleep(0.005)


def run_expire(run: Run, args: argparse.Namespace, at: float, timeout: float = 600) -> ExpireRun:
    """``flask --app wsgi sessions expire`` against the server's database, started at `at`."""
    time.sleep(max(0.0, at - time.monotonic()))
    env = dict(os.environ, DATABASE_URL=run.db.url, CLARITY_ENV="development")
    cmd = [str(VENV_BIN / "flask"), "--app", "wsgi", "sessions", "expire"]
    cmd += ["--older-than", args.older_than, "--batch-size", str(args.batch_size)]
    out_path = run.tmp / f"expire-{uuid.uuid4().hex[:8]}.out"
    with open(out_path, "w") as out:
        start = time.monotonic()
        proc = subprocess.Popen(
            cmd,
            cwd=run.root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        run.children.append(proc)  # killed at teardown if still running
        end, cpu_s = _wait4(proc, start + timeout)
    text = out_path.read_text(errors="replace")
    out_path.unlink()
    match = EXPIRE_LINE.search(text)
    return ExpireRun(
        start=start,
        end=end,
        wall_s=end - start,
        cpu_s=cpu_s,
        exit=proc.returncode,
        output=text.strip()[-2000:],
        line=match.group(0) if match else None,
        abandoned=int(match.group(1)) if match else None,
        batches=int(match.group(3)) if match else None,
    )


def expire_during(run: Run, args: argparse.Namespace, t0: float) -> ExpireRun:
    return run_expire(run, args, t0 + args.expire_at)


def after_expiry(
    run: Run, args: argparse.Namespace, result: PhaseRun, s: StreamSummary, live: list[str]
) -> ExpireRun:
    """Where the command ran in the phase, a no-op run of it, and the sessions left."""
    if result.side_error or not isinstance(result.side, ExpireRun):
        raise RuntimeError(f"sessions expire: {result.side_error}")
    ex = result.side
    streams_end = s.streams.last_end or result.t0
    ex.start_offset_s = ex.start - result.t0
    ex.end_offset_s = ex.end - result.t0
    ex.streams_end_offset_s = streams_end - result.t0
    ex.overran_streams = ex.end > streams_end
    ex.rate_per_s = (ex.abandoned or 0) / ex.wall_s if ex.wall_s else None
    # the same command with nothing left to do: start-up and one empty batch
    noop = run_expire(run, args, time.monotonic())
    ex.noop_wall_s = noop.wall_s
    ex.noop_line = noop.line
    ex.live_sessions_by_status = status_counts(run, live)
    ex.all_sessions_by_status = status_counts(run)
    return ex


def expire_rows(ex: ExpireRun) -> list[tuple[str, str]]:
    overran = " (OVERRAN the streams)" if ex.overran_streams else ""
    return [
        ("expire command", f"exit {ex.exit}: {ex.line or ex.output[-300:]}"),
        (
            "expire wall s / CPU s",
            f"{fmt(ex.wall_s, 2)} / {fmt(ex.cpu_s, 2)} "
            f"(the same with nothing to do: {fmt(ex.noop_wall_s, 2)} s)",
        ),
        ("expire rate, sessions / s", fmt(ex.rate_per_s)),
        (
            "expire ran (from t0)",
            f"+{ex.start_offset_s:.2f}s .. +{ex.end_offset_s:.2f}s; "
            f"last stream ended +{ex.streams_end_offset_s:.2f}s{overran}",
        ),
        ("live sessions by status after", json.dumps(ex.live_sessions_by_status)),
        ("all sessions by status after", json.dumps(ex.all_sessions_by_status)),
    ]


# --------------------------------------------------------------------------- phases


@dataclass(slots=True)
class ExpirePhase:
    phase: str
    streams: StreamSummary
    backlog_before: dict[str, int]
    t0: float
    records: list[StreamRecord]
    expire: ExpireRun | None = None
    gap_ms_expire_window: Spread | None = None

    def to_json(self) -> dict[str, Any]:
        out = dict(self.streams.to_json(), phase=self.phase, backlog_before=self.backlog_before)
        if self.expire is not None:
            out["expire"] = self.expire.to_json()
        if self.gap_ms_expire_window is not None:
            out["gap_ms_expire_window"] = asdict(self.gap_ms_expire_window)
        return out

    @property
    def p99(self) -> float:
        return self.streams.streams.gap_ms.p99 or 0.0

    @property
    def window_p99(self) -> float:
        return (self.gap_ms_expire_window.p99 if self.gap_ms_expire_window else None) or 0.0

    @property
    def over_ideal(self) -> float:
        return self.streams.streams.median_duration_over_ideal or 0.0


def one_phase(
    run: Run,
    args: argparse.Namespace,
    phase: str,
    tokens: list[str],
    chunk: list[SessionRef],
    live: list[str],
    seeded: dict[str, int],
) -> ExpirePhase:
    plan = uniform_plan(len(chunk), args.duration, chunk)
    # the command, started --expire-at s into the phase
    during = functools.partial(expire_during, run, args) if phase == "expiry" else None
    result = run_streams(run, tokens, plan, sample_interval=args.sample_interval, during=during)
    s = stream_summary(result, args.delay_ms)
    out = ExpirePhase(phase, s, seeded, result.t0, result.records)
    rows = stream_rows(s)
    if phase == "expiry":
        out.expire = after_expiry(run, args, result, s, live)
        rows += expire_rows(out.expire)
    extra = (
        f"live={args.live} starts={len(chunk)} over {args.duration}s "
        f"backlog={args.backlog} batch={args.batch_size}"
    )
    print_table(title_of(args, f"expire/{phase}", extra), rows)
    print(flush=True)
    return out


def cmd_expire(args: argparse.Namespace) -> Outcome:
    if args.db != "postgres":
        raise SystemExit(
            "expire runs on PostgreSQL only: the backlog is seeded with gen_random_uuid() and "
            "generate_series(), and only PostgreSQL batches with FOR UPDATE SKIP LOCKED"
        )
    per_phase, phases = live_phases(args, "no-expiry", "expiry")
    done: list[ExpirePhase] = []
    seeded: dict[str, int] = {}
    with Run(args, "expire") as run:
        tokens, sessions = run.setup(per_phase * len(phases), args.users)
        live = [s.id for s in sessions]
        for number, phase in enumerate(phases):
            if phase == "no-expiry":  # both phases of a pair see the same backlog
                seeded = seed_backlog(run, args.backlog)
            chunk = sessions[number * per_phase : (number + 1) * per_phase]
            done.append(one_phase(run, args, phase, tokens, chunk, live, seeded))
            time.sleep(2)
    set_windows(done)
    return ExpireResult.of(args, done).report(run)


def set_windows(done: list[ExpirePhase]) -> None:
    """Gaps while the command ran, and over the same stretch (from t0) of the phase before."""
    for i in range(1, len(done), 2):
        ex = done[i].expire
        assert ex is not None
        for p in (done[i - 1], done[i]):
            window = (p.t0 + ex.start_offset_s, p.t0 + ex.end_offset_s)
            p.gap_ms_expire_window = gaps_between(p.records, *window)


# --------------------------------------------------------------------------- the result


@dataclass(slots=True)
class ExpireResult:
    backlog: int
    batch_size: int
    older_than: str
    phases: list[ExpirePhase]
    targets: dict[str, Target]

    @property
    def base(self) -> list[ExpirePhase]:
        return [p for p in self.phases if p.phase == "no-expiry"]

    @property
    def expiring(self) -> list[ExpirePhase]:
        return [p for p in self.phases if p.phase == "expiry"]

    @property
    def runs(self) -> list[ExpireRun]:
        return [p.expire for p in self.expiring if p.expire is not None]

    @property
    def delta(self) -> float:
        return mean([p.p99 for p in self.expiring]) - mean([p.p99 for p in self.base])

    @property
    def window_delta(self) -> float:
        return mean([p.window_p99 for p in self.expiring]) - mean([p.window_p99 for p in self.base])

    @classmethod
    def of(cls, args: argparse.Namespace, done: list[ExpirePhase]) -> ExpireResult:
        out = cls(args.backlog, args.batch_size, args.older_than, done, {})
        # a missing or unparsable output line counts as every session missed
        wrong = sum(abs((e.abandoned or 0) - args.backlog) for e in out.runs)
        live_abandoned = max(e.live_sessions_by_status.get("abandoned", 0) for e in out.runs)
        out.targets = {
            "expired != backlog (sessions)": Target(float(wrong), 0),
            "live sessions abandoned": Target(float(live_abandoned), 0),
            "p99 gap moved while expiring (ms)": Target(out.window_delta, 25, "<"),
            "p99 gap moved over the phase (ms)": Target(out.delta, 25, "<"),
        }
        return out

    def to_json(self) -> dict[str, Any]:
        base, expiring = self.base, self.expiring
        return {
            "backlog": self.backlog,
            "batch_size": self.batch_size,
            "older_than": self.older_than,
            "phases": [p.to_json() for p in self.phases],
            "expire_wall_s": [e.wall_s for e in self.runs],
            "expire_rate_per_s": [e.rate_per_s for e in self.runs],
            "expire_batches": [e.batches for e in self.runs],
            "p99_gap_no_expiry_ms": [p.p99 for p in base],
            "p99_gap_expiry_ms": [p.p99 for p in expiring],
            "p99_gap_delta_ms": self.delta,
            "p99_gap_window_no_expiry_ms": [p.window_p99 for p in base],
            "p99_gap_window_expiry_ms": [p.window_p99 for p in expiring],
            "p99_gap_window_delta_ms": self.window_delta,
            "median_over_ideal_delta": mean([p.over_ideal for p in expiring])
            - mean([p.over_ideal for p in base]),
            "targets": targets_json(self.targets),
        }

    def report(self, run: Run) -> Outcome:
        def join(values: list[Any], digits: int = 1) -> str:
            return ", ".join(fmt(x, digits) for x in values)

        base, expiring = self.base, self.expiring
        print_table(
            f"expire {self.backlog:,} idle sessions, batch {self.batch_size}: "
            "live streams with and without it",
            [
                ("expire wall s", join([e.wall_s for e in self.runs], 2)),
                ("expire sessions / s", join([e.rate_per_s for e in self.runs])),
                ("batches", join([e.batches for e in self.runs])),
                ("p99 gap ms, no expiry", join([p.p99 for p in base])),
                ("p99 gap ms, expiry", join([p.p99 for p in expiring])),
                ("p99 gap ms while it ran, no expiry", join([p.window_p99 for p in base])),
                ("p99 gap ms while it ran, expiry", join([p.window_p99 for p in expiring])),
                (
                    "median / ideal, no expiry -> expiry",
                    join([p.over_ideal for p in base], 3)
                    + " -> "
                    + join([p.over_ideal for p in expiring], 3),
                ),
                (
                    "delta p99 gap ms (phase, while running)",
                    f"{fmt(self.delta)}, {fmt(self.window_delta)}",
                ),
                *target_rows(self.targets),
            ],
        )
        foreign = most_foreign([p.streams.cost.foreign_cores for p in self.phases])
        return Outcome(run.run_id, run.code, self.to_json(), foreign)
