"""OpenAPI docs every view shares: the bearer scheme, and the error statuses a view answers."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import flask_smorest

from clarity_api.schemas.common import ErrorSchema

BEARER: list[dict[str, list[str]]] = [{"bearerAuth": []}]

DESCRIPTIONS = {
    400: "INVALID_JSON (the body is not a JSON object) or a rule named by the error code",
    401: "INVALID_TOKEN, TOKEN_EXPIRED or TOKEN_REVOKED",
    403: "Forbidden by a rule (see the error code)",
    404: "Not found",
    409: "Conflict (see the error code)",
    413: "PAYLOAD_TOO_LARGE: the body is over 1,073,536 bytes (the largest valid message fits)",
    422: "VALIDATION_ERROR: details name each bad field (unknown ones, and text holding NUL "
    "or an unpaired surrogate, included)",
    429: "RATE_LIMITED; Retry-After says how many seconds to wait",
    503: "SERVICE_UNAVAILABLE: the database is unreachable",
}

HEADERS: dict[int, dict[str, Any]] = {
    401: {
        "WWW-Authenticate": {
            "description": "The authentication scheme to use",
            "required": True,
            "schema": {"type": "string", "enum": ["Bearer"]},
        }
    },
    429: {
        "Retry-After": {
            "description": "Seconds until the limit resets",
            "required": True,
            "schema": {"type": "integer", "minimum": 0},
        }
    },
}

# Documents only: never registered. Its decorators write a view's OpenAPI entry, which any
# blueprint then registering the view reads.
_DOCS = flask_smorest.Blueprint("openapi_docs", __name__)


def document_errors(view: Any, codes: Iterable[int], notes: dict[str, str]) -> Any:
    """Document these error statuses (and 503, which any route may answer) on a view, unless
    it documents them already (so a view's own note, e.g. on its 401, wins).

    `notes` refine a status's description by name, e.g. `e404="SESSION_NOT_FOUND"`.
    """
    documented = getattr(view, "_apidoc", {}).get("response", {}).get("responses", {})
    for code in sorted({*codes, 503} - set(documented)):
        description = notes.get(f"e{code}") or DESCRIPTIONS[code]
        view = _DOCS.alt_response(
            code, schema=ErrorSchema, description=description, headers=HEADERS.get(code)
        )(view)
    return view


def errors(*codes: int, **notes: str) -> Callable[[Any], Any]:
    """`document_errors` as a decorator: `@errors(404, e404="SESSION_NOT_FOUND")`."""
    return lambda view: document_errors(view, codes, notes)


def bearer(view: Any) -> Any:
    """Document that the view needs `Authorization: Bearer <access token>`."""
    return _DOCS.doc(security=BEARER)(view)
