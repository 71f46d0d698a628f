"""Debian's nginx in front of test servers, running deploy/nginx.conf as shipped.

`nginx_in_front(["127.0.0.1:8001", ...])` rewrites only what a test run must change (the
listen port, the upstream servers, pid and log paths), starts nginx in the foreground,
waits until it accepts connections and stops it gracefully (SIGQUIT) afterwards.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.support.live import ROOT, JsonRequests, free_port

CONFIG = ROOT / "deploy" / "nginx.conf"


def nginx_binary() -> str:
    """The nginx executable; skip the test without one, except under CI=true (fail)."""
    found = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None
    )
    if found:
        return found
    reason = "nginx is not installed (apt-get install -y nginx)"
    if os.environ.get("CI") == "true":
        pytest.fail(reason + "; CI must run the nginx tests")
    pytest.skip(reason)


class Nginx(JsonRequests):
    """The running nginx; `request()`/`json()` go through it, from any loopback address
    (`source="127.0.0.2"`), so nginx sees a client other than itself."""

    def __init__(self, process: subprocess.Popen[bytes], port: int, workdir: Path):
        self.process = process
        self.port = port
        self.host = "127.0.0.1"
        self.base_url = f"http://127.0.0.1:{port}"
        self.workdir = workdir

    def connect(self, source: str = "127.0.0.1", timeout: float = 30) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(
            self.host, self.port, timeout=timeout, source_address=(source, 0)
        )

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        source: str = "127.0.0.1",
        timeout: float = 30,
    ) -> tuple[int, dict[str, str], bytes]:
        conn = self.connect(source, timeout)
        try:
            data = json.dumps(body) if body is not None else None
            conn.request(
                method,
                path,
                body=data,
                headers={"Content-Type": "application/json", **(headers or {})},
            )
            response = conn.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            conn.close()

    def error_log(self) -> str:
        return _read(self.workdir / "error.log") + _read(self.workdir / "stderr.log")

    def access_log(self) -> str:
        return _read(self.workdir / "access.log")


def _read(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def render(upstreams: Sequence[str], port: int, workdir: Path, source: Path = CONFIG) -> str:
    """deploy/nginx.conf for this run. Each rewrite must match exactly once, so a change to
    the shipped file that the harness no longer understands fails loudly instead of testing
    something else."""
    servers = "".join(
        f"        server {address} max_fails=1 fail_timeout=10s;\n" for address in upstreams
    )
    temp_paths = "".join(
        f"    {kind}_temp_path {workdir / kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    rewrites = [
        (r"^pid .*;$", f"pid {workdir / 'nginx.pid'};"),
        (r"^error_log \S+", f"error_log {workdir / 'error.log'}"),
        (r"^    access_log \S+", f"    access_log {workdir / 'access.log'}"),
        (r"^        server 127\.0\.0\.1:8000 .*;\n", servers),
        (r"^        listen 80 [^;]*;$", f"        listen 127.0.0.1:{port} backlog=4096;"),
        # Temp files under the run's own directory, so no root-owned /var/lib/nginx is needed.
        (r"^http \{\n", "http {\n" + temp_paths),
    ]
    if os.geteuid() != 0:
        rewrites.append((r"^user .*;\n", ""))  # only root may switch users
    text = source.read_text()
    for pattern, replacement in rewrites:
        text, count = re.subn(pattern, lambda _m, r=replacement: r, text, flags=re.M)
        if count != 1:
            raise AssertionError(f"{source}: expected one match for {pattern!r}, got {count}")
    return text


@contextlib.contextmanager
def nginx_in_front(
    upstreams: Sequence[str], within_s: float = 10, source: Path = CONFIG
) -> Iterator[Nginx]:
    binary = nginx_binary()
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="clarity-nginx-"))
    os.chmod(workdir, 0o755)  # worker processes (www-data under root) create temp files here
    conf = workdir / "nginx.conf"
    conf.write_text(render(upstreams, port, workdir, source))
    base = [binary, "-p", str(workdir), "-e", str(workdir / "error.log"), "-c", str(conf)]
    check = subprocess.run([*base, "-t"], capture_output=True, text=True)
    if check.returncode != 0:
        raise RuntimeError(f"nginx -t rejected the config:\n{check.stderr}")
    with (workdir / "stderr.log").open("wb") as err:
        process = subprocess.Popen([*base, "-g", "daemon off;"], stdout=err, stderr=err)
    server = Nginx(process, port, workdir)
    try:
        _wait_until_up(server, within_s)
        yield server
    finally:
        stop(server)
        shutil.rmtree(workdir, ignore_errors=True)


def _wait_until_up(server: Nginx, within_s: float) -> None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError("nginx exited:\n" + server.error_log())
        try:
            with socket.create_connection((server.host, server.port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("nginx did not start:\n" + server.error_log())


def stop(server: Nginx, within_s: float = 10) -> None:
    """SIGQUIT: nginx finishes the requests in flight, then exits."""
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGQUIT)
        try:
            server.process.wait(within_s)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()
