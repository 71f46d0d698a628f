"""Stale sessions: mark active sessions the person left long ago as abandoned.

Run from a scheduler while the service is serving, so it works in short batches, each its
own transaction. A batch takes the idlest sessions and re-checks them as it changes them: a
session a stream advanced a moment ago, or the person just closed, is left as it is. On
PostgreSQL a row another transaction holds (a stream finishing, a PATCH) is skipped rather
than waited for; it is not idle anyway.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, and_, func, select, update

from clarity_api.clock import utcnow
from clarity_api.extensions import db
from clarity_api.models import SessionStatus, SolveSession


def _idle(cutoff: datetime) -> ColumnElement[bool]:
    return and_(SolveSession.status == SessionStatus.ACTIVE, SolveSession.last_active_at < cutoff)


def count_idle(cutoff: datetime) -> int:
    """How many active sessions nobody has moved since `cutoff` (a dry run)."""
    stmt = select(func.count()).select_from(SolveSession).where(_idle(cutoff))
    with db.engine.connect() as connection:
        return int(connection.scalar(stmt) or 0)


def expire_idle(cutoff: datetime, batch_size: int = 500) -> tuple[int, int]:
    """Abandon every active session nobody has moved since `cutoff`.

    Returns (sessions changed, batches). `last_active_at` is left alone: it records the
    person's last move, not ours.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    batch = (
        select(SolveSession.id)
        .where(_idle(cutoff))
        .order_by(SolveSession.last_active_at)
        .limit(batch_size)
    )
    if db.engine.dialect.name == "postgresql":
        # A CTE with FOR UPDATE runs once. As `id IN (subquery)`, PostgreSQL may re-run the
        # LIMIT subquery for every outer row (a semi join) and change the whole backlog at once.
        picked = batch.with_for_update(skip_locked=True).cte("batch")
        where = SolveSession.id == picked.c.id
    else:
        where = SolveSession.id.in_(batch.scalar_subquery())
    stmt = (
        update(SolveSession)
        .where(where, _idle(cutoff))
        .values(status=SessionStatus.ABANDONED, updated_at=utcnow())
    )
    changed = batches = 0
    while True:
        with db.engine.begin() as connection:
            done = connection.execute(stmt).rowcount
        if done == 0:
            return changed, batches
        changed += done
        batches += 1
