"""/auth/password: change it, and reset a forgotten one with a code sent by email."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Flask, current_app
from flask_jwt_extended import get_jwt

from clarity_api.extensions import db
from clarity_api.schemas.passwords import (
    AcceptedSchema,
    PasswordChangeSchema,
    PasswordForgotSchema,
    PasswordResetSchema,
)
from clarity_api.services import mail, passwords
from clarity_api.web.auth import signed_in_user, signed_in_without_budget
from clarity_api.web.limits import (
    account_password_failures,
    per_ip,
    reset_requests,
)
from clarity_api.web.openapi import errors
from clarity_api.web.parsing import ClarityBlueprint

blp = ClarityBlueprint("passwords", __name__, url_prefix="/auth/password", description="Passwords")


@blp.route("", methods=["POST"])
@signed_in_without_budget  # its own budget per login (REVOCATION_LIMIT), as API.md asks
@account_password_failures
@blp.arguments(PasswordChangeSchema)
@blp.response(204)
@errors(
    400,
    401,
    413,
    422,
    429,
    e400="WEAK_PASSWORD (the new password), or INVALID_JSON",
    e401="INVALID_CREDENTIALS (wrong current password), or INVALID_TOKEN, TOKEN_EXPIRED, "
    "TOKEN_REVOKED",
    e429="RATE_LIMITED: five wrong passwords for this account in a minute (shared with "
    "POST /auth/login), or this login's REVOCATION_LIMIT, which no other request spends",
)
def change(body: dict[str, Any]) -> Any:
    """Change the password; every other login of the account is signed out."""
    passwords.change(
        signed_in_user(),
        uuid.UUID(get_jwt()["lid"]),
        body["current_password"],
        body["new_password"],
    )
    db.session.commit()
    return None


@blp.route("/forgot", methods=["POST"])
@per_ip
@reset_requests
@blp.arguments(PasswordForgotSchema)
@blp.response(202, AcceptedSchema)
@errors(
    400,
    413,
    422,
    429,
    e503="EMAIL_UNAVAILABLE: no mail server is configured (production), or SERVICE_UNAVAILABLE",
)
def forgot(body: dict[str, Any]) -> Any:
    """Email a reset code, if an account has this email.

    The answer is the same, and as fast, whether or not the account exists: the code is
    made and sent after the response. It works once, for 30 minutes; asking again replaces
    it.
    """
    mail.require_available(current_app.config)
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    mail.later(send_reset_code, app, body["email"])
    return {}


def send_reset_code(app: Flask, email: str) -> None:
    """After the response: store a fresh code for the account (if any), then mail it."""
    with app.app_context():
        issued = passwords.issue_reset(email)
        db.session.commit()
        if issued is None:
            return
        mail.send(app.config, passwords.reset_email(app.config, *issued))


@blp.route("/reset", methods=["POST"])
@per_ip
@blp.arguments(PasswordResetSchema)
@blp.response(204)
@errors(
    400,
    413,
    422,
    429,
    e400="INVALID_RESET_CODE (wrong, used or expired; five wrong codes void it), "
    "WEAK_PASSWORD, or INVALID_JSON",
)
def reset(body: dict[str, Any]) -> Any:
    """Choose a new password with the emailed code; every login of the account ends."""
    passwords.reset(body["email"], body["code"], body["new_password"])
    db.session.commit()
    return None
