"""The API's one error body, and the handlers that render every error in it."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from clarity_api.errors import (
    ClarityError,
    InternalError,
    ServiceUnavailable,
    ValidationFailed,
    is_unavailable,
)

log = logging.getLogger(__name__)

# Codes for plain HTTP errors (routing, size, limits) raised outside our own code.
HTTP_CODES = {
    400: ("BAD_REQUEST", "The request could not be understood."),
    401: ("INVALID_TOKEN", "Authentication is required."),
    404: ("NOT_FOUND", "There is nothing at this address."),
    405: ("METHOD_NOT_ALLOWED", "This method is not allowed here."),
    413: ("PAYLOAD_TOO_LARGE", "The request body is too large."),
    415: ("UNSUPPORTED_MEDIA_TYPE", "The request body must be JSON."),
    429: ("RATE_LIMITED", "Too many requests. Please slow down."),
    500: (InternalError.error, InternalError.default_message),
    503: ("SERVICE_UNAVAILABLE", "The service is temporarily unavailable."),
}


def error_body(error: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"error": error, "message": message}
    if details:
        body["details"] = details
    return body


def error_response(
    status: int,
    error: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    response = jsonify(error_body(error, message, details))
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def render_clarity_error(exc: ClarityError) -> Response:
    return error_response(exc.status_code, exc.error, exc.message, exc.details, exc.headers)


def validation_details(messages: Any) -> dict[str, Any]:
    """webargs nests messages by location ({"json": {...}}); clients want them by field."""
    if not isinstance(messages, dict):
        return {"_schema": messages}
    details: dict[str, Any] = {}
    for location, fields in messages.items():
        if isinstance(fields, dict):
            details.update(fields)
        else:
            details[location] = fields
    return details


def render_http_exception(exc: HTTPException) -> Response:
    status = exc.code or 500
    data = getattr(exc, "data", None) or {}
    if status == 422 and "messages" in data:
        return error_response(
            422,
            ValidationFailed.error,
            ValidationFailed.default_message,
            validation_details(data["messages"]),
        )
    error, message = HTTP_CODES.get(status, (exc.name.upper().replace(" ", "_"), exc.name + "."))
    headers = dict(data.get("headers") or {})
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    valid_methods = getattr(exc, "valid_methods", None)
    if status == 405 and valid_methods:
        headers["Allow"] = ", ".join(valid_methods)
    return error_response(status, error, message, None, headers)


def render_unexpected(exc: Exception) -> Response:
    """Everything that is neither a ClarityError nor an HTTPException (they have handlers)."""
    if isinstance(exc, IntegrityError):
        log.warning("integrity error: %s", type(exc.orig).__name__)
        return error_response(409, "CONFLICT", "The request conflicts with existing data.")
    if isinstance(exc, (DBAPIError, PoolTimeout)) and is_unavailable(exc):
        log.warning("database unavailable: %s", type(exc).__name__)
        return render_clarity_error(ServiceUnavailable())
    log.exception("unhandled error")
    return error_response(500, *HTTP_CODES[500])


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(ClarityError, render_clarity_error)
    app.register_error_handler(HTTPException, render_http_exception)
    app.register_error_handler(Exception, render_unexpected)
