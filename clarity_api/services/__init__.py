"""The rules: plain functions over models, raising ClarityError; callers commit."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import CursorResult, Executable

from clarity_api.errors import ClarityError
from clarity_api.extensions import db


def parse_id(raw: str, not_found: type[ClarityError]) -> uuid.UUID:
    """An id from a URL; a malformed one is answered like an unknown one."""
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise not_found() from None


def rowcount(stmt: Executable) -> int:
    """Rows changed by a conditional UPDATE: how compare-and-set statements report success."""
    result: CursorResult[Any] = db.session.execute(stmt)  # type: ignore[assignment]
    return result.rowcount
