"""A pending password reset: one per account, the code kept only as a keyed hash."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from clarity_api.clock import utcnow
from clarity_api.extensions import db
from clarity_api.models.types import UTCDateTime


class PasswordReset(db.Model):  # type: ignore[name-defined]
    __tablename__ = "password_resets"

    # One row per account: asking again replaces the code (and its count of tries).
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
