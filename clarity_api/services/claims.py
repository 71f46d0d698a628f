"""The reply claim: one live reply per session, held in the session's row so that every
worker and instance sees it, with or without Redis.

The claim is taken by the UPDATE that begins a turn (`free` in its WHERE, `take` in its
SET, `taking` for their parameters), and dropped by the UPDATE that advances the step, so
a message costs no extra statement. It is a lease: a worker that dies holding one blocks
the session only until `reply_claimed_until`, which is bounded by the longest a reply can
run.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, bindparam, or_, select, update

from clarity_api.clock import utcnow
from clarity_api.coach.prompts import SCRIPTED_REPLIES
from clarity_api.coach.scripted import split_words
from clarity_api.errors import ReplyInProgress, SessionCompleted, SessionNotFound, StepMismatch
from clarity_api.models import SessionStatus, SolveSession, SolveStep
from clarity_api.safety.crisis import SAFETY_MESSAGE

# Room for the last database write and scheduling delays after the reply's own bound.
_MARGIN_S = 5.0


def lease_s(config: Any) -> float:
    """The longest a reply can be produced: its source's bound plus the resume window."""
    words = max(len(split_words(line)) for line in (*SCRIPTED_REPLIES.values(), SAFETY_MESSAGE))
    paced = words * config["STREAM_TOKEN_DELAY_MS"] / 1000
    bound = config["COACH_TIMEOUT_S"] if config["COACH_PROVIDER"] != "scripted" else 0.0
    return max(paced, bound) + config["REPLY_RESUME_WINDOW_S"] + _MARGIN_S


def free() -> ColumnElement[bool]:
    """No live reply at the bound `at`: never claimed, released, or its lease ran out (a
    crashed worker)."""
    until = SolveSession.reply_claimed_until
    return or_(until.is_(None), until <= bindparam("at"))


def take() -> dict[str, Any]:
    """SET that claims the session for the bound `claim` reply until the bound `until`."""
    return {"reply_id": bindparam("claim"), "reply_claimed_until": bindparam("until")}


def taking(reply_id: uuid.UUID | None, now: datetime, lease: float) -> dict[str, Any]:
    """The bound parameters of `free()` and `take()`."""
    return {"at": now, "claim": reply_id, "until": now + timedelta(seconds=lease)}


def refusal(row: Row[Any] | None, now: datetime, step: str | None = None) -> Exception | None:
    """Why the claiming UPDATE matched no row, from `refusal_columns()`.

    None when nothing refuses any more: the live reply ended between the two statements
    (and left the session at `step`), so the claim is to be tried again.
    """
    if row is None:
        return SessionNotFound()
    if row.status != SessionStatus.ACTIVE:
        return SessionCompleted()
    if row.reply_claimed_until is not None and row.reply_claimed_until > now:
        return ReplyInProgress(details={"reply_id": str(row.reply_id)})
    if step is not None and step != row.current_step:
        return StepMismatch(details={"current_step": row.current_step.value})
    return None


def refusal_columns() -> tuple[Any, ...]:
    return (
        SolveSession.status,
        SolveSession.reply_id,
        SolveSession.reply_claimed_until,
        SolveSession.current_step,
    )


def release(connection: Connection, session_id: uuid.UUID, reply_id: uuid.UUID) -> Row[Any] | None:
    """Drop the claim without advancing; (status, current_step) of the row, None if gone."""
    return connection.execute(
        update(SolveSession)
        .where(SolveSession.id == session_id, SolveSession.reply_id == reply_id)
        .values(reply_claimed_until=None)
        .returning(SolveSession.status, SolveSession.current_step)
    ).first()


def advance_values(completes: bool) -> dict[str, Any]:
    """SET of the UPDATE that moves a session on a step (and drops any claim), with the bound
    parameters of `advance_params`; `completes`: that step was the last."""
    values: dict[str, Any] = {
        "current_step": bindparam("following"),
        "last_active_at": bindparam("at"),
        "updated_at": bindparam("at"),
        "reply_claimed_until": None,
    }
    if completes:
        values.update(status=SessionStatus.COMPLETED, completed_at=bindparam("at"))
    return values


def advance_params(step: str, now: datetime) -> tuple[bool, dict[str, Any]]:
    """Whether moving past `step` completes the session, and the parameters to do it."""
    following = SolveStep(step).next()
    params = {"step": SolveStep(step), "following": SolveStep(following or step), "at": now}
    return following is None, params


def advance_on_delivery(
    connection: Connection, session_id: uuid.UUID, reply_id: uuid.UUID, step: str
) -> bool:
    """A `done` whose producer had no reader reached a client: advance, the first time only.

    Compare-and-set on the reply being the session's latest, released, and the session still
    at the step the reply answered: a replayed `done` (the step moved) changes nothing.
    """
    completes, params = advance_params(step, utcnow())
    result = connection.execute(
        update(SolveSession)
        .where(
            SolveSession.id == session_id,
            SolveSession.reply_id == reply_id,
            SolveSession.reply_claimed_until.is_(None),
            SolveSession.status == SessionStatus.ACTIVE,
            SolveSession.current_step == bindparam("step"),
        )
        .values(**advance_values(completes)),
        params,
    )
    return bool(result.rowcount == 1)


def latest_reply(
    connection: Connection, user_id: uuid.UUID, session_id: uuid.UUID
) -> tuple[str | None, bool]:
    """The session's latest reply id and whether it is still live; SessionNotFound if not
    the user's."""
    row = connection.execute(
        select(SolveSession.reply_id, SolveSession.reply_claimed_until).where(
            SolveSession.id == session_id, SolveSession.user_id == user_id
        )
    ).first()
    if row is None:
        raise SessionNotFound()
    live = row.reply_claimed_until is not None and row.reply_claimed_until > utcnow()
    return (str(row.reply_id) if row.reply_id is not None else None), live
