"""Users, their subscription (tier) and their usage counter."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import Boolean, Date, Enum, ForeignKey, Integer, String, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from clarity_api.clock import utcnow
from clarity_api.extensions import db
from clarity_api.models.enums import Tier
from clarity_api.models.types import UTCDateTime

if TYPE_CHECKING:
    from clarity_api.models.device import Device, Login
    from clarity_api.models.solve_session import SolveSession


# Late renewals reach us after the expiry they extend: access holds this long past it.
GRACE = timedelta(hours=24)


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
    subscription_events: Mapped[list[SubscriptionEvent]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True
    )

    @property
    def tier(self) -> str:
        """The tier in force now: quota, device limit and /auth/me all read it here."""
        return self.subscription.effective_tier(utcnow()).value


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
    # When the paid period ends (the store's expiration_at_ms); null: no end (free, a lifetime
    # purchase, or a tier set by `flask users set-tier`).
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    will_renew: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # event_timestamp_ms of the newest store event applied: older deliveries change nothing.
    last_event_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(back_populates="subscription")

    def effective_tier(self, now: datetime) -> Tier:
        """A paid tier lapses on its own a grace period after its expiry, event or not."""
        if self.expires_at is not None and now > self.expires_at + GRACE:
            return Tier.FREE
        return self.tier


class SubscriptionEvent(db.Model):  # type: ignore[name-defined]
    """A store event applied to the person: its id is how a redelivery is recognised."""

    __tablename__ = "subscription_events"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)  # RevenueCat's event id
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    type: Mapped[str] = mapped_column(String(40))
    event_timestamp: Mapped[datetime] = mapped_column(UTCDateTime)
    applied_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class UsageCounter(db.Model):  # type: ignore[name-defined]
    """Sessions opened: in total (free tier's lifetime quota) and in the current UTC month."""

    __tablename__ = "usage_counters"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    sessions_total: Mapped[int] = mapped_column(Integer, default=0)
    period: Mapped[str] = mapped_column(String(7), default="")  # "YYYY-MM" of sessions_in_period
    sessions_in_period: Mapped[int] = mapped_column(Integer, default=0)
