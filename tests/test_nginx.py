"""deploy/nginx.conf in front of real servers: streaming, forwarded headers, budgets.

Clients connect from other loopback addresses (127.0.0.2, ...) so that the address nginx
forwards differs from nginx's own (127.0.0.1), which is what gunicorn sees as its peer.
"""

from __future__ import annotations

import itertools
import json
import statistics
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.support.live import auth_only, serve
from tests.support.nginx import Nginx, nginx_in_front

pytestmark = pytest.mark.live

WORD_DELAY_MS = 100


class Echo(BaseHTTPRequestHandler):
    """An upstream that answers with what it received: headers, peer and its own name."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        body = json.dumps(
            {
                "upstream": self.server.name,  # type: ignore[attr-defined]
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "peer_port": self.client_address[1],
                "request_version": self.request_version,
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def echo_upstreams() -> Iterator[list[str]]:
    servers = []
    for name in ("a", "b"):
        server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
        server.name = name  # type: ignore[attr-defined]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
    yield [f"127.0.0.1:{s.server_address[1]}" for s in servers]
    for server in servers:
        server.shutdown()
        server.server_close()


def test_nginx_forwards_the_client_and_scheme_over_kept_http11_connections(echo_upstreams):
    with nginx_in_front(echo_upstreams) as nginx:
        seen = [
            nginx.json(
                "GET", "/anything", headers={"X-Forwarded-For": "6.6.6.6"}, source="127.0.0.2"
            )
            for _ in range(8)
        ]
    assert all(status == 200 for status, _ in seen)
    bodies = [body for _, body in seen]
    # The client's own header is kept in front; nginx appends the peer it saw, last, which is
    # the entry TRUSTED_PROXIES=1 reads.
    assert {b["headers"]["x-forwarded-for"] for b in bodies} == {"6.6.6.6, 127.0.0.2"}
    assert {b["headers"]["x-forwarded-proto"] for b in bodies} == {"http"}
    assert all(b["request_version"] == "HTTP/1.1" for b in bodies)
    assert all("connection" not in b["headers"] for b in bodies)  # no "close": kept alive
    assert all(len(b["headers"]["x-request-id"]) == 32 for b in bodies)
    # Several upstream servers share the load, and each reuses its connections.
    per_upstream: dict[str, list[int]] = {}
    for body in bodies:
        per_upstream.setdefault(body["upstream"], []).append(body["peer_port"])
    assert set(per_upstream) == {"a", "b"}
    assert all(len(set(ports)) < len(ports) for ports in per_upstream.values()), per_upstream


def test_nginx_answers_json_when_no_upstream_is_up():
    from tests.support.live import free_port

    with nginx_in_front([f"127.0.0.1:{free_port()}"]) as nginx:
        status, headers, raw = nginx.request("GET", "/health")
    assert status == 503
    assert headers["Content-Type"] == "application/json"
    assert json.loads(raw)["error"] == "SERVICE_UNAVAILABLE"
    assert "Retry-After" not in headers


@pytest.fixture
def behind_nginx(app, tmp_path) -> Iterator[Nginx]:
    env = {
        "STREAM_TOKEN_DELAY_MS": str(WORD_DELAY_MS),
        "TRUSTED_PROXIES": "1",
        "RATELIMIT_PER_IP": "3 per minute",
        # Without Redis each worker counts for itself: one worker keeps the budget exact.
        "WEB_CONCURRENCY": "1",
    }
    with (
        serve(app.config["SQLALCHEMY_DATABASE_URI"], tmp_path, **env) as server,
        nginx_in_front([f"127.0.0.1:{server.port}"]) as nginx,
    ):
        yield nginx


def register(nginx: Nginx, source: str) -> dict[str, str]:
    status, data = nginx.json(
        "POST",
        "/auth/register",
        {
            "email": f"{uuid.uuid4().hex}@example.com",
            "password": "Sup3rSecret!",
            "device_fingerprint": "p1",
        },
        source=source,
    )
    assert status == 201, data
    return auth_only(
        {"Authorization": f"Bearer {data['access_token']}", "X-Device-Fingerprint": "p1"}
    )


def token_arrivals(
    nginx: Nginx, headers: dict[str, str], session_id: str
) -> tuple[list[float], list[str]]:
    """When each event line reached the client, read as it arrives (not after the end)."""
    conn = nginx.connect("127.0.0.2")
    conn.request(
        "POST",
        f"/sessions/{session_id}/messages",
        body=json.dumps({"content": "I feel stuck"}),
        headers={"Content-Type": "application/json", **headers},
    )
    response = conn.getresponse()
    assert response.status == 200
    arrivals, events = [], []
    while line := response.readline():
        if line.startswith(b"event: "):
            arrivals.append(time.monotonic())
            events.append(line[7:].strip().decode())
    conn.close()
    return arrivals, events


def stream_gaps(nginx: Nginx) -> list[float]:
    """Seconds between consecutive token events, as the client received them."""
    headers = register(nginx, "127.0.0.2")
    _status, created = nginx.json("POST", "/sessions", {}, headers=headers, source="127.0.0.2")
    arrivals, events = token_arrivals(nginx, headers, created["session_id"])
    assert events[-1] == "done" and events.count("token") >= 10
    return [b - a for a, b in itertools.pairwise(arrivals[:-1])]  # tokens, not done


def arrived_word_by_word(gaps: list[float]) -> bool:
    # Buffered, every event would land together at the end (gaps near 0).
    delay = WORD_DELAY_MS / 1000
    return statistics.median(gaps) >= 0.6 * delay and sum(gaps) >= 0.6 * delay * len(gaps)


def test_a_stream_arrives_word_by_word_through_nginx(behind_nginx):
    gaps = stream_gaps(behind_nginx)
    assert arrived_word_by_word(gaps), gaps


def failed_login(nginx: Nginx, source: str, forwarded_for: str | None = None) -> int:
    """A wrong password for an unknown email (so no per-account budget is involved)."""
    body = {"email": f"{uuid.uuid4().hex}@example.com", "password": "wrong-password"}
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    status, _headers, _raw = nginx.request(
        "POST", "/auth/login", {**body, "device_fingerprint": "p1"}, headers=headers, source=source
    )
    return status


def test_address_budgets_key_on_the_address_nginx_forwarded(behind_nginx):
    """Failed logins from one client run out its address's budget (3 a minute here), whatever
    X-Forwarded-For it writes itself; another client behind the same nginx keeps its own."""
    statuses = [failed_login(behind_nginx, "127.0.0.2", f"10.0.0.{n}") for n in range(5)]
    assert statuses == [401, 401, 401, 429, 429]
    # Claiming to be the other client does not move the budget: nginx appends the real peer.
    assert failed_login(behind_nginx, "127.0.0.2", "127.0.0.3") == 429
    # The app sees 127.0.0.3 as a client of its own (TRUSTED_PROXIES=1), not nginx's address.
    assert failed_login(behind_nginx, "127.0.0.3") == 401
