"""Logins and their tokens, without HTTP: issue, rotate with reuse detection, revoke."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import gevent
import pytest
from flask import Flask
from flask_jwt_extended import create_refresh_token, decode_token

from clarity_api.errors import InvalidToken, RefreshTokenReused, TokenExpired, TokenRevoked
from clarity_api.extensions import db
from clarity_api.models import Login, User
from clarity_api.services import auth, tokens
from clarity_api.web.transactions import commit_even_if

FROZEN = datetime(2025, 12, 22, 10, 0, tzinfo=UTC)
DROP = object()  # a claim left out of the payload


@pytest.fixture
def ctx(app: Flask) -> Iterator[None]:
    with app.app_context():
        yield


def sign_up(email: str = "ana@example.com") -> tuple[uuid.UUID, str, str]:
    user, access, refresh = auth.register(email, "Str0ng-Lantern-42", "phone-1", None, None)
    db.session.commit()
    return user.id, access, refresh


def login_of(token: str) -> Login:
    login = db.session.get(Login, uuid.UUID(decode_token(token)["lid"]))
    assert login is not None
    return login


def reload(login: Login) -> Login:
    db.session.expire_all()
    fresh = db.session.get(Login, login.id)
    assert fresh is not None
    return fresh


def test_open_login_stores_only_a_digest_of_the_refresh_token(ctx: None) -> None:
    _, access, refresh = sign_up()
    login = login_of(refresh)
    assert login.refresh_token_hash == hashlib.sha256(refresh.encode()).hexdigest()
    assert refresh not in login.refresh_token_hash and access not in login.refresh_token_hash


def test_open_login_pair_shares_user_and_login(ctx: None) -> None:
    user_id, access, refresh = sign_up()
    access_claims, refresh_claims = decode_token(access), decode_token(refresh)
    assert (access_claims["type"], refresh_claims["type"]) == ("access", "refresh")
    assert access_claims["sub"] == refresh_claims["sub"] == str(user_id)
    assert access_claims["lid"] == refresh_claims["lid"]


def test_each_sign_in_is_its_own_login(ctx: None) -> None:
    _, _, first = sign_up()
    _, _, second = auth.login("ana@example.com", "Str0ng-Lantern-42", "phone-1", None, None)
    db.session.commit()
    assert login_of(first).id != login_of(second).id


def test_rotate_returns_a_new_pair_for_the_same_login(ctx: None) -> None:
    user_id, _, refresh = sign_up()
    user, new_access, new_refresh = tokens.rotate(refresh)
    db.session.commit()
    assert user.id == user_id
    assert new_refresh != refresh
    assert decode_token(new_access)["lid"] == decode_token(refresh)["lid"]
    assert decode_token(new_refresh)["lid"] == decode_token(refresh)["lid"]


def test_rotate_keeps_only_the_new_refresh_token(ctx: None) -> None:
    _, _, refresh = sign_up()
    _, _, new_refresh = tokens.rotate(refresh)
    db.session.commit()
    login = reload(login_of(refresh))
    assert login.refresh_token_hash == hashlib.sha256(new_refresh.encode()).hexdigest()


def test_rotate_records_when(ctx: None, monkeypatch: pytest.MonkeyPatch) -> None:
    _, _, refresh = sign_up()
    monkeypatch.setattr(tokens, "utcnow", lambda: FROZEN)
    tokens.rotate(refresh)
    db.session.commit()
    assert reload(login_of(refresh)).refreshed_at == FROZEN


def test_rotate_reuse_revokes_the_login_and_it_sticks(ctx: None) -> None:
    _, _, refresh = sign_up()
    tokens.rotate(refresh)
    db.session.commit()
    with pytest.raises(TokenRevoked), commit_even_if(RefreshTokenReused):  # as POST /auth/refresh
        tokens.rotate(refresh)
    db.session.rollback()  # what a failed request does: the revocation was committed already
    assert reload(login_of(refresh)).revoked_at is not None


def test_rotate_reuse_makes_the_newest_refresh_token_fail(ctx: None) -> None:
    _, _, refresh = sign_up()
    _, _, newest = tokens.rotate(refresh)
    db.session.commit()
    with pytest.raises(TokenRevoked):
        tokens.rotate(refresh)
    with pytest.raises(TokenRevoked):
        tokens.rotate(newest)


def test_rotate_rejects_access_token(ctx: None) -> None:
    _, access, _ = sign_up()
    with pytest.raises(InvalidToken):
        tokens.rotate(access)


@pytest.mark.parametrize("token", ["", "garbage", "a.b.c"])
def test_rotate_rejects_garbage(ctx: None, token: str) -> None:
    with pytest.raises(InvalidToken):
        tokens.rotate(token)


@pytest.mark.parametrize("config_overrides", [{"JWT_REFRESH_TOKEN_EXPIRES": timedelta(seconds=-1)}])
def test_rotate_rejects_expired_token(ctx: None) -> None:
    _, _, refresh = sign_up()
    with pytest.raises(TokenExpired):
        tokens.rotate(refresh)


def test_rotate_rejects_token_of_revoked_login(ctx: None) -> None:
    _, _, refresh = sign_up()
    tokens.revoke(login_of(refresh).id)
    db.session.commit()
    with pytest.raises(TokenRevoked):
        tokens.rotate(refresh)


def test_rotate_rejects_token_of_unknown_login(ctx: None) -> None:
    user_id, _, _ = sign_up()
    token = create_refresh_token(str(user_id), additional_claims={"lid": str(uuid.uuid4())})
    with pytest.raises(TokenRevoked):
        tokens.rotate(token)


def test_rotate_rejects_token_naming_another_user(ctx: None) -> None:
    _, _, refresh = sign_up()
    other_id, _, _ = sign_up("ben@example.com")
    lid = decode_token(refresh)["lid"]
    token = create_refresh_token(str(other_id), additional_claims={"lid": lid})
    with pytest.raises(TokenRevoked):
        tokens.rotate(token)


def test_rotate_rejects_refresh_token_without_login(ctx: None) -> None:
    user_id, _, _ = sign_up()
    with pytest.raises(InvalidToken):
        tokens.rotate(create_refresh_token(str(user_id)))


def test_revoke_keeps_the_first_revocation_time(ctx: None, monkeypatch: pytest.MonkeyPatch) -> None:
    _, _, refresh = sign_up()
    login = login_of(refresh)
    monkeypatch.setattr(tokens, "utcnow", lambda: FROZEN)
    tokens.revoke(login.id)
    monkeypatch.setattr(tokens, "utcnow", lambda: FROZEN + timedelta(hours=1))
    tokens.revoke(login.id)
    db.session.commit()
    assert reload(login).revoked_at == FROZEN


def test_a_fresh_login_is_live_and_loads_its_user(ctx: None) -> None:
    user_id, access, _ = sign_up()
    assert tokens.login_is_live(decode_token(access)) is True
    user = tokens.load_user(decode_token(access))
    assert user is not None and user.id == user_id and user.tier == "free"


def test_a_revoked_login_is_not_live(ctx: None) -> None:
    _, access, _ = sign_up()
    tokens.revoke(login_of(access).id)
    db.session.commit()
    assert tokens.login_is_live(decode_token(access)) is False


@pytest.mark.parametrize(
    "claims",
    [
        {"lid": DROP},
        {"lid": "not-a-uuid"},
        {"lid": None},
        {"sub": "not-a-uuid"},
        {"lid": str(uuid.uuid4())},
    ],
    ids=["no-lid", "bad-lid", "null-lid", "bad-sub", "unknown-lid"],
)
def test_bad_claims_are_not_a_live_login(ctx: None, claims: dict[str, Any]) -> None:
    user_id, access, _ = sign_up()
    payload = {"sub": str(user_id), "lid": decode_token(access)["lid"], **claims}
    assert tokens.login_is_live({k: v for k, v in payload.items() if v is not DROP}) is False


def test_another_users_login_is_not_live_for_this_user(ctx: None) -> None:
    _, access, _ = sign_up()
    other_id, _, _ = sign_up("ben@example.com")
    payload = {"sub": str(other_id), "lid": decode_token(access)["lid"]}
    assert tokens.login_is_live(payload) is False


def test_deleting_the_user_ends_its_logins(ctx: None) -> None:
    user_id, access, _ = sign_up()
    db.session.execute(db.delete(User).where(User.id == user_id))
    db.session.commit()
    assert tokens.login_is_live(decode_token(access)) is False
    assert tokens.load_user(decode_token(access)) is None


def test_concurrent_rotations_of_one_token_have_one_winner(app: Flask) -> None:
    with app.app_context():
        _, _, refresh = sign_up()

    def attempt() -> str:
        with app.app_context():
            try:
                with commit_even_if(RefreshTokenReused):  # as POST /auth/refresh does
                    tokens.rotate(refresh)
                db.session.commit()
                return "rotated"
            except TokenRevoked:
                return "revoked"
            finally:
                db.session.remove()

    greenlets = [gevent.spawn(attempt) for _ in range(8)]
    gevent.joinall(greenlets, raise_error=True)
    outcomes = sorted(g.value for g in greenlets)
    assert outcomes == ["revoked"] * 7 + ["rotated"]
    with app.app_context():
        assert login_of(refresh).revoked_at is not None  # the replays were treated as theft
