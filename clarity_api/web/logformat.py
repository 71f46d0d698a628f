"""One JSON object per log line, for the app's logs and gunicorn's alike.

Imports only the standard library and python-json-logger: gunicorn.conf.py loads this file
by its path (not through the clarity_api package, whose imports must wait for the gevent
worker's monkey-patching). Only the fields below are written, whatever a record carries:
metadata, never bodies, tokens or email addresses.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

# Fields a record may add (logging's `extra`), in this order.
FIELDS = (
    "method",
    "route",
    "status",
    "duration_ms",
    "bytes",
    "client",
    "user_id",
    "request_id",
)


class JsonFormatter(_JsonFormatter):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("json_ensure_ascii", False)
        super().__init__(*args, **kwargs)

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        log_data["ts"] = (
            time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z"
        )
        log_data["level"] = record.levelname.lower()
        log_data["logger"] = record.name
        log_data["msg"] = record.getMessage()
        for key in FIELDS:
            value = getattr(record, key, None)
            if value is not None:
                log_data[key] = value
        if "request_id" not in log_data and getattr(record, "ctx_request_id", None):
            log_data["request_id"] = record.ctx_request_id  # type: ignore[attr-defined]
        if record.exc_info:
            log_data["exc_type"] = record.exc_info[0].__name__ if record.exc_info[0] else None
            log_data["traceback"] = message_dict.get("exc_info") or self.formatException(
                record.exc_info
            )
