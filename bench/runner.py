"""The benchmark commands: burst, hold, crud, login, expire.

Each command creates a fresh database, migrates it, starts gunicorn exactly as it deploys
(``gunicorn -c gunicorn.conf.py wsgi:app``, or the bare floor app with ``--app bare``) on a
free 127.0.0.1 port, does the untimed set-up over HTTP (register users, make them pro, open
sessions), runs the timed phase from separate load-client processes (``bench.client``) while
sampling the server, stops the server, drops the database, prints a results table and appends
one JSON line to ``bench/results/<bench>.jsonl``. Every phase is bounded in time, and Ctrl-C or
a failure still stops the server and the clients.

    .venv/bin/python -m bench burst --n 1000 --over 2 --workers 2 --db postgres
    .venv/bin/python -m bench hold --n 10000 --over 20 --delay-ms 2000 --db postgres
    .venv/bin/python -m bench crud --concurrency 32 --duration 10 --workers 2
    .venv/bin/python -m bench login --live 500 --login-rate 20
    .venv/bin/python -m bench expire --live 500 --backlog 100000 --batch-size 500
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import re
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import stats
from bench.server import (
    PG_ADMIN,
    ROOT,
    VENV_BIN,
    Database,
    PgBackendCpu,
    PgStat,
    Sampler,
    Server,
    app_digest,
    app_ready,
    machine_cpu,
    machine_info,
)
from bench.stats import fmt, fmt_spread

RESULTS = ROOT / "bench" / "results"
EXPECTED = "I understand how you feel. Let me help you work through this."
WORDS = 12
BODY = {"content": "I feel stuck at work"}
PASSWORD = "Bench-R1ver-Stone"
FINGERPRINT = "bench-1"


class Interrupted(Exception):
    pass


def _on_sigterm(signum: int, frame: Any) -> None:
    raise Interrupted(f"signal {signum}")


# --------------------------------------------------------------------------- a run


class Run:
    """One benchmark run: database, server, clients; cleans up whatever happens."""

    def __init__(self, args: argparse.Namespace, bench: str):
        self.args = args
        self.bench = bench
        self.app = args.app
        db_kind = "none" if args.app == "bare" else args.db
        self.db = Database(db_kind, bench)
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        self.run_id = f"{bench}-{stamp}-{os.getpid()}"
        self.tmp = Path(tempfile.mkdtemp(prefix="bench_run_"))
        self.server = Server(
            app=args.app,
            workers=args.workers,
            db=self.db,
            delay_ms=args.delay_ms,
            log_path=RESULTS / "logs" / f"{self.run_id}.log",
            extra_env=dict(kv.split("=", 1) for kv in (args.server_env or [])),
            gc_log=str(self.tmp / "gc") if args.gc_probe else "",
        )
        self.profiles: list[Path] = []
        self.raw_count = 0
        self.gc_pauses: list[list[Any]] = []
        self.gc_counts: list[list[int]] = []
        self.clients: list[subprocess.Popen[bytes]] = []
        self.pg: PgStat | None = None
        self.users: list[dict[str, Any]] = []

    def __enter__(self) -> Run:
        if self.app == "app" and not app_ready():
            raise SystemExit("wsgi.py / gunicorn.conf.py are not there yet: use --app bare")
        signal.signal(signal.SIGTERM, _on_sigterm)
        self.code = app_digest() if self.app == "app" else {"bare": True}
        self.db.create()
        self.db.migrate()
        self.server.start()
        if self.db.kind == "postgres":
            self.pg = PgStat(self.db.name)
        print(
            f"[{self.run_id}] server pid {self.server.proc.pid if self.server.proc else '?'} "
            f"port {self.server.port}, workers {self.server.worker_pids()}, code {self.code}",
            flush=True,
        )
        return self

    def __exit__(self, *exc: object) -> None:
        for proc in self.clients:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
        self.server.stop()
        self.gc_pauses, self.gc_counts = self.server.gc_pauses()
        if self.pg is not None:
            self.pg.close()
        if not self.args.keep_db:
            self.db.drop()
        for path in self.tmp.iterdir():
            path.unlink()
        self.tmp.rmdir()

    # ---------------------------------------------------------------- clients

    def client(self, spec: dict[str, Any], timeout: float, tag: str) -> dict[str, Any]:
        return self.clients_run([spec], timeout, tag)[0]

    def clients_run(
        self, specs: list[dict[str, Any]], timeout: float, tag: str
    ) -> list[dict[str, Any]]:
        """Run one client process per spec at once; their outputs, or raise."""
        procs = []
        outs = []
        for i, spec in enumerate(specs):
            spec = dict(spec, host="127.0.0.1", port=self.server.port)
            spec_path = self.tmp / f"{tag}-{i}.spec.json"
            out_path = self.tmp / f"{tag}-{i}.out.json"
            spec_path.write_text(json.dumps(spec))
            proc = subprocess.Popen(
                [sys.executable, "-m", "bench.client", str(spec_path), str(out_path)],
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
            )
            self.clients.append(proc)
            procs.append(proc)
            outs.append(out_path)
        deadline = time.monotonic() + timeout
        for proc in procs:
            try:
                proc.wait(timeout=max(1.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                raise RuntimeError(f"client {tag} did not finish within {timeout:.0f}s") from None
            if proc.returncode != 0:
                raise RuntimeError(f"client {tag} failed (exit {proc.returncode})")
        results = [json.loads(path.read_text()) for path in outs]
        for path in outs:
            path.unlink()
        return results

    # ---------------------------------------------------------------- set-up (untimed)

    def setup(self, sessions: int, users: int) -> tuple[list[str], list[list[Any]]]:
        """Register `users` pro users and open `sessions` sessions: (tokens, [[k, id], …])."""
        if self.app == "bare":
            return [], [[0, str(uuid.uuid4())] for _ in range(sessions)]
        started = time.monotonic()
        tag = uuid.uuid4().hex[:8]
        self.users = [
            {"email": f"bench-{tag}-{i}@example.com", "password": PASSWORD} for i in range(users)
        ]
        reg = self.client(
            {"mode": "register", "users": self.users, "fingerprint": FINGERPRINT},
            timeout=120,
            tag="register",
        )
        tokens = [u["access_token"] for u in reg["users"]]
        for user in self.users:
            self.db.flask("users", "set-tier", user["email"], "pro")
        counts = [sessions // users + (1 if i < sessions % users else 0) for i in range(users)]
        created: list[list[Any]] = []
        if sessions:
            out = self.client(
                {
                    "mode": "sessions",
                    "tokens": tokens,
                    "counts": counts,
                    "fingerprint": FINGERPRINT,
                    "concurrency": 32,
                },
                timeout=120 + sessions / 20,
                tag="sessions",
            )
            created = out["sessions"]
            rate = len(created) / out["wall_s"] if out["wall_s"] else 0
            print(f"  set-up: {len(created)} sessions at {rate:,.0f}/s", flush=True)
        print(f"  set-up took {time.monotonic() - started:.1f}s (untimed)", flush=True)
        return tokens, created

    # ---------------------------------------------------------------- py-spy (optional)

    def profile(self, t0: float, duration_s: float) -> subprocess.Popen[bytes] | None:
        """With --profile: py-spy the workers (GIL-holding samples) over the timed phase."""
        if not self.args.profile or self.server.proc is None:
            return None
        out = RESULTS / "profiles" / f"{self.run_id}-{len(self.profiles)}.txt"
        out.parent.mkdir(parents=True, exist_ok=True)
        self.profiles.append(out)
        cmd = [str(ROOT / ".venv" / "bin" / "py-spy"), "record", "-p", str(self.server.proc.pid)]
        cmd += ["-s", "-g", "--nonblocking", "-r", "100", "-f", "raw", "-o", str(out)]
        cmd += ["-d", str(max(1, int(duration_s + 1)))]
        time.sleep(max(0.0, t0 - time.monotonic() - 0.4))
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self.clients.append(proc)
        return proc

    def profile_done(self, proc: subprocess.Popen[bytes] | None) -> None:
        if proc is None:
            return
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        if self.profiles and self.profiles[-1].exists():
            print(profile_report(self.profiles[-1]), flush=True)

    # ---------------------------------------------------------------- the timed phase

    def streams(
        self,
        tokens: list[str],
        plan: list[tuple[float, str, int]],
        logins: dict[str, Any] | None = None,
        sample_interval: float = 0.5,
        during: Callable[[float], dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Open the planned streams [(offset_s, session_id, token_index)] from the clients.

        `during(t0)`, if given, runs in a thread alongside the streams (it sleeps to its own
        start); its result is returned as "during", and its "cpu_s" (a subprocess's CPU) counts
        as this run's, not as other jobs'.
        """
        quiet = wait_quiet(self.args.quiet_wait, self.args.quiet_cores)
        procs = max(1, self.args.client_procs)
        ideal_s = WORDS * self.args.delay_ms / 1000
        timeout_s = max(30.0, 4 * ideal_s + 20)
        t0 = time.monotonic() + 1.5 + len(plan) / procs / 20000
        specs = []
        for p in range(procs):
            items = [[i, off, sid, k] for i, (off, sid, k) in enumerate(plan) if i % procs == p]
            spec: dict[str, Any] = {
                "mode": "streams",
                "t0": t0,
                "expected": EXPECTED,
                "timeout_s": timeout_s,
                "body": BODY,
                "tokens": tokens,
                "items": items,
            }
            if logins and p == 0:
                spec["logins"] = logins
            specs.append(spec)
        pg_cpu = PgBackendCpu(self.db.name) if self.db.kind == "postgres" else None
        sampler = Sampler(self.server, self.pg, interval=sample_interval, pg_cpu=pg_cpu)
        last_offset = max((off for off, _, _ in plan), default=0.0)

        result: dict[str, Any] = {}

        def before() -> None:
            time.sleep(max(0.0, t0 - time.monotonic() - 0.3))
            result["self0"] = self_cpu_s()
            result["baseline"] = sampler.snapshot()
            result["cpu0"] = self.server.cpu_s()
            result["pg_mark"] = pg_cpu.mark() if pg_cpu is not None else {}
            result["machine0"] = machine_cpu()
            sampler.start()

        side: dict[str, Any] = {}

        def beside() -> None:
            try:
                side.update(during(t0) if during is not None else {})
            except Exception as exc:  # reported with the phase, never lost
                side["error"] = repr(exc)

        starter = threading.Thread(target=before, daemon=True)
        starter.start()
        side_thread = threading.Thread(target=beside, daemon=True)
        if during is not None:
            side_thread.start()
        spy = self.profile(t0, last_offset + ideal_s + 2.0)
        try:
            outs = self.clients_run(specs, timeout=last_offset + timeout_s + 60, tag="streams")
        finally:
            starter.join(timeout=30)
            if during is not None:  # its own work is bounded (see cmd_expire)
                side_thread.join(timeout=last_offset + timeout_s + 900)
            self.profile_done(spy)
            samples = sampler.stop() if sampler.is_alive() else sampler.samples
        cpu1 = self.server.cpu_s()
        pg_s = pg_cpu.since(result["pg_mark"]) if pg_cpu is not None else 0.0
        machine1 = machine_cpu()
        self_s = self_cpu_s() - result["self0"]
        records = [r for out in outs for r in out["records"]]
        records.sort(key=lambda r: r[0])
        if self.args.save_raw:
            raw_dir = RESULTS / "raw"
            raw_dir.mkdir(parents=True, exist_ok=True)
            raw_path = raw_dir / f"{self.run_id}-{self.raw_count}.json"
            self.raw_count += 1
            raw_path.write_text(json.dumps({"t0": t0, "records": records, "samples": samples}))
            print(f"  raw records: {raw_path.relative_to(ROOT)}", flush=True)
        busy = machine1[0] - result["machine0"][0]
        total = machine1[1] - result["machine0"][1]
        client_cpu = sum(o["cpu_user_s"] + o["cpu_sys_s"] for o in outs)
        ours = (cpu1 - result["cpu0"]) + pg_s + client_cpu + self_s + side.get("cpu_s", 0.0)
        cores = os.cpu_count() or 1
        return {
            "t0": t0,
            "during": side,
            "quiet": quiet,
            "records": records,
            "logins": [row for out in outs for row in out.get("logins", [])],
            "samples": samples,
            "baseline": result["baseline"],
            "server_cpu_s": cpu1 - result["cpu0"],
            "postgres_cpu_s": pg_s,
            "machine_busy_frac": busy / total if total else None,
            # CPU the machine spent on anything but this run (other jobs on a shared host)
            "foreign_cores": (busy - ours * _ticks()) / total * cores if total else None,
            "orchestrator_cpu_s": self_s,
            "client_cpu_s": client_cpu,
            "client_wall_s": max(o["wall_s"] for o in outs),
            "client_procs": procs,
            "client_ready_margin_s": min(o["ready_before_t0_s"] for o in outs),
            "loop_lag_ms": stats.spread([lag for o in outs for lag in o["loop_lag_ms"]]),
        }


def self_cpu_s() -> float:
    """CPU of this orchestrator process (its sampling thread included)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _ticks() -> float:
    return float(os.sysconf("SC_CLK_TCK"))


def wait_quiet(max_wait: float, threshold_cores: float) -> dict[str, Any]:
    """Wait (bounded) until the rest of the machine uses < threshold cores over 1 s."""
    started = time.monotonic()
    cores = os.cpu_count() or 1
    busy_cores = 0.0
    while True:
        m0 = machine_cpu()
        time.sleep(1.0)
        m1 = machine_cpu()
        total = m1[1] - m0[1]
        busy_cores = (m1[0] - m0[0]) / total * cores if total else 0.0
        waited = time.monotonic() - started
        if busy_cores < threshold_cores or waited >= max_wait:
            if busy_cores >= threshold_cores:
                print(
                    f"  machine still busy ({busy_cores:.2f} cores) after {waited:.0f}s: "
                    "running anyway",
                    flush=True,
                )
            return {"waited_s": round(waited, 1), "busy_cores_before": round(busy_cores, 2)}


def profile_report(path: Path, top: int = 25) -> str:
    """Inclusive share of GIL-holding samples per function, from a py-spy raw profile."""
    inclusive: dict[str, int] = {}
    leaf: dict[str, int] = {}
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [f for f in stack.split(";") if not f.startswith(("process ", "thread "))]
        for frame in set(frames):
            inclusive[frame] = inclusive.get(frame, 0) + count
        if frames:
            leaf[frames[-1]] = leaf.get(frames[-1], 0) + count
    if not total:
        return f"profile {path.name}: no samples"
    rows = [
        (f"{100 * n / total:5.1f}%", name[:110])
        for name, n in sorted(inclusive.items(), key=lambda kv: -kv[1])[:top]
    ]
    rows += [("-- self", "")]
    rows += [
        (f"{100 * n / total:5.1f}%", name[:110])
        for name, n in sorted(leaf.items(), key=lambda kv: -kv[1])[:15]
    ]
    return stats.table(
        f"py-spy {path.name}: {total} GIL-holding samples (inclusive, then self)", rows
    )


# --------------------------------------------------------------------------- reports


def config_of(args: argparse.Namespace, bench: str) -> dict[str, Any]:
    skip = ("func", "keep_db", "no_save", "retries", "max_foreign", "quiet_wait", "quiet_cores")
    keys = [k for k in vars(args) if k not in skip]
    config = {k: getattr(args, k) for k in keys}
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


def target(value: float | None, limit: float, op: str = "<=") -> dict[str, Any]:
    ok = None if value is None else (value <= limit if op == "<=" else value < limit)
    return {"value": value, "limit": f"{op} {limit:g}", "pass": ok}


def gc_summary(pauses: list[list[Any]], start: float | None, end: float | None) -> dict[str, Any]:
    """Server GC pauses (from --gc-probe) that ended inside [start, end]."""
    if start is None or end is None:
        return {}
    inside = [p for p in pauses if start <= p[0] <= end]
    gen2 = [p[2] for p in inside if p[1] == 2]
    return {
        "pauses_ge_1ms": len(inside),
        "gen2_pauses": len(gen2),
        "gen2_max_ms": max(gen2, default=None),
        "max_ms": max((p[2] for p in inside), default=None),
        "total_ms": sum(p[2] for p in inside),
        "over_20ms": sum(1 for p in inside if p[2] >= 20),
    }


def stream_summary(
    run: dict[str, Any], delay_ms: int, gc_pauses: list[list[Any]] | None = None
) -> dict[str, Any]:
    """Everything reported about a streaming phase (burst, hold, login)."""
    s = stats.analyse_streams(run["records"], delay_ms, WORDS)
    if gc_pauses is not None:
        s["server_gc"] = gc_summary(gc_pauses, run["t0"], s["last_end"])
    done = s["succeeded"] or 1
    s["server_cpu_s"] = run["server_cpu_s"]
    s["server_cpu_ms_per_stream"] = 1000 * run["server_cpu_s"] / done
    s["postgres_cpu_ms_per_stream"] = 1000 * run["postgres_cpu_s"] / done
    s["client_cpu_s"] = run["client_cpu_s"]
    s["client_wall_s"] = run["client_wall_s"]
    s["client_procs"] = run["client_procs"]
    s["client_cpu_frac"] = run["client_cpu_s"] / (run["client_wall_s"] * run["client_procs"])
    s["client_loop_lag_ms"] = run["loop_lag_ms"]
    s["client_ready_margin_s"] = run["client_ready_margin_s"]
    s["machine_busy_frac"] = run["machine_busy_frac"]
    s["foreign_cores"] = run["foreign_cores"]
    s["quiet"] = run["quiet"]
    s["orchestrator_cpu_s"] = run["orchestrator_cpu_s"]
    # a client that is busy most of the time or whose timers fire late skews every timestamp
    s["client_bound"] = bool(s["client_cpu_frac"] > 0.8 or (run["loop_lag_ms"]["p99"] or 0) > 10.0)
    s.update(server_samples(run))
    return s


def server_samples(run: dict[str, Any]) -> dict[str, Any]:
    """Memory, fds and PostgreSQL connections against the number of open streams."""
    samples = [x for x in run["samples"] if "error" not in x]
    base = run["baseline"]
    if not samples:
        return {}
    opens = stats.OpenStreams(run["records"])
    peak = max(samples, key=lambda x: opens.open_at(x["t"]))
    open_at_peak = opens.open_at(peak["t"])
    out: dict[str, Any] = {
        "baseline_pss_mb": base["pss_kb"] / 1024,
        "baseline_rss_mb": base["rss_kb"] / 1024,
        "baseline_fds": base["fds"],
        "peak_open_streams_sampled": open_at_peak,
        "pss_at_peak_mb": peak["pss_kb"] / 1024,
        "rss_at_peak_mb": peak["rss_kb"] / 1024,
        "fds_at_peak": peak["fds"],
        "worker_fds_at_peak": peak["worker_fds"],
        "max_pss_mb": max(x["pss_kb"] for x in samples) / 1024,
        "max_fds": max(x["fds"] for x in samples),
        "kb_per_open_stream_pss": (
            (peak["pss_kb"] - base["pss_kb"]) / open_at_peak if open_at_peak else None
        ),
        "kb_per_open_stream_rss": (
            (peak["rss_kb"] - base["rss_kb"]) / open_at_peak if open_at_peak else None
        ),
    }
    pg_samples = [x for x in samples if "pg" in x]
    if pg_samples:

        def held(x: dict[str, Any]) -> int:
            return sum(v for k, v in x["pg"].items() if k != "idle")

        def pure_pacing(x: dict[str, Any]) -> bool:
            if "pg_t" in x:  # no stream started up or finished while the query ran
                return opens.db_phase_between(*x["pg_t"]) == 0
            return bool(opens.pacing_at(x["t"]) == opens.open_at(x["t"]))

        during = [x for x in pg_samples if opens.open_at(x.get("pg_t", [x["t"]])[0]) > 0]
        # samples where every open stream was between its first and last token
        pacing = [x for x in during if pure_pacing(x)]
        out["pg_baseline"] = base.get("pg", {})
        out["pg_total_max"] = max((sum(x["pg"].values()) for x in during), default=0)
        out["pg_busy_max"] = max((held(x) for x in during), default=0)
        out["pg_idle_in_tx_max"] = max(
            (x["pg"].get("idle in transaction", 0) for x in during), default=0
        )
        out["pg_pacing_samples"] = len(pacing)
        out["pg_busy_max_pure_pacing"] = max((held(x) for x in pacing), default=None)
        out["pg_total_max_pure_pacing"] = max((sum(x["pg"].values()) for x in pacing), default=None)
        out["pg_states_seen"] = sorted({k for x in during for k in x["pg"]})
        out["pg_oldest_xact_ms"] = max((x.get("pg_xact_max_ms", 0) for x in during), default=0)
        out["pg_oldest_xact_ms_pure_pacing"] = max(
            (x.get("pg_xact_max_ms", 0) for x in pacing), default=None
        )
    return out


def stream_rows(s: dict[str, Any]) -> list[tuple[str, str]]:
    rows = [
        ("streams ok / total", f"{fmt(s['succeeded'])} / {fmt(s['streams'])}"),
        ("exact text", fmt(s["exact_text"])),
        ("outcomes", json.dumps(s["outcomes"])),
        ("ttft ms p50/p99/max", fmt_spread(s["ttft_ms"])),
        ("gap ms p50/p99/max", fmt_spread(s["gap_ms"])),
        ("duration ms p50/p99/max", fmt_spread(s["duration_ms"])),
        (
            "median duration / ideal",
            f"{fmt(s['median_duration_over_ideal'], 3)} "
            f"(ideal {s['ideal_ms']} ms = {WORDS} x delay)",
        ),
        ("connect ms p50/p99/max", fmt_spread(s["connect_ms"])),
        ("start lag ms p50/p99/max", fmt_spread(s["start_lag_ms"])),
        ("server CPU s (master+workers)", fmt(s["server_cpu_s"], 2)),
        ("server CPU ms / stream", fmt(s["server_cpu_ms_per_stream"], 2)),
        ("postgres CPU ms / stream", fmt(s["postgres_cpu_ms_per_stream"], 2)),
        ("machine busy (2 cores = 1.0)", fmt(s["machine_busy_frac"], 2)),
        (
            "other jobs on the machine, cores",
            f"{fmt(s['foreign_cores'], 2)} during, "
            f"{s['quiet']['busy_cores_before']} before (waited {s['quiet']['waited_s']}s)",
        ),
        (
            "client CPU s / wall s",
            f"{fmt(s['client_cpu_s'], 2)} / {fmt(s['client_wall_s'], 2)}"
            f" ({s['client_procs']} proc, {100 * s['client_cpu_frac']:.0f}% of its cores)",
        ),
        ("client loop lag ms p50/p99/max", fmt_spread(s["client_loop_lag_ms"])),
        ("client-bound?", "YES - timings suspect" if s["client_bound"] else "no"),
    ]
    if s.get("server_gc"):
        g = s["server_gc"]
        rows.append(
            (
                "server GC pauses (probe)",
                f"{g['pauses_ge_1ms']} >= 1 ms, {g['over_20ms']} >= 20 ms, max "
                f"{fmt(g['max_ms'])} ms, gen2 {g['gen2_pauses']} (max {fmt(g['gen2_max_ms'])})"
                f", total {fmt(g['total_ms'])} ms",
            )
        )
    if "peak_open_streams_sampled" in s:
        rows += [
            ("peak open streams (sampled)", fmt(s["peak_open_streams_sampled"])),
            (
                "worker PSS MB base -> peak",
                f"{fmt(s['baseline_pss_mb'])} -> {fmt(s['pss_at_peak_mb'])}",
            ),
            (
                "KB / open stream (PSS, RSS)",
                f"{fmt(s['kb_per_open_stream_pss'])}, {fmt(s['kb_per_open_stream_rss'])}",
            ),
            (
                "worker fds base -> peak",
                f"{fmt(s['baseline_fds'])} -> {fmt(s['fds_at_peak'])} {s['worker_fds_at_peak']}",
            ),
        ]
    if "pg_total_max" in s:
        rows += [
            (
                "pg conns: total max / busy max",
                f"{s['pg_total_max']} / {s['pg_busy_max']} "
                f"(states {s['pg_states_seen']}, baseline {s['pg_baseline']}), oldest "
                f"transaction {fmt(s.get('pg_oldest_xact_ms'))} ms",
            ),
            (
                "pg busy in pure-pacing samples",
                f"{fmt(s['pg_busy_max_pure_pacing'])}, oldest transaction "
                f"{fmt(s.get('pg_oldest_xact_ms_pure_pacing'))} ms "
                f"(total {fmt(s['pg_total_max_pure_pacing'])}, {s['pg_pacing_samples']} samples)",
            ),
        ]
    if s["errors"]:
        rows.append(("errors", json.dumps(s["errors"])))
    if s["error_samples"]:
        rows.append(
            ("error samples", " | ".join(x.replace("\r\n", " ") for x in s["error_samples"])[:400])
        )
    if s["mismatched_text_samples"]:
        rows.append(("mismatched text", " | ".join(s["mismatched_text_samples"])[:300]))
    return rows


def title_of(args: argparse.Namespace, bench: str, extra: str) -> str:
    db = "none" if args.app == "bare" else args.db
    return (
        f"{bench} [{args.app}] {extra} workers={args.workers} db={db} "
        f"delay={args.delay_ms}ms client_procs={args.client_procs}"
    )


def uniform_plan(n: int, over: float, sessions: list[list[Any]]) -> list[tuple[float, str, int]]:
    step = over / n if n else 0.0
    return [(i * step, sessions[i][1], sessions[i][0]) for i in range(n)]


# --------------------------------------------------------------------------- commands


def cmd_burst(args: argparse.Namespace) -> dict[str, Any]:
    with Run(args, "burst") as run:
        tokens, sessions = run.setup(args.n, args.users)
        result = run.streams(
            tokens, uniform_plan(args.n, args.over, sessions), sample_interval=args.sample_interval
        )
    s = stream_summary(result, args.delay_ms, run.gc_pauses if args.gc_probe else None)
    s["targets"] = {
        "all succeed with exact text": target(float(args.n - s["exact_text"]), 0),
        "median duration / ideal": target(s["median_duration_over_ideal"], 1.10),
        "p99 gap ms": target(s["gap_ms"]["p99"], 75),
        "server CPU ms / stream": target(s["server_cpu_ms_per_stream"], 2.5),
    }
    print(
        stats.table(
            title_of(args, "burst", f"n={args.n} over={args.over}s"),
            stream_rows(s) + stats.target_rows(s["targets"]),
        )
    )
    return {"run_id": run.run_id, "summary": s, "code": run.code}


def cmd_hold(args: argparse.Namespace) -> dict[str, Any]:
    with Run(args, "hold") as run:
        tokens, sessions = run.setup(args.n, args.users)
        result = run.streams(
            tokens, uniform_plan(args.n, args.over, sessions), sample_interval=args.sample_interval
        )
    s = stream_summary(result, args.delay_ms, run.gc_pauses if args.gc_probe else None)
    s["targets"] = {
        "all succeed": target(float(args.n - s["succeeded"]), 0),
        "p99 gap ms": target(s["gap_ms"]["p99"], args.delay_ms + 150),
        "KB per open stream (PSS)": target(s.get("kb_per_open_stream_pss"), 40),
    }
    if "pg_busy_max_pure_pacing" in s:
        s["targets"]["pg conns busy while pacing"] = target(s["pg_busy_max_pure_pacing"], 0)
    print(
        stats.table(
            title_of(args, "hold", f"n={args.n} over={args.over}s"),
            stream_rows(s) + stats.target_rows(s["targets"]),
        )
    )
    return {"run_id": run.run_id, "summary": s, "code": run.code}


def live_phases(args: argparse.Namespace, quiet: str, loud: str) -> tuple[int, list[str]]:
    """Stream starts per phase that keep `--live` streams open for `--duration` s, and the two
    phases (without, then with the extra load) alternated `--repeat` times."""
    rate = args.live / (WORDS * args.delay_ms / 1000)  # starts per second
    return int(rate * args.duration), [quiet, loud] * args.repeat


def cmd_login(args: argparse.Namespace) -> dict[str, Any]:
    ideal_s = WORDS * args.delay_ms / 1000
    per_phase, phases = live_phases(args, "no-logins", "logins")
    out: dict[str, Any] = {"phases": []}
    with Run(args, "login") as run:
        tokens, sessions = run.setup(per_phase * len(phases), args.users)
        for number, phase in enumerate(phases):
            chunk = sessions[number * per_phase : (number + 1) * per_phase]
            plan = uniform_plan(per_phase, args.duration, chunk)
            logins = None
            if phase == "logins":
                logins = {
                    "rate": args.login_rate,
                    "duration_s": args.duration + ideal_s,
                    "users": run.users,
                    "fingerprint": FINGERPRINT,
                }
            result = run.streams(tokens, plan, logins=logins, sample_interval=args.sample_interval)
            s = stream_summary(result, args.delay_ms)
            rows = stream_rows(s)
            if phase == "logins":
                lat = [row[1] * 1000 for row in result["logins"]]
                codes: dict[str, int] = {}
                for row in result["logins"]:
                    codes[str(row[2])] = codes.get(str(row[2]), 0) + 1
                s["logins"] = {
                    "count": len(lat),
                    "latency_ms": stats.spread(lat),
                    "statuses": codes,
                }
                rows += [
                    ("logins", f"{len(lat)} at {args.login_rate}/s, statuses {codes}"),
                    ("login latency ms p50/p99/max", fmt_spread(s["logins"]["latency_ms"])),
                ]
            s["phase"] = phase
            out["phases"].append(s)
            print(
                stats.table(
                    title_of(
                        args,
                        f"login/{phase}",
                        f"live={args.live} starts={per_phase} over {args.duration}s",
                    ),
                    rows,
                )
            )
            print(flush=True)
            time.sleep(2)
    base = [p["gap_ms"]["p99"] for p in out["phases"] if p["phase"] == "no-logins"]
    with_logins = [p["gap_ms"]["p99"] for p in out["phases"] if p["phase"] == "logins"]
    delta = (sum(with_logins) / len(with_logins)) - (sum(base) / len(base))
    out["p99_gap_no_logins_ms"] = base
    out["p99_gap_logins_ms"] = with_logins
    out["p99_gap_delta_ms"] = delta
    out["targets"] = {"p99 gap moved by logins (ms)": target(delta, 10, "<")}
    print(
        stats.table(
            "login burst: p99 inter-token gap",
            [
                ("no logins", ", ".join(fmt(x) for x in base)),
                ("with logins", ", ".join(fmt(x) for x in with_logins)),
                ("delta", fmt(delta)),
                *stats.target_rows(out["targets"]),
            ],
        )
    )
    return {"run_id": run.run_id, "summary": out, "code": run.code}


# ---------------------------------------------------------------- expire

EXPIRE_LINE = re.compile(
    r"Abandoned (\d+) sessions? idle since before (\S+) \((\d+) batch(?:es)?\)\."
)
BACKLOG_AGE = "30 days"  # the seeded backlog's created_at / last_active_at: now() minus this


def pg_rows(run: Run, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
    """One statement on the run's PostgreSQL database (autocommit); its rows, if any."""
    import psycopg

    with psycopg.connect(PG_ADMIN, dbname=run.db.name, autocommit=True) as conn:
        cur = conn.execute(sql, params)
        return cur.fetchall() if cur.description else []


def seed_backlog(run: Run, n: int) -> dict[str, Any]:
    """Untimed: N idle active sessions of the first bench user, 30 days old, in one INSERT.

    A backlog left by an earlier phase is deleted first, then the table is vacuumed and
    analysed, as autovacuum would have done long before sessions are a week old.
    """
    started = time.monotonic()
    pg_rows(run, "DELETE FROM solve_sessions WHERE created_at < now() - interval '1 day'")
    pg_rows(
        run,
        "INSERT INTO solve_sessions (id, user_id, device_id, status, current_step, created_at, "
        "completed_at, last_active_at) "
        "SELECT gen_random_uuid(), u.id, NULL, 'active', 'clarify', now() - %s::interval, "
        "NULL, now() - %s::interval "
        "FROM users u CROSS JOIN generate_series(1, %s) WHERE u.email = %s",
        (BACKLOG_AGE, BACKLOG_AGE, n, run.users[0]["email"]),
    )
    pg_rows(run, "VACUUM (ANALYZE) solve_sessions")
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
        rows = pg_rows(run, "SELECT status, count(*) FROM solve_sessions GROUP BY 1")
    else:
        rows = pg_rows(
            run,
            "SELECT status, count(*) FROM solve_sessions WHERE id = ANY(%s::uuid[]) GROUP BY 1",
            (ids,),
        )
    return {str(status): int(count) for status, count in sorted(rows)}


def run_expire(
    run: Run, args: argparse.Namespace, at: float, timeout: float = 600
) -> dict[str, Any]:
    """``flask --app wsgi sessions expire`` against the server's database, started at `at`
    (monotonic): its wall time, CPU (user + sys, from wait4), exit code and output."""
    time.sleep(max(0.0, at - time.monotonic()))
    env = dict(os.environ, DATABASE_URL=run.db.url, CLARITY_ENV="development")
    cmd = [str(VENV_BIN / "flask"), "--app", "wsgi", "sessions", "expire"]
    cmd += ["--older-than", args.older_than, "--batch-size", str(args.batch_size)]
    out_path = run.tmp / f"expire-{uuid.uuid4().hex[:8]}.out"
    with open(out_path, "w") as out:
        start = time.monotonic()
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
        )
        run.clients.append(proc)  # killed at teardown if still running
        deadline = start + timeout
        while True:  # wait4 for its CPU; poll so that the wait stays bounded
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                end = time.monotonic()
                proc.returncode = os.waitstatus_to_exitcode(status)
                break
            if time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"sessions expire did not finish within {timeout:.0f}s")
            time.sleep(0.005)
    text = out_path.read_text(errors="replace")
    out_path.unlink()
    match = EXPIRE_LINE.search(text)
    return {
        "start": start,
        "end": end,
        "wall_s": end - start,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "exit": proc.returncode,
        "output": text.strip()[-2000:],
        "line": match.group(0) if match else None,
        "abandoned": int(match.group(1)) if match else None,
        "batches": int(match.group(3)) if match else None,
    }


def expire_during(run: Run, args: argparse.Namespace, t0: float) -> dict[str, Any]:
    return run_expire(run, args, t0 + args.expire_at)


def gaps_in(records: list[list[Any]], start: float, end: float) -> dict[str, Any]:
    """Inter-token gaps (ms) that overlap [start, end] (monotonic)."""
    times = stats.TIMES
    gaps = [
        (b - a) * 1000
        for r in records
        for a, b in zip(r[times], r[times][1:], strict=False)
        if b >= start and a <= end
    ]
    return stats.spread(gaps)


def cmd_expire(args: argparse.Namespace) -> dict[str, Any]:
    if args.db != "postgres":
        raise SystemExit(
            "expire runs on PostgreSQL only: the backlog is seeded with gen_random_uuid() and "
            "generate_series(), and only PostgreSQL batches with FOR UPDATE SKIP LOCKED"
        )
    per_phase, phases = live_phases(args, "no-expiry", "expiry")
    out: dict[str, Any] = {
        "backlog": args.backlog,
        "batch_size": args.batch_size,
        "older_than": args.older_than,
        "phases": [],
    }
    records: list[list[Any]] = []  # per phase [t0, records], for the gaps while expiring
    seeded: dict[str, int] = {}
    with Run(args, "expire") as run:
        tokens, sessions = run.setup(per_phase * len(phases), args.users)
        live_ids = [sid for _, sid in sessions]
        for number, phase in enumerate(phases):
            if phase == "no-expiry":  # both phases of a pair see the same backlog
                seeded = seed_backlog(run, args.backlog)
            chunk = sessions[number * per_phase : (number + 1) * per_phase]
            plan = uniform_plan(per_phase, args.duration, chunk)
            during = None
            if phase == "expiry":  # the command, started --expire-at s into the phase
                during = functools.partial(expire_during, run, args)
            result = run.streams(tokens, plan, sample_interval=args.sample_interval, during=during)
            s = stream_summary(result, args.delay_ms)
            s["phase"] = phase
            s["backlog_before"] = seeded
            rows = stream_rows(s)
            if phase == "expiry":
                ex = result["during"]
                if "error" in ex:
                    raise RuntimeError(f"sessions expire: {ex['error']}")
                t0 = result["t0"]
                streams_end = s["last_end"] or t0
                ex["start_offset_s"] = ex["start"] - t0
                ex["end_offset_s"] = ex["end"] - t0
                ex["streams_end_offset_s"] = streams_end - t0
                ex["overran_streams"] = ex["end"] > streams_end
                ex["rate_per_s"] = (ex["abandoned"] or 0) / ex["wall_s"] if ex["wall_s"] else None
                # the same command with nothing left to do: start-up and one empty batch
                noop = run_expire(run, args, time.monotonic())
                ex["noop_wall_s"] = noop["wall_s"]
                ex["noop_line"] = noop["line"]
                ex["live_sessions_by_status"] = status_counts(run, live_ids)
                ex["all_sessions_by_status"] = status_counts(run)
                for key in ("start", "end"):
                    ex.pop(key)
                s["expire"] = ex
                rows += [
                    ("expire command", f"exit {ex['exit']}: {ex['line'] or ex['output'][-300:]}"),
                    (
                        "expire wall s / CPU s",
                        f"{fmt(ex['wall_s'], 2)} / {fmt(ex['cpu_s'], 2)} "
                        f"(the same with nothing to do: {fmt(noop['wall_s'], 2)} s)",
                    ),
                    ("expire rate, sessions / s", fmt(ex["rate_per_s"])),
                    (
                        "expire ran (from t0)",
                        f"+{ex['start_offset_s']:.2f}s .. +{ex['end_offset_s']:.2f}s; "
                        f"last stream ended +{ex['streams_end_offset_s']:.2f}s"
                        + (" (OVERRAN the streams)" if ex["overran_streams"] else ""),
                    ),
                    ("live sessions by status after", json.dumps(ex["live_sessions_by_status"])),
                    ("all sessions by status after", json.dumps(ex["all_sessions_by_status"])),
                ]
            out["phases"].append(s)
            records.append([result["t0"], result["records"]])
            print(
                stats.table(
                    title_of(
                        args,
                        f"expire/{phase}",
                        f"live={args.live} starts={per_phase} over {args.duration}s "
                        f"backlog={args.backlog} batch={args.batch_size}",
                    ),
                    rows,
                )
            )
            print(flush=True)
            time.sleep(2)
    # gaps while the command ran, and over the same stretch (from t0) of the phase before it
    for i in range(1, len(phases), 2):
        ex = out["phases"][i]["expire"]
        for j in (i - 1, i):
            t0, recs = records[j]
            window = gaps_in(recs, t0 + ex["start_offset_s"], t0 + ex["end_offset_s"])
            out["phases"][j]["gap_ms_expire_window"] = window
    base = [p for p in out["phases"] if p["phase"] == "no-expiry"]
    expiring = [p for p in out["phases"] if p["phase"] == "expiry"]

    def mean(values: list[float]) -> float:
        return sum(values) / len(values)

    def p99(phases_: list[dict[str, Any]], key: str) -> list[float]:
        return [p[key]["p99"] for p in phases_]

    delta = mean(p99(expiring, "gap_ms")) - mean(p99(base, "gap_ms"))
    window_delta = mean(p99(expiring, "gap_ms_expire_window")) - mean(
        p99(base, "gap_ms_expire_window")
    )
    ideal_delta = mean([p["median_duration_over_ideal"] for p in expiring]) - mean(
        [p["median_duration_over_ideal"] for p in base]
    )
    exs = [p["expire"] for p in expiring]
    out["expire_wall_s"] = [e["wall_s"] for e in exs]
    out["expire_rate_per_s"] = [e["rate_per_s"] for e in exs]
    out["expire_batches"] = [e["batches"] for e in exs]
    out["p99_gap_no_expiry_ms"] = p99(base, "gap_ms")
    out["p99_gap_expiry_ms"] = p99(expiring, "gap_ms")
    out["p99_gap_delta_ms"] = delta
    out["p99_gap_window_no_expiry_ms"] = p99(base, "gap_ms_expire_window")
    out["p99_gap_window_expiry_ms"] = p99(expiring, "gap_ms_expire_window")
    out["p99_gap_window_delta_ms"] = window_delta
    out["median_over_ideal_delta"] = ideal_delta
    # a missing or unparsable output line counts as every session missed
    wrong = sum(abs((e["abandoned"] or 0) - args.backlog) for e in exs)
    live_abandoned = max(e["live_sessions_by_status"].get("abandoned", 0) for e in exs)
    out["targets"] = {
        "expired != backlog (sessions)": target(float(wrong), 0),
        "live sessions abandoned": target(float(live_abandoned), 0),
        "p99 gap moved while expiring (ms)": target(window_delta, 25, "<"),
        "p99 gap moved over the phase (ms)": target(delta, 25, "<"),
    }
    print(
        stats.table(
            f"expire {args.backlog:,} idle sessions, batch {args.batch_size}: "
            "live streams with and without it",
            [
                ("expire wall s", ", ".join(fmt(x, 2) for x in out["expire_wall_s"])),
                ("expire sessions / s", ", ".join(fmt(x) for x in out["expire_rate_per_s"])),
                ("batches", ", ".join(str(x) for x in out["expire_batches"])),
                ("p99 gap ms, no expiry", ", ".join(fmt(x) for x in out["p99_gap_no_expiry_ms"])),
                ("p99 gap ms, expiry", ", ".join(fmt(x) for x in out["p99_gap_expiry_ms"])),
                (
                    "p99 gap ms while it ran, no expiry",
                    ", ".join(fmt(x) for x in out["p99_gap_window_no_expiry_ms"]),
                ),
                (
                    "p99 gap ms while it ran, expiry",
                    ", ".join(fmt(x) for x in out["p99_gap_window_expiry_ms"]),
                ),
                (
                    "median / ideal, no expiry -> expiry",
                    ", ".join(fmt(p["median_duration_over_ideal"], 3) for p in base)
                    + " -> "
                    + ", ".join(fmt(p["median_duration_over_ideal"], 3) for p in expiring),
                ),
                ("delta p99 gap ms (phase, while running)", f"{fmt(delta)}, {fmt(window_delta)}"),
                *stats.target_rows(out["targets"]),
            ],
        )
    )
    return {"run_id": run.run_id, "summary": out, "code": run.code}


CRUD_OPS = {"get": "GET /sessions/{id}", "list": "GET /sessions", "create": "POST /sessions"}


def cmd_crud(args: argparse.Namespace) -> dict[str, Any]:
    ops = [op.strip() for op in args.ops.split(",") if op.strip()]
    out: dict[str, Any] = {"ops": {}}
    with Run(args, "crud") as run:
        tokens, sessions = run.setup(args.preload * args.users, args.users)
        by_user: dict[int, list[str]] = {}
        for k, sid in sessions:
            by_user.setdefault(k, []).append(sid)
        users = [{"token": tok, "sessions": by_user.get(k, [])} for k, tok in enumerate(tokens)]
        for op in ops:
            t0 = time.monotonic() + 1.0
            spec = {
                "mode": "crud",
                "op": op,
                "users": users,
                "t0": t0,
                "warmup_s": args.warmup,
                "duration_s": args.duration,
                "concurrency": args.concurrency,
                "fingerprint": FINGERPRINT,
            }
            quiet = wait_quiet(args.quiet_wait, args.quiet_cores)
            spec["t0"] = time.monotonic() + 1.0
            res = _crud_phase(run, spec)
            res["quiet"] = quiet
            out["ops"][op] = res
            print(
                stats.table(
                    f"crud {CRUD_OPS[op]} [{args.app}] workers={args.workers} db={args.db} "
                    f"concurrency={args.concurrency} duration={args.duration}s",
                    [
                        ("requests ok / total", f"{fmt(res['ok'])} / {fmt(res['total'])}"),
                        ("throughput req/s", fmt(res["rps"])),
                        ("latency ms p50/p99/max", fmt_spread(res["latency_ms"], 2)),
                        ("statuses", json.dumps(res["statuses"])),
                        ("server CPU ms / request", fmt(res["server_cpu_ms_per_req"], 2)),
                        ("postgres CPU ms / request", fmt(res["postgres_cpu_ms_per_req"], 2)),
                        ("machine busy (2 cores = 1.0)", fmt(res["machine_busy_frac"], 2)),
                        (
                            "other jobs on the machine, cores",
                            f"{fmt(res['foreign_cores'], 2)} "
                            f"during, {quiet['busy_cores_before']} before",
                        ),
                        (
                            "client CPU s / wall s",
                            f"{fmt(res['client_cpu_s'], 2)} / {fmt(res['client_wall_s'], 2)}",
                        ),
                        ("client loop lag ms p50/p99/max", fmt_spread(res["client_loop_lag_ms"])),
                        ("error samples", " | ".join(res["errors"][:2])[:300] or "-"),
                    ],
                )
            )
            print(flush=True)
    return {"run_id": run.run_id, "summary": out, "code": run.code}


def _crud_phase(run: Run, spec: dict[str, Any]) -> dict[str, Any]:
    """Run one crud op; server CPU is measured over the measured window only."""
    t_measure = spec["t0"] + spec["warmup_s"]
    t_end = t_measure + spec["duration_s"]
    marks: dict[str, Any] = {}
    pg_cpu = PgBackendCpu(run.db.name) if run.db.kind == "postgres" else None

    def meter() -> None:
        time.sleep(max(0.0, t_measure - time.monotonic()))
        marks["cpu0"] = run.server.cpu_s()
        marks["pg0"] = pg_cpu.mark() if pg_cpu is not None else {}
        marks["m0"] = machine_cpu()
        while time.monotonic() < t_end:  # see backends that come and go
            time.sleep(min(0.5, max(0.0, t_end - time.monotonic())))
            if pg_cpu is not None:
                pg_cpu.update()
        marks["cpu1"] = run.server.cpu_s()
        marks["pg_s"] = pg_cpu.since(marks["pg0"]) if pg_cpu is not None else 0.0
        marks["m1"] = machine_cpu()

    thread = threading.Thread(target=meter, daemon=True)
    thread.start()
    res = run.client(spec, timeout=spec["warmup_s"] + spec["duration_s"] + 90, tag="crud")
    thread.join(timeout=30)
    results = res["results"]
    ok = [r for r in results if r[2] in (200, 201)]
    statuses: dict[str, int] = {}
    for r in results:
        statuses[str(r[2])] = statuses.get(str(r[2]), 0) + 1
    total_reqs = len(results) or 1
    busy = marks["m1"][0] - marks["m0"][0]
    total = marks["m1"][1] - marks["m0"][1]
    server_s = marks["cpu1"] - marks["cpu0"]
    pg_s = marks["pg_s"]
    client_s = res["cpu_user_s"] + res["cpu_sys_s"]
    # the client's CPU spans warm-up too: scale it to the measured window
    client_window_s = client_s * spec["duration_s"] / max(res["wall_s"], spec["duration_s"])
    ours = server_s + pg_s + client_window_s
    cores = os.cpu_count() or 1
    return {
        "total": len(results),
        "ok": len(ok),
        "rps": len(ok) / spec["duration_s"],
        "latency_ms": stats.spread([r[1] * 1000 for r in ok]),
        "statuses": statuses,
        "errors": res["errors"],
        "server_cpu_ms_per_req": 1000 * (marks["cpu1"] - marks["cpu0"]) / total_reqs,
        "postgres_cpu_ms_per_req": 1000 * pg_s / total_reqs,
        "machine_busy_frac": busy / total if total else None,
        "foreign_cores": (busy - ours * _ticks()) / total * cores if total else None,
        "client_cpu_s": client_s,
        "client_wall_s": res["wall_s"],
        "client_loop_lag_ms": stats.spread(res["loop_lag_ms"]),
    }


# --------------------------------------------------------------------------- CLI


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="bench", required=True)

    def common(p: argparse.ArgumentParser, delay_ms: int) -> None:
        p.add_argument(
            "--app",
            choices=["app", "bare"],
            default="app",
            help="the real app (wsgi:app) or the bare floor (bench.bare_app)",
        )
        p.add_argument("--workers", type=int, default=2, help="WEB_CONCURRENCY")
        p.add_argument("--db", choices=["postgres", "sqlite"], default="postgres")
        p.add_argument("--delay-ms", type=int, default=delay_ms, help="STREAM_TOKEN_DELAY_MS")
        p.add_argument("--users", type=int, default=4, help="pro users sharing the sessions")
        p.add_argument("--client-procs", type=int, default=1, help="load-client processes")
        p.add_argument("--sample-interval", type=float, default=0.5, help="server sampling, s")
        p.add_argument(
            "--server-env",
            action="append",
            metavar="K=V",
            help="extra environment for gunicorn (repeatable)",
        )
        p.add_argument(
            "--quiet-wait",
            type=float,
            default=60.0,
            help="wait up to S s for other jobs on the machine to go quiet",
        )
        p.add_argument(
            "--quiet-cores",
            type=float,
            default=0.2,
            help="'quiet' means other jobs use fewer cores than this",
        )
        p.add_argument(
            "--gc-probe",
            action="store_true",
            help="diagnostics: log server GC pauses (bench/gc_probe_conf.py)",
        )
        p.add_argument(
            "--profile",
            action="store_true",
            help="diagnostics: py-spy the workers during the timed phase",
        )
        p.add_argument(
            "--save-raw",
            action="store_true",
            help="also write every stream record to bench/results/raw/",
        )
        p.add_argument(
            "--max-foreign",
            type=float,
            default=0.3,
            help="a run during which other jobs took more cores than this is noisy",
        )
        p.add_argument(
            "--retries",
            type=int,
            default=0,
            help="run a noisy run again, up to N times (each attempt is saved)",
        )
        p.add_argument("--tag", default="", help="a label stored with the result")
        p.add_argument("--keep-db", action="store_true", help="do not drop the database")
        p.add_argument("--no-save", action="store_true", help="do not append to results/")

    p = sub.add_parser("burst", help="N streams of the 12-word reply started within R s")
    common(p, 50)
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--over", type=float, default=2.0, help="start all streams within R s")
    p.set_defaults(func=cmd_burst)

    p = sub.add_parser("hold", help="many long-lived streams open at once")
    common(p, 2000)
    p.add_argument("--n", type=int, default=10000)
    p.add_argument("--over", type=float, default=20.0)
    p.set_defaults(func=cmd_hold)

    p = sub.add_parser("crud", help="POST /sessions, GET /sessions, GET /sessions/{id}")
    common(p, 50)
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--duration", type=float, default=10.0)
    p.add_argument("--warmup", type=float, default=2.0)
    p.add_argument("--ops", default="get,list,create")
    p.add_argument("--preload", type=int, default=50, help="sessions per user before the run")
    p.set_defaults(func=cmd_crud)

    p = sub.add_parser("login", help="p99 gap of live streams with and without 20 logins/s")
    common(p, 250)
    p.add_argument("--live", type=int, default=500, help="streams kept open at once")
    p.add_argument("--duration", type=float, default=10.0, help="seconds of stream starts")
    p.add_argument("--login-rate", type=float, default=20.0)
    p.add_argument("--repeat", type=int, default=1, help="alternate the two phases N times")
    p.set_defaults(func=cmd_login)

    p = sub.add_parser(
        "expire", help="p99 gap of live streams with and without `flask sessions expire`"
    )
    common(p, 250)
    p.add_argument("--live", type=int, default=500, help="streams kept open at once")
    p.add_argument("--duration", type=float, default=10.0, help="seconds of stream starts")
    p.add_argument("--backlog", type=int, default=100000, help="idle active sessions to expire")
    p.add_argument("--batch-size", type=int, default=500, help="sessions expire --batch-size")
    p.add_argument("--older-than", default="7d", help="sessions expire --older-than")
    p.add_argument(
        "--expire-at", type=float, default=1.0, help="start the command S s into the phase"
    )
    p.add_argument("--repeat", type=int, default=1, help="alternate the two phases N times")
    p.set_defaults(func=cmd_expire)
    return parser


def foreign_load(bench: str, summary: dict[str, Any]) -> float:
    """The most CPU other jobs on the machine took during any timed phase, in cores."""
    if bench == "crud":
        values = [op.get("foreign_cores") for op in summary["ops"].values()]
    elif bench in ("login", "expire"):
        values = [phase.get("foreign_cores") for phase in summary["phases"]]
    else:
        values = [summary.get("foreign_cores")]
    return max((v for v in values if v is not None), default=0.0)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.app == "bare" and args.bench in ("crud", "login", "expire"):
        raise SystemExit(f"{args.bench} needs the real app")
    for attempt in range(1 + max(0, args.retries)):
        started = time.time()
        try:
            outcome = args.func(args)
        except (KeyboardInterrupt, Interrupted):
            print("interrupted: server and clients stopped", file=sys.stderr)
            return 130
        foreign = foreign_load(args.bench, outcome["summary"])
        noisy = foreign > args.max_foreign
        line = {
            "bench": args.bench,
            "run_id": outcome["run_id"],
            "tag": args.tag,
            "config": config_of(args, args.bench),
            "machine": machine_info(),
            "code": outcome["code"],
            "wall_s": round(time.time() - started, 1),
            "attempt": attempt,
            "foreign_cores_max": round(foreign, 2),
            "noisy": noisy,
            "summary": outcome["summary"],
        }
        save(args.bench, line, args)
        if not noisy:
            break
        print(
            f"other jobs took {foreign:.2f} cores (> {args.max_foreign}) during the run: "
            + ("running it again" if attempt < args.retries else "kept, marked noisy"),
            flush=True,
        )
    return 0
