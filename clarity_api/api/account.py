"""/auth/me: the signed-in person's profile, data export and account deletion."""

from __future__ import annotations

from typing import Any

from flask import jsonify

from clarity_api.extensions import db
from clarity_api.schemas.auth import DeleteAccountSchema, ExportSchema, MeSchema
from clarity_api.services import account
from clarity_api.web.auth import signed_in, signed_in_user
from clarity_api.web.limits import account_password_failures
from clarity_api.web.openapi import errors
from clarity_api.web.parsing import ClarityBlueprint

blp = ClarityBlueprint("account", __name__, url_prefix="/auth/me", description="Your account")


@blp.route("", methods=["GET"])
@signed_in
@blp.response(200, MeSchema)
def me() -> Any:
    """Who is signed in, their tier and usage."""
    return account.profile(signed_in_user())


@blp.route("", methods=["DELETE"])
@signed_in
@account_password_failures
@blp.arguments(DeleteAccountSchema)
@blp.response(204)
@errors(
    400,
    401,
    413,
    422,
    429,
    e401="INVALID_CREDENTIALS (wrong password), or INVALID_TOKEN, TOKEN_EXPIRED, TOKEN_REVOKED",
    e429="RATE_LIMITED: too many requests, or five wrong passwords for this account in a "
    "minute (shared with POST /auth/login)",
)
def delete_me(body: dict[str, Any]) -> Any:
    """Delete the account and everything tied to it, at once. Needs the password."""
    account.delete(signed_in_user(), body["password"])
    db.session.commit()
    return None


@blp.route("/export", methods=["GET"])
@signed_in
@blp.response(200, ExportSchema)
def export() -> Any:
    """Everything the service keeps about you, as JSON (no message content is ever kept)."""
    # The service renders the export itself: a Response is returned as is, ExportSchema only
    # documents it.
    return jsonify(account.export(signed_in_user()))
