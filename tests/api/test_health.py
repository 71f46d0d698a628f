"""GET /health, the OpenAPI description and the docs page."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient

# Every path and method that ../shared/API.md names, with {id} for any path parameter.
API_MD = {
    "/auth/register": {"post"},
    "/auth/login": {"post"},
    "/auth/refresh": {"post"},
    "/auth/logout": {"post"},
    "/auth/me": {"get", "delete"},
    "/auth/me/export": {"get"},
    "/auth/devices": {"get"},
    "/auth/devices/{id}": {"delete"},
    "/sessions": {"get", "post"},
    "/sessions/{id}": {"get", "patch", "delete"},
    "/sessions/{id}/messages": {"post"},
    "/health": {"get"},
}
HTTP_METHODS = {"get", "post", "put", "patch", "delete"}


def test_health_is_ok(client: FlaskClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.get_json() == {"status": "ok", "database": "ok"}


def test_health_needs_no_token(client: FlaskClient) -> None:
    response = client.get("/health", headers={"Authorization": "Bearer garbage"})
    assert response.status_code == 200


def test_openapi_is_json(client: FlaskClient) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    spec = response.get_json()
    assert spec["openapi"].startswith("3.")
    assert spec["info"]["title"] == "Clarity API"


def test_openapi_lists_every_endpoint_of_the_contract(client: FlaskClient) -> None:
    paths = client.get("/openapi.json").get_json()["paths"]
    documented = {
        re.sub(r"\{[^}]+\}", "{id}", path): {m for m in item if m in HTTP_METHODS}
        for path, item in paths.items()
    }
    for path, methods in API_MD.items():
        assert path in documented, path
        assert methods <= documented[path], (path, documented[path])


def test_openapi_documents_the_stream(client: FlaskClient) -> None:
    paths = client.get("/openapi.json").get_json()["paths"]
    [messages] = [item for path, item in paths.items() if path.endswith("/messages")]
    assert "text/event-stream" in messages["post"]["responses"]["200"]["content"]


@pytest.mark.parametrize(
    ("path", "method"), [("/auth/me", "get"), ("/auth/logout", "post"), ("/sessions", "post")]
)
def test_openapi_marks_protected_endpoints_with_bearer(
    client: FlaskClient, path: str, method: str
) -> None:
    spec = client.get("/openapi.json").get_json()
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert {"bearerAuth": []} in spec["paths"][path][method]["security"]


def test_docs_page_is_html(client: FlaskClient) -> None:
    response = client.get("/docs")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "<html" in page.lower()
    assert "openapi.json" in page
