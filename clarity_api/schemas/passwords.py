"""Changing a password, and resetting a forgotten one."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from clarity_api.schemas.auth import new_password as new_password_field
from clarity_api.schemas.common import StrictSchema, TrimmedEmail


class PasswordChangeSchema(StrictSchema):
    current_password = fields.String(
        required=True, load_only=True, validate=validate.Length(max=128)
    )
    new_password = new_password_field


class PasswordForgotSchema(StrictSchema):
    email = TrimmedEmail(
        required=True, validate=validate.Length(max=320), metadata={"example": "ana@example.com"}
    )


class PasswordResetSchema(StrictSchema):
    email = TrimmedEmail(required=True, validate=validate.Length(max=320))
    code = fields.String(
        required=True,
        load_only=True,
        validate=validate.Length(min=1, max=32),
        metadata={
            "example": "K7QM-3XPA",
            "description": "From the email; case, spaces and the hyphen do not matter",
        },
    )
    new_password = new_password_field


class AcceptedSchema(Schema):
    """Always empty: the answer never tells whether the account exists."""
