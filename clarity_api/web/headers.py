"""Headers on every answer: security headers, and CORS for the origins configured."""

from __future__ import annotations

from flask import Flask, Response, g, request
from flask_cors import CORS

HSTS_MAX_AGE_S = 365 * 24 * 3600


def add_security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "no-referrer")
    # HTTPS only once the request came over it: directly, or as a trusted hop said
    # (TRUSTED_PROXIES; a client's own X-Forwarded-Proto is ignored). A year, this host only:
    # subdomains may be other services of the operator's, not ours to pin.
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", f"max-age={HSTS_MAX_AGE_S}")
    if response.mimetype == "application/json":
        headers.setdefault("Cache-Control", "no-store")
        headers.setdefault("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
    return response


def remember_own_retry_after(response: Response) -> Response:
    """Runs before Flask-Limiter's hook, which would stretch a Retry-After the view set
    itself (e.g. REMOVAL_LIMIT_EXCEEDED's, until midnight UTC) to its own window."""
    if "Retry-After" in response.headers:
        g.own_retry_after = response.headers["Retry-After"]
    return response


def retry_after_only_on_429(response: Response) -> Response:
    """Flask-Limiter writes Retry-After on every answer under a budget; the contract sends it
    only with a 429, where it says when to try again (the view's own value, if it set one)."""
    if response.status_code != 429:
        response.headers.pop("Retry-After", None)
    elif "own_retry_after" in g:
        response.headers["Retry-After"] = g.own_retry_after
    return response


def init_app(app: Flask) -> None:
    app.after_request(add_security_headers)
    app.after_request(remember_own_retry_after)
    # Hooks run last-registered first: at the front of the list, this one runs after all
    # others, Flask-Limiter's (which adds the header) included.
    app.after_request_funcs.setdefault(None, []).insert(0, retry_after_only_on_429)
    origins = app.config["CORS_ORIGINS"]
    if origins:  # no origin configured: no CORS headers, so browsers keep other sites out
        CORS(
            app,
            origins=origins,
            allow_headers=["Authorization", "Content-Type", "X-Device-Fingerprint", "X-Request-ID"],
            expose_headers=[
                "Location",
                "Retry-After",
                "X-Request-ID",
                "X-RateLimit-Limit",
                "X-RateLimit-Remaining",
                "X-RateLimit-Reset",
            ],
            methods=["GET", "POST", "PATCH", "DELETE"],
            max_age=600,
        )
