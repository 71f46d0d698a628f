"""Faults against a real gunicorn + gevent server: the database goes away, clients vanish.

Run under gevent's monkey-patching (`make test` does): the TCP proxy that stands between the
server and PostgreSQL is a gevent StreamServer living in this test process, and it only
forwards while the test's own blocking calls yield to the hub.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from tests.conftest import bearer, read_events
from tests.support.live import JsonRequests, LiveServer, auth_only, free_port, serve

pytestmark = pytest.mark.live

PG_HOST, PG_PORT = "127.0.0.1", 5432
# The contract: a dead database answers 503, never a hang. /health must do so within this.
HEALTH_DEADLINE_S = 2.0
# An authenticated request does a little more (token check, then the view): a few seconds.
REQUEST_DEADLINE_S = 4.0
# Once the database is back, every worker must serve again by itself within this.
RECOVERY_DEADLINE_S = 8.0


def gevent_patched() -> bool:
    from gevent import monkey

    return bool(monkey.is_module_patched("socket"))


# --- keep-alive connections pinned to one worker -------------------------------------------


class Pinned(JsonRequests):
    """A keep-alive connection to one gunicorn worker: every request on it is served by `pid`.

    gunicorn hands a connection to whichever worker accepts it, and that worker serves every
    request on it. /internal/stats (EXPOSE_STATS=true) names the pid. If the server closes the
    connection, http.client would silently reconnect (maybe to the other worker): `request`
    refuses to continue instead.
    """

    def __init__(self, conn: http.client.HTTPConnection, pid: int):
        self.conn = conn
        self.pid = pid
        self.sockname = conn.sock.getsockname() if conn.sock else None

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        timeout: float = 30,
    ) -> tuple[int, http.client.HTTPMessage, bytes]:
        assert self.conn.sock is not None, f"connection to worker {self.pid} was closed"
        assert self.conn.sock.getsockname() == self.sockname
        self.conn.sock.settimeout(timeout)
        data = json.dumps(body).encode() if body is not None else None
        self.conn.request(
            method, path, body=data, headers={"Content-Type": "application/json", **(headers or {})}
        )
        response = self.conn.getresponse()
        raw = response.read()
        assert self.conn.sock is not None, f"worker {self.pid} closed the connection"
        return response.status, response.headers, raw

    def close(self) -> None:
        self.conn.close()


# On a loaded machine a worker can still be booting when the server first answers: the
# rounds below go on this long, a pause apart, before calling a worker missing.
WORKERS_UP_S = 60


def rounds_until(deadline_s: float) -> Iterator[int]:
    """Round numbers until `deadline_s` from now, a short pause between rounds."""
    deadline = time.monotonic() + deadline_s
    n = 0
    while n == 0 or time.monotonic() < deadline:
        if n:
            time.sleep(0.2)
        yield n
        n += 1


def pin_workers(server: LiveServer, workers: int = 2) -> list[Pinned]:
    """One keep-alive connection to each of `workers` distinct workers (needs EXPOSE_STATS).

    An idle worker can win every accept of connections opened one by one, so each round
    opens a handful at once, which spreads them over the workers.
    """
    pinned: dict[int, Pinned] = {}

    def connect(_: int) -> tuple[http.client.HTTPConnection, int]:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        conn.request("GET", "/internal/stats")
        response = conn.getresponse()
        stats = json.loads(response.read())
        assert response.status == 200, stats
        return conn, stats["pid"]

    for _ in rounds_until(WORKERS_UP_S):
        with ThreadPoolExecutor(max_workers=8) as pool:
            for conn, pid in pool.map(connect, range(8)):
                if pid in pinned or conn.sock is None:
                    conn.close()
                else:
                    pinned[pid] = Pinned(conn, pid)
        if len(pinned) == workers:
            return list(pinned.values())
    for p in pinned.values():
        p.close()
    raise AssertionError(f"saw only workers {sorted(pinned)} in {WORKERS_UP_S} s")


def stats_by_pid(server: LiveServer, workers: int = 2) -> dict[int, Any]:
    """/internal/stats from each worker: rounds of simultaneous fresh connections until every
    pid has answered (one at a time, an idle worker can win every accept)."""
    seen: dict[int, Any] = {}

    def one(_: int) -> Any:
        status, stats = server.json("GET", "/internal/stats", timeout=10)
        assert status == 200, stats
        return stats

    for _ in rounds_until(WORKERS_UP_S):
        with ThreadPoolExecutor(max_workers=8) as pool:
            for stats in pool.map(one, range(8)):
                seen[stats["pid"]] = stats
        if len(seen) == workers:
            return seen
    raise AssertionError(f"saw only workers {sorted(seen)} in {WORKERS_UP_S} s")


# --- a database that goes away: a TCP proxy we can stop -------------------------------------


class TcpProxy:
    """Forwards 127.0.0.1:<port> to a target; `stop` closes the port and every live connection,
    `start` listens on the same port again. While `frozen`, connections stay open (and new
    ones are accepted) but nothing is forwarded: a database that hangs rather than dies."""

    def __init__(self, target: tuple[str, int]):
        self.target = target
        self.port = 0
        self.server: Any = None
        self.sockets: set[Any] = set()
        self.accepted = 0
        self.frozen = False

    def start(self) -> None:
        from gevent.server import StreamServer

        self.server = StreamServer(("127.0.0.1", self.port), self._handle)  # reuse_addr is on
        self.server.start()
        self.port = self.server.server_port

    def stop(self) -> None:
        if self.server is not None:
            self.server.close()  # no new connections: the port now refuses
            self.server = None
        for sock in list(self.sockets):
            _close(sock)
        self.sockets.clear()

    def _handle(self, client: Any, _address: Any) -> None:
        import gevent
        from gevent import socket as gsocket

        self.accepted += 1
        try:
            upstream = gsocket.create_connection(self.target, timeout=5)
        except OSError:
            _close(client)
            return
        upstream.settimeout(None)
        self.sockets.update((client, upstream))
        pipes = [
            gevent.spawn(self._pipe, client, upstream),
            gevent.spawn(self._pipe, upstream, client),
        ]
        try:
            gevent.joinall(pipes)
        finally:
            for sock in (client, upstream):
                self.sockets.discard(sock)
                _close(sock)

    def _pipe(self, src: Any, dst: Any) -> None:
        import gevent

        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                while self.frozen:
                    gevent.sleep(0.05)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            _close(src)
            _close(dst)


def _close(sock: Any) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()


@pytest.fixture
def pg_proxy() -> Iterator[TcpProxy]:
    if not gevent_patched():
        pytest.skip("the proxy is a gevent server: run pytest under `python -m gevent.monkey`")
    proxy = TcpProxy((PG_HOST, PG_PORT))
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()


def via_proxy(database_uri: str, proxy: TcpProxy) -> str:
    url = make_url(database_uri)
    assert (url.host, url.port or 5432) == (PG_HOST, PG_PORT), "the proxy forwards to :5432"
    return url.set(port=proxy.port).render_as_string(hide_password=False)


def timed(fn: Any, *args: Any, **kw: Any) -> tuple[float, Any]:
    started = time.monotonic()
    result = fn(*args, **kw)
    return time.monotonic() - started, result


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
        conn = http.client.HTTPConnection("127.0.0.1", live.port, timeout=15)
        conn.request(
            "POST",
            f"/sessions/{session_id}/messages",
            body=json.dumps({"content": "I feel stuck", "step": "receive"}),
            headers={"Content-Type": "application/json", **headers},
        )
        response = conn.getresponse()
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
        result = runner.invoke(args=["users", "set-tier", email, "pro"])
        assert result.exit_code == 0, result.output

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
            conn = http.client.HTTPConnection("127.0.0.1", live.port, timeout=30)
            try:
                conn.request(
                    "POST",
                    f"/sessions/{session_id}/messages",
                    body=json.dumps({"content": "I feel stuck", "step": "receive"}),
                    headers={"Content-Type": "application/json", **headers},
                )
                response = conn.getresponse()
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
