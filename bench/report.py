"""Markdown tables from bench/results/*.jsonl, for docs/benchmarks.md.

.venv/bin/python -m bench.report [--tag TAG] [--since 2026-11-24T07:00:00Z]
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from bench.paths import RESULTS


def load(
    bench: str, tag: str | None, since: str | None, every: bool = False
) -> list[dict[str, Any]]:
    path = RESULTS / f"{bench}.jsonl"
    if not path.exists():
        return []
    lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    lines = [turn for x in lines for turn in expand(x)]
    if tag:
        lines = [x for x in lines if x.get("tag") == tag]
    if since:
        lines = [x for x in lines if x["machine"]["date_utc"] >= since]
    return lines if every else pick(lines)


def expand(x: dict[str, Any]) -> list[dict[str, Any]]:
    """A side-by-side line (bench/sidebyside.py) as one line per serving it measured."""
    turns = x["summary"].get("side_by_side") if isinstance(x.get("summary"), dict) else None
    if not turns:
        return [x]
    return [
        dict(
            x,
            config=dict(x["config"], app=t["app"], checkout=t["checkout"], round=t["round"]),
            code=t["code"],
            summary=t["summary"],
        )
        for t in turns
    ]


def pick(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One line per configuration: the last clean attempt, else the least noisy one."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for x in lines:
        key = json.dumps({k: v for k, v in x["config"].items() if k != "tag"}, sort_keys=True)
        groups.setdefault(key, []).append(x)
    chosen = []
    for attempts in groups.values():
        clean = [x for x in attempts if not x.get("noisy")]
        if clean:
            chosen.append(clean[-1])
        else:
            chosen.append(min(attempts, key=lambda x: x.get("foreign_cores_max", 0.0)))
    return sorted(chosen, key=lambda x: x["machine"]["date_utc"])


def variant(c: dict[str, Any]) -> str:
    """What sets a run apart from a plain one: client processes, diagnostics."""
    notes = []
    if c.get("client_procs", 1) > 1:
        notes.append(f"{c['client_procs']} client procs")
    if c.get("gc_probe"):
        notes.append("GC probe")
    if c.get("profile"):
        notes.append("py-spy")
    return f" ({', '.join(notes)})" if notes else ""


def noisy_note(x: dict[str, Any]) -> str:
    return f" (noisy: other jobs {x['foreign_cores_max']:.2f} cores)" if x.get("noisy") else ""


def n(value: Any, digits: int = 0) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def tri(s: dict[str, Any], digits: int = 0) -> str:
    return " / ".join(n(s[k], digits) for k in ("p50", "p99", "max"))


def mark(targets: dict[str, Any]) -> str:
    failed = [name for name, t in targets.items() if t["pass"] is False]
    return "all met" if not failed else "missed: " + ", ".join(failed)


def md(headers: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(out)


def where(x: dict[str, Any]) -> list[str]:
    c = x["config"]
    code = x.get("code", {}).get("sha256_12", "bare" if c["app"] == "bare" else "?")
    when = x["machine"]["date_utc"][11:16]
    return [f"{when} {code}", c["app"], c["db"], str(c["workers"])]


def burst_table(lines: list[dict[str, Any]]) -> str:
    rows = []
    for x in lines:
        c, s = x["config"], x["summary"]
        rows.append(
            [
                *where(x),
                f"{c['n']} / {c['over']:g}s{variant(c)}",
                f"{s['succeeded']} / {s['exact_text']}",
                tri(s["ttft_ms"]),
                tri(s["gap_ms"]),
                tri(s["duration_ms"]),
                n(s["median_duration_over_ideal"], 2),
                n(s["server_cpu_ms_per_stream"], 2),
                n(s["postgres_cpu_ms_per_stream"], 2),
                f"{100 * s['client_cpu_frac']:.0f}% / {n(s['client_loop_lag_ms']['p99'], 1)}",
                n(s.get("foreign_cores"), 2),
                mark(s["targets"]) + noisy_note(x),
            ]
        )
    headers = [
        "UTC · code",
        "app",
        "db",
        "workers",
        "N / over",
        "ok / exact",
        "TTFT ms p50/p99/max",
        "gap ms p50/p99/max",
        "duration ms p50/p99/max",
        "median ÷ ideal",
        "server CPU ms/stream",
        "PG CPU ms/stream",
        "client CPU / lag p99 ms",
        "other jobs, cores",
        "targets",
    ]
    return md(headers, rows)


def hold_table(lines: list[dict[str, Any]]) -> str:
    rows = []
    for x in lines:
        c, s = x["config"], x["summary"]
        pg = "-"
        if "pg_total_max" in s:
            pg = (
                f"{s['pg_total_max']} / {s['pg_busy_max']} / "
                f"{n(s.get('pg_busy_max_pure_pacing'))} ({s['pg_pacing_samples']})"
            )
        rows.append(
            [
                *where(x),
                f"{c['n']} / {c['over']:g}s @ {c['delay_ms']} ms{variant(c)}",
                f"{s['succeeded']} / {s['exact_text']}",
                tri(s["ttft_ms"]),
                tri(s["gap_ms"]),
                n(s.get("peak_open_streams_sampled")),
                f"{n(s.get('baseline_pss_mb'))} → {n(s.get('pss_at_peak_mb'))}",
                n(s.get("kb_per_open_stream_pss"), 1),
                n(s.get("fds_at_peak")),
                pg,
                n(s["server_cpu_ms_per_stream"], 2),
                n(s.get("foreign_cores"), 2),
                mark(s["targets"]) + noisy_note(x),
            ]
        )
    headers = [
        "UTC · code",
        "app",
        "db",
        "workers",
        "N / ramp @ pacing",
        "ok / exact",
        "TTFT ms p50/p99/max",
        "gap ms p50/p99/max",
        "peak open",
        "worker PSS MB base → peak",
        "KB / open stream",
        "worker fds at peak",
        "PG conns total / busy / busy in pure pacing (samples)",
        "server CPU ms/stream",
        "other jobs, cores",
        "targets",
    ]
    return md(headers, rows)


def crud_table(lines: list[dict[str, Any]]) -> str:
    rows = []
    for x in lines:
        c = x["config"]
        for op, r in x["summary"]["ops"].items():
            rows.append(
                [
                    *where(x),
                    {
                        "get": "GET /sessions/{id}",
                        "list": "GET /sessions",
                        "create": "POST /sessions",
                    }[op],
                    f"{c['concurrency']} × {c['duration']:g}s",
                    f"{r['ok']} / {r['total']}",
                    n(r["rps"]),
                    tri(r["latency_ms"], 1),
                    n(r["server_cpu_ms_per_req"], 2),
                    n(r["postgres_cpu_ms_per_req"], 2),
                    n(r.get("foreign_cores"), 2) + noisy_note(x),
                ]
            )
    headers = [
        "UTC · code",
        "app",
        "db",
        "workers",
        "endpoint",
        "concurrency × time",
        "ok / total",
        "req/s",
        "latency ms p50/p99/max",
        "server CPU ms/req",
        "PG CPU ms/req",
        "other jobs, cores",
    ]
    return md(headers, rows)


def login_table(lines: list[dict[str, Any]]) -> str:
    rows = []
    for x in lines:
        c, s = x["config"], x["summary"]
        for p in s["phases"]:
            lg = p.get("logins")
            rows.append(
                [
                    *where(x),
                    f"{c['live']} live @ {c['delay_ms']} ms",
                    p["phase"],
                    f"{p['succeeded']} / {p['streams']}",
                    tri(p["ttft_ms"]),
                    tri(p["gap_ms"]),
                    n(p["server_cpu_ms_per_stream"], 2),
                    (f"{lg['count']} {lg['statuses']}; {tri(lg['latency_ms'])}" if lg else "-"),
                    n(p.get("foreign_cores"), 2),
                ]
            )
        rows.append(
            [
                *where(x),
                "",
                "**p99 gap delta**",
                "",
                "",
                f"**{n(s['p99_gap_delta_ms'], 1)} ms**",
                "",
                mark(s["targets"]) + noisy_note(x),
                "",
            ]
        )
    headers = [
        "UTC · code",
        "app",
        "db",
        "workers",
        "streams",
        "phase",
        "ok / streams",
        "TTFT ms p50/p99/max",
        "gap ms p50/p99/max",
        "server CPU ms/stream (incl. logins)",
        "logins: count statuses; latency ms p50/p99/max",
        "other jobs, cores",
    ]
    return md(headers, rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.report")
    parser.add_argument("--tag")
    parser.add_argument("--since")
    parser.add_argument("--all", action="store_true", help="every attempt, noisy ones too")
    parser.add_argument("--bench", action="append", help="only these benchmarks")
    args = parser.parse_args(argv)
    for bench, render in (
        ("burst", burst_table),
        ("hold", hold_table),
        ("crud", crud_table),
        ("login", login_table),
    ):
        if args.bench and bench not in args.bench:
            continue
        lines = load(bench, args.tag, args.since, args.all)
        if lines:
            print(f"### {bench}\n\n{render(lines)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
