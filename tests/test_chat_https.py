"""`flask chat` over HTTPS: httpx and httpx-sse against a local TLS server that answers as the
API does (the same client over plain HTTP walks a real gunicorn in tests/test_live.py)."""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

SESSION = "5f0c0000-0000-4000-8000-0000000000e1"
WORDS = ["Pick", " one", " step", "."]


class FakeApi(BaseHTTPRequestHandler):
    seen: list[tuple[str, str, dict[str, Any]]] = []

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.loads(raw) if raw else {}
        FakeApi.seen.append((self.path, self.headers.get("Authorization") or "", body))
        if self.path == "/auth/login":
            self._send(200, json.dumps({"access_token": "tok"}).encode())
        elif self.path == "/sessions":
            created = {"session_id": SESSION, "current_step": "commit"}
            self._send(201, json.dumps(created).encode())
        elif self.path == f"/sessions/{SESSION}/messages":
            events = [": ping\n\n"]
            events += [
                f"id: r:{n}\nevent: token\ndata: {json.dumps({'content': w})}\n\n"
                for n, w in enumerate(WORDS, 1)
            ]
            done = {"next_step": None, "emotion_detected": "calm", "confidence": 0.8}
            events.append(f"id: r:5\nevent: done\ndata: {json.dumps(done)}\n\n")
            self._send(200, "".join(events).encode(), "text/event-stream")
        else:
            self._send(404, b'{"error": "NOT_FOUND", "message": "no"}')


@pytest.fixture
def tls_api(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a certificate for the TLS test server")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost"),
            *("-addext", "subjectAltName=IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeApi)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    FakeApi.seen = []
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}", cert
    finally:
        server.shutdown()
        server.server_close()


def test_chat_streams_a_reply_over_https(runner, tls_api):
    url, cert = tls_api
    args = ["chat", "--url", url, "--email", "a@example.com", "--password", "Sup3rSecret!"]
    result = runner.invoke(args=[*args, "--ca-file", str(cert)], input="call him\n")
    assert result.exit_code == 0, result.output
    assert "coach: Pick one step." in result.output
    assert "Session completed." in result.output
    paths = [path for path, _auth, _body in FakeApi.seen]
    assert paths == ["/auth/login", "/sessions", f"/sessions/{SESSION}/messages"]
    assert FakeApi.seen[-1][1] == "Bearer tok"
    assert FakeApi.seen[-1][2] == {"content": "call him", "step": "commit", "history": []}


def test_chat_refuses_a_certificate_it_cannot_verify(runner, tls_api):
    url, _cert = tls_api
    args = ["chat", "--url", url, "--email", "a@example.com", "--password", "Sup3rSecret!"]
    result = runner.invoke(args=args, input="hi\n")
    assert result.exit_code != 0
    assert FakeApi.seen == []  # nothing was sent over an unverified connection
