"""Budgets made for shared addresses (docs/reliability.md, "Budgets").

Behind a router everyone arrives through one forwarded address, and a carrier NAT carries
thousands of people: per address only failed attempts and mass sign-ups count. Signing out,
revoking and deleting have a budget per login that nothing else spends.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.conftest import PASSWORD, bearer

NAT = "203.0.113.50"  # one forwarded address shared by everyone in these tests
ROUTER = {"TRUSTED_PROXIES": 1}


def via(address: str = NAT) -> dict[str, str]:
    return {"X-Forwarded-For": address}


def register(client: Any, email: str | None = None, address: str = NAT) -> Any:
    body = {
        "email": email or f"nat-{uuid.uuid4().hex[:12]}@example.com",
        "password": PASSWORD,
        "device_fingerprint": "phone-1",
    }
    return client.post("/auth/register", json=body, headers=via(address))


def login(client: Any, email: str, password: str = PASSWORD, address: str = NAT) -> Any:
    body = {"email": email, "password": password, "device_fingerprint": "phone-1"}
    return client.post("/auth/login", json=body, headers=via(address))


@pytest.mark.parametrize("config_overrides", [ROUTER])
def test_dozens_of_people_behind_one_address_sign_up_sign_in_and_refresh(client):
    """The defaults: 40 people sign up, sign in and refresh through one address at once,
    a few mistyping their password first, and nobody gets 429."""
    statuses = []
    for n in range(40):
        created = register(client)
        statuses.append(created.status_code)
        email = created.get_json()["user"]["email"]
        if n % 8 == 0:  # a typo now and then
            statuses.append(login(client, email, "Wr0ng-password").status_code)
        signed_in = login(client, email)
        statuses.append(signed_in.status_code)
        refresh = signed_in.get_json()["refresh_token"]
        response = client.post("/auth/refresh", json={"refresh_token": refresh}, headers=via())
        statuses.append(response.status_code)
    assert 429 not in statuses
    assert statuses.count(401) == 5
    assert statuses.count(201) == 40 and statuses.count(200) == 80


@pytest.mark.parametrize("config_overrides", [{**ROUTER, "RATELIMIT_PER_IP": "10 per minute"}])
def test_password_guessing_from_one_address_runs_out_of_budget(client, make_user):
    victim = make_user()
    # One wrong password for each of ten emails: the per-email budget never trips.
    for n in range(10):
        assert login(client, f"target-{n}@example.com", "Guess-passw0rd").status_code == 401
    # The address is out of budget, even for a right password...
    response = login(client, victim["email"])
    assert response.status_code == 429
    assert response.get_json()["error"] == "RATE_LIMITED"
    assert int(response.headers["Retry-After"]) > 0
    # ...while the person signing in from elsewhere is not affected.
    assert login(client, victim["email"], address="198.51.100.20").status_code == 200


@pytest.mark.parametrize("config_overrides", [{**ROUTER, "RATELIMIT_PER_IP": "5 per minute"}])
def test_failed_refreshes_and_taken_emails_count_successes_do_not(client, make_user):
    person = make_user()
    for _ in range(20):  # successes never count against the address
        assert login(client, person["email"]).status_code == 200
    for _ in range(3):
        response = client.post("/auth/refresh", json={"refresh_token": "forged"}, headers=via())
        assert response.status_code == 401
    for _ in range(2):  # probing which emails have an account
        assert register(client, person["email"]).status_code == 409
    response = client.post(
        "/auth/refresh", json={"refresh_token": person["refresh"]}, headers=via()
    )
    assert response.status_code == 429


@pytest.mark.parametrize("config_overrides", [{**ROUTER, "SIGNUP_PER_IP": "5 per minute"}])
def test_mass_sign_ups_from_one_address_are_refused(client):
    assert [register(client).status_code for _ in range(6)] == [201] * 5 + [429]
    assert register(client, address="198.51.100.30").status_code == 201


# --- signing out, revoking and deleting: a budget of their own ------------------------------


def spend_user_budget(client: Any, headers: dict[str, str]) -> None:
    while client.get("/auth/me", headers=headers).status_code != 429:
        pass


@pytest.mark.parametrize("config_overrides", [{"RATELIMIT_PER_USER": "3 per minute"}])
def test_revocations_work_when_the_per_user_budget_is_spent(client, make_user):
    person = make_user()
    other = login(client, person["email"]).get_json()  # a second login of the same person
    spend_user_budget(client, person["headers"])
    assert client.get("/sessions", headers=person["headers"]).status_code == 429

    unknown_device = f"/auth/devices/{uuid.uuid4()}"
    assert client.delete(unknown_device, headers=person["headers"]).status_code == 404
    assert client.post("/auth/logout", headers=bearer(other["access_token"])).status_code == 204
    assert client.post("/auth/logout", headers=person["headers"]).status_code == 204

    again = login(client, person["email"]).get_json()
    spend_user_budget(client, bearer(again["access_token"]))
    gone = client.delete(
        "/auth/me", json={"password": PASSWORD}, headers=bearer(again["access_token"])
    )
    assert gone.status_code == 204


@pytest.mark.parametrize("config_overrides", [{"REVOCATION_LIMIT": "3 per minute"}])
def test_a_stolen_token_cannot_spend_the_victims_revocation_budget(client, make_user):
    victim = make_user()
    thief = bearer(login(client, victim["email"]).get_json()["access_token"])
    unknown_device = f"/auth/devices/{uuid.uuid4()}"
    statuses = [client.delete(unknown_device, headers=thief).status_code for _ in range(4)]
    assert statuses == [404, 404, 404, 429]
    # The victim's own login has its own budget: signing out (and so ending the thief's
    # login, here through deleting the account) still works.
    assert client.delete(unknown_device, headers=victim["headers"]).status_code == 404
    response = client.delete("/auth/me", json={"password": PASSWORD}, headers=victim["headers"])
    assert response.status_code == 204
    assert client.get("/auth/me", headers=thief).status_code == 401


@pytest.mark.parametrize("config_overrides", [{"REVOCATION_LIMIT": "2 per minute"}])
def test_the_revocation_budget_is_shared_by_the_revoking_endpoints_of_a_login(client, make_user):
    person = make_user()
    unknown_device = f"/auth/devices/{uuid.uuid4()}"
    assert client.delete(unknown_device, headers=person["headers"]).status_code == 404
    assert (
        client.delete("/auth/me", json={"password": "Wr0ng"}, headers=person["headers"]).status_code
        == 401
    )
    assert client.post("/auth/logout", headers=person["headers"]).status_code == 429
    # Ordinary requests do not draw on it.
    assert client.get("/auth/me", headers=person["headers"]).status_code == 200


# --- Retry-After only on 429 ---------------------------------------------------------------


def test_retry_after_is_sent_only_on_429(client, make_user):
    person = make_user()
    for response in (
        client.get("/auth/me", headers=person["headers"]),
        client.get("/health"),
        login(client, person["email"]),
        login(client, person["email"], "Wr0ng-password"),
        client.get("/nope"),
    ):
        assert "Retry-After" not in response.headers, response.status_code
    assert client.get("/auth/me", headers=person["headers"]).headers["X-RateLimit-Remaining"]
    for _ in range(5):
        login(client, person["email"], "Wr0ng-password")
    limited = login(client, person["email"])
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) > 0
