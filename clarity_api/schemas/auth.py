"""Accounts, tokens and devices."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from clarity_api.models import Platform, SessionStatus, SolveStep, Tier
from clarity_api.schemas.common import StrictSchema, TrimmedEmail, UTCDateTimeField

TIER_NAMES = [t.value for t in Tier]
PLATFORM_NAMES = [p.value for p in Platform]

_fingerprint = fields.String(
    required=True,
    validate=validate.Length(min=1, max=255),
    metadata={
        "description": "The string this app install generates to identify the device",
        "example": "7f3c9e2a-phone",
    },
)
_device_name = fields.String(
    load_default=None, validate=validate.Length(max=100), metadata={"example": "Ana's phone"}
)
_platform = fields.String(
    load_default=None, validate=validate.OneOf(PLATFORM_NAMES), metadata={"example": "ios"}
)
# The strength rule answers 400 WEAK_PASSWORD, not 422, so it is documented here but checked
# by the service; only the upper bound is a schema rule.
new_password = fields.String(
    required=True,
    load_only=True,
    validate=validate.Length(max=128),
    metadata={
        "minLength": 8,
        "example": "Sup3rSecret!",
        "pattern": r"^(?=[\s\S]*[A-Z])(?=[\s\S]*[0-9])[^\u0000]*$",
        "description": "At least 8 characters with an upper-case letter and a digit, and "
        "not easy to guess (common passwords, words with a digit, keyboard or alphabet runs, "
        "the email's own name), else 400 WEAK_PASSWORD; over 128 characters is 422.",
    },
)


class RegisterSchema(StrictSchema):
    email = TrimmedEmail(
        required=True,
        validate=validate.Length(max=320),
        metadata={
            "description": "Trimmed and lower-cased; a taken email is 409",
            "example": "ana@example.com",
        },
    )
    password = new_password
    device_fingerprint = _fingerprint
    device_name = _device_name
    platform = _platform


class LoginSchema(StrictSchema):
    email = fields.String(required=True, validate=validate.Length(min=1, max=320))
    password = fields.String(required=True, load_only=True, validate=validate.Length(max=128))
    device_fingerprint = _fingerprint
    device_name = _device_name
    platform = _platform


class RefreshSchema(StrictSchema):
    refresh_token = fields.String(required=True, validate=validate.Length(min=1, max=4096))


class DeleteAccountSchema(StrictSchema):
    password = fields.String(
        load_only=True,
        validate=validate.Length(max=128),
        metadata={
            "description": "May be left out only within 10 minutes of signing in (register or "
            "login, not a refresh); otherwise 401 RECENT_LOGIN_REQUIRED"
        },
    )


class UserSchema(Schema):
    id = fields.UUID(required=True)
    email = fields.String(required=True)
    tier = fields.String(required=True, validate=validate.OneOf(TIER_NAMES))
    created_at = UTCDateTimeField(required=True)


class UsageSchema(Schema):
    sessions_used = fields.Integer(required=True, validate=validate.Range(min=0))
    sessions_limit = fields.Integer(
        required=True,
        allow_none=True,
        validate=validate.Range(min=0),
        metadata={"description": "null: unlimited (pro)"},
    )
    tier = fields.String(required=True, validate=validate.OneOf(TIER_NAMES))


class TokenSchema(Schema):
    access_token = fields.String(required=True)
    refresh_token = fields.String(required=True)
    token_type = fields.String(required=True, validate=validate.OneOf(["bearer"]))
    expires_in = fields.Integer(required=True, metadata={"example": 3600})
    user_id = fields.UUID(
        required=True, metadata={"description": "user.id again (the shipped app reads it here)"}
    )
    user = fields.Nested(UserSchema, required=True)


class SubscriptionSchema(Schema):
    tier = fields.String(required=True, validate=validate.OneOf(TIER_NAMES))
    expires_at = UTCDateTimeField(
        required=True,
        allow_none=True,
        metadata={
            "description": "When the paid period ends (access holds 24 h longer); null: "
            "free, or no end"
        },
    )
    will_renew = fields.Boolean(required=True)


class MeSchema(UserSchema):
    usage = fields.Nested(UsageSchema, required=True)
    subscription = fields.Nested(SubscriptionSchema, required=True)


class DeviceSchema(Schema):
    """Dumped from `{"device": Device, "is_current": bool}`."""

    id = fields.UUID(required=True, attribute="device.id")
    device_name = fields.String(required=True, allow_none=True, attribute="device.device_name")
    platform = fields.String(
        required=True,
        allow_none=True,
        validate=validate.OneOf(PLATFORM_NAMES),
        attribute="device.platform",
    )
    created_at = UTCDateTimeField(required=True, attribute="device.created_at")
    last_active_at = UTCDateTimeField(required=True, attribute="device.last_active_at")
    is_current = fields.Boolean(
        required=True, metadata={"description": "The device of the login making the request"}
    )
    is_active = fields.Boolean(
        required=True,
        dump_only=True,
        attribute="is_current",
        metadata={"description": "The same as is_current (the shipped app reads this one)"},
    )


class SignInSchema(Schema):
    """A sign-in as `GET /auth/sessions` lists it; no token material."""

    id = fields.UUID(required=True)
    device_id = fields.UUID(required=True)
    device_name = fields.String(required=True, allow_none=True)
    created_at = UTCDateTimeField(required=True)
    last_used_at = UTCDateTimeField(
        required=True, metadata={"description": "The sign-in or its last token refresh"}
    )
    expires_at = UTCDateTimeField(
        required=True, metadata={"description": "When its refresh token lapses"}
    )
    is_current = fields.Boolean(required=True)


class FeaturesSchema(Schema):
    payments_enabled = fields.Boolean(
        required=True, metadata={"description": "The store webhook is configured"}
    )
    beta_mode = fields.Boolean(required=True, validate=validate.Equal(False))
    app_version = fields.String(required=True, metadata={"example": "1.0.0"})


# GET /auth/me/export: ExportSchema dumps what services/account.export gathers.
class ExportAccountSchema(Schema):
    id = fields.UUID(required=True)
    email = fields.String(required=True)
    created_at = UTCDateTimeField(required=True)
    device_removed_on = fields.Date(
        required=True,
        allow_none=True,
        metadata={"description": "The UTC day of the last device removal (one a day)"},
    )


class ExportSubscriptionSchema(Schema):
    tier = fields.String(
        required=True,
        validate=validate.OneOf(TIER_NAMES),
        metadata={"description": "As stored: past expires_at by 24 h it counts as free"},
    )
    created_at = UTCDateTimeField(required=True)
    updated_at = UTCDateTimeField(required=True)
    expires_at = UTCDateTimeField(required=True, allow_none=True)
    will_renew = fields.Boolean(required=True)
    last_event_at = UTCDateTimeField(
        required=True,
        allow_none=True,
        metadata={"description": "When the newest store event applied happened"},
    )


class ExportSubscriptionEventSchema(Schema):
    id = fields.String(required=True, metadata={"description": "RevenueCat's event id"})
    type = fields.String(required=True, metadata={"example": "RENEWAL"})
    event_timestamp = UTCDateTimeField(required=True)
    applied_at = UTCDateTimeField(required=True)


class ExportDeviceSchema(Schema):
    id = fields.UUID(required=True)
    fingerprint = fields.String(required=True)
    device_name = fields.String(required=True, allow_none=True)
    platform = fields.String(
        required=True, allow_none=True, validate=validate.OneOf(PLATFORM_NAMES)
    )
    created_at = UTCDateTimeField(required=True)
    last_active_at = UTCDateTimeField(required=True)


class ExportLoginSchema(Schema):
    id = fields.UUID(required=True)
    device_id = fields.UUID(required=True)
    created_at = UTCDateTimeField(required=True)
    refreshed_at = UTCDateTimeField(required=True, allow_none=True)
    revoked_at = UTCDateTimeField(required=True, allow_none=True)


class ExportSessionSchema(Schema):
    id = fields.UUID(required=True)
    status = fields.String(required=True, validate=validate.OneOf([s.value for s in SessionStatus]))
    current_step = fields.String(
        required=True, validate=validate.OneOf([s.value for s in SolveStep])
    )
    created_at = UTCDateTimeField(required=True)
    completed_at = UTCDateTimeField(required=True, allow_none=True)
    last_active_at = UTCDateTimeField(
        required=True,
        metadata={"description": "Opened, a message answered, or closed by the person"},
    )
    updated_at = UTCDateTimeField(required=True)
    committed_at = UTCDateTimeField(
        required=True,
        allow_none=True,
        metadata={"description": "When the person committed to a first step (not the step)"},
    )
    reminder_time = UTCDateTimeField(required=True, allow_none=True)
    locale = fields.String(required=True, allow_none=True)
    device_id = fields.UUID(required=True, allow_none=True)
    reply_id = fields.UUID(
        required=True, allow_none=True, metadata={"description": "The session's latest reply"}
    )
    reply_claimed_until = UTCDateTimeField(
        required=True,
        allow_none=True,
        metadata={"description": "While a reply is being produced: when its claim lapses"},
    )


class ExportUsageCounterSchema(Schema):
    sessions_total = fields.Integer(required=True, metadata={"description": "Ever opened"})
    period = fields.Function(
        lambda counter: counter.period or None,  # stored as "" until the first session
        required=True,
        allow_none=True,
        metadata={"type": "string", "description": "The UTC month (YYYY-MM) of sessions_in_period"},
    )
    sessions_in_period = fields.Integer(required=True)


class ExportPasswordResetSchema(Schema):
    created_at = UTCDateTimeField(required=True)
    expires_at = UTCDateTimeField(required=True)
    attempts = fields.Integer(required=True, metadata={"description": "Codes tried so far"})


class ExportSchema(Schema):
    account = fields.Nested(ExportAccountSchema, required=True)
    tier = fields.String(required=True, validate=validate.OneOf(TIER_NAMES))
    subscription = fields.Nested(ExportSubscriptionSchema, required=True)
    subscription_events = fields.List(
        fields.Nested(ExportSubscriptionEventSchema),
        required=True,
        metadata={"description": "The store events applied to the subscription, oldest first"},
    )
    usage = fields.Nested(UsageSchema, required=True)
    usage_counter = fields.Nested(ExportUsageCounterSchema, required=True)
    devices = fields.List(fields.Nested(ExportDeviceSchema), required=True)
    logins = fields.List(
        fields.Nested(ExportLoginSchema),
        required=True,
        metadata={"description": "Sign-ins, without any token material"},
    )
    sessions = fields.List(fields.Nested(ExportSessionSchema), required=True)
    reset_codes = fields.List(
        fields.Nested(ExportPasswordResetSchema),
        required=True,
        metadata={"description": "A pending reset code, if one was asked for (never the code)"},
    )
    messages = fields.List(
        fields.Dict(),
        required=True,
        validate=validate.Length(max=0),
        metadata={"description": "Always empty: message content is never stored"},
    )
