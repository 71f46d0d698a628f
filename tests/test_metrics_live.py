"""/metrics under gunicorn: every worker's numbers together (prometheus multiprocess mode)."""

from __future__ import annotations

import http.client
import json
import os
import signal
import time
import uuid

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.faults import Pinned, pin_workers
from tests.support.live import JsonRequests, auth_only, serve

pytestmark = pytest.mark.live

TOKEN = "live-metrics-token"


def pin_two(server) -> list[Pinned]:
    """Both workers, once both have booted (a loaded machine can take seconds for the second,
    and until then the first accepts every connection)."""
    deadline = time.monotonic() + 30
    while True:
        try:
            return pin_workers(server)
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def scrape(worker: JsonRequests) -> dict[tuple[str, tuple], float]:
    status, _headers, raw = worker.request(
        "GET", "/metrics", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert status == 200, raw
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(raw.decode())
        for s in family.samples
    }


def replies(worker: JsonRequests, count: int) -> None:
    """Sign up on this worker and stream `count` replies through it."""
    status, data = worker.json(
        "POST",
        "/auth/register",
        {
            "email": f"{uuid.uuid4().hex}@example.com",
            "password": "Sup3rSecret!",
            "device_fingerprint": "p1",
        },
    )
    assert status == 201, data
    headers = {"Authorization": f"Bearer {data['access_token']}", "X-Device-Fingerprint": "p1"}
    status, created = worker.json("POST", "/sessions", {}, headers=headers)
    assert status == 201, created
    for _ in range(count):
        status, _h, raw = worker.request(
            "POST",
            f"/sessions/{created['session_id']}/messages",
            {"content": "I feel stuck"},
            headers=headers,
        )
        assert status == 200 and b"event: done" in raw


REGISTERED = (
    "clarity_http_request_duration_seconds_count",
    (("method", "POST"), ("route", "/auth/register"), ("status", "201")),
)
DONE = ("clarity_replies_total", (("outcome", "done"),))
STREAMS = (
    "clarity_http_request_duration_seconds_count",
    (("method", "POST"), ("route", "/sessions/<session_id>/messages"), ("status", "200")),
)


def test_two_workers_counts_add_up_in_metrics(app, tmp_path):
    metrics_dir = tmp_path / "metrics"
    env = {
        "METRICS_TOKEN": TOKEN,
        "EXPOSE_STATS": "true",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
    }
    with serve(app.config["SQLALCHEMY_DATABASE_URI"], tmp_path, **env) as server:
        first, second = pin_two(server)
        replies(first, 2)
        replies(second, 3)
        # Whichever worker answers, /metrics holds both workers' replies.
        for worker in (first, second):
            scraped = scrape(worker)
            assert scraped[DONE] == 5
            assert scraped[STREAMS] == 5
            assert scraped[("clarity_reply_first_token_seconds_count", ())] == 5
            assert scraped[("clarity_live_streams", ())] == 0
        first.close()
        second.close()
    assert list(metrics_dir.glob("*.db")), "the workers wrote their values to the directory"

    # A new start with the same directory begins from zero (files of the last run removed).
    with serve(app.config["SQLALCHEMY_DATABASE_URI"], tmp_path, **env) as server:
        replies(server, 1)
        assert scrape(server)[DONE] == 1


def test_a_dead_workers_live_streams_leave_the_gauge_and_its_counts_stay(app, tmp_path):
    env = {"METRICS_TOKEN": TOKEN, "EXPOSE_STATS": "true", "STREAM_TOKEN_DELAY_MS": "1000"}
    with serve(app.config["SQLALCHEMY_DATABASE_URI"], tmp_path, **env) as server:
        workers = pin_two(server)
        headers = auth_only(server.register(f"{uuid.uuid4().hex}@example.com"))
        _status, created = server.json("POST", "/sessions", {}, headers=headers)
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        conn.request(
            "POST",
            f"/sessions/{created['session_id']}/messages",
            body=json.dumps({"content": "I feel stuck"}),
            headers={"Content-Type": "application/json", **headers},
        )
        response = conn.getresponse()
        while not response.readline().startswith(b"event: token"):  # past the `id:` line
            pass
        streaming = [w for w in workers if w.json("GET", "/internal/stats")[1]["open_streams"] == 1]
        (victim,) = streaming
        (survivor,) = [w for w in workers if w is not victim]
        assert scrape(survivor)[("clarity_live_streams", ())] == 1
        requests_before = scrape(survivor)[REGISTERED]
        os.kill(victim.pid, signal.SIGKILL)
        conn.close()
        deadline = time.monotonic() + 15
        while scrape(survivor)[("clarity_live_streams", ())] != 0:
            assert time.monotonic() < deadline, "the dead worker's stream is still counted"
            time.sleep(0.1)
        # Counters of the dead worker stay in the totals.
        assert scrape(survivor)[REGISTERED] == requests_before
        survivor.close()
