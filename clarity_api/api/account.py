"""/auth/me (and the shipped app's /account): profile, data export and account deletion."""

from __future__ import annotations

from typing import Any

from flask_jwt_extended import get_jwt

from clarity_api.extensions import db
from clarity_api.schemas.auth import DeleteAccountSchema, ExportSchema, MeSchema
from clarity_api.services import account, tokens
from clarity_api.web.auth import signed_in, signed_in_user, signed_in_without_budget
from clarity_api.web.limits import account_password_failures
from clarity_api.web.openapi import errors
from clarity_api.web.parsing import ClarityBlueprint

blp = ClarityBlueprint("account", __name__, url_prefix="/auth/me", description="Your account")
# The shipped app's spelling of the export and the deletion: the same operations.
app_blp = ClarityBlueprint(
    "account_app", __name__, url_prefix="/account", description="Your account (app paths)"
)

_DELETE_ERRORS = errors(
    400,
    401,
    413,
    422,
    429,
    e401="INVALID_CREDENTIALS (wrong password), RECENT_LOGIN_REQUIRED (no password, and the "
    "token is not from a sign-in in the last 10 minutes), or INVALID_TOKEN, TOKEN_EXPIRED, "
    "TOKEN_REVOKED",
    e429="five wrong passwords for this account in a minute (shared with POST /auth/login)",
)


@blp.route("", methods=["GET"])
@signed_in
@blp.response(200, MeSchema)
def me() -> Any:
    """Who is signed in, their tier and usage."""
    return account.profile(signed_in_user())


def _delete_account(body: dict[str, Any]) -> None:
    account.delete(signed_in_user(), body.get("password"), tokens.signed_in_recently(get_jwt()))
    db.session.commit()


def _export() -> Any:
    return account.export(signed_in_user())


@blp.route("", methods=["DELETE"])
@signed_in_without_budget
@account_password_failures
@blp.arguments(DeleteAccountSchema)
@blp.response(204)
@_DELETE_ERRORS
def delete_me(body: dict[str, Any]) -> Any:
    """Delete the account and everything tied to it, at once.

    The body is `{"password"}`; it may be left out right after signing in (see password).
    """
    _delete_account(body)
    return None


@blp.route("/export", methods=["GET"])
@signed_in
@blp.response(200, ExportSchema)
def export() -> Any:
    """Everything the service keeps about you, as JSON (no message content is ever kept)."""
    return _export()


@app_blp.route("", methods=["DELETE"])
@signed_in_without_budget
@account_password_failures
@app_blp.arguments(DeleteAccountSchema)
@app_blp.response(204)
@_DELETE_ERRORS
def delete_account(body: dict[str, Any]) -> Any:
    """Delete the account: the same as DELETE /auth/me (the shipped app sends no body)."""
    _delete_account(body)
    return None


@app_blp.route("/export", methods=["GET"])
@signed_in
@app_blp.response(200, ExportSchema)
def export_account() -> Any:
    """The data export: the same answer as GET /auth/me/export."""
    return _export()
