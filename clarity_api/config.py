"""Config: every setting, read strictly from the environment, with safe development defaults.

Each variable is read through `env` (clarity_api/environment.py): a value that does not parse
stops start-up with a ConfigError naming it (`env.check()` at the end of this module).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from clarity_api.environment import ConfigError, Environment, parse_url

__all__ = ["ConfigError"]  # raised by env.check(); re-exported for callers of config

DEV_SECRET = "clarity-dev-secret-change-me-please-0123456789"
INSTANCE_DIR = Path(__file__).resolve().parent.parent / "instance"
# A production signing key must carry at least this much entropy, as zxcvbn estimates it
# (repeats, sequences and words count for little): 32 random bytes, urlsafe-encoded, do.
JWT_KEY_MIN_BITS = 128

env = Environment()


def env_bool(name: str, default: bool) -> bool:
    """A switch (true/false, 1/0, yes/no, on/off); anything else is a configuration error."""
    return env.boolean(name, default)


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
            raise ValueError(f"{item!r} is not entitlement:tier (tier free, standard or pro)")
        pairs[entitlement] = tier
    return pairs


def checked_database_url(raw: str) -> str:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    url = database_url(raw)
    try:
        make_url(url)
    except ArgumentError:
        raise ValueError(
            "not a database URL (postgres://…, postgresql://… or sqlite:///…)"
        ) from None
    return url


def origins(raw: str) -> list[str]:
    """Comma-separated web origins, each http(s)://host[:port]."""
    return [parse_url(o.strip(), ("http", "https")) for o in raw.split(",") if o.strip()]


def redis_storage(raw: str | None) -> str:
    return raw if raw else "memory://"


def jwt_key_bits(key: str) -> float:
    """zxcvbn's estimate of the key's entropy in bits, on its first 100 characters (a longer
    key only has more; zxcvbn's time grows with the square of the length)."""
    from zxcvbn import zxcvbn

    return float(zxcvbn(key[:100])["guesses_log10"]) * 3.321928  # log2(10)


def jwt_key_problem(key: str) -> str | None:
    """Why this key cannot sign production tokens, or None."""
    if key == DEV_SECRET or len(key) < 32:
        return "JWT_SECRET_KEY must be set (32+ characters) in production"
    if jwt_key_bits(key) < JWT_KEY_MIN_BITS:
        return (
            f"JWT_SECRET_KEY has too little entropy (under {JWT_KEY_MIN_BITS} bits): use "
            'random bytes, e.g. python -c "import secrets; print(secrets.token_urlsafe(48))"'
        )
    return None


class Config:
    CLARITY_ENV = env.choice("CLARITY_ENV", "development", ("development", "testing", "production"))
    TESTING = CLARITY_ENV == "testing"
    SECRET_KEY = env.text("JWT_SECRET_KEY", DEV_SECRET)
    JWT_SECRET_KEY = SECRET_KEY
    JWT_ALGORITHM = "HS256"
    JWT_DECODE_ALGORITHMS = ["HS256"]
    JWT_ACCESS_TOKEN_EXPIRES = timedelta(seconds=3600)
    JWT_REFRESH_TOKEN_EXPIRES = timedelta(days=30)
    JWT_TOKEN_LOCATION = ["headers"]
    JWT_ERROR_MESSAGE_KEY = "message"
    # An access token from a sign-in counts as recent this long: the account can then be
    # deleted without the password (API.md, DELETE /auth/me).
    RECENT_SIGN_IN = timedelta(seconds=env.integer("RECENT_SIGN_IN_S", 600, minimum=0))

    SQLALCHEMY_DATABASE_URI = env.parsed("DATABASE_URL", database_url(None), checked_database_url)
    # Per worker. Short transactions only (no stream holds a connection), but a burst of new
    # streams needs a few dozen at once: overflow connections are opened and closed per use,
    # which cost 1 ms of CPU per stream in the burst benchmark, so the steady pool is sized
    # for the burst. 2 workers x (30 + 10) stays under PostgreSQL's default 100 connections.
    DB_POOL_SIZE = env.integer("DB_POOL_SIZE", 30, minimum=1)
    DB_MAX_OVERFLOW = env.integer("DB_MAX_OVERFLOW", 10)
    # A dead database must answer 503 fast, never hang a request.
    DB_CONNECT_TIMEOUT_S = env.integer("DB_CONNECT_TIMEOUT_S", 2, minimum=1)
    DB_POOL_TIMEOUT_S = env.integer("DB_POOL_TIMEOUT_S", 5, minimum=1)

    # Room for the largest valid body, a message with its history: 21 texts (content and 20
    # turns) of 4,000 characters, each an emoji sent JSON-escaped as a surrogate pair
    # ("\ud83d\ude00", 12 bytes), plus 64 KiB for the JSON around them. 1,073,536 bytes.
    MAX_CONTENT_LENGTH = (1 + 20) * 4000 * 12 + 64 * 1024

    # Proxy hops in front of the service (Heroku's router: 1). The client's address and scheme
    # are read from the last TRUSTED_PROXIES entries of X-Forwarded-For / X-Forwarded-Proto,
    # never from entries a client wrote itself (werkzeug's ProxyFix, in create_app).
    TRUSTED_PROXIES = env.integer("TRUSTED_PROXIES", 0, maximum=10)

    REDIS_URL = env.parsed(
        "REDIS_URL", None, lambda raw: parse_url(raw, ("redis", "rediss", "unix"))
    )
    RATELIMIT_ENABLED = env.boolean("RATELIMIT_ENABLED", True)
    RATELIMIT_STORAGE_URI = redis_storage(REDIS_URL)
    RATELIMIT_HEADERS_ENABLED = True
    RATELIMIT_KEY_PREFIX = env.text("RATELIMIT_KEY_PREFIX", "clarity")
    RATELIMIT_PER_USER = env.rate("RATELIMIT_PER_USER", "60 per minute")
    # Per client address, only failed attempts (and reset emails) count: docs/reliability.md.
    RATELIMIT_PER_IP = env.rate("RATELIMIT_PER_IP", "100 per minute; 1000 per hour")
    SIGNUP_PER_IP = env.rate("SIGNUP_PER_IP", "100 per minute; 1000 per day")
    # Signing out, revoking, changing the password, deleting the account: per login, apart.
    REVOCATION_LIMIT = env.rate("REVOCATION_LIMIT", "30 per minute")
    LOGIN_FAILURE_LIMIT = env.rate("LOGIN_FAILURE_LIMIT", "5 per minute")

    CORS_ORIGINS: list[str] = env.parsed("CORS_ORIGINS", [], origins)

    # /internal/stats (open streams, greenlets, pooled connections) for tests and benchmarks.
    EXPOSE_STATS = env.boolean("EXPOSE_STATS", False)
    # GET /metrics exists only with a token, and answers only to `Bearer <METRICS_TOKEN>`.
    METRICS_TOKEN = env.optional("METRICS_TOKEN")

    STREAM_TOKEN_DELAY_MS = env.integer("STREAM_TOKEN_DELAY_MS", 50)
    STREAM_PING_INTERVAL_S = env.number("STREAM_PING_INTERVAL_S", 15.0)

    # Kept replies (issue 16): how long a reply no one reads goes on, how long an ended one is
    # kept for resuming, how often the Redis copy is written, how often live streams' logins
    # are checked for revocation.
    REPLY_RESUME_WINDOW_S = env.number("REPLY_RESUME_WINDOW_S", 30.0)
    REPLY_RETENTION_S = env.number("REPLY_RETENTION_S", 60.0)
    REPLY_FLUSH_MS = env.integer("REPLY_FLUSH_MS", 50)
    REVOCATION_CHECK_S = env.number("REVOCATION_CHECK_S", 0.5)

    COACH_PROVIDER = env.choice("COACH_PROVIDER", "scripted", ("scripted", "openai"))
    COACH_BASE_URL = env.parsed(
        "COACH_BASE_URL", "http://127.0.0.1:11434/v1", lambda raw: parse_url(raw, ("http", "https"))
    )
    COACH_API_KEY = env.text("COACH_API_KEY", "not-needed")
    COACH_MODEL = env.text("COACH_MODEL", "llama3.2")
    COACH_TIMEOUT_S = env.number("COACH_TIMEOUT_S", 60.0)
    # The model's reply is bounded twice: the provider is asked for at most this many tokens
    # (sent as COACH_MAX_TOKENS_FIELD: max_tokens, or max_completion_tokens for OpenAI's
    # reasoning models), and a reply that still passes COACH_MAX_REPLY_CHARS is stopped.
    COACH_MAX_OUTPUT_TOKENS = env.integer("COACH_MAX_OUTPUT_TOKENS", 800, minimum=1)
    COACH_MAX_TOKENS_FIELD = env.choice(
        "COACH_MAX_TOKENS_FIELD", "max_tokens", ("max_tokens", "max_completion_tokens")
    )
    COACH_MAX_REPLY_CHARS = env.integer("COACH_MAX_REPLY_CHARS", 8000, minimum=1)

    # Password hashing runs on a thread pool; this bounds how many hash at once per worker.
    HASH_THREADS = env.integer("HASH_THREADS", 2, minimum=1)

    # Reset codes by email (README, "Configuration"). SMTP_URL: smtp://host:port,
    # smtp+starttls://user:pw@host:port, or smtps://user:pw@host:port (TLS from the start).
    SMTP_URL = env.parsed(
        "SMTP_URL", None, lambda raw: parse_url(raw, ("smtp", "smtp+starttls", "smtps"))
    )
    MAIL_FROM = env.text("MAIL_FROM", "Clarity <no-reply@localhost>")
    SMTP_TIMEOUT_S = env.number("SMTP_TIMEOUT_S", 10.0, minimum=0.1)
    SMTP_CA_FILE = env.optional("SMTP_CA_FILE")  # a private relay's own CA
    RESET_CODE_MINUTES = env.integer("RESET_CODE_MINUTES", 30, minimum=1)
    RESET_CODE_TRIES = env.integer("RESET_CODE_TRIES", 5, minimum=1)
    RESET_EMAIL_LIMIT = env.rate("RESET_EMAIL_LIMIT", "3 per 15 minutes")

    TIER_LIMITS = {
        "free": {"devices": 1, "sessions": 10, "window": "lifetime"},
        "standard": {"devices": 2, "sessions": 100, "window": "month"},
        "pro": {"devices": 3, "sessions": None, "window": "month"},
    }

    # Reported by /auth/config/features.
    APP_VERSION = env.text("APP_VERSION", "1.0.0")

    # The RevenueCat webhook (docs/subscriptions.md): off while REVENUECAT_WEBHOOK_AUTH is unset.
    REVENUECAT_WEBHOOK_AUTH = env.optional("REVENUECAT_WEBHOOK_AUTH")
    REVENUECAT_ENTITLEMENTS = env.parsed(
        "REVENUECAT_ENTITLEMENTS", entitlement_tiers("pro:pro,standard:standard"), entitlement_tiers
    )
    REVENUECAT_ACCEPT_SANDBOX = env.boolean("REVENUECAT_ACCEPT_SANDBOX", False)

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


# Every variable above has been read: stop here if any did not parse.
env.check()
