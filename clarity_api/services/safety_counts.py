"""The only trace a crisis message leaves: a count per UTC day."""

from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from clarity_api.clock import utcnow
from clarity_api.extensions import db
from clarity_api.models import BlockedMessageCount


def record_blocked() -> None:
    insert = pg_insert if db.engine.dialect.name == "postgresql" else sqlite_insert
    stmt = insert(BlockedMessageCount).values(day=utcnow().date(), count=1)
    stmt = stmt.on_conflict_do_update(
        index_elements=[BlockedMessageCount.day],
        set_={"count": BlockedMessageCount.count + 1},
    )
    db.session.execute(stmt)
