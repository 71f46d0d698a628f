"""Headers on every answer: security headers, and CORS for the origins configured."""

from __future__ import annotations

from flask import Flask, Response
from flask_cors import CORS


def add_security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "no-referrer")
    if response.mimetype == "application/json":
        headers.setdefault("Cache-Control", "no-store")
        headers.setdefault("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
    return response


def init_app(app: Flask) -> None:
    app.after_request(add_security_headers)
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
