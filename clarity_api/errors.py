"""The ClarityError family, the single JSON error body, and the handlers that render it."""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

import psycopg
from flask import Flask, Response, jsonify
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class ClarityError(Exception):
    """A condition the client can act on; rendered as the API's error body."""

    status_code = 400
    error = "BAD_REQUEST"
    default_message = "The request could not be processed."

    def __init__(
        self,
        message: str | None = None,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message or self.default_message)
        self.message = message or self.default_message
        self.details = details
        self.headers = headers or {}


class InvalidJson(ClarityError):
    error = "INVALID_JSON"
    default_message = "The request body must be a JSON object."


class ValidationFailed(ClarityError):
    status_code = 422
    error = "VALIDATION_ERROR"
    default_message = "Some fields are missing or invalid."


class WeakPassword(ClarityError):
    error = "WEAK_PASSWORD"
    default_message = (
        "The password needs at least 8 characters, with an upper-case letter and a digit."
    )


class EmailAlreadyExists(ClarityError):
    status_code = 409
    error = "EMAIL_ALREADY_EXISTS"
    default_message = "An account with this email already exists."


class Unauthorized(ClarityError):
    status_code = 401

    def __init__(self, message: str | None = None, details: dict[str, Any] | None = None):
        super().__init__(message, details, {"WWW-Authenticate": "Bearer"})


class InvalidCredentials(Unauthorized):
    error = "INVALID_CREDENTIALS"
    default_message = "The email or password is incorrect."


class InvalidToken(Unauthorized):
    error = "INVALID_TOKEN"
    default_message = "The token is missing, malformed or not valid."


class TokenExpired(Unauthorized):
    error = "TOKEN_EXPIRED"
    default_message = "The token has expired."


class TokenRevoked(Unauthorized):
    error = "TOKEN_REVOKED"
    default_message = "The token has been revoked. Please sign in again."


class DeviceLimitReached(ClarityError):
    status_code = 403
    error = "DEVICE_LIMIT_REACHED"
    default_message = "This account has reached its tier's device limit."


class DeviceNotFound(ClarityError):
    status_code = 404
    error = "DEVICE_NOT_FOUND"
    default_message = "No such device on this account."


class DeviceNotBound(ClarityError):
    status_code = 403
    error = "DEVICE_NOT_FOUND"
    default_message = "This device is not registered to this account."


class MissingDeviceFingerprint(ClarityError):
    error = "MISSING_DEVICE_FINGERPRINT"
    default_message = "The X-Device-Fingerprint header is required."


class QuotaExceeded(ClarityError):
    status_code = 403
    error = "QUOTA_EXCEEDED"
    default_message = "You have used all the sessions of your tier."


class SessionNotFound(ClarityError):
    status_code = 404
    error = "SESSION_NOT_FOUND"
    default_message = "No such session."


class SessionCompleted(ClarityError):
    error = "SESSION_COMPLETED"
    default_message = "This session is no longer active."


class StepMismatch(ClarityError):
    status_code = 409
    error = "STEP_MISMATCH"
    default_message = "The message is for a step the session is not at."


class InvalidTransition(ClarityError):
    status_code = 409
    error = "INVALID_TRANSITION"
    default_message = "Only an active session can change status."


class ServiceUnavailable(ClarityError):
    status_code = 503
    error = "SERVICE_UNAVAILABLE"
    default_message = "The service is temporarily unavailable. Please retry shortly."


# Codes for plain HTTP errors (routing, size, limits) raised outside our own code.
HTTP_CODES = {
    400: ("BAD_REQUEST", "The request could not be understood."),
    401: ("INVALID_TOKEN", "Authentication is required."),
    404: ("NOT_FOUND", "There is nothing at this address."),
    405: ("METHOD_NOT_ALLOWED", "This method is not allowed here."),
    413: ("PAYLOAD_TOO_LARGE", "The request body is too large."),
    415: ("UNSUPPORTED_MEDIA_TYPE", "The request body must be JSON."),
    429: ("RATE_LIMITED", "Too many requests. Please slow down."),
    500: ("INTERNAL_ERROR", "Internal server error."),
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


def is_unavailable(exc: Exception) -> bool:
    """A lost or refused database connection, as opposed to a bug in a statement."""
    if isinstance(exc, PoolTimeout):
        return True
    return bool(getattr(exc, "connection_invalidated", False)) or isinstance(
        getattr(exc, "orig", None), (sqlite3.OperationalError, psycopg.OperationalError)
    )


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(ClarityError, render_clarity_error)
    app.register_error_handler(HTTPException, render_http_exception)
    app.register_error_handler(Exception, render_unexpected)
