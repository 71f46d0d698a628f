"""Structured logs: one JSON object per line, each request with an id it also returns.

Only metadata is logged (method, path template, status, timing); never bodies, tokens or
message content.
"""

from __future__ import annotations

import json
import logging
import sys
import time
import uuid
from typing import Any

from flask import Flask, Response, g, has_request_context, request

REQUEST_ID_HEADER = "X-Request-ID"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if has_request_context() and "request_id" in g:
            entry["request_id"] = g.request_id
        for key in ("method", "route", "status", "duration_ms", "user_id", "request_id"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info:
            entry["exc_type"] = record.exc_info[0].__name__ if record.exc_info[0] else None
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: str = "INFO") -> None:
    root = logging.getLogger()
    if any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root.addHandler(handler)
    root.setLevel(level)


_access = logging.getLogger("clarity_api.access")


def _valid_request_id(raw: str | None) -> str:
    if raw and len(raw) <= 64 and raw.replace("-", "").isalnum():
        return raw
    return uuid.uuid4().hex


def init_app(app: Flask) -> None:
    if not app.testing:
        configure_logging()

    @app.before_request
    def _start() -> None:
        g.request_id = _valid_request_id(request.headers.get(REQUEST_ID_HEADER))
        g.started = time.perf_counter()

    @app.after_request
    def _finish(response: Response) -> Response:
        request_id = g.get("request_id") or _valid_request_id(None)
        response.headers[REQUEST_ID_HEADER] = request_id
        started = g.get("started")
        duration = round((time.perf_counter() - started) * 1000, 2) if started else None
        _access.info(
            "request",
            extra={
                "method": request.method,
                "route": request.url_rule.rule if request.url_rule else "<unmatched>",
                "status": response.status_code,
                "duration_ms": duration,
                "request_id": request_id,
            },
        )
        return response
