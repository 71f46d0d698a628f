"""Accounts, tokens and devices."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from clarity_api.models import Platform
from clarity_api.schemas.common import StrictSchema, TrimmedEmail, UTCDateTimeField

_fingerprint = fields.String(required=True, validate=validate.Length(min=1, max=255))
_device_name = fields.String(load_default=None, validate=validate.Length(max=100))
_platform = fields.String(load_default=None, validate=validate.OneOf([p.value for p in Platform]))


class RegisterSchema(StrictSchema):
    email = TrimmedEmail(required=True, validate=validate.Length(max=320))
    password = fields.String(required=True, load_only=True, validate=validate.Length(max=128))
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
    password = fields.String(required=True, load_only=True, validate=validate.Length(max=128))


class UserSchema(Schema):
    id = fields.UUID(required=True)
    email = fields.String(required=True)
    tier = fields.String(required=True, validate=validate.OneOf(["free", "standard", "pro"]))
    created_at = UTCDateTimeField(required=True)


class UsageSchema(Schema):
    sessions_used = fields.Integer(required=True)
    sessions_limit = fields.Integer(required=True, allow_none=True)
    tier = fields.String(required=True)


class TokenSchema(Schema):
    access_token = fields.String(required=True)
    refresh_token = fields.String(required=True)
    token_type = fields.String(required=True, metadata={"example": "bearer"})
    expires_in = fields.Integer(required=True, metadata={"example": 3600})
    user = fields.Nested(UserSchema, required=True)


class MeSchema(UserSchema):
    usage = fields.Nested(UsageSchema, required=True)


class DeviceSchema(Schema):
    id = fields.UUID(required=True)
    device_name = fields.String(required=True, allow_none=True)
    platform = fields.String(required=True, allow_none=True)
    created_at = UTCDateTimeField(required=True)
    last_active_at = UTCDateTimeField(required=True)
    is_current = fields.Boolean(required=True)


class DeviceListSchema(Schema):
    devices = fields.List(fields.Nested(DeviceSchema), required=True)
