"""Clarity API: the backend of the Solve app."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import event
from werkzeug.middleware.proxy_fix import ProxyFix

from clarity_api import cli
from clarity_api.coach import make_sources
from clarity_api.config import Config, jwt_key_problem
from clarity_api.extensions import db, jwt, limiter, migrate
from clarity_api.models.types import render_item
from clarity_api.services import hashing
from clarity_api.web import auth, headers, metrics
from clarity_api.web import logging as request_logging
from clarity_api.web.errors import register_error_handlers
from clarity_api.web.parsing import ClarityApi


def create_app(config: type[Config] | Any = Config) -> Flask:
    app = Flask(__name__)
    app.config.from_object(config)
    check_config(app)
    hops = app.config["TRUSTED_PROXIES"]
    if hops:  # the address and scheme from the trusted hops' own X-Forwarded-* entries only
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(app.config)
    request_logging.init_app(app)
    metrics.init_app(app)  # before the limiter's check, so refused requests are timed too
    db.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            event.listen(db.engine, "connect", _sqlite_pragmas)
    migrate.init_app(
        app,
        db,
        directory=str(_migrations_dir()),
        render_as_batch=True,
        compare_type=True,
        render_item=render_item,
    )
    jwt.init_app(app)
    # Flask-Limiter keeps the first app's key prefix for good; apps side by side (tests on a
    # shared Redis) each need their own, so set it for every app.
    limiter._key_prefix = app.config["RATELIMIT_KEY_PREFIX"]
    limiter.init_app(app)
    auth.init_app(app)
    headers.init_app(app)
    hashing.configure(app.config["HASH_THREADS"])
    app.extensions["clarity_replies"] = make_sources(app.config)
    app.extensions["clarity_kept_replies"] = _kept_replies(app)

    from clarity_api.api import docs_page, register_blueprints
    from clarity_api.api import metrics as metrics_endpoint

    register_blueprints(ClarityApi(app))
    docs_page.init_app(app)
    metrics_endpoint.init_app(app)
    if app.config["EXPOSE_STATS"]:
        from clarity_api.api.health import stats

        app.add_url_rule("/internal/stats", "internal_stats", stats)
    register_error_handlers(app)
    cli.init_app(app)
    return app


def _kept_replies(app: Flask) -> Any:
    """Kept replies: in Redis when REDIS_URL is set (any worker can resume), else in memory."""
    from clarity_api.services.reply_turns import KeptReplies

    client = None
    if app.config["REDIS_URL"]:
        import redis

        client = redis.Redis.from_url(app.config["REDIS_URL"], socket_connect_timeout=2)
    with app.app_context():
        return KeptReplies(app.config, db.engine, client)


def check_config(app: Flask) -> None:
    """Refuse to run in production with a guessable signing key, or with test-only switches."""
    if app.config["CLARITY_ENV"] not in {"development", "testing", "production"}:
        raise RuntimeError("CLARITY_ENV must be development, testing or production")
    if app.config["CLARITY_ENV"] == "production":
        problem = jwt_key_problem(app.config.get("JWT_SECRET_KEY") or "")
        if problem:
            raise RuntimeError(problem)
        if app.config["EXPOSE_STATS"]:
            raise RuntimeError("EXPOSE_STATS is for tests and benchmarks, not production")


def engine_options(config: Any) -> dict[str, Any]:
    uri = config["SQLALCHEMY_DATABASE_URI"]
    if uri.startswith("sqlite"):
        return {"connect_args": {"timeout": 15}}
    return {
        "pool_size": config["DB_POOL_SIZE"],
        "max_overflow": config["DB_MAX_OVERFLOW"],
        "pool_timeout": config["DB_POOL_TIMEOUT_S"],
        # No pre-ping: it costs a round trip per checkout (two per stream). A connection found
        # dead fails that one request with a 503 and SQLAlchemy then drops the stale pool.
        "pool_pre_ping": False,
        "pool_recycle": 1800,
        "connect_args": {
            "connect_timeout": config["DB_CONNECT_TIMEOUT_S"],
            # A peer that vanishes without closing (partition, frozen host) is noticed in
            # about 10 s instead of the kernel's minutes; a runaway statement stops at 5 s.
            "keepalives": 1,
            "keepalives_idle": 5,
            "keepalives_interval": 2,
            "keepalives_count": 3,
            "tcp_user_timeout": 10_000,
            "options": "-c statement_timeout=5000",
        },
    }


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")  # ON DELETE CASCADE is how accounts are erased
    cursor.execute("PRAGMA journal_mode=WAL")  # readers don't wait for the writer
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _migrations_dir() -> Any:
    from pathlib import Path

    return Path(__file__).resolve().parent.parent / "migrations"
