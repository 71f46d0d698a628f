"""The person's own data: what we show them, export, and erase."""

from __future__ import annotations

from typing import Any

from clarity_api.errors import InvalidCredentials, RecentLoginRequired
from clarity_api.extensions import db
from clarity_api.models import (
    Device,
    Login,
    PasswordReset,
    SolveSession,
    SubscriptionEvent,
    UsageCounter,
    User,
)
from clarity_api.services import quota, subscriptions
from clarity_api.services.hashing import verify_password


def profile(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "tier": user.tier,
        "created_at": user.created_at,
        "usage": quota.usage(user),
        "subscription": subscriptions.view(user),
    }


def export(user: User) -> dict[str, Any]:
    """Everything kept about the person, for ExportSchema. There is no message content: none
    is stored."""
    devices = db.session.execute(
        db.select(Device).where(Device.user_id == user.id).order_by(Device.created_at)
    ).scalars()
    logins = db.session.execute(
        db.select(Login).where(Login.user_id == user.id).order_by(Login.created_at)
    ).scalars()
    sessions = db.session.execute(
        db.select(SolveSession)
        .where(SolveSession.user_id == user.id)
        .order_by(SolveSession.created_at.desc(), SolveSession.id.desc())
    ).scalars()
    resets = db.session.execute(
        db.select(PasswordReset).where(PasswordReset.user_id == user.id)
    ).scalars()
    return {
        "account": user,
        "tier": user.tier,
        "subscription": user.subscription,
        "subscription_events": list(_events(user)),
        "usage": quota.usage(user),
        # An account from before usage was counted has no row yet: it has counted nothing.
        "usage_counter": user.usage or UsageCounter(sessions_total=0, sessions_in_period=0),
        "devices": list(devices),
        "logins": list(logins),
        "sessions": list(sessions),
        "reset_codes": list(resets),
        "messages": [],
    }


def _events(user: User) -> Any:
    stmt = db.select(SubscriptionEvent).where(SubscriptionEvent.user_id == user.id)
    return db.session.scalars(stmt.order_by(SubscriptionEvent.event_timestamp))


def delete(user: User, password: str | None, signed_in_recently: bool) -> None:
    """Erase the account and everything tied to it (database cascades do the rest).

    The password may be left out only right after signing in (the shipped app sends none).
    """
    if password is None:
        if not signed_in_recently:
            raise RecentLoginRequired()
    elif not verify_password(user.password_hash, password):
        raise InvalidCredentials("The password is incorrect.")
    db.session.execute(db.delete(User).where(User.id == user.id))
