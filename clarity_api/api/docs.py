"""Error responses for the OpenAPI description, so clients (and fuzzers) see every answer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from clarity_api.extensions import ClarityBlueprint
from clarity_api.schemas.common import ErrorSchema

DESCRIPTIONS = {
    400: "Bad request (INVALID_JSON or a rule named by the error code)",
    401: "INVALID_TOKEN, TOKEN_EXPIRED or TOKEN_REVOKED",
    403: "Forbidden by a rule (see the error code)",
    404: "Not found",
    409: "Conflict (see the error code)",
    413: "PAYLOAD_TOO_LARGE",
    422: "VALIDATION_ERROR: details name each bad field",
    429: "RATE_LIMITED; see Retry-After",
    503: "SERVICE_UNAVAILABLE: the database is unreachable",
}


def errors(blp: ClarityBlueprint, *codes: int) -> Callable[[Any], Any]:
    """Document these error statuses (and 503, which any route may answer) on a view."""

    def decorate(view: Any) -> Any:
        for code in sorted({*codes, 503}):
            view = blp.alt_response(code, schema=ErrorSchema, description=DESCRIPTIONS[code])(view)
        return view

    return decorate


AUTH_ERRORS = (401, 429)
