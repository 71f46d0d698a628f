"""Devices: bind a fingerprint to an account within its tier's limit, find, forget."""

from __future__ import annotations

import uuid

from flask import current_app
from sqlalchemy import func, select

from clarity_api.clock import utcnow
from clarity_api.errors import (
    DeviceLimitReached,
    DeviceNotBound,
    DeviceNotFound,
    MissingDeviceFingerprint,
)
from clarity_api.extensions import db
from clarity_api.models import Device, Login, User
from clarity_api.services import parse_id


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


def forget(user_id: uuid.UUID, device_id: str) -> None:
    """Delete a device; its logins go with it (cascade), so their tokens stop working."""
    device = db.session.get(Device, parse_id(device_id, DeviceNotFound))
    if device is None or device.user_id != user_id:
        raise DeviceNotFound()
    db.session.delete(device)
