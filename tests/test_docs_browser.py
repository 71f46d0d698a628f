"""/docs in a real headless browser (Debian's chromium), cut off from every other host.

Chromium resolves no host name (`--host-resolver-rules`) and sends everything that is not
loopback to a proxy that does not exist, so only the service on 127.0.0.1 can answer. It
loads /docs, runs Swagger UI for a virtual-time budget and dumps the DOM; every operation of
/openapi.json must be listed there, and the console must hold no CSP or integrity refusal.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from html.parser import HTMLParser

import pytest

from tests.support.live import serve

pytestmark = pytest.mark.live

METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


def chromium_binary() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    reason = "chromium is not installed (apt-get install -y chromium)"
    if os.environ.get("CI") == "true":
        pytest.fail(reason + "; CI must run the browser test")
    pytest.skip(reason)


def dump_dom(url: str, budget_ms: int = 20000) -> tuple[str, str]:
    """The page's DOM after `budget_ms` of virtual time, and the browser's console log."""
    with tempfile.TemporaryDirectory(prefix="clarity-chromium-") as profile:
        result = subprocess.run(
            [
                chromium_binary(),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                f"--user-data-dir={profile}",
                # The network cut-off: no name resolves, and anything not loopback goes to a
                # closed port. Only 127.0.0.1 (the service) answers.
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                "--proxy-server=http://127.0.0.1:9",
                "--enable-logging=stderr",
                "--v=0",
                f"--virtual-time-budget={budget_ms}",
                "--dump-dom",
                url,
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout, result.stderr


class Operations(HTMLParser):
    """(method, path) of each operation Swagger UI rendered: an `opblock opblock-<method>`
    block, then the `data-path` of its summary."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, str]] = []
        self._method: str | None = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        classes = (attributes.get("class") or "").split()
        if tag == "div" and "opblock" in classes:
            self._method = next((c[8:] for c in classes if c[8:] in METHODS), None)
        path = attributes.get("data-path")
        if path and self._method:
            self.found.append((self._method, path))
            self._method = None


def test_docs_list_every_operation_offline_in_a_real_browser(app, tmp_path):
    chromium_binary()
    with serve(app.config["SQLALCHEMY_DATABASE_URI"], tmp_path) as server:
        _status, spec = server.json("GET", "/openapi.json")
        dom, console = dump_dom(f"{server.base_url}/docs")
        served = server.logs()
    expected = sorted((m, p) for p, item in spec["paths"].items() for m in item if m in METHODS)
    parser = Operations()
    parser.feed(dom)
    assert len(expected) >= 16
    assert sorted(parser.found) == expected
    refusals = [
        line
        for line in console.splitlines()
        if "Content Security Policy" in line or "integrity" in line.lower()
    ]
    assert refusals == []
    # The page, its script, the pinned assets and the spec all came from the service.
    for route in ("/docs", "/docs/docs.js", "/docs/swagger-ui-<version>/<name>", "/openapi.json"):
        assert f'"route": "{route}"' in served, route
