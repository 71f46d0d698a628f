"""Solve sessions: open, list, read, change status, and the step a message moves."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, func, select, update

from clarity_api.clock import utcnow
from clarity_api.coach.base import Turn, next_step
from clarity_api.errors import InvalidTransition, SessionCompleted, SessionNotFound, StepMismatch
from clarity_api.extensions import db
from clarity_api.models import Device, SessionStatus, SolveSession, SolveStep, User
from clarity_api.services import parse_id, quota, rowcount


@dataclass(frozen=True, slots=True)
class TurnPlan:
    """What a stream needs, read before it starts; plain values only (no ORM objects)."""

    session_id: uuid.UUID
    step: str
    content: str
    history: tuple[Turn, ...]


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


def change_status(user_id: uuid.UUID, session_id: str, status: str) -> SolveSession:
    """Complete or abandon an active session.

    A conditional UPDATE, so a stream finishing or `flask sessions expire` running at the same
    moment cannot be overwritten: whichever closes the session first wins, the other sees 409.
    """
    key = parse_id(session_id, SessionNotFound)
    now = utcnow()
    values: dict[str, Any] = {"status": SessionStatus(status), "last_active_at": now}
    if values["status"] == SessionStatus.COMPLETED:
        values["completed_at"] = now
    changed = rowcount(
        update(SolveSession)
        .where(
            SolveSession.id == key,
            SolveSession.user_id == user_id,
            SolveSession.status == SessionStatus.ACTIVE,
        )
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


def begin_turn(
    user_id: uuid.UUID, session_id: str, content: str, step: str | None, history: list[Turn]
) -> TurnPlan:
    """Check that a message may be answered now, mark the session active now, and hand the
    stream plain data.

    One UPDATE ... RETURNING (plain Core: this runs for every message) both reads the step and
    moves `last_active_at`, so `flask sessions expire` never retires a session a reply is being
    written for. Every message moves it alike, blocked ones too: the row does not show which.
    """
    key = parse_id(session_id, SessionNotFound)
    mine = (SolveSession.id == key, SolveSession.user_id == user_id)
    connection = db.session.connection()
    row = connection.execute(
        update(SolveSession)
        .where(*mine, SolveSession.status == SessionStatus.ACTIVE)
        .values(last_active_at=utcnow())
        .returning(SolveSession.current_step)
    ).first()
    if row is None:
        if connection.execute(select(SolveSession.id).where(*mine)).first() is None:
            raise SessionNotFound()
        raise SessionCompleted()
    current = row.current_step.value
    if step is not None and step != current:
        raise StepMismatch(details={"current_step": current})
    return TurnPlan(key, current, content, tuple(history))


def finish_turn(connection: Connection, plan: TurnPlan) -> dict[str, Any]:
    """Advance the session one step, only if it is still where the turn began.

    A compare-and-set UPDATE, so of two streams on one session only one advances it. Runs on
    a plain connection in the stream's own short transaction (the request's is long gone).
    """
    following = next_step(plan.step)
    now = utcnow()
    values: dict[str, Any] = {
        "current_step": SolveStep(following or plan.step),
        "last_active_at": now,
    }
    if following is None:
        values.update(status=SessionStatus.COMPLETED, completed_at=now)
    result = connection.execute(
        update(SolveSession)
        .where(
            SolveSession.id == plan.session_id,
            SolveSession.current_step == SolveStep(plan.step),
            SolveSession.status == SessionStatus.ACTIVE,
        )
        .values(**values)
    )
    if result.rowcount != 1:
        raise _why_not_advanced(connection, plan)
    status = SessionStatus.COMPLETED if following is None else SessionStatus.ACTIVE
    return {"next_step": following, "session_status": status.value}


def _why_not_advanced(connection: Connection, plan: TurnPlan) -> Exception:
    row = connection.execute(
        select(SolveSession.status, SolveSession.current_step).where(
            SolveSession.id == plan.session_id
        )
    ).first()
    if row is None:
        return SessionNotFound("The session was deleted while the reply was streaming.")
    if row.status != SessionStatus.ACTIVE:
        return SessionCompleted("The session was closed while the reply was streaming.")
    return StepMismatch(
        "Another message advanced the session first.",
        details={"current_step": row.current_step.value},
    )
