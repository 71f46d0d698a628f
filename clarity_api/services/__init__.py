"""The rules: plain functions over models, raising ClarityError; callers commit."""

from __future__ import annotations

import uuid

from clarity_api.errors import ClarityError


def parse_id(raw: str, not_found: type[ClarityError]) -> uuid.UUID:
    """An id from a URL; a malformed one is answered like an unknown one."""
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise not_found() from None
