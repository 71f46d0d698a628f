"""Server-Sent Events: the wire format, the reply stream, and its Response."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from typing import Any

from flask import Response
from sqlalchemy.engine import Engine

from clarity_api.coach.base import Coach, CoachError, CoachRequest, Ping, Usage
from clarity_api.coach.scripted import paced, split_words
from clarity_api.errors import ClarityError, ServiceUnavailable, is_unavailable
from clarity_api.safety.crisis import RESOURCES, SAFETY_MESSAGE
from clarity_api.services import solving
from clarity_api.services.solving import TurnPlan
from clarity_api.web import lifecycle
from clarity_api.web.errors import HTTP_CODES

log = logging.getLogger(__name__)

PING_FRAME = b": ping\n\n"
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_SAFETY_WORDS = split_words(SAFETY_MESSAGE)
# Streams in progress in this worker (for /internal/stats and the benchmarks).
open_streams = 0


def format_event(event: str, data: dict[str, Any]) -> bytes:
    """One SSE event: compact one-line JSON data, ended by a blank line."""
    return b"event: " + event.encode() + b"\ndata: " + _dumps(data).encode() + b"\n\n"


def token_frame(piece: str) -> bytes:
    return b'event: token\ndata: {"content":' + _dumps(piece).encode() + b"}\n\n"


def error_frame(error: str, message: str, retryable: bool) -> bytes:
    return format_event("error", {"error": error, "message": message, "retryable": retryable})


def reply_events(
    plan: TurnPlan,
    coach: Coach,
    emotion: tuple[str, float],
    crisis: bool,
    *,
    engine: Engine,
    delay_s: float,
    ping_interval_s: float,
) -> Iterator[bytes]:
    """The reply's token events, then one `done` (after the step change commits) or `error`.

    Holds no database connection while pieces are paced out. If the client goes away, the
    server closes this generator at a `yield` and nothing after it (the step change) runs.
    """
    if crisis:
        items: Iterable[Any] = paced(_SAFETY_WORDS, delay_s, ping_interval_s)
    else:
        request = CoachRequest(step=plan.step, content=plan.content, history=plan.history)
        items = coach.reply(request)
    usage: Usage | None = None
    global open_streams
    open_streams += 1
    try:
        for item in items:
            if lifecycle.draining():
                yield error_frame("SERVER_RESTARTING", "The server is restarting; retry.", True)
                return
            if isinstance(item, str):
                if item:
                    yield token_frame(item)
            elif isinstance(item, Ping):
                yield PING_FRAME
            elif isinstance(item, Usage):
                usage = item
        done = _finish(engine, plan, emotion, crisis, usage)
    except CoachError as exc:
        yield error_frame(exc.code, exc.message, exc.retryable)
        return
    except ClarityError as exc:
        yield error_frame(exc.error, exc.message, False)
        return
    except Exception as exc:
        if is_unavailable(exc):  # the database went away: the client may retry shortly
            log.warning("stream could not finish: database unavailable (%s)", type(exc).__name__)
            yield error_frame(ServiceUnavailable.error, ServiceUnavailable.default_message, True)
        else:
            log.exception("stream failed")
            yield error_frame(*HTTP_CODES[500], True)
        return
    finally:
        open_streams -= 1
        close = getattr(items, "close", None)
        if close is not None:
            close()
    yield format_event("done", done)


def _finish(
    engine: Engine, plan: TurnPlan, emotion: tuple[str, float], crisis: bool, usage: Usage | None
) -> dict[str, Any]:
    """The `done` payload; for a normal reply, first advance the session in one transaction."""
    detected, confidence = emotion
    if crisis:
        return {
            "blocked": True,
            "reason": "CRISIS",
            "resources": RESOURCES,
            "next_step": plan.step,
            "emotion_detected": detected,
            "confidence": confidence,
            "session_status": "active",
        }
    # One short transaction straight on the engine: no app context, no ORM session.
    with engine.begin() as connection:
        advanced = solving.finish_turn(connection, plan)
    done: dict[str, Any] = {
        "next_step": advanced["next_step"],
        "emotion_detected": detected,
        "confidence": confidence,
        "session_status": advanced["session_status"],
    }
    if usage is not None:
        done["usage"] = {"input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens}
    return done


def sse_response(events: Iterator[bytes]) -> Response:
    response = Response(events, mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"
    return response
