"""Faults against a real gunicorn + gevent server: the database goes away, clients vanish.

The TCP proxy standing in for PostgreSQL, and the connections pinned to one worker, are in
tests/support/faults.py.
"""

from __future__ import annotations

import json
import socket
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.conftest import bearer, read_events, set_tier, timed
from tests.support.faults import pg_proxy as pg_proxy  # a fixture
from tests.support.faults import pin_workers, stats_by_pid, via_proxy
from tests.support.live import LiveServer, auth_only, free_port, serve

pytestmark = pytest.mark.live

# The contract: a dead database answers 503, never a hang. /health must do so within this.
HEALTH_DEADLINE_S = 2.0
# An authenticated request does a little more (token check, then the view): a few seconds.
REQUEST_DEADLINE_S = 4.0
# Once the database is back, every worker must serve again by itself within this.
RECOVERY_DEADLINE_S = 8.0


def assert_unavailable_json(status: int, raw: bytes) -> dict[str, Any]:
    assert status == 503, raw[:300]
    body = json.loads(raw)  # JSON, never an HTML page or a stack trace
    assert body["error"] == "SERVICE_UNAVAILABLE"
    assert body["message"]
    return body  # type: ignore[no-any-return]


def answers_unavailable_in_time(
    live: LiveServer, token: str, timeout: float
) -> tuple[float, float]:
    """/health and an authenticated request both answer 503 within their deadlines; returns
    how long each took."""
    health_s, (status, body) = timed(live.json, "GET", "/health", timeout=timeout)
    assert (status, body) == (503, {"status": "unavailable", "database": "unavailable"})
    assert health_s < HEALTH_DEADLINE_S
    request_s, (status, _h, raw) = timed(
        live.request, "GET", "/sessions", headers=bearer(token), timeout=timeout
    )
    assert_unavailable_json(status, raw)
    assert request_s < REQUEST_DEADLINE_S
    return health_s, request_s


@pytest.mark.postgres
def test_database_going_away_answers_503_fast_and_recovers_by_itself(app, tmp_path, pg_proxy):
    url = via_proxy(app.config["SQLALCHEMY_DATABASE_URI"], pg_proxy)
    with serve(url, tmp_path, EXPOSE_STATS="true") as live:
        headers = auth_only(live.register("outage@example.com"))
        workers = pin_workers(live)
        try:
            for worker in workers:  # both workers hold pooled connections through the proxy
                assert worker.json("GET", "/health") == (200, {"status": "ok", "database": "ok"})
                assert worker.json("GET", "/sessions", headers=headers)[0] == 200
            assert pg_proxy.accepted >= 2

            pg_proxy.stop()  # PostgreSQL "goes away": live connections closed, port refuses
            health_s, request_s = [], []
            for _round in range(3):
                for worker in workers:
                    elapsed, (status, body) = timed(worker.json, "GET", "/health", timeout=10)
                    health_s.append(elapsed)
                    assert status == 503, body
                    assert body["database"] == "unavailable"
                    assert body["status"] != "ok"
                    assert elapsed < HEALTH_DEADLINE_S

                    elapsed, (status, _h, raw) = timed(
                        worker.request, "GET", "/sessions", headers=headers, timeout=10
                    )
                    request_s.append(elapsed)
                    assert_unavailable_json(status, raw)
                    assert elapsed < REQUEST_DEADLINE_S
            for worker in workers:  # the failure freed what it held
                assert worker.json("GET", "/internal/stats")[1]["db_checked_out"] == 0

            pg_proxy.start()  # same port: the database is back
            back = time.monotonic()
            recovered: dict[int, float] = {}
            while len(recovered) < len(workers):
                assert time.monotonic() - back < RECOVERY_DEADLINE_S, (
                    f"workers {[w.pid for w in workers if w.pid not in recovered]} "
                    f"did not recover within {RECOVERY_DEADLINE_S} s"
                )
                for worker in workers:
                    if worker.pid in recovered:
                        continue
                    health = worker.json("GET", "/health", timeout=10)
                    listing = worker.json("GET", "/sessions", headers=headers, timeout=10)
                    if health[0] == 200 and listing[0] == 200:
                        recovered[worker.pid] = time.monotonic() - back
                    else:
                        assert {health[0], listing[0]} <= {200, 503}, (health, listing)
                time.sleep(0.1)
            assert all(w.json("GET", "/health")[0] == 200 for w in workers)
        finally:
            for worker in workers:
                worker.close()
        assert "Traceback" not in live.logs()
    print(
        f"\n[faults] database down: /health 503 in max {max(health_s) * 1000:.0f} ms, "
        f"GET /sessions 503 in max {max(request_s) * 1000:.0f} ms "
        f"({len(health_s)} each over {len(workers)} workers); "
        f"recovered (200) after {max(recovered.values()) * 1000:.0f} ms"
    )


@pytest.mark.postgres
def test_database_that_hangs_fails_health_in_time_and_recovers(app, tmp_path, pg_proxy):
    url = via_proxy(app.config["SQLALCHEMY_DATABASE_URI"], pg_proxy)
    with serve(url, tmp_path, EXPOSE_STATS="true") as live:
        workers = pin_workers(live)
        try:
            for worker in workers:
                assert worker.json("GET", "/health")[0] == 200
            pg_proxy.frozen = True  # connections stay open, nothing comes back
            worst = 0.0
            for _round in range(2):  # a pooled connection, then a fresh one
                for worker in workers:
                    elapsed, (status, body) = timed(worker.json, "GET", "/health", timeout=10)
                    worst = max(worst, elapsed)
                    assert (status, body["database"]) == (503, "unavailable")
                    assert elapsed < HEALTH_DEADLINE_S
            for worker in workers:
                assert worker.json("GET", "/internal/stats")[1]["db_checked_out"] == 0
            pg_proxy.frozen = False
            deadline = time.monotonic() + RECOVERY_DEADLINE_S
            for worker in workers:
                while (status := worker.json("GET", "/health")[0]) != 200:
                    assert time.monotonic() < deadline, status
                    time.sleep(0.1)
        finally:
            for worker in workers:
                worker.close()
    print(f"\n[faults] database hangs: /health 503 in max {worst * 1000:.0f} ms")


@pytest.mark.postgres
def test_database_lost_mid_stream_ends_it_with_a_retryable_error(app, tmp_path, pg_proxy):
    url = via_proxy(app.config["SQLALCHEMY_DATABASE_URI"], pg_proxy)
    with serve(url, tmp_path, STREAM_TOKEN_DELAY_MS="100") as live:
        headers = auth_only(live.register("midstream@example.com"))
        status, created = live.json("POST", "/sessions", {}, headers=headers)
        assert status == 201, created
        session_id = created["session_id"]
        conn, response = live.open_stream(
            headers, session_id, {"content": "I feel stuck", "step": "receive"}, timeout=15
        )
        assert response.status == 200
        first = response.read1(256)
        assert b"\nevent: token\n" in first
        pg_proxy.stop()  # the reply is still being paced out; its ending needs the database
        elapsed, rest = timed(response.read)
        conn.close()
        events = read_events(first + rest)
        assert (first + rest).endswith(b"\n\n")
        assert [e for e, _ in events].count("done") == 0
        kind, data = events[-1]
        assert kind == "error", events[-3:]
        assert data["retryable"] is True
        assert elapsed < 12 * 0.1 + REQUEST_DEADLINE_S

        pg_proxy.start()
        deadline = time.monotonic() + RECOVERY_DEADLINE_S
        while True:
            status, session = live.json("GET", f"/sessions/{session_id}", headers=headers)
            if status == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert status == 200, session
        assert session["current_step"] == "receive"  # the failed turn did not advance it
    print(f"\n[faults] database lost mid-stream: the stream ended with error {data['error']}")


def signed_token(app: Any) -> str:
    """A well-signed access token for nobody: checking it needs the database."""
    from flask_jwt_extended import create_access_token

    with app.app_context():
        return create_access_token(  # type: ignore[no-any-return]
            identity=str(uuid.uuid4()), additional_claims={"lid": str(uuid.uuid4())}
        )


def test_database_at_a_closed_port_answers_503_fast(app, tmp_path):
    token = signed_token(app)
    closed = f"postgresql://postgres@127.0.0.1:{free_port()}/clarity"  # nothing listens there
    with serve(closed, tmp_path, EXPOSE_STATS="true") as live:
        stats_by_pid(live)  # both workers booted: time the answers, not the boot
        worst = 0.0
        for _ in range(4):
            health_s, _request_s = answers_unavailable_in_time(live, token, timeout=10)
            worst = max(worst, health_s)
        status, _h, raw = live.request(
            "POST",
            "/auth/login",
            {"email": "a@example.com", "password": "Sup3rSecret!", "device_fingerprint": "p"},
            timeout=10,
        )
        assert_unavailable_json(status, raw)
    print(f"\n[faults] database at a closed port: /health 503 in max {worst * 1000:.0f} ms")


def test_database_that_accepts_but_never_answers_is_503_in_time(app, tmp_path):
    # A listening socket nobody accepts from: the kernel completes the TCP handshake, then
    # the database's greeting never comes. /health gives up after HEALTH_TIMEOUT_S (1.5 s),
    # other requests after connect_timeout (2 s).
    token = signed_token(app)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)
        port = silent.getsockname()[1]
        url = f"postgresql://postgres@127.0.0.1:{port}/clarity"
        with serve(url, tmp_path, EXPOSE_STATS="true") as live:
            stats_by_pid(live)
            health_s, request_s = answers_unavailable_in_time(live, token, timeout=15)
    print(
        f"\n[faults] silent database: /health 503 in {health_s * 1000:.0f} ms, "
        f"GET /sessions 503 in {request_s * 1000:.0f} ms"
    )


# --- clients that vanish mid-stream ----------------------------------------------------------

DROPPED_STREAMS = 200
GREENLET_MARGIN = 5
SETTLE_S = 6.0


def test_dropped_streams_free_everything_and_advance_nothing(app, runner, tmp_path):
    env = {
        "EXPOSE_STATS": "true",
        "STREAM_TOKEN_DELAY_MS": "50",
        "RATELIMIT_PER_USER": "100000 per minute",
    }
    with serve(app.config["SQLALCHEMY_DATABASE_URI"], tmp_path, **env) as live:
        email = "vanish@example.com"
        headers = auth_only(live.register(email))
        set_tier(runner, email, "pro")

        with ThreadPoolExecutor(max_workers=10) as pool:
            created = list(
                pool.map(
                    lambda _: live.json("POST", "/sessions", {}, headers=headers),
                    range(DROPPED_STREAMS),
                )
            )
        assert all(status == 201 for status, _ in created), created[:3]
        sessions = [body["session_id"] for _, body in created]

        before = stats_by_pid(live)
        assert all(s["open_streams"] == 0 and s["db_checked_out"] == 0 for s in before.values())

        def drop(session_id: str) -> bytes:
            body = {"content": "I feel stuck", "step": "receive"}
            conn, response = live.open_stream(headers, session_id, body)
            try:
                assert response.status == 200
                assert response.getheader("Content-Type", "").startswith("text/event-stream")
                assert response.getheader("X-Content-Type-Options") == "nosniff"
                assert response.getheader("Cache-Control") == "no-cache"
                first = response.read1(256)  # the first token has arrived ...
                assert b"\nevent: token\n" in first
                return first
            finally:
                if conn.sock is not None:
                    conn.sock.close()  # ... and the client is gone
                conn.close()

        with ThreadPoolExecutor(max_workers=DROPPED_STREAMS) as pool:
            dropped = list(pool.map(drop, sessions))
        assert len(dropped) == DROPPED_STREAMS

        started = time.monotonic()
        while True:
            after = stats_by_pid(live)
            settled = all(
                s["open_streams"] == 0
                and s["db_checked_out"] == 0
                and s["greenlets"] <= before[pid]["greenlets"] + GREENLET_MARGIN
                for pid, s in after.items()
            )
            if settled or time.monotonic() - started > SETTLE_S:
                break
            time.sleep(0.2)
        settle_s = time.monotonic() - started
        figures = {
            pid: (before[pid]["greenlets"], after[pid]["greenlets"], after[pid]["open_streams"])
            for pid in sorted(after)
        }
        print(
            f"\n[faults] {DROPPED_STREAMS} streams dropped after the first token; settled in "
            f"{settle_s * 1000:.0f} ms; per worker (greenlets before, after, open streams): "
            f"{figures}"
        )
        for pid, s in after.items():
            assert s["open_streams"] == 0, (pid, s)
            assert s["db_checked_out"] == 0, (pid, s)
            assert s["greenlets"] <= before[pid]["greenlets"] + GREENLET_MARGIN, (pid, s)

        steps: list[str] = []
        for offset in range(0, DROPPED_STREAMS, 100):
            status, page = live.json("GET", f"/sessions?limit=100&offset={offset}", headers=headers)
            assert status == 200, page
            steps += [s["current_step"] for s in page["sessions"]]
        assert len(steps) == DROPPED_STREAMS
        assert set(steps) == {"receive"}, {step: steps.count(step) for step in set(steps)}
        assert "Traceback" not in live.logs()
