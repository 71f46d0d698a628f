"""Logins the person can see and end: one sign-in and its chain of refreshed tokens."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update

from clarity_api.clock import utcnow
from clarity_api.errors import LoginNotFound
from clarity_api.extensions import db
from clarity_api.models import Device, Login
from clarity_api.services import parse_id, rowcount


@dataclass(frozen=True, slots=True)
class LoginView:
    """A live login as the person sees it (no token material)."""

    id: uuid.UUID
    device_id: uuid.UUID
    device_name: str | None
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    is_current: bool


def list_live(
    user_id: uuid.UUID, current_login_id: uuid.UUID, refresh_lifetime: timedelta
) -> list[LoginView]:
    """The account's logins that still work, newest first.

    A login's refresh token lapses `refresh_lifetime` after it was issued (at sign-in or at
    the last refresh), so that is when it expires and when it was last used: access tokens
    are checked on every request without writing anything, so no finer "last used" is kept.
    """
    now = utcnow()
    rows = db.session.execute(
        select(Login, Device.device_name)
        .join(Device, Device.id == Login.device_id)
        .where(Login.user_id == user_id, Login.revoked_at.is_(None))
        .order_by(Login.created_at.desc(), Login.id.desc())
    ).all()
    views = []
    for login, device_name in rows:
        last_used = login.refreshed_at or login.created_at
        expires = last_used + refresh_lifetime
        if expires <= now:
            continue
        views.append(
            LoginView(
                id=login.id,
                device_id=login.device_id,
                device_name=device_name,
                created_at=login.created_at,
                last_used_at=last_used,
                expires_at=expires,
                is_current=login.id == current_login_id,
            )
        )
    return views


def revoke_one(user_id: uuid.UUID, login_id: str) -> None:
    """End one of the account's live logins; its tokens fail on their very next request."""
    key = parse_id(login_id, LoginNotFound)
    ended = rowcount(
        update(Login)
        .where(Login.id == key, Login.user_id == user_id, Login.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    if ended != 1:
        raise LoginNotFound()


def revoke_others(user_id: uuid.UUID, current_login_id: uuid.UUID) -> int:
    """Sign out everywhere else: every live login of the account but this one."""
    return rowcount(
        update(Login)
        .where(
            Login.user_id == user_id,
            Login.id != current_login_id,
            Login.revoked_at.is_(None),
        )
        .values(revoked_at=utcnow())
    )
