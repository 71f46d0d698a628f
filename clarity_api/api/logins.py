"""/auth/sessions: the account's sign-ins ("logins"), listed and ended by the person."""

from __future__ import annotations

import uuid
from typing import Any

from flask import current_app
from flask_jwt_extended import get_jwt

from clarity_api.api.docs import id_parameter
from clarity_api.extensions import db
from clarity_api.schemas.auth import SignInSchema
from clarity_api.services import logins
from clarity_api.web.auth import signed_in, signed_in_user_id, signed_in_without_budget
from clarity_api.web.openapi import errors
from clarity_api.web.parsing import ClarityBlueprint

blp = ClarityBlueprint("logins", __name__, url_prefix="/auth/sessions", description="Sign-ins")


def _current_login() -> uuid.UUID:
    return uuid.UUID(get_jwt()["lid"])


@blp.route("", methods=["GET"])
@signed_in
@blp.response(200, SignInSchema(many=True))
def list_logins() -> Any:
    """The account's live sign-ins, newest first; `is_current` marks this one."""
    lifetime = current_app.config["JWT_REFRESH_TOKEN_EXPIRES"]
    return logins.list_live(signed_in_user_id(), _current_login(), lifetime)


@blp.route("", methods=["DELETE"])
@signed_in_without_budget
@blp.response(204)
def end_other_logins() -> Any:
    """Sign out everywhere else: every sign-in of the account but this one ends."""
    logins.revoke_others(signed_in_user_id(), _current_login())
    db.session.commit()
    return None


@blp.route(
    "/<login_id>",
    methods=["DELETE"],
    parameters=[id_parameter("login_id", "sign-in", "404 LOGIN_NOT_FOUND")],
)
@signed_in_without_budget
@blp.response(204)
@errors(404, e404="LOGIN_NOT_FOUND")
def end_login(login_id: str) -> Any:
    """End one sign-in: its tokens stop working at once (this one's too: that is a logout)."""
    logins.revoke_one(signed_in_user_id(), login_id)
    db.session.commit()
    return None
