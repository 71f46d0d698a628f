"""``python -m bench resume``: N streams started within R s, each dropped by the client after
``--drop-after`` tokens and resumed at once with ``GET /sessions/{id}/reply`` and
``Last-Event-ID``; the target is every reply exact, each event once."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass
from typing import Any

from bench.burst import summarise, timed_streams
from bench.lifecycle import Run
from bench.records import StreamRecord
from bench.stats import Spread, fmt, fmt_spread, spread
from bench.summary import (
    Outcome,
    StreamSummary,
    Target,
    print_table,
    stream_rows,
    target_rows,
    title_of,
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--over", type=float, default=2.0, help="start all streams within R s")
    p.add_argument("--drop-after", type=int, default=3, help="tokens read before dropping")


@dataclass(slots=True)
class Resumes:
    """The resumed halves of the dropped streams."""

    dropped: int
    statuses: dict[str, int]
    duplicates: int
    tokens_after_resume: int
    resume_to_token_ms: Spread  # resume request sent -> first token after it
    resume_to_headers_ms: Spread

    @classmethod
    def of(cls, records: list[StreamRecord]) -> Resumes:
        resumed = [r.resumed for r in records if r.resumed is not None]
        statuses: dict[str, int] = {}
        for x in resumed:
            statuses[str(x.status)] = statuses.get(str(x.status), 0) + 1
        return cls(
            dropped=len(resumed),
            statuses=statuses,
            duplicates=sum(x.duplicates for x in resumed),
            tokens_after_resume=sum(x.tokens for x in resumed),
            resume_to_token_ms=spread(
                [(x.first_token - x.start) * 1000 for x in resumed if x.first_token]
            ),
            resume_to_headers_ms=spread(
                [(x.headers - x.start) * 1000 for x in resumed if x.headers]
            ),
        )


def resume_targets(s: StreamSummary, r: Resumes, n: int) -> dict[str, Target]:
    return {
        "all succeed with exact text": Target(float(n - s.streams.exact_text), 0),
        "every stream dropped and resumed with 200": Target(float(n - r.statuses.get("200", 0)), 0),
        "events received twice": Target(float(r.duplicates), 0),
    }


def resume_rows(r: Resumes) -> list[tuple[str, str]]:
    return [
        ("dropped and resumed", f"{fmt(r.dropped)}, statuses {json.dumps(r.statuses)}"),
        ("tokens after resume", fmt(r.tokens_after_resume)),
        ("events received twice", fmt(r.duplicates)),
        ("resume -> headers ms p50/p99/max", fmt_spread(r.resume_to_headers_ms)),
        ("resume -> next token ms p50/p99/max", fmt_spread(r.resume_to_token_ms)),
    ]


def cmd_resume(args: argparse.Namespace) -> Outcome:
    run = Run(args, "resume")
    run.stream_spec_extra = {"drop_after": args.drop_after}
    with run:
        result = timed_streams(run, args)
    s = summarise(run, args, result)
    r = Resumes.of(result.records)
    s.targets = resume_targets(s, r, args.n)
    print_table(
        title_of(args, "resume", f"n={args.n} over={args.over}s drop after {args.drop_after}"),
        stream_rows(s) + resume_rows(r) + target_rows(s.targets),
    )
    summary: dict[str, Any] = dict(s.to_json(), resumes=asdict(r))
    return Outcome(run.run_id, run.code, summary, s.cost.foreign_cores or 0.0)
