"""The revocation watcher: one query per round for every live reply's login."""

from __future__ import annotations

import uuid

import gevent
import jwt as pyjwt
import pytest
from sqlalchemy import event

from clarity_api.errors import TokenRevoked
from clarity_api.extensions import db
from clarity_api.services.revocation import RevocationWatcher
from tests.conftest import PASSWORD, bearer


class StubReply:
    def __init__(self) -> None:
        self.interrupted: list[Exception] = []

    def interrupt(self, error: Exception) -> None:
        self.interrupted.append(error)


def login_id(person) -> uuid.UUID:
    return uuid.UUID(pyjwt.decode(person["access"], options={"verify_signature": False})["lid"])


@pytest.fixture
def watcher(app):
    with app.app_context():
        engine = db.engine
    return RevocationWatcher(lambda: engine, interval_s=3600, chunk=2)


def watch(watcher, person):
    reply = StubReply()
    watcher.watch(login_id(person), reply)  # type: ignore[arg-type]
    return reply


def test_standing_logins_keep_their_replies(watcher, make_user):
    reply = watch(watcher, make_user())
    assert watcher.check() == 0
    assert reply.interrupted == []
    assert watcher.watching() == 1


@pytest.mark.parametrize(
    "revoke",
    [
        lambda c, p: c.post("/auth/logout", headers=bearer(p["access"])),
        lambda c, p: c.delete("/auth/me", headers=bearer(p["access"]), json={"password": PASSWORD}),
        lambda c, p: (
            c.post("/auth/refresh", json={"refresh_token": p["refresh"]})
            and c.post("/auth/refresh", json={"refresh_token": p["refresh"]})
        ),
    ],
    ids=["logout", "account-deleted", "refresh-theft"],
)
def test_a_revoked_or_deleted_login_interrupts_its_replies(watcher, client, make_user, revoke):
    person, other = make_user(), make_user()
    mine, theirs = watch(watcher, person), watch(watcher, other)
    second = watch(watcher, person)
    assert revoke(client, person).status_code < 500
    assert watcher.check() == 1
    assert [type(e) for e in mine.interrupted] == [TokenRevoked]
    assert [type(e) for e in second.interrupted] == [TokenRevoked]
    assert theirs.interrupted == []
    assert mine.interrupted[0].error == "TOKEN_REVOKED" and not mine.interrupted[0].retryable


def test_one_query_per_chunk_of_logins_whatever_the_number_of_replies(app, watcher, make_user):
    people = [make_user() for _ in range(4)]
    for person in people:
        for _ in range(3):
            watch(watcher, person)
    statements: list[str] = []
    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    watcher.check()
    assert len([s for s in statements if "logins" in s]) == 2  # 4 logins, chunks of 2


def test_the_loop_runs_only_while_replies_are_watched(app, make_user):
    with app.app_context():
        engine = db.engine
    rounds: list[float] = []

    def tick(seconds: float) -> None:  # a fake clock: each round's wait passes at once
        rounds.append(seconds)
        gevent.sleep(0)

    watcher = RevocationWatcher(lambda: engine, 0.5, sleep=tick)
    reply = StubReply()
    person = make_user()
    watcher.watch(login_id(person), reply)  # type: ignore[arg-type]
    while len(rounds) < 3:
        gevent.sleep(0)
    watcher.unwatch(login_id(person), reply)  # type: ignore[arg-type]
    assert watcher._loop is not None
    watcher._loop.join(timeout=5)
    assert watcher._loop.dead and set(rounds) == {0.5}
    assert reply.interrupted == []
