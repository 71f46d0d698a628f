"""Shapes shared by every area: the error body and UTC timestamps."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from marshmallow import Schema, fields

from clarity_api.clock import isoformat


class UTCDateTimeField(fields.DateTime):
    """ISO 8601 in UTC with a Z suffix."""

    def _serialize(self, value: datetime | None, attr: Any, obj: Any, **kwargs: Any) -> Any:
        return isoformat(value)


class ErrorSchema(Schema):
    error = fields.String(required=True, metadata={"description": "Stable error code"})
    message = fields.String(required=True, metadata={"description": "One human sentence"})
    details = fields.Dict(metadata={"description": "Extra data, e.g. bad fields"})


class StrictSchema(Schema):
    """Input schemas name every field they accept; unknown fields are a 422."""

    class Meta:
        unknown = "raise"


class TrimmedString(fields.String):
    """Trimmed before length checks, so whitespace alone is empty."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        return super()._deserialize(value, attr, data, **kwargs).strip()


class TrimmedEmail(fields.Email):
    """Trimmed and lower-cased before the format check."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, str):
            value = value.strip().lower()
        return super()._deserialize(value, attr, data, **kwargs)
