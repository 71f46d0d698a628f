"""Prometheus metrics: the objects, and the small calls that record them.

Under gunicorn every worker writes its values to files in PROMETHEUS_MULTIPROC_DIR (set up
by gunicorn.conf.py before any worker starts), and GET /metrics (api/metrics.py) adds up
every worker's files. Without that variable (tests, `flask` commands) values stay in this
process. Labels take bounded values only: route templates, error codes, budget names.
"""

from __future__ import annotations

import json
import time
from typing import Any

from flask import Flask, Response, g, request
from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics

from clarity_api.extensions import limiter

# `_created` series (one per label set) double the output and no alert uses them.
disable_created_metrics()

LIVE_STREAMS = Gauge(
    "clarity_live_streams",
    "Replies streaming to a client now, over every live worker",
    multiprocess_mode="livesum",
)
REPLIES = Counter(
    "clarity_replies_total",
    "Replies by how their stream ended: done, blocked (safety reply), an error code in lower "
    "case, or disconnected (the client left before the last event)",
    ["outcome"],
)
FIRST_TOKEN = Histogram(
    "clarity_reply_first_token_seconds",
    "From the message's arrival to the reply's first word leaving the service",
    buckets=(0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30),
)
STREAM_DURATION = Histogram(
    "clarity_stream_duration_seconds",
    "From the message's arrival to the stream's end, whatever the outcome",
    buckets=(0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300),
)
COACH_FAILURES = Counter(
    "clarity_coach_failures_total",
    "Replies the coach could not give: unavailable (the provider failed) or timeout",
    ["kind"],
)
QUOTA_REFUSALS = Counter(
    "clarity_quota_refusals_total",
    "Requests refused by a plan's quota: sessions (QUOTA_EXCEEDED) or devices",
    ["quota"],
)
RATE_LIMITED = Counter(
    "clarity_rate_limited_total", "429 answers by the budget that ran out", ["budget"]
)
REQUEST_LATENCY = Histogram(
    "clarity_http_request_duration_seconds",
    "Time to the response's start, by route template (for a stream: until its headers)",
    ["method", "route", "status"],
)

COACH_FAILURE_KINDS = {"COACH_UNAVAILABLE": "unavailable", "COACH_TIMEOUT": "timeout"}
_QUOTAS = {"QUOTA_EXCEEDED": "sessions", "DEVICE_LIMIT_REACHED": "devices"}


class StreamWatch:
    """One stream's metrics: live while open, time to its first word, outcome, duration.

    The stream body calls `first()` at its first frame that is not a ping and `left()` once,
    however it ends; `started` is the request's arrival (`g.metrics_started`).
    """

    __slots__ = ("started",)

    def __init__(self, started: float | None) -> None:
        self.started = started if started is not None else time.perf_counter()
        LIVE_STREAMS.inc()

    def first(self) -> None:
        FIRST_TOKEN.observe(time.perf_counter() - self.started)

    def left(self, reply: Any, finished: bool) -> None:
        """`reply` (services.replies.Reply) has `end` set once its last event is produced,
        and that event is its last frame."""
        LIVE_STREAMS.dec()
        outcome = "disconnected"  # unless the last event went out
        if finished and reply is not None and reply.end is not None:
            outcome = outcome_of(reply.frames[-1])
        REPLIES.labels(outcome).inc()
        STREAM_DURATION.observe(time.perf_counter() - self.started)


def outcome_of(last_frame: bytes) -> str:
    """done, blocked, or the error code in lower case, from a `done`/`error` SSE frame."""
    data = json.loads(last_frame[last_frame.index(b"\ndata: ") + 7 :])
    if "error" in data:
        return str(data["error"]).lower()
    return "blocked" if data.get("blocked") else "done"


def count_coach_failure(error: str) -> None:
    """A reply that ended with this error code: counted if the coach failed (once per reply,
    where it is produced, whether or not a client was reading)."""
    kind = COACH_FAILURE_KINDS.get(error)
    if kind:
        COACH_FAILURES.labels(kind).inc()


def _start() -> None:
    g.metrics_started = time.perf_counter()


def _finish(response: Response) -> Response:
    started = g.get("metrics_started")
    if started is not None:
        route = request.url_rule.rule if request.url_rule else "<unmatched>"
        REQUEST_LATENCY.labels(request.method, route, str(response.status_code)).observe(
            time.perf_counter() - started
        )
    if response.status_code == 429:
        RATE_LIMITED.labels(breached_budget()).inc()
    elif response.status_code == 403 and response.is_json:
        body = response.get_json(silent=True)
        code = body.get("error") if isinstance(body, dict) else None
        quota = _QUOTAS.get(code) if isinstance(code, str) else None
        if quota:
            QUOTA_REFUSALS.labels(quota).inc()
    return response


def breached_budget() -> str:
    """The scope of the limit this request ran out of ("auth-ip", "user", ...)."""
    current = limiter.current_limit
    if current is None or not current.breached or not current.request_args:
        return "unknown"
    return str(current.request_args[-1])


def init_app(app: Flask) -> None:
    app.before_request(_start)
    app.after_request(_finish)
