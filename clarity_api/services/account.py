"""The person's own data: what we show them, export, and erase."""

from __future__ import annotations

from typing import Any

from clarity_api.clock import isoformat
from clarity_api.errors import InvalidCredentials, RecentLoginRequired
from clarity_api.extensions import db
from clarity_api.models import Device, Login, SolveSession, UsageCounter, User
from clarity_api.services import quota
from clarity_api.services.hashing import verify_password


def profile(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "tier": user.tier,
        "created_at": user.created_at,
        "usage": quota.usage(user),
    }


def export(user: User) -> dict[str, Any]:
    """Everything kept about the person. There is no message content: none is stored."""
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
    return {
        "account": {
            "id": str(user.id),
            "email": user.email,
            "created_at": isoformat(user.created_at),
            "device_removed_on": user.device_removed_on.isoformat()
            if user.device_removed_on
            else None,
        },
        "tier": user.tier,
        "subscription": {
            "tier": user.tier,
            "created_at": isoformat(user.subscription.created_at),
            "updated_at": isoformat(user.subscription.updated_at),
        },
        "usage": quota.usage(user),
        "usage_counter": _usage_counter(user.usage),
        "devices": [_device(d) for d in devices],
        "logins": [_login(lg) for lg in logins],
        "sessions": [_session(s) for s in sessions],
        "messages": [],
    }


def _usage_counter(counter: UsageCounter | None) -> dict[str, Any]:
    """The raw counter behind `usage`: lifetime total, and the month it last counted."""
    if counter is None:
        return {"sessions_total": 0, "period": None, "sessions_in_period": 0}
    return {
        "sessions_total": counter.sessions_total,
        "period": counter.period or None,
        "sessions_in_period": counter.sessions_in_period,
    }


def _device(device: Device) -> dict[str, Any]:
    return {
        "id": str(device.id),
        "fingerprint": device.fingerprint,
        "device_name": device.device_name,
        "platform": device.platform,
        "created_at": isoformat(device.created_at),
        "last_active_at": isoformat(device.last_active_at),
    }


def _login(login: Login) -> dict[str, Any]:
    return {
        "id": str(login.id),
        "device_id": str(login.device_id),
        "created_at": isoformat(login.created_at),
        "refreshed_at": isoformat(login.refreshed_at),
        "revoked_at": isoformat(login.revoked_at),
    }


def _session(solve_session: SolveSession) -> dict[str, Any]:
    return {
        "id": str(solve_session.id),
        "status": solve_session.status.value,
        "current_step": solve_session.current_step.value,
        "created_at": isoformat(solve_session.created_at),
        "completed_at": isoformat(solve_session.completed_at),
        "last_active_at": isoformat(solve_session.last_active_at),
        "updated_at": isoformat(solve_session.updated_at),
        "committed_at": isoformat(solve_session.committed_at),
        "reminder_time": isoformat(solve_session.reminder_time),
        "locale": solve_session.locale,
        "device_id": str(solve_session.device_id) if solve_session.device_id else None,
    }


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
