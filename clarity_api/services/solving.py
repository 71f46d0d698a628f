"""Solve sessions: open, list, read, change status, delete (a message turn: turns.py)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import delete, func, update

from clarity_api.clock import utcnow
from clarity_api.errors import InvalidTransition, SessionNotFound
from clarity_api.extensions import db
from clarity_api.models import Device, SessionStatus, SolveSession, SolveStep, User
from clarity_api.services import parse_id, quota, rowcount


def open_session(user: User, device: Device) -> tuple[SolveSession, dict[str, Any]]:
    usage = quota.consume(user)  # raises QuotaExceeded before anything is created
    now = utcnow()
    solve_session = SolveSession(
        id=uuid.uuid4(),
        user_id=user.id,
        device_id=device.id,
        status=SessionStatus.ACTIVE,
        current_step=SolveStep.RECEIVE,
        created_at=now,
        last_active_at=now,
        updated_at=now,
    )
    db.session.add(solve_session)
    device.last_active_at = now
    return solve_session, usage


def list_sessions(
    user_id: uuid.UUID, limit: int, offset: int, status: str | None
) -> tuple[list[SolveSession], int]:
    where = [SolveSession.user_id == user_id]
    if status is not None:
        where.append(SolveSession.status == SessionStatus(status))
    total = db.session.scalar(db.select(func.count()).select_from(SolveSession).where(*where))
    stmt = (
        db.select(SolveSession)
        .where(*where)
        .order_by(SolveSession.created_at.desc(), SolveSession.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(db.session.execute(stmt).scalars()), int(total or 0)


def get_session(user_id: uuid.UUID, session_id: str) -> SolveSession:
    """The user's session; unknown, malformed and someone else's all look the same."""
    solve_session = db.session.get(SolveSession, parse_id(session_id, SessionNotFound))
    if solve_session is None or solve_session.user_id != user_id:
        raise SessionNotFound()
    return solve_session


def update_session(user_id: uuid.UUID, session_id: str, changes: dict[str, Any]) -> SolveSession:
    """Apply a PATCH: close an active session and/or set the person's fields.

    One conditional UPDATE, so a stream finishing or `flask sessions expire` running at the
    same moment cannot be overwritten: whichever closes the session first wins, the other sees
    409, and a PATCH that loses changes none of its fields either. `first_step_action` is only
    checked, never kept: the session records when the person committed.
    """
    key = parse_id(session_id, SessionNotFound)
    now = utcnow()
    values: dict[str, Any] = {"updated_at": now, "last_active_at": now}
    values.update({name: changes[name] for name in ("reminder_time", "locale") if name in changes})
    if "first_step_action" in changes:
        values["committed_at"] = now
    where = [SolveSession.id == key, SolveSession.user_id == user_id]
    if "status" in changes:
        values["status"] = SessionStatus(changes["status"])
        if values["status"] == SessionStatus.COMPLETED:
            values["completed_at"] = now
        where.append(SolveSession.status == SessionStatus.ACTIVE)
    changed = rowcount(
        update(SolveSession)
        .where(*where)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    solve_session = get_session(user_id, session_id)
    if changed != 1:
        raise InvalidTransition(details={"status": solve_session.status.value})
    return solve_session


def delete_session(user_id: uuid.UUID, session_id: str) -> None:
    key = parse_id(session_id, SessionNotFound)
    stmt = delete(SolveSession).where(SolveSession.id == key, SolveSession.user_id == user_id)
    if rowcount(stmt) != 1:
        raise SessionNotFound()
