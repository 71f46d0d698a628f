"""RevenueCat's webhook body as RevenueCat sends it, and our answer to it."""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate

_MS = validate.Range(min=0, max=253_402_300_799_999)  # up to 9999-12-31, as datetimes allow
_APP_USER_ID = fields.String(validate=validate.Length(max=255))
# Printable ASCII only: stored as our key, so no NUL and nothing invisible.
_TOKEN = validate.Regexp(r"^[\x21-\x7e]+$")


def _ids() -> fields.List:
    return fields.List(
        _APP_USER_ID, allow_none=True, load_default=None, validate=validate.Length(max=1000)
    )


class RevenueCatEventSchema(Schema):
    """The fields the rules read; RevenueCat sends many more, which are ignored."""

    class Meta:
        unknown = EXCLUDE

    id = fields.String(
        required=True,
        validate=[validate.Length(min=1, max=100), _TOKEN],
        metadata={"description": "The same on every retry of one event"},
    )
    type = fields.String(
        required=True,
        validate=[validate.Length(min=1, max=40), validate.Regexp(r"^[A-Za-z0-9_]+$")],
        metadata={"example": "INITIAL_PURCHASE"},
    )
    app_user_id = fields.String(
        allow_none=True, load_default=None, validate=validate.Length(max=255)
    )
    original_app_user_id = fields.String(
        allow_none=True, load_default=None, validate=validate.Length(max=255)
    )
    aliases = _ids()
    entitlement_ids = fields.List(
        fields.String(validate=validate.Length(max=255)),
        allow_none=True,
        load_default=None,
        validate=validate.Length(max=100),
    )
    entitlement_id = fields.String(
        allow_none=True, load_default=None, validate=validate.Length(max=255)
    )
    expiration_at_ms = fields.Integer(strict=True, allow_none=True, load_default=None, validate=_MS)
    event_timestamp_ms = fields.Integer(strict=True, required=True, validate=_MS)
    environment = fields.String(
        allow_none=True,
        load_default=None,
        validate=validate.Length(max=40),
        metadata={"example": "PRODUCTION"},
    )
    transferred_from = _ids()
    transferred_to = _ids()


class RevenueCatWebhookSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    api_version = fields.String(required=True, metadata={"example": "1.0"})
    event = fields.Nested(RevenueCatEventSchema, required=True)


class WebhookResultSchema(Schema):
    result = fields.String(
        required=True, validate=validate.OneOf(["applied", "duplicate", "stale", "ignored"])
    )
    reason = fields.String(metadata={"description": "Why an event was ignored"})
