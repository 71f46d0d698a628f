"""Users, their subscription (tier) and their usage counter."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import Date, Enum, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from clarity_api.clock import utcnow
from clarity_api.extensions import db
from clarity_api.models.enums import Tier
from clarity_api.models.types import UTCDateTime

if TYPE_CHECKING:
    from clarity_api.models.device import Device, Login
    from clarity_api.models.solve_session import SolveSession


class User(db.Model):  # type: ignore[name-defined]
    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The UTC day of the last device removal: one a day, so a one-device tier cannot be
    # handed from phone to phone.
    device_removed_on: Mapped[date | None] = mapped_column(Date)

    subscription: Mapped[Subscription] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )
    usage: Mapped[UsageCounter] = relationship(cascade="all, delete-orphan", passive_deletes=True)
    devices: Mapped[list[Device]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )
    logins: Mapped[list[Login]] = relationship(cascade="all, delete-orphan", passive_deletes=True)
    solve_sessions: Mapped[list[SolveSession]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )

    @property
    def tier(self) -> str:
        return self.subscription.tier.value


class Subscription(db.Model):  # type: ignore[name-defined]
    __tablename__ = "subscriptions"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    tier: Mapped[Tier] = mapped_column(
        Enum(Tier, native_enum=False, length=16, values_callable=lambda e: [t.value for t in e]),
        default=Tier.FREE,
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship(back_populates="subscription")


class UsageCounter(db.Model):  # type: ignore[name-defined]
    """Sessions opened: in total (free tier's lifetime quota) and in the current UTC month."""

    __tablename__ = "usage_counters"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    sessions_total: Mapped[int] = mapped_column(Integer, default=0)
    period: Mapped[str] = mapped_column(String(7), default="")  # "YYYY-MM" of sessions_in_period
    sessions_in_period: Mapped[int] = mapped_column(Integer, default=0)
