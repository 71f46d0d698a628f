"""Config: every setting, read from the environment, with safe development defaults."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

DEV_SECRET = "clarity-dev-secret-change-me-please-0123456789"
INSTANCE_DIR = Path(__file__).resolve().parent.parent / "instance"


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def database_url(raw: str | None) -> str:
    """The SQLAlchemy URL, with the psycopg 3 driver spelled out for PostgreSQL."""
    if not raw:
        return f"sqlite:///{INSTANCE_DIR / 'clarity.db'}"
    for prefix in ("postgres://", "postgresql://"):
        if raw.startswith(prefix):
            return "postgresql+psycopg://" + raw[len(prefix) :]
    return raw


def entitlement_tiers(raw: str) -> dict[str, str]:
    """REVENUECAT_ENTITLEMENTS: `entitlement:tier` pairs, comma-separated."""
    pairs: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in raw.split(","))):
        entitlement, _, tier = (p.strip() for p in item.partition(":"))
        if not entitlement or tier not in {"free", "standard", "pro"}:
            raise ValueError(
                f"REVENUECAT_ENTITLEMENTS: {item!r} is not entitlement:tier "
                "(tier free, standard or pro)"
            )
        pairs[entitlement] = tier
    return pairs


def redis_storage(raw: str | None) -> str:
    return raw if raw else "memory://"


class Config:
    CLARITY_ENV = os.environ.get("CLARITY_ENV", "development")
    TESTING = CLARITY_ENV == "testing"
    SECRET_KEY = os.environ.get("JWT_SECRET_KEY", DEV_SECRET)
    JWT_SECRET_KEY = SECRET_KEY
    JWT_ALGORITHM = "HS256"
    JWT_DECODE_ALGORITHMS = ["HS256"]
    JWT_ACCESS_TOKEN_EXPIRES = timedelta(seconds=3600)
    JWT_REFRESH_TOKEN_EXPIRES = timedelta(days=30)
    JWT_TOKEN_LOCATION = ["headers"]
    JWT_ERROR_MESSAGE_KEY = "message"
    # An access token from a sign-in counts as recent this long: the account can then be
    # deleted without the password (API.md, DELETE /auth/me).
    RECENT_SIGN_IN = timedelta(minutes=10)

    SQLALCHEMY_DATABASE_URI = database_url(os.environ.get("DATABASE_URL"))
    # Per worker. Short transactions only (no stream holds a connection), but a burst of new
    # streams needs a few dozen at once: overflow connections are opened and closed per use,
    # which cost 1 ms of CPU per stream in the burst benchmark, so the steady pool is sized
    # for the burst. 2 workers x (30 + 10) stays under PostgreSQL's default 100 connections.
    DB_POOL_SIZE = int(os.environ.get("DB_POOL_SIZE", "30"))
    DB_MAX_OVERFLOW = int(os.environ.get("DB_MAX_OVERFLOW", "10"))
    # A dead database must answer 503 fast, never hang a request.
    DB_CONNECT_TIMEOUT_S = int(os.environ.get("DB_CONNECT_TIMEOUT_S", "2"))
    DB_POOL_TIMEOUT_S = int(os.environ.get("DB_POOL_TIMEOUT_S", "5"))

    # Bodies are small JSON; history is at most 20 × 4000 characters.
    MAX_CONTENT_LENGTH = 512 * 1024

    REDIS_URL = os.environ.get("REDIS_URL") or None
    RATELIMIT_ENABLED = env_bool("RATELIMIT_ENABLED", True)
    RATELIMIT_STORAGE_URI = redis_storage(REDIS_URL)
    RATELIMIT_HEADERS_ENABLED = True
    RATELIMIT_KEY_PREFIX = os.environ.get("RATELIMIT_KEY_PREFIX", "clarity")
    RATELIMIT_PER_USER = os.environ.get("RATELIMIT_PER_USER", "60 per minute")
    RATELIMIT_PER_IP = os.environ.get("RATELIMIT_PER_IP", "30 per minute")
    LOGIN_FAILURE_LIMIT = os.environ.get("LOGIN_FAILURE_LIMIT", "5 per minute")

    CORS_ORIGINS = [o.strip() for o in os.environ.get("CORS_ORIGINS", "").split(",") if o.strip()]

    # /internal/stats (open streams, greenlets, pooled connections) for tests and benchmarks.
    EXPOSE_STATS = env_bool("EXPOSE_STATS", False)
    # GET /metrics exists only with a token, and answers only to `Bearer <METRICS_TOKEN>`.
    METRICS_TOKEN = os.environ.get("METRICS_TOKEN") or None

    STREAM_TOKEN_DELAY_MS = int(os.environ.get("STREAM_TOKEN_DELAY_MS", "50"))
    STREAM_PING_INTERVAL_S = float(os.environ.get("STREAM_PING_INTERVAL_S", "15"))

    # Kept replies (issue 16): how long a reply no one reads goes on, how long an ended one is
    # kept for resuming, how often the Redis copy is written, how often live streams' logins
    # are checked for revocation.
    REPLY_RESUME_WINDOW_S = float(os.environ.get("REPLY_RESUME_WINDOW_S", "30"))
    REPLY_RETENTION_S = float(os.environ.get("REPLY_RETENTION_S", "60"))
    REPLY_FLUSH_MS = int(os.environ.get("REPLY_FLUSH_MS", "50"))
    REVOCATION_CHECK_S = float(os.environ.get("REVOCATION_CHECK_S", "0.5"))

    COACH_PROVIDER = os.environ.get("COACH_PROVIDER", "scripted")
    COACH_BASE_URL = os.environ.get("COACH_BASE_URL", "http://127.0.0.1:11434/v1")
    COACH_API_KEY = os.environ.get("COACH_API_KEY", "not-needed")
    COACH_MODEL = os.environ.get("COACH_MODEL", "llama3.2")
    COACH_TIMEOUT_S = float(os.environ.get("COACH_TIMEOUT_S", "60"))
    # The model's reply is bounded twice: the provider is asked for at most this many tokens
    # (sent as COACH_MAX_TOKENS_FIELD: max_tokens, or max_completion_tokens for OpenAI's
    # reasoning models), and a reply that still passes COACH_MAX_REPLY_CHARS is stopped.
    COACH_MAX_OUTPUT_TOKENS = int(os.environ.get("COACH_MAX_OUTPUT_TOKENS", "800"))
    COACH_MAX_TOKENS_FIELD = os.environ.get("COACH_MAX_TOKENS_FIELD", "max_tokens")
    COACH_MAX_REPLY_CHARS = int(os.environ.get("COACH_MAX_REPLY_CHARS", "8000"))

    # Password hashing runs on a thread pool; this bounds how many hash at once per worker.
    HASH_THREADS = int(os.environ.get("HASH_THREADS", "2"))

    TIER_LIMITS = {
        "free": {"devices": 1, "sessions": 10, "window": "lifetime"},
        "standard": {"devices": 2, "sessions": 100, "window": "month"},
        "pro": {"devices": 3, "sessions": None, "window": "month"},
    }

    # Reported by /auth/config/features.
    APP_VERSION = os.environ.get("APP_VERSION") or "1.0.0"

    # The RevenueCat webhook (docs/subscriptions.md): off while REVENUECAT_WEBHOOK_AUTH is unset.
    REVENUECAT_WEBHOOK_AUTH = os.environ.get("REVENUECAT_WEBHOOK_AUTH") or None
    REVENUECAT_ENTITLEMENTS = entitlement_tiers(
        os.environ.get("REVENUECAT_ENTITLEMENTS", "pro:pro,standard:standard")
    )
    REVENUECAT_ACCEPT_SANDBOX = env_bool("REVENUECAT_ACCEPT_SANDBOX", False)

    API_TITLE = "Clarity API"
    API_VERSION = "1.0.0"
    # 3.1: JSON Schema 2020-12, so the stream's event data can be described (contentSchema).
    OPENAPI_VERSION = "3.1.0"
    OPENAPI_URL_PREFIX = "/"
    OPENAPI_JSON_PATH = "openapi.json"
    # /docs is served by api/docs_page.py from pinned local assets, not flask-smorest's CDN page.
    API_SPEC_OPTIONS = {
        "components": {
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            }
        },
        "servers": [{"url": "/"}],
    }
