"""The bare floor: a minimal Flask app streaming the 12-word reply as SSE, with no auth, no DB.

It frames events exactly as the real stream does (``event: token`` / ``data: {"content":…}``,
then one ``event: done``), paces words with ``gevent.sleep`` (first word at once, then one
pause per word, as ``clarity_api.coach.scripted.paced`` does) and answers on the same path, so
the load client drives it unchanged. Serve it the way the app deploys::

    WEB_CONCURRENCY=2 PORT=8000 .venv/bin/gunicorn -c bench/bare_gunicorn_conf.py bench.bare_app:app
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator

import gevent
from flask import Flask, Response, request

REPLY = "I understand how you feel. Let me help you work through this."
WORDS = re.findall(r"\s*\S+", REPLY)
DELAY_S = int(os.environ.get("STREAM_TOKEN_DELAY_MS", "50")) / 1000.0

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
TOKEN_FRAMES = [b"event: token\ndata: " + _dumps({"content": w}).encode() + b"\n\n" for w in WORDS]
DONE_FRAME = (
    b"event: done\ndata: "
    + _dumps(
        {
            "next_step": "clarify",
            "emotion_detected": "neutral",
            "confidence": 0.5,
            "session_status": "active",
        }
    ).encode()
    + b"\n\n"
)

app = Flask(__name__)


def reply_events(delay_s: float) -> Iterator[bytes]:
    for index, frame in enumerate(TOKEN_FRAMES):
        if index and delay_s > 0:
            gevent.sleep(delay_s)
        yield frame
    yield DONE_FRAME


@app.post("/sessions/<session_id>/messages")
def stream(session_id: str) -> Response:
    request.get_data()  # read the body, as the real view does
    response = Response(reply_events(DELAY_S), mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"
    return response


@app.get("/health")
def health() -> Response:
    return Response(b'{"status":"ok","database":"ok"}', mimetype="application/json")
