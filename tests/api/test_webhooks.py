"""POST /webhooks/revenuecat: RevenueCat's documented events, as RevenueCat delivers them."""

from __future__ import annotations

import itertools
import uuid
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from clarity_api import create_app
from clarity_api.extensions import db
from clarity_api.models import SubscriptionEvent
from tests.conftest import PASSWORD, bearer, make_config
from tests.revenuecat import AUTH, MONTH, NOW, WEBHOOK_ON, ms, sample, send, transfer


class Clock:
    """The one clock, frozen where the tier is read and where the webhook writes."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> Any:
        return self.now


@pytest.fixture
def config_overrides() -> dict[str, Any]:
    return dict(WEBHOOK_ON)


@pytest.fixture(autouse=True)
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    frozen = Clock()
    monkeypatch.setattr("clarity_api.models.user.utcnow", frozen)
    monkeypatch.setattr("clarity_api.services.subscriptions.utcnow", frozen)
    return frozen


def me(client: FlaskClient, person: dict[str, Any]) -> dict[str, Any]:
    response = client.get("/auth/me", headers=bearer(person["access"]))
    assert response.status_code == 200, response.get_json()
    return response.get_json()  # type: ignore[no-any-return]


def subscription(client: FlaskClient, person: dict[str, Any]) -> dict[str, Any]:
    return me(client, person)["subscription"]  # type: ignore[no-any-return]


def applied(client: FlaskClient, body: dict[str, Any]) -> None:
    response = send(client, body)
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"result": "applied"}


def iso(moment: Any) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# --- the door: configuration, authorization, body ----------------------------------------


@pytest.mark.parametrize("config_overrides", [{}], indirect=False)
def test_webhook_is_off_when_not_configured(client: FlaskClient, user: dict[str, Any]) -> None:
    response = send(client, sample("INITIAL_PURCHASE", user["id"]))
    assert response.status_code == 404
    unknown = client.post("/webhooks/nothing-here", json={})
    assert response.get_json() == unknown.get_json()
    assert subscription(client, user)["tier"] == "free"


@pytest.mark.parametrize("auth", [None, "", "Bearer wrong", AUTH + " ", AUTH.lower(), "Bearer"])
def test_wrong_authorization_is_401_and_changes_nothing(
    client: FlaskClient, user: dict[str, Any], auth: str | None
) -> None:
    response = send(client, sample("INITIAL_PURCHASE", user["id"]), auth=auth)
    assert response.status_code == 401
    assert response.get_json()["error"] == "INVALID_TOKEN"
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert subscription(client, user)["tier"] == "free"


def test_authorization_is_checked_before_the_body(client: FlaskClient) -> None:
    response = client.post("/webhooks/revenuecat", data=b"not json", headers={})
    assert response.status_code == 401


def test_authorization_is_compared_in_constant_time(
    client: FlaskClient, user: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import hmac

    seen: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        seen.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    send(client, sample("TEST", user["id"]), auth="Bearer guess")
    assert seen == [(b"Bearer guess", AUTH.encode())]


@pytest.mark.parametrize("raw", [b"not json", b"[1, 2]", b'"event"', b"null"])
def test_a_body_that_is_not_a_json_object_is_400(client: FlaskClient, raw: bytes) -> None:
    response = client.post(
        "/webhooks/revenuecat",
        data=raw,
        headers={"Authorization": AUTH, "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.get_json()["error"] == "INVALID_JSON"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda b: b.pop("event"), "event"),
        (lambda b: b.pop("api_version"), "api_version"),
        (lambda b: b["event"].pop("id"), "event"),
        (lambda b: b["event"].pop("type"), "event"),
        (lambda b: b["event"].pop("event_timestamp_ms"), "event"),
        (lambda b: b["event"].update(event_timestamp_ms="yesterday"), "event"),
        (lambda b: b["event"].update(expiration_at_ms=-5), "event"),
        (lambda b: b["event"].update(entitlement_ids="pro"), "event"),
        (lambda b: b["event"].update(id="has space"), "event"),
        (lambda b: b["event"].update(id="nul\u0000"), "event"),
        (lambda b: b.update(event=[1]), "event"),
    ],
)
def test_a_body_that_is_not_a_revenuecat_event_is_422(
    client: FlaskClient, user: dict[str, Any], change: Any, field: str
) -> None:
    body = sample("INITIAL_PURCHASE", user["id"])
    change(body)
    response = send(client, body)
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["error"] == "VALIDATION_ERROR"
    assert field in response.get_json()["details"]
    assert subscription(client, user)["tier"] == "free"


def test_unknown_fields_are_ignored(client: FlaskClient, user: dict[str, Any]) -> None:
    body = sample("INITIAL_PURCHASE", user["id"], some_future_field={"x": 1})
    body["another_top_level_field"] = True
    applied(client, body)
    assert subscription(client, user)["tier"] == "pro"


# --- each event type -------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind", ["INITIAL_PURCHASE", "RENEWAL", "UNCANCELLATION", "PRODUCT_CHANGE"]
)
def test_a_granting_event_sets_the_tier_until_its_expiry(
    client: FlaskClient, user: dict[str, Any], kind: str
) -> None:
    applied(client, sample(kind, user["id"], entitlements=["standard"]))
    assert subscription(client, user) == {
        "tier": "standard",
        "expires_at": iso(NOW + MONTH),
        "will_renew": True,
    }
    assert me(client, user)["tier"] == "standard"
    assert me(client, user)["usage"]["sessions_limit"] == 100


def test_a_non_renewing_purchase_grants_without_renewal(
    client: FlaskClient, user: dict[str, Any]
) -> None:
    applied(client, sample("NON_RENEWING_PURCHASE", user["id"]))  # the sample: no expiry
    assert subscription(client, user) == {"tier": "pro", "expires_at": None, "will_renew": False}
    applied(
        client,
        sample(
            "NON_RENEWING_PURCHASE",
            user["id"],
            at=NOW + timedelta(1),
            expires=NOW + MONTH,
            entitlements=["standard"],
        ),
    )
    assert subscription(client, user) == {
        "tier": "standard",
        "expires_at": iso(NOW + MONTH),
        "will_renew": False,
    }


def test_the_highest_tier_of_the_entitlements_wins(
    client: FlaskClient, user: dict[str, Any]
) -> None:
    applied(client, sample("INITIAL_PURCHASE", user["id"], entitlements=["standard", "pro", "x"]))
    assert subscription(client, user)["tier"] == "pro"


@pytest.mark.parametrize(
    "config_overrides",
    [{**WEBHOOK_ON, "REVENUECAT_ENTITLEMENTS": {"premium": "pro", "plus": "standard"}}],
)
def test_entitlements_map_to_tiers_by_configuration(
    client: FlaskClient, user: dict[str, Any]
) -> None:
    response = send(client, sample("INITIAL_PURCHASE", user["id"], entitlements=["pro"]))
    assert response.get_json()["result"] == "ignored"  # "pro" is no entitlement of this app
    applied(client, sample("INITIAL_PURCHASE", user["id"], entitlements=["plus"]))
    assert subscription(client, user)["tier"] == "standard"


def test_an_event_with_no_entitlement_of_ours_is_ignored(
    client: FlaskClient, user: dict[str, Any]
) -> None:
    response = send(client, sample("INITIAL_PURCHASE", user["id"], entitlements=[]))
    assert response.get_json()["result"] == "ignored"
    response = send(client, sample("PRODUCT_CHANGE", user["id"], entitlements=["subscription"]))
    assert response.get_json()["result"] == "ignored"
    assert subscription(client, user)["tier"] == "free"


def test_a_cancellation_keeps_the_tier_and_stops_renewal(
    client: FlaskClient, user: dict[str, Any]
) -> None:
    applied(client, sample("INITIAL_PURCHASE", user["id"]))
    applied(
        client,
        sample("CANCELLATION", user["id"], at=NOW + timedelta(days=2), expires=NOW + MONTH),
    )
    assert subscription(client, user) == {
        "tier": "pro",
        "expires_at": iso(NOW + MONTH),  # access lasts until the paid period ends
        "will_renew": False,
    }
    applied(
        client,
        sample("UNCANCELLATION", user["id"], at=NOW + timedelta(days=3), expires=NOW + MONTH),
    )
    assert subscription(client, user)["will_renew"] is True


def test_a_billing_issue_changes_nothing(client: FlaskClient, user: dict[str, Any]) -> None:
    applied(client, sample("INITIAL_PURCHASE", user["id"]))
    before = subscription(client, user)
    applied(
        client,
        sample("BILLING_ISSUE", user["id"], at=NOW + timedelta(days=29), expires=NOW + MONTH),
    )
    assert subscription(client, user) == before


def test_an_expiration_returns_the_person_to_free(
    client: FlaskClient, user: dict[str, Any]
) -> None:
    applied(client, sample("INITIAL_PURCHASE", user["id"]))
    applied(client, sample("EXPIRATION", user["id"], at=NOW + MONTH))
    assert subscription(client, user) == {"tier": "free", "expires_at": None, "will_renew": False}
    assert me(client, user)["usage"] == {"sessions_used": 0, "sessions_limit": 10, "tier": "free"}


@pytest.mark.parametrize(
    "kind", ["TEST", "SUBSCRIPTION_PAUSED", "SUBSCRIPTION_EXTENDED", "NEW_ONE"]
)
def test_other_types_are_acknowledged_and_change_nothing(
    app: Flask, client: FlaskClient, user: dict[str, Any], kind: str
) -> None:
    response = send(client, sample("TEST", user["id"], type=kind))
    assert response.status_code == 200
    assert response.get_json()["result"] == "ignored"
    assert subscription(client, user)["tier"] == "free"
    with app.app_context():
        assert db.session.query(SubscriptionEvent).count() == 0


def test_a_transfer_moves_the_paid_tier_and_its_expiry(client: FlaskClient, make_user: Any) -> None:
    giver, recipient = make_user(), make_user()
    applied(client, sample("INITIAL_PURCHASE", giver["id"], entitlements=["standard"]))
    applied(
        client,
        sample(
            "CANCELLATION",
            giver["id"],
            at=NOW + timedelta(days=1),
            expires=NOW + MONTH,
            entitlements=["standard"],
        ),
    )
    applied(client, transfer(giver["id"], recipient["id"], at=NOW + timedelta(days=2)))
    assert subscription(client, giver) == {"tier": "free", "expires_at": None, "will_renew": False}
    assert subscription(client, recipient) == {
        "tier": "standard",
        "expires_at": iso(NOW + MONTH),
        "will_renew": False,
    }


def test_a_transfer_to_someone_unknown_takes_the_tier_away(
    client: FlaskClient, user: dict[str, Any]
) -> None:
    applied(client, sample("INITIAL_PURCHASE", user["id"]))
    applied(client, transfer(user["id"], "$RCAnonymousID:0f1e2d", at=NOW + timedelta(days=1)))
    assert subscription(client, user)["tier"] == "free"


def test_a_transfer_from_someone_unknown_is_ignored(
    client: FlaskClient, user: dict[str, Any]
) -> None:
    response = send(client, transfer("$RCAnonymousID:0f1e2d", user["id"]))
    assert response.get_json()["result"] == "ignored"
    assert send(client, sample("TRANSFER")).get_json()["result"] == "ignored"  # the sample as is


def test_a_transfer_does_not_lower_a_recipient_who_holds_more(
    client: FlaskClient, make_user: Any
) -> None:
    giver, recipient = make_user(), make_user()
    applied(client, sample("INITIAL_PURCHASE", giver["id"], entitlements=["standard"]))
    applied(client, sample("INITIAL_PURCHASE", recipient["id"], expires=NOW + 2 * MONTH))
    applied(client, transfer(giver["id"], recipient["id"], at=NOW + timedelta(days=1)))
    assert subscription(client, recipient)["expires_at"] == iso(NOW + 2 * MONTH)
    assert subscription(client, recipient)["tier"] == "pro"
    assert subscription(client, giver)["tier"] == "free"


@pytest.mark.parametrize(
    ("config_overrides", "accepted"),
    [(WEBHOOK_ON, False), ({**WEBHOOK_ON, "REVENUECAT_ACCEPT_SANDBOX": True}, True)],
)
def test_sandbox_events_apply_only_when_accepted(
    client: FlaskClient, user: dict[str, Any], accepted: bool
) -> None:
    response = send(client, sample("INITIAL_PURCHASE", user["id"], environment="SANDBOX"))
    assert response.status_code == 200
    assert response.get_json()["result"] == ("applied" if accepted else "ignored")
    assert subscription(client, user)["tier"] == ("pro" if accepted else "free")


# --- who the event is about -----------------------------------------------------------


@pytest.mark.parametrize(
    "who",
    [
        "$RCAnonymousID:8069238d6049ce87cc529853916d624c",
        "1234567890",
        str(uuid.uuid4()),  # a well-formed id of nobody
        "",
    ],
)
def test_someone_we_do_not_know_is_acknowledged_and_ignored(
    app: Flask, client: FlaskClient, user: dict[str, Any], who: str
) -> None:
    response = send(client, sample("INITIAL_PURCHASE", who))
    assert response.status_code == 200
    assert response.get_json()["result"] == "ignored"
    assert subscription(client, user)["tier"] == "free"
    with app.app_context():
        assert db.session.query(SubscriptionEvent).count() == 0


def test_the_person_is_found_among_the_aliases(client: FlaskClient, user: dict[str, Any]) -> None:
    body = sample("INITIAL_PURCHASE", "$RCAnonymousID:8069238d6049ce87cc529853916d624c")
    body["event"]["aliases"] = ["$RCAnonymousID:8069238d6049ce87cc529853916d624c", user["id"]]
    applied(client, body)
    assert subscription(client, user)["tier"] == "pro"


def test_the_person_is_found_by_the_original_app_user_id(
    client: FlaskClient, user: dict[str, Any]
) -> None:
    applied(client, sample("RENEWAL", "not-ours", original_app_user_id=user["id"].upper()))
    assert subscription(client, user)["tier"] == "pro"


def test_a_deleted_account_is_acknowledged_and_ignored(
    client: FlaskClient, user: dict[str, Any]
) -> None:
    gone = client.delete("/auth/me", json={"password": PASSWORD}, headers=bearer(user["access"]))
    assert gone.status_code == 204
    response = send(client, sample("RENEWAL", user["id"]))
    assert response.status_code == 200
    assert response.get_json()["result"] == "ignored"


# --- deliveries: twice, late, out of order -------------------------------------------


def test_the_same_event_applies_once(app: Flask, client: FlaskClient, user: dict[str, Any]) -> None:
    purchase = sample("INITIAL_PURCHASE", user["id"])
    applied(client, purchase)
    before = subscription(client, user)
    again = send(client, purchase)
    assert again.status_code == 200
    assert again.get_json() == {"result": "duplicate"}
    assert subscription(client, user) == before
    with app.app_context():
        events = db.session.query(SubscriptionEvent).all()
        assert [e.id for e in events] == [purchase["event"]["id"]]


def test_a_redelivered_purchase_does_not_undo_a_later_expiration(
    client: FlaskClient, user: dict[str, Any]
) -> None:
    purchase = sample("INITIAL_PURCHASE", user["id"])
    applied(client, purchase)
    applied(client, sample("EXPIRATION", user["id"], at=NOW + MONTH))
    for _ in range(3):
        assert send(client, purchase).status_code == 200
    assert subscription(client, user)["tier"] == "free"


def test_an_older_event_changes_nothing(client: FlaskClient, user: dict[str, Any]) -> None:
    applied(client, sample("RENEWAL", user["id"], at=NOW + MONTH, expires=NOW + 2 * MONTH))
    late = send(client, sample("INITIAL_PURCHASE", user["id"], entitlements=["standard"]))
    assert late.get_json() == {"result": "stale"}
    assert subscription(client, user) == {
        "tier": "pro",
        "expires_at": iso(NOW + 2 * MONTH),
        "will_renew": True,
    }


def test_a_late_transfer_changes_nothing(client: FlaskClient, make_user: Any) -> None:
    giver, recipient = make_user(), make_user()
    applied(client, sample("RENEWAL", giver["id"], at=NOW + MONTH, expires=NOW + 2 * MONTH))
    late = send(client, transfer(giver["id"], recipient["id"], at=NOW))
    assert late.get_json() == {"result": "stale"}
    assert subscription(client, giver)["tier"] == "pro"
    assert subscription(client, recipient)["tier"] == "free"


def lifecycle(person: str) -> list[dict[str, Any]]:
    """Purchase, renewal, cancellation, then expiry, as RevenueCat sends them."""
    day = timedelta(days=1)
    return [
        sample("INITIAL_PURCHASE", person, at=NOW, expires=NOW + MONTH),
        sample("RENEWAL", person, at=NOW + MONTH, expires=NOW + 2 * MONTH),
        sample("CANCELLATION", person, at=NOW + MONTH + day, expires=NOW + 2 * MONTH),
        sample("EXPIRATION", person, at=NOW + 2 * MONTH, expires=NOW + 2 * MONTH),
    ]


FREE = {"tier": "free", "expires_at": None, "will_renew": False}


@pytest.mark.parametrize("order", list(itertools.permutations(range(4))))
def test_any_order_of_a_lifecycle_ends_as_its_newest_event_says(
    client: FlaskClient, make_user: Any, order: tuple[int, ...]
) -> None:
    person = make_user()
    events = lifecycle(person["id"])
    for i in (*order, *order[:2]):  # every event once, then two of them again
        assert send(client, events[i]).status_code == 200
    assert subscription(client, person) == FREE


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
def test_any_order_of_purchase_renewal_and_cancellation_ends_paid_until_expiry(
    client: FlaskClient, user: dict[str, Any], order: tuple[int, ...]
) -> None:
    events = lifecycle(user["id"])[:3]
    for i in (*order, *reversed(order)):
        assert send(client, events[i]).status_code == 200
    assert subscription(client, user) == {
        "tier": "pro",
        "expires_at": iso(NOW + 2 * MONTH),
        "will_renew": False,
    }


def transfer_story(giver: str, recipient: str) -> tuple[list[Any], list[Any]]:
    """The giver buys, renews and cancels; then a restore moves it all to the recipient,
    who turns renewal back on."""
    day = timedelta(days=1)
    before = [
        sample("INITIAL_PURCHASE", giver, at=NOW, expires=NOW + MONTH),
        sample("RENEWAL", giver, at=NOW + MONTH, expires=NOW + 2 * MONTH),
        sample("CANCELLATION", giver, at=NOW + MONTH + day, expires=NOW + 2 * MONTH),
    ]
    after = [
        transfer(giver, recipient, at=NOW + MONTH + 2 * day),
        sample("UNCANCELLATION", recipient, at=NOW + MONTH + 3 * day, expires=NOW + 2 * MONTH),
    ]
    return before, after


@pytest.mark.parametrize(
    ("order", "then"),
    list(itertools.product(itertools.permutations(range(3)), [(0, 1), (1, 0)])),
)
def test_any_order_around_a_transfer_ends_with_the_recipient_paid(
    client: FlaskClient, make_user: Any, order: tuple[int, ...], then: tuple[int, int]
) -> None:
    giver, recipient = make_user(), make_user()
    before, after = transfer_story(giver["id"], recipient["id"])
    for body in [before[i] for i in order] + [after[i] for i in then] + after + before:
        assert send(client, body).status_code == 200
    assert subscription(client, giver) == FREE
    assert subscription(client, recipient) == {
        "tier": "pro",
        "expires_at": iso(NOW + 2 * MONTH),
        "will_renew": True,
    }


def test_a_transfer_only_half_newest_still_takes_the_tier_from_the_giver(
    client: FlaskClient, make_user: Any
) -> None:
    giver, recipient = make_user(), make_user()
    applied(client, sample("INITIAL_PURCHASE", giver["id"]))
    applied(client, sample("EXPIRATION", recipient["id"], at=NOW + 2 * MONTH))
    applied(client, transfer(giver["id"], recipient["id"], at=NOW + timedelta(days=1)))
    assert subscription(client, giver) == FREE
    assert subscription(client, recipient) == FREE  # their newest event is the expiration


# --- the tier where it is used --------------------------------------------------------


def test_a_paid_tier_lapses_a_day_after_its_expiry_without_an_event(
    client: FlaskClient, user: dict[str, Any], clock: Clock
) -> None:
    applied(client, sample("INITIAL_PURCHASE", user["id"]))
    clock.now = NOW + MONTH + timedelta(hours=23, minutes=59)  # a late renewal may still come
    assert me(client, user)["tier"] == "pro"
    clock.now = NOW + MONTH + timedelta(hours=24, seconds=1)
    assert me(client, user)["tier"] == "free"
    assert subscription(client, user) == {"tier": "free", "expires_at": None, "will_renew": False}
    assert me(client, user)["usage"]["sessions_limit"] == 10
    applied(client, sample("RENEWAL", user["id"], at=clock.now, expires=clock.now + MONTH))
    assert me(client, user)["tier"] == "pro"


def login(client: FlaskClient, person: dict[str, Any], fingerprint: str) -> Any:
    body = {"email": person["email"], "password": PASSWORD, "device_fingerprint": fingerprint}
    return client.post("/auth/login", json=body)


def test_the_device_limit_follows_the_tier_at_once(
    client: FlaskClient, user: dict[str, Any]
) -> None:
    assert login(client, user, "tablet").status_code == 403  # free: one device
    applied(client, sample("INITIAL_PURCHASE", user["id"], entitlements=["standard"]))
    assert login(client, user, "tablet").status_code == 200
    assert login(client, user, "laptop").status_code == 403  # standard: two


def test_a_downgrade_keeps_devices_but_lets_no_new_one_in(
    client: FlaskClient, user: dict[str, Any]
) -> None:
    applied(client, sample("INITIAL_PURCHASE", user["id"]))
    for fingerprint in ("tablet", "laptop"):
        assert login(client, user, fingerprint).status_code == 200  # pro: three
    applied(client, sample("EXPIRATION", user["id"], at=NOW + MONTH))
    devices = client.get("/auth/devices", headers=bearer(user["access"])).get_json()
    assert len(devices if isinstance(devices, list) else devices["devices"]) == 3
    for fingerprint in ("phone-1", "tablet", "laptop"):  # the ones already there still sign in
        assert login(client, user, fingerprint).status_code == 200
    refused = login(client, user, "new-phone")
    assert refused.status_code == 403
    assert refused.get_json()["details"] == {"devices_used": 3, "devices_limit": 1}


def test_the_quota_follows_the_tier_at_once(client: FlaskClient, user: dict[str, Any]) -> None:
    for _ in range(10):
        assert client.post("/sessions", headers=user["headers"]).status_code == 201
    assert client.post("/sessions", headers=user["headers"]).status_code == 403
    applied(client, sample("INITIAL_PURCHASE", user["id"]))
    assert client.post("/sessions", headers=user["headers"]).status_code == 201
    applied(client, sample("EXPIRATION", user["id"], at=NOW + MONTH))
    assert client.post("/sessions", headers=user["headers"]).status_code == 403


def test_set_tier_holds_until_the_next_store_event(
    client: FlaskClient, runner: Any, user: dict[str, Any]
) -> None:
    applied(client, sample("INITIAL_PURCHASE", user["id"]))
    assert runner.invoke(args=["users", "set-tier", user["email"], "standard"]).exit_code == 0
    assert subscription(client, user) == {
        "tier": "standard",
        "expires_at": None,
        "will_renew": False,
    }
    stale = send(client, sample("EXPIRATION", user["id"], at=NOW - timedelta(days=1)))
    assert stale.get_json()["result"] == "stale"  # older than the purchase: still standard
    applied(client, sample("RENEWAL", user["id"], at=NOW + MONTH, expires=NOW + 2 * MONTH))
    assert subscription(client, user)["tier"] == "pro"


# --- the database going away -------------------------------------------------------------


def test_database_unavailable_is_503_so_revenuecat_retries(tmp_path: Any) -> None:
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = make_config(
        tmp_path,
        SQLALCHEMY_DATABASE_URI=f"postgresql+psycopg://postgres@127.0.0.1:{port}/clarity",
        **WEBHOOK_ON,
    )
    client = create_app(config).test_client()
    response = send(client, sample("INITIAL_PURCHASE", str(uuid.uuid4())))
    assert response.status_code == 503
    assert response.get_json()["error"] == "SERVICE_UNAVAILABLE"


def test_event_time_is_read_to_the_millisecond(client: FlaskClient, user: dict[str, Any]) -> None:
    first = sample("INITIAL_PURCHASE", user["id"])
    applied(client, first)
    just_before = sample("EXPIRATION", user["id"])
    just_before["event"]["event_timestamp_ms"] = ms(NOW) - 1
    assert send(client, just_before).get_json() == {"result": "stale"}
