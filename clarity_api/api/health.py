"""/health: is the service up, and can it reach its database."""

from __future__ import annotations

from typing import Any

from gevent import Timeout
from marshmallow import Schema, fields, validate
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from clarity_api.extensions import db
from clarity_api.web.parsing import ClarityBlueprint

blp = ClarityBlueprint("health", __name__, url_prefix="/health", description="Service health")
# Load balancers give a health check about 2 s: answer (503 if need be) well within that.
HEALTH_TIMEOUT_S = 1.5


class HealthSchema(Schema):
    status = fields.String(required=True, validate=validate.OneOf(["ok", "unavailable"]))
    database = fields.String(required=True, validate=validate.OneOf(["ok", "unavailable"]))


@blp.route("", methods=["GET"])
@blp.response(200, HealthSchema)
@blp.alt_response(503, schema=HealthSchema, description="The database is unreachable")
def health() -> Any:
    """200 when the database answers, 503 within HEALTH_TIMEOUT_S when it does not.

    connect_timeout bounds a new connection, but a database that stops answering on a
    connection already open (hung server, stalled proxy) would hold the check forever: the
    gevent timeout bounds the whole check. SQLAlchemy invalidates a connection interrupted by
    it (a BaseException), so nothing half-read goes back to the pool.
    """
    timer = Timeout(HEALTH_TIMEOUT_S)
    timer.start()
    try:
        db.session.execute(text("SELECT 1"))
    except (SQLAlchemyError, Timeout) as exc:
        if isinstance(exc, Timeout) and exc is not timer:
            raise
        db.session.rollback()
        return {"status": "unavailable", "database": "unavailable"}, 503
    finally:
        timer.close()
    return {"status": "ok", "database": "ok"}


def stats() -> Any:
    """Process internals for tests and benchmarks; registered only with EXPOSE_STATS."""
    import gc
    import os

    from greenlet import greenlet

    from clarity_api import streaming
    from clarity_api.services import reply_readers

    pool = db.engine.pool
    return {
        "pid": os.getpid(),
        "open_streams": streaming.open_streams + reply_readers.open_streams,
        # type(), not isinstance(): gc also holds werkzeug LocalProxy objects (flask_smorest's
        # current_api), whose __class__ raises outside the proxied context.
        "greenlets": sum(1 for o in gc.get_objects() if issubclass(type(o), greenlet) and o),
        "db_checked_out": getattr(pool, "checkedout", lambda: 0)(),
    }
