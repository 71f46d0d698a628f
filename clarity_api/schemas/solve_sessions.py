"""Solve sessions, the message request, and the stream's event payloads."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from clarity_api.models import SessionStatus, SolveStep
from clarity_api.schemas.auth import UsageSchema
from clarity_api.schemas.common import StrictSchema, TrimmedString, UTCDateTimeField

STEP_NAMES = [s.value for s in SolveStep]
STATUS_NAMES = [s.value for s in SessionStatus]


class SessionSummarySchema(Schema):
    """A session as `GET /sessions` lists it."""

    id = fields.UUID(required=True)
    status = fields.String(required=True, validate=validate.OneOf(STATUS_NAMES))
    current_step = fields.String(required=True, validate=validate.OneOf(STEP_NAMES))
    created_at = UTCDateTimeField(required=True)
    completed_at = UTCDateTimeField(required=True, allow_none=True)
    updated_at = UTCDateTimeField(
        required=True, metadata={"description": "The last change of step, status or fields"}
    )


class SessionSchema(SessionSummarySchema):
    """One session, as `GET /sessions/{id}` and `PATCH` answer."""

    reminder_time = UTCDateTimeField(required=True, allow_none=True)
    locale = fields.String(required=True, allow_none=True)


class SessionCreatedSchema(Schema):
    """Dumps `{"session": SolveSession, "usage": ...}`: the new session and the quota it used."""

    session_id = fields.UUID(required=True, attribute="session.id")
    status = fields.String(
        required=True, validate=validate.OneOf(STATUS_NAMES), attribute="session.status"
    )
    current_step = fields.String(
        required=True, validate=validate.OneOf(STEP_NAMES), attribute="session.current_step"
    )
    created_at = UTCDateTimeField(required=True, attribute="session.created_at")
    usage = fields.Nested(UsageSchema, required=True)


class SessionCreateSchema(StrictSchema):
    """`POST /sessions` takes `{}` or no body."""


class SessionQuerySchema(StrictSchema):
    """Unknown query parameters are a 422, like unknown body fields."""

    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=2**31 - 1))
    status = fields.String(
        # Absent means all. A callable default is left out of the OpenAPI document, where
        # `default: null` on a string enum is invalid; a query string has no null.
        load_default=lambda: None,
        allow_none=False,
        validate=validate.OneOf(STATUS_NAMES),
        metadata={"description": "Only sessions with this status"},
    )


class SessionListSchema(Schema):
    sessions = fields.List(fields.Nested(SessionSummarySchema), required=True)
    total = fields.Integer(required=True, validate=validate.Range(min=0))
    limit = fields.Integer(required=True, validate=validate.Range(min=1, max=100))
    offset = fields.Integer(required=True, validate=validate.Range(min=0))


# A language tag (BCP 47 shape): a 2-3 letter language, then subtags such as a region.
_LOCALE = r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$"


class SessionUpdateSchema(StrictSchema):
    """At least one field. `first_step_action` is checked and never stored."""

    status = fields.String(
        validate=validate.OneOf([SessionStatus.COMPLETED, SessionStatus.ABANDONED])
    )
    first_step_action = TrimmedString(
        load_only=True,
        validate=validate.Length(min=1, max=500),
        metadata={
            "pattern": r"^[^\u0000]*[^\s\u0000][^\u0000]*$",
            "description": "What the person commits to do, 1-500 characters after trimming; "
            "never stored (the session keeps only when they committed)",
        },
    )
    reminder_time = fields.AwareDateTime(
        allow_none=True, metadata={"description": "An ISO 8601 instant, or null to clear it"}
    )
    locale = fields.String(
        allow_none=True,
        validate=[validate.Length(min=2, max=35), validate.Regexp(_LOCALE)],
        metadata={"description": "A language tag such as en, es or es-MX", "example": "es-MX"},
    )

    @validates_schema
    def _not_empty(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not data:
            raise ValidationError(
                "Send at least one of status, first_step_action, reminder_time, locale.",
                field_name="status",
            )


# Lengths count after trimming, so the text must hold something besides whitespace.
_TEXT = {
    "pattern": r"^[^\u0000]*[^\s\u0000][^\u0000]*$",
    "description": "1-4000 characters after trimming",
}


class TurnSchema(StrictSchema):
    role = fields.String(required=True, validate=validate.OneOf(["user", "assistant"]))
    content = TrimmedString(
        required=True, validate=validate.Length(min=1, max=4000), metadata=_TEXT
    )


class MessageRequestSchema(StrictSchema):
    content = TrimmedString(
        required=True,
        validate=validate.Length(min=1, max=4000),
        metadata={**_TEXT, "example": "I'm frustrated with my job and don't know what to do."},
    )
    step = fields.String(
        load_default=None,
        validate=validate.OneOf(STEP_NAMES),
        metadata={
            "description": "The step this message is for; not the current one is 409",
            "example": "receive",
        },
    )
    history = fields.List(
        fields.Nested(TurnSchema),
        load_default=list,
        validate=validate.Length(max=20),
        metadata={"description": "Earlier turns, as context for this reply only; never stored"},
    )


# The stream's events, documented for the OpenAPI description (they are written by streaming.py).
class TokenEventSchema(Schema):
    content = fields.String(
        required=True, metadata={"description": "The next piece of the reply, spaces included"}
    )


class TokenUsageSchema(Schema):
    input_tokens = fields.Integer(required=True)
    output_tokens = fields.Integer(required=True)


class DoneEventSchema(Schema):
    next_step = fields.String(
        required=True,
        allow_none=True,
        validate=validate.OneOf(STEP_NAMES),
        metadata={"description": "The session's step now; null once the session completed"},
    )
    emotion_detected = fields.String(
        required=True, validate=validate.OneOf(["anxious", "sad", "calm", "confused", "neutral"])
    )
    confidence = fields.Float(required=True, validate=validate.Range(min=0, max=1))
    session_status = fields.String(
        required=True, validate=validate.OneOf([SessionStatus.ACTIVE, SessionStatus.COMPLETED])
    )
    usage = fields.Nested(
        TokenUsageSchema, metadata={"description": "Reported by a model coach, when it does"}
    )
    blocked = fields.Boolean(metadata={"description": "true when the crisis check answered"})
    reason = fields.String(validate=validate.OneOf(["CRISIS"]))
    message = fields.String(
        metadata={"description": "With `blocked`: the safety message, the same text as the tokens"}
    )
    resources = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        metadata={"description": "Crisis lines by country code"},
    )


class ErrorEventSchema(Schema):
    error = fields.String(required=True, metadata={"pattern": "^[A-Z][A-Z0-9_]*$"})
    message = fields.String(required=True)
    retryable = fields.Boolean(required=True)


STREAM_EVENTS = {"token": TokenEventSchema, "done": DoneEventSchema, "error": ErrorEventSchema}


def stream_event_schema(refs: dict[str, str]) -> dict[str, object]:
    """One Server-Sent Event as parsed from the stream: its name, and its data as JSON text.

    Before Open API 3.2, a `text/event-stream` schema is the schema of each event. `refs` maps
    each event name to the `$ref` of its data's schema.
    """
    return {
        "oneOf": [
            {
                "type": "object",
                "required": ["event", "data"],
                "properties": {
                    "event": {"type": "string", "enum": [name]},
                    "data": {
                        "type": "string",
                        "contentMediaType": "application/json",
                        "contentSchema": {"$ref": refs[name]},
                    },
                },
            }
            for name in STREAM_EVENTS
        ]
    }
