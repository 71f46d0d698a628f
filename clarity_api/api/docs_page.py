"""`/docs`: Swagger UI, served by the service itself, pinned, under a strict CSP.

The assets are swagger-ui-dist from the npm registry, unmodified; `manifest.json` beside
them records the version, the tarball's npm integrity and each file's sha256. The page loads
them with Subresource Integrity taken from the manifest, and its Content-Security-Policy
allows this origin only, with no inline script. To upgrade: `npm pack swagger-ui-dist@X`,
check the tarball against `npm view swagger-ui-dist@X dist.integrity`, copy
swagger-ui-bundle.js, swagger-ui.css and the licence files, and rewrite the manifest.
"""

from __future__ import annotations

import base64
import json
from functools import cache
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, Response, abort, send_file
from markupsafe import escape

ASSETS = Path(__file__).resolve().parent / "docs_assets"
VENDOR = ASSETS / "swagger-ui"
SPEC_URL = "/openapi.json"

CSP = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<link rel="stylesheet" href="{base}/swagger-ui.css" integrity="{css_sri}">
</head>
<body>
<div id="swagger-ui" data-spec-url="{spec_url}"></div>
<script src="{base}/swagger-ui-bundle.js" integrity="{js_sri}"></script>
<script src="/docs/docs.js"></script>
</body>
</html>
"""

blp = Blueprint("docs_page", __name__)


@cache
def manifest() -> dict[str, Any]:
    return json.loads((VENDOR / "manifest.json").read_text())  # type: ignore[no-any-return]


def sri(name: str) -> str:
    """The Subresource Integrity value of a vendored file, from its recorded sha256."""
    digest = bytes.fromhex(manifest()["files"][name])
    return "sha256-" + base64.b64encode(digest).decode()


def assets_base() -> str:
    return f"/docs/swagger-ui-{manifest()['version']}"


@blp.get("/docs")
def page() -> Response:
    html = PAGE.format(
        title="Clarity API",
        base=assets_base(),
        css_sri=sri("swagger-ui.css"),
        js_sri=sri("swagger-ui-bundle.js"),
        spec_url=escape(SPEC_URL),
    )
    response = Response(html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = CSP
    response.headers["Cache-Control"] = "no-cache"
    return response


@blp.get("/docs/docs.js")
def init_script() -> Response:
    response = send_file(ASSETS / "docs.js", mimetype="text/javascript", max_age=0)
    response.headers["Cache-Control"] = "no-cache"
    return response


@blp.get("/docs/swagger-ui-<version>/<name>")
def vendored(version: str, name: str) -> Response:
    # Only the files the manifest records, at the pinned version: nothing else is served.
    if version != manifest()["version"] or name not in manifest()["files"]:
        abort(404)
    mimetype = "text/css" if name.endswith(".css") else "text/javascript"
    response = send_file(VENDOR / name, mimetype=mimetype, max_age=0)
    # The path names the version, so a cached copy never goes stale.
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    return response


def init_app(app: Flask) -> None:
    app.register_blueprint(blp)
