"""Devices: bind a fingerprint to an account within its tier's limit, find, forget."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime, time, timedelta

from flask import current_app
from sqlalchemy import func, or_, select, update

from clarity_api.clock import utcnow
from clarity_api.errors import (
    CannotRemoveCurrentDevice,
    DeviceLimitReached,
    DeviceNotBound,
    DeviceNotFound,
    MissingDeviceFingerprint,
    RemovalLimitExceeded,
)
from clarity_api.extensions import db
from clarity_api.models import Device, Login, User
from clarity_api.services import parse_id, rowcount


def find(user_id: uuid.UUID, fingerprint: str) -> Device | None:
    stmt = db.select(Device).where(Device.user_id == user_id, Device.fingerprint == fingerprint)
    return db.session.execute(stmt).scalar_one_or_none()  # type: ignore[no-any-return]


def bind(
    user: User, fingerprint: str, device_name: str | None = None, platform: str | None = None
) -> Device:
    """The user's device with this fingerprint, created if the tier allows one more."""
    device = find(user.id, fingerprint)
    if device is None:
        # Sign-ins on new devices of one account take turns, so each counts the others' devices.
        # NO KEY UPDATE: rows that merely reference the user (sessions, logins) are not blocked.
        db.session.execute(
            db.select(User.id).where(User.id == user.id).with_for_update(key_share=True)
        )
        device = find(user.id, fingerprint)  # a sign-in that went first may have added it
    if device is None:
        limit = current_app.config["TIER_LIMITS"][user.tier]["devices"]
        used = db.session.scalar(
            db.select(func.count()).select_from(Device).where(Device.user_id == user.id)
        )
        if used >= limit:
            raise DeviceLimitReached(details={"devices_used": used, "devices_limit": limit})
        device = Device(user_id=user.id, fingerprint=fingerprint)
        db.session.add(device)
    if device_name is not None:
        device.device_name = device_name
    if platform is not None:
        device.platform = platform
    device.last_active_at = utcnow()
    return device


def require_current(user_id: uuid.UUID, fingerprint: str | None) -> Device:
    """The device named by the X-Device-Fingerprint header, which must be this user's."""
    fingerprint = (fingerprint or "").strip()
    if not fingerprint:
        raise MissingDeviceFingerprint()
    device = find(user_id, fingerprint)
    if device is None:
        raise DeviceNotBound()
    return device


def list_for(user_id: uuid.UUID) -> list[Device]:
    stmt = db.select(Device).where(Device.user_id == user_id).order_by(Device.created_at, Device.id)
    return list(db.session.execute(stmt).scalars())


def current_id(login_id: str) -> uuid.UUID | None:
    """The device a login (the token's `lid`) signed in on."""
    return db.session.scalar(select(Login.device_id).where(Login.id == uuid.UUID(login_id)))


def forget(user_id: uuid.UUID, device_id: str, current_device_id: uuid.UUID | None) -> None:
    """Delete a device; its logins go with it (cascade), so their tokens stop working.

    Not the device this request signs in on, and at most one removal per account per UTC
    day. The day is taken with one conditional UPDATE on the account, so of concurrent
    removals exactly one passes.
    """
    device = db.session.get(Device, parse_id(device_id, DeviceNotFound))
    if device is None or device.user_id != user_id:
        raise DeviceNotFound()
    if device.id == current_device_id:
        raise CannotRemoveCurrentDevice()
    now = utcnow()
    today = now.date()
    taken = rowcount(
        update(User)
        .where(
            User.id == user_id,
            or_(User.device_removed_on.is_(None), User.device_removed_on < today),
        )
        .values(device_removed_on=today)
        .execution_options(synchronize_session=False)
    )
    if taken != 1:
        tomorrow = datetime.combine(today + timedelta(days=1), time.min, tzinfo=UTC)
        wait = max(1, math.ceil((tomorrow - now).total_seconds()))
        raise RemovalLimitExceeded(headers={"Retry-After": str(wait)})
    db.session.delete(device)
