"""Solve sessions: one guided walk through the five steps."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import Date, Enum, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from clarity_api.clock import utcnow
from clarity_api.extensions import db
from clarity_api.models.enums import SessionStatus, SolveStep
from clarity_api.models.types import UTCDateTime

if TYPE_CHECKING:
    from clarity_api.models.user import User


def _values(enum: type) -> list[str]:
    return [member.value for member in enum]  # type: ignore[attr-defined]


class SolveSession(db.Model):  # type: ignore[name-defined]
    __tablename__ = "solve_sessions"
    __table_args__ = (
        # The list query: a user's sessions, newest first, optionally by status.
        Index("ix_solve_sessions_user_created", "user_id", "created_at", "id"),
        Index("ix_solve_sessions_user_status_created", "user_id", "status", "created_at"),
        # `flask sessions expire`: the active sessions idle the longest.
        Index("ix_solve_sessions_status_last_active", "status", "last_active_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    device_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("devices.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[SessionStatus] = mapped_column(
        Enum(SessionStatus, native_enum=False, length=16, values_callable=_values),
        default=SessionStatus.ACTIVE,
    )
    current_step: Mapped[SolveStep] = mapped_column(
        Enum(SolveStep, native_enum=False, length=16, values_callable=_values),
        default=SolveStep.RECEIVE,
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The person's last move: opening the session, a message answered (blocked ones too, so the
    # row does not tell them apart), a step advanced, or a PATCH.
    last_active_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The session's last change of step, status or fields (what the app shows as "updated").
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When the person committed to a first step; the step itself is never stored.
    committed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reminder_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    locale: Mapped[str | None] = mapped_column(String(35))
    # The session's latest reply, and while it is being produced, how long its claim holds:
    # one live reply per session on every worker, and a crashed worker's claim lapses.
    reply_id: Mapped[uuid.UUID | None] = mapped_column()
    reply_claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(back_populates="solve_sessions")


class BlockedMessageCount(db.Model):  # type: ignore[name-defined]
    """How many messages the crisis check answered, per UTC day. Nothing else is kept."""

    __tablename__ = "blocked_message_counts"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
