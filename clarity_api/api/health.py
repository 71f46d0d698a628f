"""/health: is the service up, and can it reach its database."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from clarity_api.extensions import ClarityBlueprint, db

blp = ClarityBlueprint("health", __name__, url_prefix="/health", description="Service health")


class HealthSchema(Schema):
    status = fields.String(required=True)
    database = fields.String(required=True)


@blp.route("", methods=["GET"])
@blp.response(200, HealthSchema)
@blp.alt_response(503, schema=HealthSchema, description="The database is unreachable")
def health() -> Any:
    """200 when the database answers, 503 (within the connect timeout) when it does not."""
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        db.session.rollback()
        return {"status": "unavailable", "database": "unavailable"}, 503
    return {"status": "ok", "database": "ok"}


def stats() -> Any:
    """Process internals for tests and benchmarks; registered only with EXPOSE_STATS."""
    import gc
    import os

    from greenlet import greenlet

    from clarity_api import streaming

    pool = db.engine.pool
    return {
        "pid": os.getpid(),
        "open_streams": streaming.open_streams,
        "greenlets": sum(1 for o in gc.get_objects() if isinstance(o, greenlet) and o),
        "db_checked_out": getattr(pool, "checkedout", lambda: 0)(),
    }
