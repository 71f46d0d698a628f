"""Percentiles, per-stream analysis and the printed results table."""

from __future__ import annotations

import bisect
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bench.records import StreamRecord


@dataclass(slots=True)
class Spread:
    """Nearest-rank p50, p99 and the maximum of some values (None when there are none)."""

    n: int = 0
    p50: float | None = None
    p99: float | None = None
    max: float | None = None


def pct(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100) of unsorted values; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return ordered[rank - 1]


def spread(values: Sequence[float]) -> Spread:
    if not values:
        return Spread()
    ordered = sorted(values)
    n = len(ordered)
    return Spread(
        n=n,
        p50=ordered[max(1, math.ceil(0.5 * n)) - 1],
        p99=ordered[max(1, math.ceil(0.99 * n)) - 1],
        max=ordered[-1],
    )


def gaps_ms(records: Sequence[StreamRecord]) -> list[float]:
    """Every interval between consecutive tokens of a stream, all streams pooled."""
    return [
        (b - a) * 1000
        for r in records
        for a, b in zip(r.token_times, r.token_times[1:], strict=False)
    ]


@dataclass(slots=True)
class StreamStats:
    """Successes, exact text, TTFT, every inter-token gap, durations, start lag (ms)."""

    streams: int
    succeeded: int
    exact_text: int
    outcomes: dict[str, int]
    errors: dict[str, int]
    error_samples: list[str]
    mismatched_text_samples: list[str]
    ttft_ms: Spread
    gap_ms: Spread
    duration_ms: Spread
    connect_ms: Spread
    start_lag_ms: Spread
    ideal_ms: int
    median_duration_over_ideal: float | None
    first_start: float | None
    last_end: float | None


def analyse_streams(records: list[StreamRecord], delay_ms: int, words: int = 12) -> StreamStats:
    outcomes = Counter(r.outcome for r in records)
    done = [r for r in records if r.done]
    durations = [(r.end - r.start) * 1000 for r in done if r.end is not None and r.start]
    ideal = words * delay_ms
    median_duration = pct(durations, 50)
    return StreamStats(
        streams=len(records),
        succeeded=len(done),
        exact_text=sum(1 for r in done if r.text_ok),
        outcomes=dict(outcomes),
        errors={k: v for k, v in outcomes.items() if k != "done"},
        error_samples=[r.text for r in records if not r.done and r.text][:3],
        mismatched_text_samples=[r.text or "" for r in done if not r.text_ok][:3],
        ttft_ms=spread(
            [(r.token_times[0] - r.start) * 1000 for r in records if r.token_times and r.start]
        ),
        gap_ms=spread(gaps_ms(records)),
        duration_ms=spread(durations),
        connect_ms=spread(
            [(r.connected - r.start) * 1000 for r in records if r.connected and r.start]
        ),
        start_lag_ms=spread(
            [(r.start - r.scheduled) * 1000 for r in records if r.start is not None]
        ),
        ideal_ms=ideal,
        median_duration_over_ideal=(median_duration / ideal) if median_duration and ideal else None,
        first_start=min((r.start for r in records if r.start), default=None),
        last_end=max((r.end for r in records if r.end), default=None),
    )


class OpenStreams:
    """How many streams were open / pacing at a given monotonic time."""

    def __init__(self, records: list[StreamRecord]):
        usable = [(r.start, r.end, r.token_times) for r in records if r.start and r.end]
        self.starts = sorted(start for start, _, _ in usable)
        self.ends = sorted(end for _, end, _ in usable)
        self.first = sorted(times[0] for _, _, times in usable if times)
        self.last = sorted(times[-1] for _, _, times in usable if times)
        # when a stream may touch the database: from its start to its first token, and from
        # its last token to its end (streams without tokens: the whole of it)
        self.db_phases = [(s, t[0] if t else e) for s, e, t in usable] + [
            (t[-1], e) for _, e, t in usable if t
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


def fmt_spread(s: Spread, digits: int = 1) -> str:
    return " / ".join(fmt(v, digits) for v in (s.p50, s.p99, s.max))


def table(title: str, rows: list[tuple[str, str]]) -> str:
    width = max((len(label) for label, _ in rows), default=10)
    lines = [title, "-" * max(len(title), width + 30)]
    lines += [f"{label:<{width}}  {value}" for label, value in rows]
    return "\n".join(lines)


def gaps_between(records: Sequence[StreamRecord], start: float, end: float) -> Spread:
    """Inter-token gaps (ms) that overlap [start, end] (monotonic)."""
    return spread(
        [
            (b - a) * 1000
            for r in records
            for a, b in zip(r.token_times, r.token_times[1:], strict=False)
            if b >= start and a <= end
        ]
    )
