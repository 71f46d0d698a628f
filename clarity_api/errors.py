"""The ClarityError family: every condition a client can act on, one class each (no HTTP here)."""

from __future__ import annotations

import sqlite3
from typing import Any

import psycopg
from sqlalchemy.exc import TimeoutError as PoolTimeout


class ClarityError(Exception):
    """A condition the client can act on: the API's error body over HTTP, or a stream's
    `error` event (which adds `retryable`: whether sending the message again may work)."""

    status_code = 400
    error = "BAD_REQUEST"
    default_message = "The request could not be processed."
    retryable = False

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


class InvalidResetCode(ClarityError):
    error = "INVALID_RESET_CODE"
    default_message = "The reset code is wrong, used or expired. Ask for a new one."


class EmailUnavailable(ClarityError):
    status_code = 503
    error = "EMAIL_UNAVAILABLE"
    default_message = "Email is not available on this server, so a reset code cannot be sent."


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


class RefreshTokenReused(TokenRevoked):
    """Presented a second time: treated as theft, the login is revoked (and that stands)."""

    default_message = "This refresh token was already used; the login is revoked."


class WebhookUnauthorized(Unauthorized):
    error = "INVALID_TOKEN"
    default_message = "The Authorization header is not the webhook's configured value."


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


class CannotRemoveCurrentDevice(ClarityError):
    error = "CANNOT_REMOVE_CURRENT_DEVICE"
    default_message = "This is the device you are signed in on; remove it from another device."


class RemovalLimitExceeded(ClarityError):
    status_code = 429
    error = "REMOVAL_LIMIT_EXCEEDED"
    default_message = "Only one device can be removed per day. Try again tomorrow."


class LoginNotFound(ClarityError):
    status_code = 404
    error = "LOGIN_NOT_FOUND"
    default_message = "No such sign-in on this account."


class RecentLoginRequired(Unauthorized):
    error = "RECENT_LOGIN_REQUIRED"
    default_message = "Sign in again to delete your account."


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


class ReplyInProgress(ClarityError):
    status_code = 409
    error = "REPLY_IN_PROGRESS"
    default_message = "A reply for this session is still being produced; resume it instead."


class ReplyNotFound(ClarityError):
    status_code = 404
    error = "REPLY_NOT_FOUND"
    default_message = "No such reply is kept for this session."


class ReplyAbandoned(ClarityError):
    """Only ever a stream's `error` event: no one read the reply for the resume window."""

    status_code = 503
    error = "REPLY_ABANDONED"
    default_message = "No one was reading this reply, so it was stopped. Please send it again."
    retryable = True


class InvalidTransition(ClarityError):
    status_code = 409
    error = "INVALID_TRANSITION"
    default_message = "Only an active session can change status."


class ServiceUnavailable(ClarityError):
    status_code = 503
    error = "SERVICE_UNAVAILABLE"
    default_message = "The service is temporarily unavailable. Please retry shortly."
    retryable = True


class InternalError(ClarityError):
    """A bug: the body says only this, the traceback goes to the log."""

    status_code = 500
    error = "INTERNAL_ERROR"
    default_message = "Internal server error."
    retryable = True


class ServerRestarting(ClarityError):
    """Only ever a stream's `error` event: the worker is draining for a restart."""

    status_code = 503
    error = "SERVER_RESTARTING"
    default_message = "The server is restarting; retry."
    retryable = True


class CoachError(ClarityError):
    """A reply could not be produced; only ever a stream's `error` event (the stream began)."""

    status_code = 503
    error = "COACH_UNAVAILABLE"
    default_message = "The coach is unavailable right now. Please try again."
    retryable = True


class CoachUnavailable(CoachError):
    pass


class CoachTimeout(CoachError):
    error = "COACH_TIMEOUT"
    default_message = "The coach took too long to answer. Please try again."


def is_unavailable(exc: Exception) -> bool:
    """A lost or refused database connection, as opposed to a bug in a statement."""
    if isinstance(exc, PoolTimeout):
        return True
    return bool(getattr(exc, "connection_invalidated", False)) or isinstance(
        getattr(exc, "orig", None), (sqlite3.OperationalError, psycopg.OperationalError)
    )
