"""Structured logs: one JSON object per line, each request with an id it also returns.

Only metadata is logged (method, path template, status, timing); never bodies, tokens or
message content.
"""

from __future__ import annotations

import logging
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, g, has_request_context, request
from pythonjsonlogger.json import JsonFormatter as BaseJsonFormatter

from clarity_api.web.logformat import JsonFormatter

REQUEST_ID_HEADER = "X-Request-ID"


def _with_request_id(factory: Callable[..., logging.LogRecord]) -> Callable[..., logging.LogRecord]:
    """Every record made during a request carries its id, whichever handler writes it
    (under gunicorn the root handler is gunicorn's, configured from gunicorn.conf.py)."""

    def make(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        if has_request_context() and "request_id" in g:
            record.ctx_request_id = g.request_id  # `extra` may not set a name the record has
        return record

    make.clarity_request_id = True  # type: ignore[attr-defined]
    return make


def configure_logging(level: str = "INFO") -> None:
    factory = logging.getLogRecordFactory()
    if not getattr(factory, "clarity_request_id", False):
        logging.setLogRecordFactory(_with_request_id(factory))
    root = logging.getLogger()
    # Under gunicorn, its logconfig_dict (gunicorn.conf.py) has set this same format up.
    if any(isinstance(h.formatter, BaseJsonFormatter) for h in root.handlers):
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
                "client": request.remote_addr,  # the real client, behind TRUSTED_PROXIES
            },
        )
        return response
