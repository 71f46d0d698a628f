"""create_app and Config: settings from the environment, and refusing unsafe ones."""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from flask import Flask

import clarity_api.config
from clarity_api import create_app, engine_options
from clarity_api.config import DEV_SECRET, database_url, env_bool, jwt_key_bits, jwt_key_problem
from clarity_api.environment import ConfigError
from tests.conftest import make_config

# 48 random bytes, urlsafe-encoded (secrets.token_urlsafe(48)): what docs tell operators to use.
STRONG_SECRET = "q3Xv9lR0b7m2KpZt-Wn8yE4cH1sJfUaG6dLoV5iBrNxQw0TkYeMzP_hC7jA2gS9uDfOv1Kl3"


@pytest.fixture(autouse=True)
def root_logger() -> Iterator[None]:
    """A production app installs JSON logging on the root logger; put it back afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def load_config(monkeypatch: pytest.MonkeyPatch, **env: str | None) -> ModuleType:
    """A fresh copy of clarity_api/config.py read under this environment (the real one stays)."""
    for name, value in env.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    path = Path(clarity_api.config.__file__)
    spec = importlib.util.spec_from_file_location("clarity_config_under_test", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- refusing to start ------------------------------------------------------------------


@pytest.mark.parametrize(
    "secret",
    [
        DEV_SECRET,
        "",
        "short-secret",
        "a" * 40,
        "ab" * 24,
        "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH",
        "correcthorsebatterystaple" * 2,
        "0123456789abcdef0123456789abcdef",  # 32 hex digits: ~100 bits as estimated
    ],
    ids=["dev-key", "empty", "short", "40a", "repeat", "sequence", "words", "hex128"],
)
def test_production_refuses_to_start_without_a_real_key(tmp_path: Path, secret: str) -> None:
    config = make_config(
        tmp_path, CLARITY_ENV="production", TESTING=False, JWT_SECRET_KEY=secret, SECRET_KEY=secret
    )
    with pytest.raises(RuntimeError, match="JWT_SECRET_KEY"):
        create_app(config)


def test_random_keys_carry_enough_entropy_and_patterns_do_not() -> None:
    import secrets

    for _ in range(3):  # what the refusal message suggests, and 32 random bytes in hex
        assert jwt_key_problem(secrets.token_urlsafe(48)) is None
        assert jwt_key_problem(secrets.token_hex(32)) is None
    assert "entropy" in (jwt_key_problem("a" * 40) or "")
    assert jwt_key_bits("a" * 40) < 20


def test_production_starts_with_a_real_key(tmp_path: Path) -> None:
    config = make_config(
        tmp_path,
        CLARITY_ENV="production",
        TESTING=False,
        JWT_SECRET_KEY=STRONG_SECRET,
        SECRET_KEY=STRONG_SECRET,
    )
    assert isinstance(create_app(config), Flask)


def test_production_environment_with_dev_key_refuses_to_start(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = load_config(monkeypatch, CLARITY_ENV="production", JWT_SECRET_KEY=None)
    test_db = {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.db'}"}
    with pytest.raises(RuntimeError):
        create_app(type("EnvConfig", (config.Config,), test_db))


@pytest.mark.parametrize("env", ["development", "testing"])
def test_dev_key_is_allowed_outside_production(tmp_path: Path, env: str) -> None:
    config = make_config(tmp_path, CLARITY_ENV=env, JWT_SECRET_KEY=DEV_SECRET)
    assert isinstance(create_app(config), Flask)


def test_unknown_environment_refuses_to_start(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="CLARITY_ENV"):
        create_app(make_config(tmp_path, CLARITY_ENV="staging"))


# --- reading the environment ------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            "postgres://u:p@db.example.com:5432/clarity",
            "postgresql+psycopg://u:p@db.example.com:5432/clarity",
        ),
        ("postgresql://u@localhost/clarity", "postgresql+psycopg://u@localhost/clarity"),
        ("postgresql+psycopg://u@localhost/clarity", "postgresql+psycopg://u@localhost/clarity"),
        ("sqlite:////tmp/clarity.db", "sqlite:////tmp/clarity.db"),
    ],
    ids=["heroku", "plain", "already-psycopg", "sqlite"],
)
def test_database_url_names_the_psycopg_driver(raw: str, expected: str) -> None:
    assert database_url(raw) == expected


@pytest.mark.parametrize("raw", [None, ""], ids=["unset", "empty"])
def test_database_url_defaults_to_sqlite_under_instance(raw: str | None) -> None:
    url = database_url(raw)
    assert url.startswith("sqlite:///")
    assert Path(url[len("sqlite:///") :]).parent.name == "instance"


def test_heroku_database_url_from_environment_is_rewritten(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = load_config(monkeypatch, DATABASE_URL="postgres://u:p@db.example.com/clarity")
    assert (
        config.Config.SQLALCHEMY_DATABASE_URI == "postgresql+psycopg://u:p@db.example.com/clarity"
    )


def test_jwt_secret_key_comes_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    config = load_config(monkeypatch, JWT_SECRET_KEY=STRONG_SECRET)
    assert config.Config.JWT_SECRET_KEY == STRONG_SECRET


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("false", False),
        ("False", False),
        ("0", False),
        ("no", False),
        ("off", False),
        ("true", True),
        ("TRUE", True),
        ("1", True),
        ("yes", True),
        (" on ", True),
    ],
)
def test_ratelimit_enabled_is_read_from_environment(
    monkeypatch: pytest.MonkeyPatch, raw: str, expected: bool
) -> None:
    assert load_config(monkeypatch, RATELIMIT_ENABLED=raw).Config.RATELIMIT_ENABLED is expected


@pytest.mark.parametrize("raw", [None, "", "  "], ids=["unset", "empty", "blank"])
def test_ratelimit_enabled_defaults_to_on(monkeypatch: pytest.MonkeyPatch, raw: str | None) -> None:
    assert load_config(monkeypatch, RATELIMIT_ENABLED=raw).Config.RATELIMIT_ENABLED is True


def test_env_bool_uses_default_when_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLARITY_TEST_FLAG", raising=False)
    assert env_bool("CLARITY_TEST_FLAG", True) is True
    assert env_bool("CLARITY_TEST_FLAG", False) is False


@pytest.mark.parametrize(
    ("name", "value", "setting", "expected"),
    [
        ("STREAM_TOKEN_DELAY_MS", "0", "STREAM_TOKEN_DELAY_MS", 0),
        ("HASH_THREADS", "4", "HASH_THREADS", 4),
        ("DB_CONNECT_TIMEOUT_S", "7", "DB_CONNECT_TIMEOUT_S", 7),
        ("REDIS_URL", "redis://cache:6379/0", "RATELIMIT_STORAGE_URI", "redis://cache:6379/0"),
        ("REDIS_URL", "", "RATELIMIT_STORAGE_URI", "memory://"),
        ("COACH_PROVIDER", "openai", "COACH_PROVIDER", "openai"),
    ],
)
def test_settings_are_read_from_environment_and_parsed(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, setting: str, expected: Any
) -> None:
    assert getattr(load_config(monkeypatch, **{name: value}).Config, setting) == expected


# --- strict parsing: a value that does not parse stops start-up, naming the variable --------


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("RATELIMIT_ENABLED", "ture"),
        ("EXPOSE_STATS", "maybe"),
        ("DB_POOL_SIZE", "ten"),
        ("DB_POOL_SIZE", "0"),
        ("DB_MAX_OVERFLOW", "-1"),
        ("DB_CONNECT_TIMEOUT_S", "2.5"),
        ("STREAM_TOKEN_DELAY_MS", "50ms"),
        ("STREAM_PING_INTERVAL_S", "nan"),
        ("COACH_TIMEOUT_S", "-3"),
        ("HASH_THREADS", "two"),
        ("TRUSTED_PROXIES", "yes"),
        ("TRUSTED_PROXIES", "-1"),
        ("CLARITY_ENV", "prod"),
        ("COACH_PROVIDER", "gpt"),
        ("RATELIMIT_PER_USER", "60 per minit"),
        ("RATELIMIT_PER_IP", "thirty per minute"),
        ("LOGIN_FAILURE_LIMIT", "5"),
        ("REDIS_URL", "localhost:6379"),
        ("DATABASE_URL", "not a url"),
        ("COACH_BASE_URL", "127.0.0.1:11434/v1"),
        ("CORS_ORIGINS", "app.example.com"),
        ("REPLY_RETENTION_S", "a minute"),
    ],
)
def test_a_value_that_does_not_parse_stops_start_up_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    with pytest.raises(ConfigError, match=name):
        load_config(monkeypatch, **{name: value})


def test_every_bad_variable_is_named_at_once_and_secrets_are_not_echoed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config(
            monkeypatch,
            RATELIMIT_ENABLED="ture",
            DB_POOL_SIZE="ten",
            DATABASE_URL="postgres//admin:hunter2@db",
        )
    message = str(raised.value)
    for name in ("RATELIMIT_ENABLED", "DB_POOL_SIZE", "DATABASE_URL", "'ture'", "'ten'"):
        assert name in message
    assert "hunter2" not in message


def test_config_reads_every_variable_through_the_strict_reader() -> None:
    """A setting read with os.environ/os.getenv would skip strict parsing: use `env`."""
    source = Path(clarity_api.config.__file__).read_text()
    assert "os.environ" not in source and "getenv" not in source


def test_start_up_stops_with_the_variable_named(tmp_path: Path) -> None:
    """What a deploy sees: the app (wsgi) and gunicorn's settings both refuse a typo."""
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "RATELIMIT_ENABLED": "ture", "DATABASE_URL": f"sqlite:///{tmp_path}/x.db"}
    app = subprocess.run(
        [sys.executable, "-c", "import wsgi"], cwd=root, env=env, capture_output=True, text=True
    )
    assert app.returncode != 0
    assert "RATELIMIT_ENABLED" in app.stderr.splitlines()[-1]
    gunicorn = Path(sys.executable).with_name("gunicorn")
    env = {**os.environ, "GRACEFUL_TIMEOUT": "soon"}
    conf = subprocess.run(
        [str(gunicorn), "-c", "gunicorn.conf.py", "--check-config", "wsgi:app"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
    )
    assert conf.returncode != 0
    assert "invalid configuration: GRACEFUL_TIMEOUT: 'soon'" in conf.stderr


def test_token_lifetimes_match_the_contract() -> None:
    config = clarity_api.config.Config
    assert config.JWT_ACCESS_TOKEN_EXPIRES.total_seconds() == 3600
    assert config.JWT_REFRESH_TOKEN_EXPIRES > config.JWT_ACCESS_TOKEN_EXPIRES


def test_tier_limits_match_the_contract() -> None:
    limits: dict[str, Any] = clarity_api.config.Config.TIER_LIMITS
    assert {tier: (v["devices"], v["sessions"]) for tier, v in limits.items()} == {
        "free": (1, 10),
        "standard": (2, 100),
        "pro": (3, None),
    }


# --- what the settings do ---------------------------------------------------------------


def test_postgres_engine_bounds_every_wait() -> None:
    options = engine_options(
        {
            "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://u@localhost/clarity",
            "DB_POOL_SIZE": 5,
            "DB_MAX_OVERFLOW": 3,
            "DB_POOL_TIMEOUT_S": 4,
            "DB_CONNECT_TIMEOUT_S": 2,
        }
    )
    assert options["connect_args"]["connect_timeout"] == 2
    assert options["pool_timeout"] == 4
    assert (options["pool_size"], options["max_overflow"]) == (5, 3)
    # No pre-ping (a round trip per checkout); dead peers are found by TCP keepalives instead.
    assert options["pool_pre_ping"] is False
    assert options["connect_args"]["tcp_user_timeout"] > 0
    assert options["connect_args"]["keepalives"] == 1


def _register(client: Any, n: int) -> int:
    body = {
        "email": f"person-{n}@example.com",
        "password": "Str0ng-Lantern-42",
        "device_fingerprint": "phone-1",
    }
    return client.post("/auth/register", json=body).status_code  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("config_overrides", "statuses"),
    [
        ({"RATELIMIT_ENABLED": True, "SIGNUP_PER_IP": "2 per minute"}, [201, 201, 429]),
        ({"RATELIMIT_ENABLED": False, "SIGNUP_PER_IP": "2 per minute"}, [201, 201, 201]),
    ],
    ids=["enabled", "disabled"],
)
def test_ratelimit_enabled_switches_limits(client: Any, statuses: list[int]) -> None:
    assert [_register(client, n) for n in range(3)] == statuses
