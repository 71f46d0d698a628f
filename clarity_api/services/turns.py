"""A message turn, from the claim of the session's step to the write that ends it.

    turn = turns.begin(user_id, session_id, content, step, history, sources)
    db.session.commit(); db.session.remove()     # the route: no connection while pacing
    for event in turns.events(turn, db.engine, draining=...): ...

`begin` decides everything about the turn before the stream starts: the step it answers,
safety first, which reply source answers, the history that source sees, the emotion.
`events` then yields the reply as plain events (services/events.py): `produce` gives the
source's tokens and pings, touching no database, and `finish` advances the session in its
own short transaction and builds `done`, at the moment `done` is to be delivered.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, Update, bindparam, select, update

from clarity_api.clock import utcnow
from clarity_api.coach import ReplySources
from clarity_api.coach.base import Coach, CoachRequest, Ending, Ping, Turn, Usage
from clarity_api.coach.emotion import detect_emotion
from clarity_api.errors import (
    ClarityError,
    InternalError,
    ReplyInProgress,
    ServerRestarting,
    ServiceUnavailable,
    SessionCompleted,
    SessionNotFound,
    StepMismatch,
    is_unavailable,
)
from clarity_api.extensions import db
from clarity_api.models import SessionStatus, SolveSession, SolveStep
from clarity_api.safety.crisis import detect_crisis
from clarity_api.services import claims, parse_id, safety_counts
from clarity_api.services.events import PING, DoneEvent, ErrorEvent, Event, TokenEvent

log = logging.getLogger(__name__)

# A claim that finds the session busy and then free is tried again: the reply ended between
# the UPDATE and the SELECT that explains why it matched nothing.
_CLAIM_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class TurnPlan:
    """What the stream needs, decided before it starts; plain values only (no ORM objects)."""

    session_id: uuid.UUID
    step: SolveStep
    request: CoachRequest
    source: Coach
    emotion: tuple[str, float]
    # The reply this turn claimed the session for (None: a turn streamed without keeping).
    reply_id: uuid.UUID | None = None


@dataclass(frozen=True, slots=True)
class Finished:
    """The source's reply is complete; `done` is built from this when it is delivered."""

    usage: Usage | None = None
    ending: Ending = field(default_factory=Ending)


def begin(
    user_id: uuid.UUID,
    session_id: str,
    content: str,
    step: str | None,
    history: Sequence[dict[str, str]],
    sources: ReplySources,
    lease_s: float | None = None,
) -> TurnPlan:
    """Claim the session's step for this message and decide how the turn is answered.

    A message that signals a crisis never reaches the coach: the safety reply answers it
    and only a daily count records it. Earlier turns of the person's that signalled one are
    context no coach may see either.
    """
    reply_id = uuid.uuid4() if lease_s is not None else None
    key, current = claim(user_id, session_id, step, reply_id, lease_s or 0.0)
    crisis = detect_crisis(content)
    if crisis:
        safety_counts.record_blocked()
    context = tuple(
        Turn(t["role"], t["content"])
        for t in history
        if t["role"] != "user" or not detect_crisis(t["content"])
    )
    return TurnPlan(
        session_id=key,
        step=current,
        request=CoachRequest(step=current, content=content, history=context),
        source=sources.safety if crisis else sources.coach,
        emotion=detect_emotion(content),
        reply_id=reply_id,
    )


# The claim's statements, built once with bound parameters: SQLAlchemy keeps a statement's
# cache key on it, so a message skips building and keying them anew (about 80 µs each).
_MINE = (SolveSession.id == bindparam("key"), SolveSession.user_id == bindparam("user"))
_ACTIVE = (*_MINE, SolveSession.status == SessionStatus.ACTIVE)
_TOUCH = (
    update(SolveSession)
    .where(*_ACTIVE)
    .values(last_active_at=bindparam("at"))
    .returning(SolveSession.current_step)
)
_CLAIM = (
    update(SolveSession)
    .where(*_ACTIVE, claims.free())
    .values(last_active_at=bindparam("at"), **claims.take())
    .returning(SolveSession.current_step)
)
_REFUSAL = select(*claims.refusal_columns()).where(*_MINE)


def claim(
    user_id: uuid.UUID,
    session_id: str,
    step: str | None,
    reply_id: uuid.UUID | None = None,
    lease_s: float = 0.0,
) -> tuple[uuid.UUID, SolveStep]:
    """The session's id and current step, if a message may be answered now; marks it active
    and, with `reply_id`, claims it for that reply (one live reply per session).

    One UPDATE ... RETURNING (plain Core: this runs for every message) reads the step, takes
    the claim and moves `last_active_at`, so `flask sessions expire` never retires a session a
    reply is being written for. Every message moves it alike, blocked ones too: the row does
    not show which. A step mismatch raises, so the route rolls the claim back.
    """
    key = parse_id(session_id, SessionNotFound)
    connection = db.session.connection()
    statement = _TOUCH if reply_id is None else _CLAIM
    for _attempt in range(_CLAIM_ATTEMPTS):
        now = utcnow()
        params = {"key": key, "user": user_id, **claims.taking(reply_id, now, lease_s)}
        row = connection.execute(statement, params).first()
        if row is not None:
            break
        found = connection.execute(_REFUSAL, params).first()
        refused = claims.refusal(found, now, step)
        if refused is not None:
            raise refused
        busy = found.reply_id if found is not None else None
    else:  # freed and taken again by other messages each time: still busy, name the last
        raise ReplyInProgress(details={"reply_id": str(busy)})
    current: SolveStep = row.current_step
    if step is not None and step != current:
        raise StepMismatch(details={"current_step": current.value})
    return key, current


def events(turn: TurnPlan, engine: Engine, *, draining: Callable[[], bool]) -> Iterator[Event]:
    """The turn's reply: token and ping events, then one `done` or one `error`.

    Closing this generator (the client went away) closes the reply source, and nothing after
    the last yield (the step change) runs.
    """
    produced = produce(turn, draining)
    try:
        for event in produced:
            yield finish(engine, turn, event) if isinstance(event, Finished) else event
    finally:
        produced.close()


def produce(
    turn: TurnPlan, draining: Callable[[], bool]
) -> Generator[Event | Finished, None, None]:
    """The reply source's pieces as events, then Finished, or one error event instead.

    Touches no database. While `draining` (a graceful shutdown) the reply stops with a
    retryable error before its next piece.
    """
    items = turn.source.reply(turn.request)
    usage: Usage | None = None
    ending = Ending()
    try:
        for item in items:
            if draining():
                yield ErrorEvent.of(ServerRestarting())
                return
            if isinstance(item, str):
                if item:
                    yield TokenEvent(item)
            elif isinstance(item, Ping):
                yield PING
            elif isinstance(item, Usage):
                usage = item
            elif isinstance(item, Ending):
                ending = item
    except Exception as exc:
        yield failure(exc)
        return
    finally:
        close = getattr(items, "close", None)
        if close is not None:
            close()
    yield Finished(usage, ending)


def finish(
    engine: Engine, turn: TurnPlan, finished: Finished, attended: bool = True
) -> DoneEvent | ErrorEvent:
    """The `done` event, after the session's step change commits; or the error saying why the
    session could not advance (it moved on, or was closed or deleted, meanwhile).

    `attended`: a client is about to be written this `done`, so the session advances now.
    Otherwise (a kept reply no one reads) the claim is given back, `done` says where the
    session will be, and the first delivery advances it (claims.advance_on_delivery).
    """
    try:
        if finished.ending.advances and attended:
            # One short transaction straight on the engine: no app context, no ORM session.
            with engine.begin() as connection:
                next_step, status = advance(connection, turn)
        elif turn.reply_id is not None:
            with engine.begin() as connection:
                next_step, status = hand_over(connection, turn, finished.ending.advances)
        else:
            next_step, status = turn.step, SessionStatus.ACTIVE
    except Exception as exc:
        return failure(exc)
    detected, confidence = turn.emotion
    done: dict[str, Any] = {
        **finished.ending.done,
        "next_step": next_step,
        "emotion_detected": detected,
        "confidence": confidence,
        "session_status": status,
    }
    if finished.usage is not None:
        usage = finished.usage
        done["usage"] = {"input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens}
    return DoneEvent(done)


def advance(connection: Connection, turn: TurnPlan) -> tuple[SolveStep | None, SessionStatus]:
    """Move the session one step on, only if it is still where the turn began.

    A compare-and-set UPDATE, so of two streams on one session only one advances it. The
    step after the last completes the session: (None, COMPLETED).
    """
    completes, params = claims.advance_params(turn.step, utcnow())
    params.update(key=turn.session_id, claim=turn.reply_id)
    result = connection.execute(_ADVANCE[turn.reply_id is not None, completes], params)
    if result.rowcount != 1:
        raise _why_not_advanced(connection, turn)
    return turn.step.next(), SessionStatus.COMPLETED if completes else SessionStatus.ACTIVE


def _advancing(claimed: bool, completes: bool) -> Update:
    where = [
        SolveSession.id == bindparam("key"),
        SolveSession.current_step == bindparam("step"),
        SolveSession.status == SessionStatus.ACTIVE,
    ]
    if claimed:  # this reply's claim, dropped by the same statement
        where.append(SolveSession.reply_id == bindparam("claim"))
    return update(SolveSession).where(*where).values(**claims.advance_values(completes))


# Built once, as the claim's are: (claimed by a reply, completes the session) -> UPDATE.
_ADVANCE = {(c, d): _advancing(c, d) for c in (False, True) for d in (False, True)}


def hand_over(
    connection: Connection, turn: TurnPlan, advances: bool
) -> tuple[SolveStep | None, SessionStatus]:
    """Give the claim back without advancing; where the session will be once `done` is
    delivered. Raises, as `advance` does, if it was closed or moved on meanwhile."""
    assert turn.reply_id is not None
    row = claims.release(connection, turn.session_id, turn.reply_id)
    if row is None or row.status != SessionStatus.ACTIVE or row.current_step != turn.step:
        raise _why(row)
    following = turn.step.next() if advances else turn.step
    done = advances and following is None
    return following, SessionStatus.COMPLETED if done else SessionStatus.ACTIVE


def give_back(engine: Engine, turn: TurnPlan) -> None:
    """A kept reply ended with an error: one UPDATE drops its claim, the step stays."""
    if turn.reply_id is not None:
        with engine.begin() as connection:
            claims.release(connection, turn.session_id, turn.reply_id)


def _why_not_advanced(connection: Connection, turn: TurnPlan) -> ClarityError:
    if turn.reply_id is not None:  # the claim is still ours: drop it as we read why
        return _why(claims.release(connection, turn.session_id, turn.reply_id))
    return _why(
        connection.execute(
            select(SolveSession.status, SolveSession.current_step).where(
                SolveSession.id == turn.session_id
            )
        ).first()
    )


def _why(row: Any) -> ClarityError:
    if row is None:
        return SessionNotFound("The session was deleted while the reply was streaming.")
    if row.status != SessionStatus.ACTIVE:
        return SessionCompleted("The session was closed while the reply was streaming.")
    return StepMismatch(
        "Another message advanced the session first.",
        details={"current_step": row.current_step.value},
    )


def failure(exc: Exception) -> ErrorEvent:
    """The error event for a failure after the stream began (it can no longer be a status)."""
    if isinstance(exc, ClarityError):
        return ErrorEvent.of(exc)
    if is_unavailable(exc):  # the database went away: the client may retry shortly
        log.warning("stream could not finish: database unavailable (%s)", type(exc).__name__)
        return ErrorEvent.of(ServiceUnavailable())
    log.exception("stream failed")
    return ErrorEvent.of(InternalError())
