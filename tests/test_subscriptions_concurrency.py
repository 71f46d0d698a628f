"""One person's webhook deliveries, all at once on PostgreSQL: the newest event still wins.

RevenueCat retries and sends events for one person close together; gunicorn's gevent worker
serves them side by side. Each delivery here runs in its own thread (a greenlet under the
suite's monkey-patching) with its own connection, released together.
"""

from __future__ import annotations

import random
import threading
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask

from clarity_api.extensions import db
from clarity_api.models import SubscriptionEvent
from tests.revenuecat import MONTH, NOW, WEBHOOK_ON, sample, send, transfer

pytestmark = pytest.mark.postgres


@pytest.fixture
def config_overrides() -> dict[str, Any]:
    return dict(WEBHOOK_ON)


@pytest.fixture(autouse=True)
def clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("clarity_api.models.user.utcnow", lambda: NOW)
    monkeypatch.setattr("clarity_api.services.subscriptions.utcnow", lambda: NOW)


def all_at_once(app: Flask, bodies: list[dict[str, Any]]) -> list[int]:
    start = threading.Barrier(len(bodies))
    statuses: list[int] = []

    def deliver(body: dict[str, Any]) -> None:
        client = app.test_client()
        start.wait()
        statuses.append(send(client, body).status_code)

    threads = [threading.Thread(target=deliver, args=(b,)) for b in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return statuses


def a_year_of(person: str) -> list[dict[str, Any]]:
    """A year of monthly renewals with a cancellation and an uncancellation in between."""
    events = [sample("INITIAL_PURCHASE", person, at=NOW, expires=NOW + MONTH)]
    for month in range(1, 12):
        at = NOW + month * MONTH
        events.append(sample("RENEWAL", person, at=at, expires=at + MONTH))
        if month == 6:
            day = timedelta(days=1)
            events.append(sample("CANCELLATION", person, at=at + day, expires=at + MONTH))
            events.append(sample("UNCANCELLATION", person, at=at + 2 * day, expires=at + MONTH))
    return events


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_one_persons_events_at_once_end_as_the_newest_says(
    app: Flask, client: Any, make_user: Any, seed: int
) -> None:
    person = make_user()
    events = a_year_of(person["id"])
    newest = events[-1]["event"]
    bodies = events * 3  # every event delivered three times
    random.Random(seed).shuffle(bodies)
    assert all_at_once(app, bodies) == [200] * len(bodies)

    me = client.get("/auth/me", headers={"Authorization": f"Bearer {person['access']}"})
    expires = NOW + 11 * MONTH + MONTH
    assert me.get_json()["subscription"] == {
        "tier": "pro",
        "expires_at": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "will_renew": True,
    }
    with app.app_context():
        ids = [e.id for e in db.session.query(SubscriptionEvent).all()]
    assert len(ids) == len(set(ids)) and newest["id"] in ids  # each applied at most once


def test_a_transfer_racing_the_givers_expiration_leaves_one_consistent_end(
    app: Flask, client: Any, make_user: Any
) -> None:
    giver, recipient = make_user(), make_user()
    assert send(client, sample("INITIAL_PURCHASE", giver["id"])).status_code == 200
    moved = transfer(giver["id"], recipient["id"], at=NOW + timedelta(days=1))
    ends = sample("EXPIRATION", recipient["id"], at=NOW + timedelta(days=2))
    assert all_at_once(app, [moved, ends, moved, ends]) == [200] * 4
    for person in (giver, recipient):
        me = client.get("/auth/me", headers={"Authorization": f"Bearer {person['access']}"})
        assert me.get_json()["subscription"]["tier"] == "free"
