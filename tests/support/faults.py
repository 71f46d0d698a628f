"""Test infrastructure for faults: a TCP proxy standing in for a database that goes away,
and keep-alive connections pinned to one gunicorn worker each.

The proxy is a gevent StreamServer living in the test process: it only forwards while the
test's own blocking calls yield to the hub, so the suite must run under gevent's
monkey-patching (`make test` does).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from tests.support.live import JsonRequests, LiveServer

PG_HOST, PG_PORT = "127.0.0.1", 5432


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
