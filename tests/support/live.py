"""A real server for tests that need one: gunicorn with the gevent worker, as deployed."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class JsonRequests:
    """`json()` for any client whose `request()` returns (status, headers, body)."""

    def request(
        self, method: str, path: str, body: Any = None, **kw: Any
    ) -> tuple[int, Any, bytes]:
        raise NotImplementedError

    def json(self, method: str, path: str, body: Any = None, **kw: Any) -> tuple[int, Any]:
        status, _headers, raw = self.request(method, path, body, **kw)
        return status, (json.loads(raw) if raw else None)


class LiveServer(JsonRequests):
    def __init__(self, process: subprocess.Popen[bytes], port: int, log_path: Path):
        self.process = process
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        self.log_path = log_path

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        timeout: float = 30,
    ) -> tuple[int, dict[str, str], bytes]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base_url + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        for name, value in (headers or {}).items():
            req.add_header(name, value)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    def open_stream(
        self,
        headers: dict[str, str],
        session_id: str,
        body: dict[str, Any] | None = None,
        timeout: float = 30,
    ) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        """Send a message on a connection of its own; the reply is read as it arrives."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        conn.request(
            "POST",
            f"/sessions/{session_id}/messages",
            body=json.dumps(body or {"content": "I feel stuck"}),
            headers={"Content-Type": "application/json", **headers},
        )
        return conn, conn.getresponse()

    def register(self, email: str, fingerprint: str = "phone-1") -> dict[str, Any]:
        status, data = self.json(
            "POST",
            "/auth/register",
            {"email": email, "password": "Sup3rSecret!", "device_fingerprint": fingerprint},
        )
        assert status == 201, data
        return {
            "Authorization": f"Bearer {data['access_token']}",
            "X-Device-Fingerprint": fingerprint,
            "refresh": data["refresh_token"],
        }

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")


def auth_only(headers: dict[str, str]) -> dict[str, str]:
    """What LiveServer.register returns, minus the refresh token: the headers to send."""
    return {k: v for k, v in headers.items() if k != "refresh"}


@contextlib.contextmanager
def serve(database_url: str, tmp_path: Path, **env: str) -> Iterator[LiveServer]:
    """Start gunicorn on a free port; wait until /health answers; stop it afterwards."""
    port = free_port()
    log_path = tmp_path / f"gunicorn-{port}.log"
    full_env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "PORT": str(port),
        "WEB_CONCURRENCY": "2",
        "CLARITY_ENV": "development",
        "STREAM_TOKEN_DELAY_MS": "0",
        "GRACEFUL_TIMEOUT": "5",
        # Rate-limit counters may live in a shared Redis: keep each server's apart.
        "RATELIMIT_KEY_PREFIX": f"live-{port}-{time.time_ns()}",
        **env,
    }
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [GUNICORN, "-c", "gunicorn.conf.py", "wsgi:app"],
            cwd=ROOT,
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = LiveServer(process, port, log_path)
    try:
        _wait_until_up(server)
        yield server
    finally:
        stop(server)


def _wait_until_up(server: LiveServer, within_s: float = 30) -> None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError("gunicorn exited:\n" + server.logs())
        try:
            with socket.create_connection(("127.0.0.1", server.port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("gunicorn did not start:\n" + server.logs())


def stop(server: LiveServer, sig: int = signal.SIGTERM, within_s: float = 30) -> int:
    if server.process.poll() is None:
        server.process.send_signal(sig)
        try:
            server.process.wait(within_s)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()
    return server.process.returncode
