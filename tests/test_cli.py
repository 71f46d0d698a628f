"""flask users set-tier: the operator's way to change an account's tier."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from clarity_api.extensions import db
from clarity_api.models import Subscription


def tier_in_db(app: Flask, user_id: str) -> str:
    with app.app_context():
        subscription = db.session.get(Subscription, uuid.UUID(user_id))
        assert subscription is not None
        return subscription.tier.value


def run_set_tier(runner: Any, *args: str) -> Any:
    return runner.invoke(args=["users", "set-tier", *args])


@pytest.mark.parametrize(
    ("start", "tier"),
    [("free", "standard"), ("free", "pro"), ("standard", "pro"), ("pro", "free")],
)
def test_set_tier_changes_the_tier(
    app: Flask, runner: Any, user: dict[str, Any], start: str, tier: str
) -> None:
    if start != "free":
        run_set_tier(runner, user["email"], start)
    result = run_set_tier(runner, user["email"], tier)
    assert result.exit_code == 0, result.output
    assert tier in result.output
    assert tier_in_db(app, user["id"]) == tier


def test_set_tier_shows_in_the_api(client: FlaskClient, runner: Any, user: dict[str, Any]) -> None:
    run_set_tier(runner, user["email"], "standard")
    me = client.get("/auth/me", headers={"Authorization": f"Bearer {user['access']}"}).get_json()
    assert me["tier"] == "standard"
    assert me["usage"]["sessions_limit"] == 100


def test_set_tier_finds_email_in_any_case(app: Flask, runner: Any, user: dict[str, Any]) -> None:
    result = run_set_tier(runner, f"  {user['email'].upper()} ", "pro")
    assert result.exit_code == 0, result.output
    assert tier_in_db(app, user["id"]) == "pro"


def test_set_tier_changes_only_that_account(app: Flask, runner: Any, make_user: Any) -> None:
    ana, ben = make_user(), make_user()
    run_set_tier(runner, ana["email"], "pro")
    assert tier_in_db(app, ben["id"]) == "free"


def test_set_tier_unknown_email_fails_with_a_message(runner: Any, user: dict[str, Any]) -> None:
    result = run_set_tier(runner, "nobody@example.com", "pro")
    assert result.exit_code != 0
    assert "nobody@example.com" in result.output
    assert "No account" in result.output


@pytest.mark.parametrize("tier", ["gold", "PRO ", "", "enterprise"])
def test_set_tier_invalid_tier_fails(
    app: Flask, runner: Any, user: dict[str, Any], tier: str
) -> None:
    result = run_set_tier(runner, user["email"], tier)
    assert result.exit_code != 0
    assert "tier" in result.output.lower()
    assert tier_in_db(app, user["id"]) == "free"


def test_set_tier_needs_both_arguments(runner: Any, user: dict[str, Any]) -> None:
    result = run_set_tier(runner, user["email"])
    assert result.exit_code != 0
