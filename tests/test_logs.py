"""One log format: gunicorn's error and access lines and the app's, all JSON, under gunicorn."""

from __future__ import annotations

import json
import logging
import uuid

import pytest

from clarity_api.web.logformat import JsonFormatter
from tests.support.live import serve

CLIENT = "203.0.113.77"


@pytest.mark.live
def test_every_line_gunicorn_writes_is_json_with_request_id_and_client(app, tmp_path):
    email = f"logs-{uuid.uuid4().hex[:8]}@example.com"
    content = "my secret worry about the quarterly review"
    with serve(app.config["SQLALCHEMY_DATABASE_URI"], tmp_path, TRUSTED_PROXIES="1") as live:
        forwarded = {"X-Forwarded-For": f"6.6.6.6, {CLIENT}", "X-Request-ID": "req-abc-123"}
        status, data = live.json(
            "POST",
            "/auth/register",
            {"email": email, "password": "Sup3rSecret!", "device_fingerprint": "p1"},
            headers=forwarded,
        )
        assert status == 201, data
        headers = {"Authorization": f"Bearer {data['access_token']}", "X-Device-Fingerprint": "p1"}
        status, created = live.json("POST", "/sessions", {}, headers=headers)
        assert status == 201
        status, _h, stream = live.request(
            "POST", f"/sessions/{created['session_id']}/messages", {"content": content}, headers
        )
        assert status == 200 and b"event: done" in stream
        assert live.request("GET", "/nope?email=" + email)[0] == 404
        access_token = data["access_token"]
    text = live.logs()

    lines = [json.loads(line) for line in text.splitlines() if line.strip()]  # all JSON
    assert all({"ts", "level", "logger", "msg"} <= set(line) for line in lines)
    loggers = {line["logger"] for line in lines}
    assert {"gunicorn.error", "gunicorn.access", "clarity_api.access"} <= loggers
    requests = [
        line for line in lines if line["logger"] in ("gunicorn.access", "clarity_api.access")
    ]
    assert len(requests) == 2 * 4  # each request: gunicorn's line and the app's
    for line in requests:
        assert line["request_id"] and line["client"] and line["status"], line
    register = [line for line in requests if line["request_id"] == "req-abc-123"]
    assert [line["client"] for line in register] == [CLIENT, CLIENT]  # not the spoofed entry
    # No content, token, email, password or concrete id, not even from the query string.
    for secret in (
        email,
        content,
        access_token,
        "Sup3rSecret!",
        "quarterly",
        created["session_id"],
    ):
        assert secret not in text


def test_the_formatter_writes_only_known_fields_and_tracebacks_as_one_line():
    formatter = JsonFormatter()
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed %s", ("once",), None)
    record.body = "a person's words"  # an unknown extra field is never written
    record.status = 500
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    line = formatter.format(record)
    assert "\n" not in line
    data = json.loads(line)
    assert data["msg"] == "failed once" and data["status"] == 500
    assert data["exc_type"] == "ValueError" and "boom" in data["traceback"]
    assert "body" not in data and "a person's words" not in line
