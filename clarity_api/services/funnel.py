"""How far sessions get, from step and status alone: no message content exists to read.

Steps only move forward, so a session's `current_step` is the furthest step it reached.
Crisis messages are a daily count tied to no session (docs/safety.md), so the report gives
them as a number of messages over the same days, not as a share of sessions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from clarity_api.clock import isoformat
from clarity_api.extensions import db
from clarity_api.models import BlockedMessageCount, SessionStatus, SolveSession, SolveStep


@dataclass(frozen=True, slots=True)
class Funnel:
    since: datetime | None
    opened: int
    reached: dict[str, int]  # step -> sessions that got at least that far
    status: dict[str, int]  # active / completed / abandoned -> sessions
    blocked_messages: int

    @property
    def resolution_rate(self) -> float | None:
        """The north star: the share of opened sessions the person completed."""
        return self.status["completed"] / self.opened if self.opened else None

    def as_dict(self) -> dict[str, object]:
        return {
            "since": isoformat(self.since),
            "sessions_opened": self.opened,
            "reached_step": self.reached,
            "status": self.status,
            "resolution_rate": self.resolution_rate,
            "blocked_messages": self.blocked_messages,
        }


def funnel(since: datetime | None = None) -> Funnel:
    """Sessions opened at or after `since` (all, if None) and where they stand now."""
    where = [] if since is None else [SolveSession.created_at >= since]
    stmt = (
        select(SolveSession.status, SolveSession.current_step, func.count())
        .where(*where)
        .group_by(SolveSession.status, SolveSession.current_step)
    )
    blocked = select(func.coalesce(func.sum(BlockedMessageCount.count), 0))
    if since is not None:
        blocked = blocked.where(BlockedMessageCount.day >= since.date())
    with db.engine.connect() as connection:
        rows = connection.execute(stmt).all()
        blocked_messages = int(connection.scalar(blocked) or 0)

    furthest = dict.fromkeys(SolveStep, 0)
    status = dict.fromkeys((s.value for s in SessionStatus), 0)
    for row_status, step, count in rows:
        furthest[step] += count
        status[row_status.value] += count
    reached, total = {}, 0
    for step in reversed(SolveStep):
        total += furthest[step]
        reached[step.value] = total
    return Funnel(
        since=since,
        opened=total,
        reached={step.value: reached[step.value] for step in SolveStep},
        status=status,
        blocked_messages=blocked_messages,
    )
