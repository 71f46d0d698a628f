"""GET /metrics: Prometheus text for every worker together, behind METRICS_TOKEN.

Not part of the OpenAPI document: it is for the monitoring system, not for app clients, and
does not exist unless METRICS_TOKEN is set.
"""

from __future__ import annotations

import hmac
import os

from flask import Blueprint, Flask, Response, current_app, request
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from clarity_api.web.errors import error_response

blp = Blueprint("metrics", __name__)


def authorized() -> bool:
    expected = current_app.config["METRICS_TOKEN"]
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(token.encode(), expected.encode())


@blp.get("/metrics")
def metrics() -> Response:
    if not authorized():
        return error_response(
            401,
            "INVALID_TOKEN",
            "Send Authorization: Bearer <METRICS_TOKEN>.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    response = Response(generate_latest(registry()), mimetype=None)
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    response.headers["Cache-Control"] = "no-store"
    return response


def registry() -> CollectorRegistry:
    """Every worker's values (multiprocess mode, under gunicorn), else this process's."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    collected = CollectorRegistry()
    MultiProcessCollector(collected)
    return collected


def init_app(app: Flask) -> None:
    # Off unless a token is set: without one there is no such route (404, like any other).
    if app.config["METRICS_TOKEN"]:
        app.register_blueprint(blp)
