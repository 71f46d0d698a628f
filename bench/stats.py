"""Percentiles, per-stream analysis and the printed results table."""

from __future__ import annotations

import bisect
import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

# a client record: [index, scheduled, start, connected, headers, end, outcome, text_ok,
#                   token_times, text]
IDX, SCHED, START, CONN, HEAD, END, OUTCOME, TEXT_OK, TIMES, TEXT = range(10)


def pct(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100) of unsorted values; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return ordered[rank - 1]


def spread(values: Sequence[float]) -> dict[str, Any]:
    if not values:
        return {"n": 0, "p50": None, "p99": None, "max": None}
    ordered = sorted(values)
    n = len(ordered)
    return {
        "n": n,
        "p50": ordered[max(1, math.ceil(0.5 * n)) - 1],
        "p99": ordered[max(1, math.ceil(0.99 * n)) - 1],
        "max": ordered[-1],
    }


def analyse_streams(records: list[list[Any]], delay_ms: int, words: int = 12) -> dict[str, Any]:
    """Successes, exact text, TTFT, every inter-token gap, durations, start lag (ms)."""
    outcomes = Counter(r[OUTCOME] for r in records)
    done = [r for r in records if r[OUTCOME] == "done"]
    exact = sum(1 for r in done if r[TEXT_OK])
    ttft = [(r[TIMES][0] - r[START]) * 1000 for r in records if r[TIMES]]
    gaps = [(b - a) * 1000 for r in records for a, b in zip(r[TIMES], r[TIMES][1:], strict=False)]
    durations = [(r[END] - r[START]) * 1000 for r in done]
    start_lag = [(r[START] - r[SCHED]) * 1000 for r in records if r[START] is not None]
    connect = [(r[CONN] - r[START]) * 1000 for r in records if r[CONN] is not None]
    ideal = words * delay_ms
    median_duration = pct(durations, 50)
    bad_texts = [r[TEXT] for r in records if r[OUTCOME] == "done" and not r[TEXT_OK]][:3]
    errors = {k: v for k, v in outcomes.items() if k != "done"}
    samples = [r[TEXT] for r in records if r[OUTCOME] != "done" and r[TEXT]][:3]
    return {
        "streams": len(records),
        "succeeded": len(done),
        "exact_text": exact,
        "outcomes": dict(outcomes),
        "errors": errors,
        "error_samples": samples,
        "mismatched_text_samples": bad_texts,
        "ttft_ms": spread(ttft),
        "gap_ms": spread(gaps),
        "duration_ms": spread(durations),
        "connect_ms": spread(connect),
        "start_lag_ms": spread(start_lag),
        "ideal_ms": ideal,
        "median_duration_over_ideal": (median_duration / ideal)
        if median_duration and ideal
        else None,
        "first_start": min((r[START] for r in records if r[START]), default=None),
        "last_end": max((r[END] for r in records if r[END]), default=None),
    }


class OpenStreams:
    """How many streams were open / pacing at a given monotonic time."""

    def __init__(self, records: list[list[Any]]):
        usable = [r for r in records if r[START] is not None and r[END] is not None]
        self.starts = sorted(r[START] for r in usable)
        self.ends = sorted(r[END] for r in usable)
        with_tokens = [r for r in usable if r[TIMES]]
        self.first = sorted(r[TIMES][0] for r in with_tokens)
        self.last = sorted(r[TIMES][-1] for r in with_tokens)
        # when a stream may touch the database: from its start to its first token, and from
        # its last token to its end (streams without tokens: the whole of it)
        self.db_phases = [(r[START], r[TIMES][0] if r[TIMES] else r[END]) for r in usable] + [
            (r[TIMES][-1], r[END]) for r in with_tokens
        ]

    def open_at(self, t: float) -> int:
        return bisect.bisect_right(self.starts, t) - bisect.bisect_right(self.ends, t)

    def db_phase_between(self, t1: float, t2: float, pad: float = 0.005) -> int:
        """Streams starting up or finishing at any time in [t1 - pad, t2 + pad]."""
        lo, hi = t1 - pad, t2 + pad
        return sum(1 for a, b in self.db_phases if a <= hi and b >= lo)

    def pacing_at(self, t: float) -> int:
        """Streams past their first token and before their last: only pacing is going on."""
        return bisect.bisect_right(self.first, t) - bisect.bisect_right(self.last, t)


def fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def fmt_spread(s: dict[str, Any], digits: int = 1) -> str:
    return " / ".join(fmt(s[k], digits) for k in ("p50", "p99", "max"))


def table(title: str, rows: list[tuple[str, str]]) -> str:
    width = max((len(label) for label, _ in rows), default=10)
    lines = [title, "-" * max(len(title), width + 30)]
    lines += [f"{label:<{width}}  {value}" for label, value in rows]
    return "\n".join(lines)


def target_rows(targets: dict[str, dict[str, Any]]) -> list[tuple[str, str]]:
    rows = []
    for name, t in targets.items():
        mark = "PASS" if t["pass"] else ("FAIL" if t["pass"] is False else "n/a")
        rows.append((f"target: {name}", f"{fmt(t['value'], 2)} vs {t['limit']}  {mark}"))
    return rows
