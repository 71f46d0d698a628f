"""Session quota per tier: read usage, and consume one session atomically."""

from __future__ import annotations

from typing import Any

from flask import current_app
from sqlalchemy import case, or_, update

from clarity_api.clock import utcnow
from clarity_api.errors import QuotaExceeded
from clarity_api.extensions import db
from clarity_api.models import UsageCounter, User


def _period() -> str:
    return utcnow().strftime("%Y-%m")


def _limits(tier: str) -> dict[str, Any]:
    return current_app.config["TIER_LIMITS"][tier]  # type: ignore[no-any-return]


def usage_of(tier: str, counter: UsageCounter | None) -> dict[str, Any]:
    """What the app shows: sessions used in the tier's window, its limit, the tier."""
    limits = _limits(tier)
    used = 0
    if counter is not None:
        if limits["window"] == "lifetime":
            used = counter.sessions_total
        elif counter.period == _period():
            used = counter.sessions_in_period
    return {"sessions_used": used, "sessions_limit": limits["sessions"], "tier": tier}


def usage(user: User) -> dict[str, Any]:
    return usage_of(user.tier, user.usage)


def consume(user: User) -> dict[str, Any]:
    """Count one new session, or raise QuotaExceeded. One conditional UPDATE: concurrent
    requests serialize on the row, and the WHERE clause is re-checked for each of them."""
    tier = user.tier
    limits = _limits(tier)
    period = _period()
    stmt = (
        update(UsageCounter)
        .where(UsageCounter.user_id == user.id)
        .values(
            sessions_total=UsageCounter.sessions_total + 1,
            sessions_in_period=case(
                (UsageCounter.period == period, UsageCounter.sessions_in_period + 1), else_=1
            ),
            period=period,
        )
        .returning(UsageCounter.sessions_total, UsageCounter.sessions_in_period)
        .execution_options(synchronize_session=False)
    )
    limit = limits["sessions"]
    if limit is not None and limits["window"] == "lifetime":
        stmt = stmt.where(UsageCounter.sessions_total < limit)
    elif limit is not None:
        stmt = stmt.where(
            or_(UsageCounter.period != period, UsageCounter.sessions_in_period < limit)
        )
    row = db.session.execute(stmt).first()
    if row is None:
        db.session.expire(user, ["usage"])
        raise QuotaExceeded(
            f"You have used all {limit} sessions of the {tier} tier.", details=usage(user)
        )
    used = row.sessions_total if limits["window"] == "lifetime" else row.sessions_in_period
    return {"sessions_used": used, "sessions_limit": limit, "tier": tier}
