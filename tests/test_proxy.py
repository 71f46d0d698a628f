"""The client address and scheme behind proxies: TRUSTED_PROXIES hops, werkzeug's ProxyFix.

A client can write any X-Forwarded-For it likes; each trusted hop appends the address it saw.
So only the last TRUSTED_PROXIES entries are believed, and with 0 none is.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask, request

REAL = "203.0.113.7"  # the address the router saw
SPOOFED = "6.6.6.6"  # what the client wrote itself


@pytest.fixture
def peer(app: Flask) -> Any:
    """GET /_peer answers the client address and scheme the app sees."""

    def _peer() -> Any:
        return {"addr": request.remote_addr, "scheme": request.scheme}

    app.add_url_rule("/_peer", "test_peer", _peer)
    client = app.test_client()

    def ask(forwarded_for: str | None = None, proto: str | None = None) -> tuple[str, str]:
        headers = {}
        if forwarded_for is not None:
            headers["X-Forwarded-For"] = forwarded_for
        if proto is not None:
            headers["X-Forwarded-Proto"] = proto
        body = client.get("/_peer", headers=headers).get_json()
        return body["addr"], body["scheme"]

    return ask


def test_without_trusted_proxies_forwarded_headers_are_ignored(peer):
    assert peer() == ("127.0.0.1", "http")
    assert peer(f"{SPOOFED}", "https") == ("127.0.0.1", "http")
    assert peer(f"{SPOOFED}, {REAL}", "https") == ("127.0.0.1", "http")


@pytest.mark.parametrize("config_overrides", [{"TRUSTED_PROXIES": 1}])
def test_one_hop_believes_only_the_entry_the_router_appended(peer):
    assert peer(REAL, "https") == (REAL, "https")
    # The client sent its own X-Forwarded-For; the router appended the real address.
    assert peer(f"{SPOOFED}, {REAL}", "https") == (REAL, "https")
    assert peer(f"10.0.0.1, {SPOOFED}, {REAL}") == (REAL, "http")
    # A client's own "https" before the router's "http" does not make the request secure.
    assert peer(REAL, "https, http") == (REAL, "http")
    # No header from the hop (a request that bypassed it): the peer itself.
    assert peer() == ("127.0.0.1", "http")


@pytest.mark.parametrize("config_overrides", [{"TRUSTED_PROXIES": 2}])
def test_two_hops_believe_the_last_two_entries(peer):
    # client -> CDN (appends the client's address) -> load balancer (appends the CDN's).
    assert peer(f"{SPOOFED}, {REAL}, 10.0.0.2", "https, https") == (REAL, "https")
    # Fewer entries than trusted hops: nothing can be believed, the peer is kept.
    assert peer(REAL) == ("127.0.0.1", "http")


@pytest.mark.parametrize(
    "config_overrides", [{"TRUSTED_PROXIES": 1, "RATELIMIT_PER_IP": "5 per minute"}]
)
def test_a_spoofed_address_does_not_escape_the_per_address_budget(client, app):
    """Failed logins from one real address are counted together whatever the client writes."""
    from clarity_api.web.limits import address_failure_limit

    limit = address_failure_limit(app)
    statuses = []
    for i in range(limit + 1):
        response = client.post(
            "/auth/login",
            json={
                "email": f"guess-{i}@example.com",
                "password": "Wrong-passw0rd1",
                "device_fingerprint": "phone-1",
            },
            headers={"X-Forwarded-For": f"10.9.{i}.1, {REAL}"},
        )
        statuses.append(response.status_code)
    assert limit == 5
    assert statuses[:limit] == [401] * limit
    assert statuses[limit] == 429
    # Another real address is not affected.
    response = client.post(
        "/auth/login",
        json={
            "email": "guess@example.com",
            "password": "Wrong-passw0rd1",
            "device_fingerprint": "phone-1",
        },
        headers={"X-Forwarded-For": "198.51.100.9"},
    )
    assert response.status_code == 401


# --- HSTS: only when the request came over https through a trusted hop -----------------------


def hsts(client: Any, **headers: str) -> str | None:
    return client.get("/health", headers=headers).headers.get("Strict-Transport-Security")


@pytest.mark.parametrize("config_overrides", [{"TRUSTED_PROXIES": 1}])
def test_hsts_when_a_trusted_hop_says_https(client):
    assert hsts(client, **{"X-Forwarded-For": REAL, "X-Forwarded-Proto": "https"}) == (
        "max-age=31536000"
    )
    assert hsts(client, **{"X-Forwarded-For": REAL, "X-Forwarded-Proto": "http"}) is None
    assert hsts(client) is None


def test_no_hsts_when_https_is_only_what_the_client_claims(client):
    assert hsts(client, **{"X-Forwarded-Proto": "https"}) is None
    assert hsts(client) is None
