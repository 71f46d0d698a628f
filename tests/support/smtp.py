"""A real SMTP server for the tests (tests/support/smtp_server.py in its own process), the
mail it received, and mail servers that are dead or never answer."""

from __future__ import annotations

import email
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
LOGIN = ("clarity", "mail-Secret-9")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class SmtpServer:
    port: int
    folder: Path
    process: subprocess.Popen[str]

    def url(self, scheme: str = "smtp", login: bool = False) -> str:
        userinfo = f"{LOGIN[0]}:{LOGIN[1]}@" if login else ""
        return f"{scheme}://{userinfo}127.0.0.1:{self.port}"

    def messages(self, to: str | None = None) -> list[EmailMessage]:
        """What it received (to one address), oldest first."""
        received = [
            email.message_from_bytes(path.read_bytes(), policy=default)
            for path in sorted(self.folder.glob("*.eml"))
        ]
        return [m for m in received if to is None or m["To"] == to]  # type: ignore[misc]


def start(folder: Path, *options: str) -> SmtpServer:
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.support.smtp_server", str(folder), str(port), *options],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert process.stdout is not None
    line = process.stdout.readline()  # bounded by pytest-timeout if it never starts
    assert line.strip() == "ready", f"the SMTP server did not start: {line!r}"
    return SmtpServer(port, folder, process)


def stop(server: SmtpServer) -> None:
    assert server.process.stdin is not None
    server.process.stdin.close()  # the server stops when its stdin closes
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1, made with the openssl command line tool."""
    if shutil.which("openssl") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("openssl is needed for the SMTP TLS tests")
        pytest.skip("openssl is not installed: the SMTP TLS tests need it")
    cert, key = folder / "cert.pem", folder / "key.pem"
    command = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
    command += ["-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"]
    command += ["-addext", "subjectAltName=IP:127.0.0.1"]
    subprocess.run(
        command,
        check=True,
        capture_output=True,
    )
    return cert, key


@contextmanager
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never says a word (a hung mail server)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)  # the kernel completes handshakes; nobody ever answers
    yield int(listener.getsockname()[1])
    listener.close()


def closed_port() -> int:
    return free_port()  # nothing listens there once the probe is closed


def tls_server(tmp_path: Path, smtps: bool) -> tuple[SmtpServer, Path]:
    cert, key = self_signed_certificate(tmp_path)
    options: list[Any] = ["--tls", str(cert), str(key), "--login", ":".join(LOGIN)]
    if smtps:
        options.append("--smtps")
    return start(tmp_path / "mail", *options), cert
