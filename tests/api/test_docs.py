"""/docs serves pinned Swagger UI assets under a strict CSP; /openapi.json is valid OpenAPI 3.1."""

from __future__ import annotations

import base64
import hashlib
import re
from html.parser import HTMLParser

from openapi_spec_validator import OpenAPIV31SpecValidator

from clarity_api.api import docs_page


def test_openapi_json_is_a_valid_openapi_31_document(client):
    spec = client.get("/openapi.json").get_json()
    assert spec["openapi"] == "3.1.0"
    errors = [f"{list(e.path)}: {e.message}" for e in OpenAPIV31SpecValidator(spec).iter_errors()]
    assert errors == []


def test_the_status_filter_is_still_optional(client, auth_headers):
    response = client.get("/sessions", headers=auth_headers)
    assert response.status_code == 200
    assert client.get("/sessions?status=nope", headers=auth_headers).status_code == 422


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.inline_scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.inline_scripts.append(data)

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def parse(html: str) -> Tags:
    parser = Tags()
    parser.feed(html)
    return parser


def test_the_docs_page_has_a_csp_with_no_inline_script_and_no_other_origin(client):
    response = client.get("/docs")
    assert response.status_code == 200
    csp = {}
    for part in response.headers["Content-Security-Policy"].split("; "):
        directive, _, sources = part.partition(" ")
        csp[directive] = sources
    assert csp["default-src"] == "'none'"
    assert csp["script-src"] == "'self'"
    for directive, sources in csp.items():
        # Only this origin (and data: images for Swagger UI's icons): no CDN, no inline code.
        assert set(sources.split()) <= {"'self'", "'none'", "data:", ""}, directive
        assert "unsafe" not in sources
    page = parse(response.get_data(as_text=True))
    assert page.inline_scripts == []
    urls = [a.get("src") or a.get("href") for tag, a in page.tags if tag in {"script", "link"}]
    assert len(urls) == 3
    assert all(url and url.startswith("/") and not url.startswith("//") for url in urls), urls


def test_the_served_assets_match_the_recorded_hashes(client):
    manifest = docs_page.manifest()
    assert manifest["package"] == "swagger-ui-dist"
    assert re.fullmatch(r"\d+\.\d+\.\d+", manifest["version"])
    assert manifest["integrity"].startswith("sha512-")
    page = parse(client.get("/docs").get_data(as_text=True))
    integrity = {
        (a.get("src") or a.get("href")): a.get("integrity")
        for tag, a in page.tags
        if tag in {"script", "link"}
    }
    assert set(manifest["files"]) == {"swagger-ui-bundle.js", "swagger-ui.css"}
    for name, sha256 in manifest["files"].items():
        url = f"/docs/swagger-ui-{manifest['version']}/{name}"
        response = client.get(url)
        assert response.status_code == 200
        assert hashlib.sha256(response.data).hexdigest() == sha256, name
        assert "immutable" in response.headers["Cache-Control"]
        # The browser checks the same digest (Subresource Integrity) before using the file.
        expected_sri = "sha256-" + base64.b64encode(hashlib.sha256(response.data).digest()).decode()
        assert integrity[url] == expected_sri
    js = client.get("/docs/docs.js")
    assert js.status_code == 200 and js.mimetype == "text/javascript"


def test_only_the_pinned_files_are_served(client):
    version = docs_page.manifest()["version"]
    for path in (
        f"/docs/swagger-ui-{version}/manifest.json",
        f"/docs/swagger-ui-{version}/LICENSE",
        f"/docs/swagger-ui-{version}/..%2Fdocs.js",
        "/docs/swagger-ui-0.0.1/swagger-ui.css",
    ):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.get_json()["error"] == "NOT_FOUND"


def test_the_docs_routes_are_not_api_operations(client):
    paths = client.get("/openapi.json").get_json()["paths"]
    assert not [path for path in paths if path.startswith("/docs")]
