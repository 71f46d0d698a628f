"""Shapes shared by every area: the error body and UTC timestamps."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from marshmallow import Schema, ValidationError, fields, pre_load

from clarity_api.clock import isoformat


class UTCDateTimeField(fields.DateTime):
    """ISO 8601 in UTC with a Z suffix."""

    def _serialize(self, value: datetime | None, attr: Any, obj: Any, **kwargs: Any) -> Any:
        return isoformat(value)


class ErrorSchema(Schema):
    error = fields.String(
        required=True,
        metadata={"description": "Stable error code", "pattern": "^[A-Z][A-Z0-9_]*$"},
    )
    message = fields.String(required=True, metadata={"description": "One human sentence"})
    details = fields.Dict(
        keys=fields.String(),
        metadata={"description": "Extra data, e.g. the bad fields and their messages"},
    )


class StrictSchema(Schema):
    """Input schemas name every field they accept; unknown fields are a 422.

    Text must be storable: a NUL character or an unpaired surrogate (JSON allows `\\u0000`
    and a lone `\\ud800`) is a 422 too, rather than a database or hashing error.
    """

    class Meta:
        unknown = "raise"

    @pre_load
    def _reject_unstorable_text(self, data: Any, **kwargs: Any) -> Any:
        if hasattr(data, "items"):
            bad = {
                name: [UNSTORABLE_TEXT]
                for name, value in data.items()
                if isinstance(value, str) and not is_storable_text(value)
            }
            if bad:
                raise ValidationError(bad)
        return data


UNSTORABLE_TEXT = "Text must not contain NUL characters or unpaired surrogates."
# The same rule for the OpenAPI description (JSON Schema cannot name unpaired surrogates).
STORABLE_TEXT_PATTERN = r"^[^\u0000]*$"


def is_storable_text(value: str) -> bool:
    """What every database and UTF-8 encoder takes: no NUL, no unpaired surrogate."""
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


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
