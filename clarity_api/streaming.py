"""Server-Sent Events: the wire format. Events in (services/events.py), bytes out."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from flask import Response

from clarity_api.services.events import DoneEvent, ErrorEvent, Event, PingEvent, TokenEvent

PING_FRAME = b": ping\n\n"
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
# Streams in progress in this worker (for /internal/stats and the benchmarks).
open_streams = 0


def format_event(event: str, data: dict[str, Any]) -> bytes:
    """One SSE event: compact one-line JSON data, ended by a blank line."""
    return b"event: " + event.encode() + b"\ndata: " + _dumps(data).encode() + b"\n\n"


def token_frame(piece: str) -> bytes:
    return b'event: token\ndata: {"content":' + _dumps(piece).encode() + b"}\n\n"


def encode(event: Event) -> bytes:
    """One event as SSE bytes; a ping is a comment line, which clients ignore."""
    if isinstance(event, TokenEvent):
        return token_frame(event.content)
    if isinstance(event, PingEvent):
        return PING_FRAME
    if isinstance(event, DoneEvent):
        return format_event("done", event.data)
    assert isinstance(event, ErrorEvent)
    error = {"error": event.error, "message": event.message, "retryable": event.retryable}
    return format_event("error", error)


def sse_body(events: Iterator[Event]) -> Iterator[bytes]:
    """The events as bytes. The server closes this at a `yield` when the client has gone,
    which closes `events` too, so nothing that would follow (the step change) runs."""
    global open_streams
    open_streams += 1
    try:
        for event in events:
            yield encode(event)
    finally:
        open_streams -= 1
        close = getattr(events, "close", None)
        if close is not None:
            close()


def sse_bytes(body: Iterable[bytes], reply_id: str | None = None) -> Response:
    """A stream of ready SSE bytes (a kept reply's frames carry their own `id:` lines)."""
    response = Response(body, mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"
    if reply_id is not None:
        response.headers["X-Reply-Id"] = reply_id
    return response
