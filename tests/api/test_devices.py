"""GET /auth/devices and DELETE /auth/devices/{id}."""

from __future__ import annotations

import re
import uuid
from typing import Any

import gevent
import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import bearer

ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


def login(client: FlaskClient, person: dict[str, Any], fingerprint: str, **extra: Any) -> Any:
    body = {
        "email": person["email"],
        "password": person["password"],
        "device_fingerprint": fingerprint,
        **extra,
    }
    response = client.post("/auth/login", json=body)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


@pytest.fixture
def standard_user(make_user: Any, runner: Any) -> dict[str, Any]:
    """A standard-tier person (two devices) signed in on "phone-1"."""
    person = make_user(fingerprint="phone-1", device_name="Ana's phone", platform="ios")
    result = runner.invoke(args=["users", "set-tier", person["email"], "standard"])
    assert result.exit_code == 0, result.output
    return person  # type: ignore[no-any-return]


def list_devices(client: FlaskClient, token: str) -> list[dict[str, Any]]:
    response = client.get("/auth/devices", headers=bearer(token))
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert isinstance(body, list)  # the shipped app's shape: a bare array
    return body


def test_list_devices_shape(client: FlaskClient, make_user: Any) -> None:
    person = make_user(fingerprint="phone-1", device_name="Ana's phone", platform="ios")
    response = client.get("/auth/devices", headers=bearer(person["access"]))
    assert response.status_code == 200
    [device] = response.get_json()
    assert set(device) == {
        "id",
        "device_name",
        "platform",
        "created_at",
        "last_active_at",
        "is_current",
        "is_active",
    }
    uuid.UUID(device["id"])
    assert device["device_name"] == "Ana's phone"
    assert device["platform"] == "ios"
    assert ISO_Z.match(device["created_at"])
    assert ISO_Z.match(device["last_active_at"])
    assert device["is_current"] is True
    assert device["is_active"] is True


def test_list_devices_never_shows_fingerprint(client: FlaskClient, make_user: Any) -> None:
    person = make_user(fingerprint="secret-fingerprint-123")
    response = client.get("/auth/devices", headers=bearer(person["access"]))
    assert "secret-fingerprint-123" not in response.get_data(as_text=True)


def test_list_devices_optional_fields_are_null(client: FlaskClient, user: dict[str, Any]) -> None:
    [device] = list_devices(client, user["access"])
    assert device["device_name"] is None
    assert device["platform"] is None


def test_list_devices_marks_the_current_device(
    client: FlaskClient, standard_user: dict[str, Any]
) -> None:
    tablet = login(client, standard_user, "tablet-1", device_name="Tablet", platform="android")
    by_phone = {
        d["device_name"]: d["is_current"] for d in list_devices(client, standard_user["access"])
    }
    by_tablet = {
        d["device_name"]: d["is_current"] for d in list_devices(client, tablet["access_token"])
    }
    assert by_phone == {"Ana's phone": True, "Tablet": False}
    assert by_tablet == {"Ana's phone": False, "Tablet": True}
    devices = list_devices(client, tablet["access_token"])
    assert [d["device_name"] for d in devices] == ["Ana's phone", "Tablet"]  # oldest first
    assert all(d["is_active"] == d["is_current"] for d in devices)


def test_list_devices_shows_only_own_devices(client: FlaskClient, make_user: Any) -> None:
    ana = make_user(fingerprint="shared-phone", device_name="Ana")
    ben = make_user(fingerprint="shared-phone", device_name="Ben")
    ana_devices = list_devices(client, ana["access"])
    ben_devices = list_devices(client, ben["access"])
    assert [d["device_name"] for d in ana_devices] == ["Ana"]
    assert [d["device_name"] for d in ben_devices] == ["Ben"]
    assert ana_devices[0]["id"] != ben_devices[0]["id"]


def test_login_updates_device_name_and_platform(client: FlaskClient, user: dict[str, Any]) -> None:
    login(client, user, user["fingerprint"], device_name="Renamed", platform="web")
    [device] = list_devices(client, user["access"])
    assert (device["device_name"], device["platform"]) == ("Renamed", "web")


def test_list_devices_requires_a_token(client: FlaskClient) -> None:
    response = client.get("/auth/devices")
    assert response.status_code == 401
    assert response.get_json()["error"] == "INVALID_TOKEN"


def test_delete_device_answers_no_content(
    client: FlaskClient, standard_user: dict[str, Any]
) -> None:
    tablet = login(client, standard_user, "tablet-1", device_name="Tablet")
    [tablet_device] = [d for d in list_devices(client, tablet["access_token"]) if d["is_current"]]
    response = client.delete(
        f"/auth/devices/{tablet_device['id']}", headers=bearer(standard_user["access"])
    )
    assert response.status_code == 204
    assert response.get_data() == b""
    remaining = list_devices(client, standard_user["access"])
    assert [d["device_name"] for d in remaining] == ["Ana's phone"]


def test_delete_device_revokes_its_logins(
    client: FlaskClient, standard_user: dict[str, Any]
) -> None:
    tablet = login(client, standard_user, "tablet-1")
    tablet_again = login(client, standard_user, "tablet-1")
    [tablet_device] = [d for d in list_devices(client, tablet["access_token"]) if d["is_current"]]
    client.delete(f"/auth/devices/{tablet_device['id']}", headers=bearer(standard_user["access"]))
    for tokens in (tablet, tablet_again):
        response = client.get("/auth/me", headers=bearer(tokens["access_token"]))
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert response.get_json()["error"] == "TOKEN_REVOKED"
        refreshed = client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert refreshed.status_code == 401


def test_delete_device_leaves_other_devices_signed_in(
    client: FlaskClient, standard_user: dict[str, Any]
) -> None:
    tablet = login(client, standard_user, "tablet-1")
    [tablet_device] = [d for d in list_devices(client, tablet["access_token"]) if d["is_current"]]
    client.delete(f"/auth/devices/{tablet_device['id']}", headers=bearer(standard_user["access"]))
    assert client.get("/auth/me", headers=bearer(standard_user["access"])).status_code == 200


def test_delete_current_device_is_refused(client: FlaskClient, user: dict[str, Any]) -> None:
    [device] = list_devices(client, user["access"])
    response = client.delete(f"/auth/devices/{device['id']}", headers=bearer(user["access"]))
    assert response.status_code == 400
    assert response.get_json()["error"] == "CANNOT_REMOVE_CURRENT_DEVICE"
    assert client.get("/auth/me", headers=bearer(user["access"])).status_code == 200
    assert len(list_devices(client, user["access"])) == 1


def test_delete_device_frees_a_slot_for_a_new_device(
    client: FlaskClient, standard_user: dict[str, Any]
) -> None:
    tablet = login(client, standard_user, "tablet-1")
    body = {
        "email": standard_user["email"],
        "password": standard_user["password"],
        "device_fingerprint": "new",
    }
    refused = client.post("/auth/login", json=body)
    assert refused.status_code == 403
    [tablet_device] = [d for d in list_devices(client, tablet["access_token"]) if d["is_current"]]
    client.delete(f"/auth/devices/{tablet_device['id']}", headers=bearer(standard_user["access"]))
    login(client, standard_user, "new")


@pytest.fixture
def pro_user(make_user: Any, runner: Any, client: FlaskClient) -> dict[str, Any]:
    """A pro person signed in on three devices: phone-1 (this one), tablet-1, laptop-1."""
    person = make_user(fingerprint="phone-1")
    assert runner.invoke(args=["users", "set-tier", person["email"], "pro"]).exit_code == 0
    login(client, person, "tablet-1")
    login(client, person, "laptop-1")
    return person  # type: ignore[no-any-return]


def others(client: FlaskClient, person: dict[str, Any]) -> list[str]:
    return [d["id"] for d in list_devices(client, person["access"]) if not d["is_current"]]


def test_second_removal_in_one_utc_day_is_refused(
    client: FlaskClient, pro_user: dict[str, Any]
) -> None:
    first, second = others(client, pro_user)
    headers = bearer(pro_user["access"])
    assert client.delete(f"/auth/devices/{first}", headers=headers).status_code == 204
    response = client.delete(f"/auth/devices/{second}", headers=headers)
    assert response.status_code == 429
    assert response.get_json()["error"] == "REMOVAL_LIMIT_EXCEEDED"
    assert 1 <= int(response.headers["Retry-After"]) <= 86400
    assert len(list_devices(client, pro_user["access"])) == 2


def test_next_utc_day_allows_another_removal(
    client: FlaskClient, pro_user: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import UTC, datetime, timedelta

    from clarity_api.services import devices

    first, second = others(client, pro_user)
    late = datetime(2026, 12, 1, 23, 59, 30, tzinfo=UTC)
    monkeypatch.setattr(devices, "utcnow", lambda: late)
    headers = bearer(pro_user["access"])
    assert client.delete(f"/auth/devices/{first}", headers=headers).status_code == 204
    refused = client.delete(f"/auth/devices/{second}", headers=headers)
    assert refused.headers["Retry-After"] == "30"  # until 00:00 UTC
    monkeypatch.setattr(devices, "utcnow", lambda: late + timedelta(seconds=31))
    assert client.delete(f"/auth/devices/{second}", headers=headers).status_code == 204


def test_refused_removals_do_not_spend_the_daily_one(
    client: FlaskClient, pro_user: dict[str, Any], make_user: Any
) -> None:
    headers = bearer(pro_user["access"])
    [current] = [d["id"] for d in list_devices(client, pro_user["access"]) if d["is_current"]]
    [stranger_device] = list_devices(client, make_user()["access"])
    assert client.delete(f"/auth/devices/{uuid.uuid4()}", headers=headers).status_code == 404
    assert client.delete(f"/auth/devices/{current}", headers=headers).status_code == 400
    response = client.delete(f"/auth/devices/{stranger_device['id']}", headers=headers)
    assert response.status_code == 404
    assert (
        client.delete(f"/auth/devices/{others(client, pro_user)[0]}", headers=headers).status_code
        == 204
    )


def test_concurrent_removals_remove_exactly_one(
    app: Flask, client: FlaskClient, pro_user: dict[str, Any]
) -> None:
    headers = bearer(pro_user["access"])

    def remove(device_id: str) -> int:
        return app.test_client().delete(f"/auth/devices/{device_id}", headers=headers).status_code  # type: ignore[no-any-return]

    greenlets = [gevent.spawn(remove, d) for d in others(client, pro_user) * 3]
    gevent.joinall(greenlets, raise_error=True)
    codes = sorted(g.value for g in greenlets)
    assert codes.count(204) == 1
    assert set(codes) - {204} <= {404, 429}
    assert len(list_devices(client, pro_user["access"])) == 2


def test_delete_someone_elses_device_is_not_found(client: FlaskClient, make_user: Any) -> None:
    ana, ben = make_user(), make_user()
    [ben_device] = list_devices(client, ben["access"])
    response = client.delete(f"/auth/devices/{ben_device['id']}", headers=bearer(ana["access"]))
    assert response.status_code == 404
    assert response.get_json()["error"] == "DEVICE_NOT_FOUND"
    assert client.get("/auth/me", headers=bearer(ben["access"])).status_code == 200
    assert len(list_devices(client, ben["access"])) == 1


@pytest.mark.parametrize(
    "device_id",
    [str(uuid.uuid4()), "not-a-uuid", "123", "00000000-0000-0000-0000-00000000000g"],
    ids=["unknown", "malformed", "number", "bad-hex"],
)
def test_delete_unknown_device_is_not_found(
    client: FlaskClient, user: dict[str, Any], device_id: str
) -> None:
    response = client.delete(f"/auth/devices/{device_id}", headers=bearer(user["access"]))
    assert response.status_code == 404
    assert response.mimetype == "application/json"
    assert response.get_json()["error"] == "DEVICE_NOT_FOUND"


def test_delete_device_requires_a_token(client: FlaskClient, user: dict[str, Any]) -> None:
    [device] = list_devices(client, user["access"])
    response = client.delete(f"/auth/devices/{device['id']}")
    assert response.status_code == 401
    assert response.get_json()["error"] == "INVALID_TOKEN"


# Many hashing threads, so that concurrent sign-ins reach the device check together.
@pytest.mark.parametrize("config_overrides", [{"HASH_THREADS": 16}])
def test_concurrent_logins_on_new_devices_respect_the_limit(
    app: Flask, client: FlaskClient, standard_user: dict[str, Any]
) -> None:
    def attempt(n: int) -> int:
        body = {
            "email": standard_user["email"],
            "password": standard_user["password"],
            "device_fingerprint": f"new-{n}",
        }
        return app.test_client().post("/auth/login", json=body).status_code  # type: ignore[no-any-return]

    greenlets = [gevent.spawn(attempt, n) for n in range(12)]
    gevent.joinall(greenlets, raise_error=True)
    assert sorted(g.value for g in greenlets) == [200] + [403] * 11
    assert len(list_devices(client, standard_user["access"])) == 2


@pytest.mark.parametrize("config_overrides", [{"HASH_THREADS": 16}])
def test_concurrent_logins_on_one_new_device_all_succeed(
    app: Flask, client: FlaskClient, standard_user: dict[str, Any]
) -> None:
    def attempt() -> int:
        body = {
            "email": standard_user["email"],
            "password": standard_user["password"],
            "device_fingerprint": "tablet-1",
        }
        return app.test_client().post("/auth/login", json=body).status_code  # type: ignore[no-any-return]

    greenlets = [gevent.spawn(attempt) for _ in range(8)]
    gevent.joinall(greenlets, raise_error=True)
    assert [g.value for g in greenlets] == [200] * 8
    assert len(list_devices(client, standard_user["access"])) == 2
