"""Solve sessions, the message request, and the stream's event payloads."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from clarity_api.models import SessionStatus, SolveStep
from clarity_api.schemas.auth import UsageSchema
from clarity_api.schemas.common import StrictSchema, TrimmedString, UTCDateTimeField

STEP_NAMES = [s.value for s in SolveStep]
STATUS_NAMES = [s.value for s in SessionStatus]


class SessionSchema(Schema):
    id = fields.UUID(required=True)
    status = fields.String(required=True, validate=validate.OneOf(STATUS_NAMES))
    current_step = fields.String(required=True, validate=validate.OneOf(STEP_NAMES))
    created_at = UTCDateTimeField(required=True)
    completed_at = UTCDateTimeField(required=True, allow_none=True)


class SessionCreatedSchema(Schema):
    session_id = fields.UUID(required=True)
    status = fields.String(required=True)
    current_step = fields.String(required=True)
    created_at = UTCDateTimeField(required=True)
    usage = fields.Nested(UsageSchema, required=True)


class SessionCreateSchema(StrictSchema):
    """`POST /sessions` takes `{}` or no body."""


class SessionQuerySchema(StrictSchema):
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=2**31 - 1))
    status = fields.String(load_default=None, validate=validate.OneOf(STATUS_NAMES))


class SessionListSchema(Schema):
    sessions = fields.List(fields.Nested(SessionSchema), required=True)
    total = fields.Integer(required=True)
    limit = fields.Integer(required=True)
    offset = fields.Integer(required=True)


class SessionUpdateSchema(StrictSchema):
    status = fields.String(
        required=True, validate=validate.OneOf([SessionStatus.COMPLETED, SessionStatus.ABANDONED])
    )


class TurnSchema(StrictSchema):
    role = fields.String(required=True, validate=validate.OneOf(["user", "assistant"]))
    content = TrimmedString(required=True, validate=validate.Length(min=1, max=4000))


class MessageRequestSchema(StrictSchema):
    content = TrimmedString(required=True, validate=validate.Length(min=1, max=4000))
    step = fields.String(load_default=None, validate=validate.OneOf(STEP_NAMES))
    history = fields.List(
        fields.Nested(TurnSchema), load_default=list, validate=validate.Length(max=20)
    )


# The stream's events, documented for the OpenAPI description (they are written by streaming.py).
class TokenEventSchema(Schema):
    content = fields.String(required=True)


class DoneEventSchema(Schema):
    next_step = fields.String(required=True, allow_none=True)
    emotion_detected = fields.String(
        required=True, validate=validate.OneOf(["anxious", "sad", "calm", "confused", "neutral"])
    )
    confidence = fields.Float(required=True)
    session_status = fields.String(required=True)
    usage = fields.Dict(metadata={"description": "input_tokens and output_tokens (model coach)"})
    blocked = fields.Boolean(metadata={"description": "true when the crisis check answered"})
    reason = fields.String(metadata={"example": "CRISIS"})
    resources = fields.Dict(keys=fields.String(), values=fields.String())


class ErrorEventSchema(Schema):
    error = fields.String(required=True)
    message = fields.String(required=True)
    retryable = fields.Boolean(required=True)
