"""Data rights, checked against the database itself rather than a list of models.

The export is compared with a dump of every row that leads back to the person through
foreign keys, so a column or table added later without its place in the export fails here.
Account deletion is checked by searching every table for anything that identified them.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import Enum
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import MetaData, inspect, select

from clarity_api.clock import isoformat, utcnow
from clarity_api.extensions import db
from clarity_api.services import mail
from tests.conftest import bearer, open_stream, read_events
from tests.revenuecat import MONTH, WEBHOOK_ON, sample, send

# Where each table that holds a person's rows appears in GET /auth/me/export.
EXPORT_SECTION = {
    "users": "account",
    "subscriptions": "subscription",
    "usage_counters": "usage_counter",
    "devices": "devices",
    "logins": "logins",
    "solve_sessions": "sessions",
    "subscription_events": "subscription_events",
    "password_resets": "reset_codes",
}
# Kept from the export on purpose: credentials and token material.
SECRET_COLUMNS = {
    ("users", "password_hash"),
    ("logins", "refresh_token_hash"),
    ("password_resets", "code_hash"),
}
# Tables with no path to a person: a daily count of blocked messages, nothing else.
NOT_PERSONAL = {"blocked_message_counts", "alembic_version"}


@pytest.fixture
def config_overrides() -> dict[str, Any]:
    return dict(WEBHOOK_ON)  # the store webhook on, so people have store events too


def plain(value: Any) -> Any:
    """A database value as the export writes it."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return isoformat(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if value == "":
        return None  # an empty text column ("never counted") is exported as null
    return value


def all_rows() -> dict[str, list[dict[str, Any]]]:
    """Every row of every table in the live database, values made plain.

    Tables the models know are read through their typed columns (SQLite keeps a UUID as 32
    hex digits); the migration tests hold the models and the database schema equal.
    """
    live = MetaData()
    live.reflect(bind=db.engine)
    dump = {}
    with db.engine.connect() as connection:
        for name, reflected in live.tables.items():
            source = db.metadata.tables.get(name, reflected)
            rows = connection.execute(select(source))
            dump[name] = [{k: plain(v) for k, v in row._mapping.items()} for row in rows]
    return dump


def rows_of(user_id: str) -> dict[str, list[dict[str, Any]]]:
    """The rows that lead back to one user through foreign keys, table by table."""
    inspector = inspect(db.engine)
    dump = all_rows()
    keys = {name: inspector.get_foreign_keys(name) for name in dump}
    mine: dict[str, list[dict[str, Any]]] = {
        "users": [r for r in dump["users"] if r["id"] == user_id]
    }
    changed = True
    while changed:
        changed = False
        for name, fks in keys.items():
            for fk in fks:
                parents = mine.get(fk["referred_table"], [])
                for row in dump[name]:
                    linked = any(
                        row[c] is not None and row[c] == parent[rc]
                        for parent in parents
                        for c, rc in zip(
                            fk["constrained_columns"], fk["referred_columns"], strict=True
                        )
                    )
                    if linked and row not in mine.setdefault(name, []):
                        mine[name].append(row)
                        changed = True
    return mine


def busy_person(client: FlaskClient, runner: Any, make_user: Any) -> dict[str, Any]:
    """Someone with two devices, a rotated and a revoked login, sessions in every status, a
    subscription bought in the store then renewed, and a pending password reset."""
    tag = uuid.uuid4().hex[:8]  # fingerprints are only unique per account: keep them apart
    person = make_user(fingerprint=f"phone-{tag}", device_name="Ana's phone", platform="ios")
    assert runner.invoke(args=["users", "set-tier", person["email"], "standard"]).exit_code == 0
    now = utcnow()
    for kind, at in (("INITIAL_PURCHASE", now - MONTH), ("RENEWAL", now)):
        body = sample(kind, person["id"], at=at, expires=at + MONTH)
        assert send(client, body).get_json() == {"result": "applied"}
    login = {
        "email": person["email"],
        "password": person["password"],
        "device_fingerprint": f"tablet-{tag}",
        "platform": "android",
    }

    def ok(response: Any, status: int = 200) -> Any:
        assert response.status_code == status, response.get_data(as_text=True)
        return response

    tablet = ok(client.post("/auth/login", json=login)).get_json()
    ok(client.post("/auth/refresh", json={"refresh_token": tablet["refresh_token"]}))
    again = ok(client.post("/auth/login", json=login)).get_json()
    ok(client.post("/auth/logout", headers=bearer(again["access_token"])), 204)
    headers = person["headers"]
    ids = [
        ok(client.post("/sessions", headers=headers), 201).get_json()["session_id"] for _ in "1234"
    ]
    say = {"content": "I'm torn"}
    for _ in range(5):  # the first session walks all five steps
        ok(client.post(f"/sessions/{ids[0]}/messages", headers=headers, json=say)).get_data()
    ok(client.post(f"/sessions/{ids[1]}/messages", headers=headers, json=say)).get_data()
    ok(client.patch(f"/sessions/{ids[1]}", headers=headers, json={"status": "abandoned"}))
    ok(client.patch(f"/sessions/{ids[2]}", headers=headers, json={"status": "completed"}))
    ok(client.post("/auth/password/forgot", json={"email": person["email"]}), 202)
    mail.wait_for_pending(timeout=10)  # the code is stored after the response
    return {**person, "sessions": ids}


def test_export_holds_every_stored_value_of_the_person(
    app: Flask, client: FlaskClient, runner: Any, make_user: Any
) -> None:
    person = busy_person(client, runner, make_user)
    make_user()  # someone else, who must not appear
    export = client.get("/auth/me/export", headers=bearer(person["access"])).get_json()
    with app.app_context():
        stored = rows_of(person["id"])
        tables = set(inspect(db.engine).get_table_names())

    # Every table is either the person's (and exported) or holds nothing about anyone.
    assert set(stored) == set(EXPORT_SECTION)
    assert tables <= set(EXPORT_SECTION) | NOT_PERSONAL

    counts = {name: len(rows) for name, rows in stored.items()}
    assert counts == {
        "users": 1,
        "subscriptions": 1,
        "usage_counters": 1,
        "devices": 2,
        "logins": 3,
        "solve_sessions": 4,
        "subscription_events": 2,
        "password_resets": 1,
    }
    for name, rows in stored.items():
        section = export[EXPORT_SECTION[name]]
        exported = section if isinstance(section, list) else [section]
        assert len(exported) == len(rows), name
        by_id = {item.get("id"): item for item in exported}
        for row in rows:
            item = by_id[row["id"]] if "id" in row else exported[0]
            for col, value in row.items():
                if (name, col) in SECRET_COLUMNS or col == "user_id":
                    continue  # withheld on purpose, or the account itself
                assert col in item, f"{name}.{col} is stored but not exported"
                assert item[col] == value, f"{name}.{col}: exported {item[col]!r}, stored {value!r}"


def test_export_withholds_only_token_material(
    app: Flask, client: FlaskClient, make_user: Any
) -> None:
    person = make_user()
    client.post("/auth/password/forgot", json={"email": person["email"]})
    mail.wait_for_pending(timeout=10)
    text = client.get("/auth/me/export", headers=bearer(person["access"])).get_data(as_text=True)
    with app.app_context():
        stored = rows_of(person["id"])
    for name, col in SECRET_COLUMNS:
        for row in stored[name]:
            assert row[col] and row[col] not in text


def identifiers(rows: dict[str, list[dict[str, Any]]], person: dict[str, Any]) -> set[str]:
    """Everything that would tie a row to the person: every id, the email, fingerprints."""
    found = {person["email"]}
    for items in rows.values():
        for row in items:
            found.update(str(row[c]) for c in ("id", "fingerprint") if row.get(c))
    return found


def tables_mentioning(values: set[str]) -> dict[str, int]:
    hits: dict[str, int] = {}
    for name, rows in all_rows().items():
        for row in rows:
            if any(str(v) in values for v in row.values() if v is not None):
                hits[name] = hits.get(name, 0) + 1
    return hits


def test_deleting_the_account_leaves_no_row_that_refers_to_the_person(
    app: Flask, client: FlaskClient, runner: Any, make_user: Any
) -> None:
    person = busy_person(client, runner, make_user)
    other = busy_person(client, runner, make_user)
    with app.app_context():
        traces = identifiers(rows_of(person["id"]), person)
        before = tables_mentioning(traces)
        others_rows = rows_of(other["id"])
    assert set(before) == set(EXPORT_SECTION)  # the search does find what is there

    response = client.delete(
        "/auth/me", json={"password": person["password"]}, headers=bearer(person["access"])
    )
    assert response.status_code == 204

    with app.app_context():
        assert tables_mentioning(traces) == {}
        assert rows_of(other["id"]) == others_rows  # nobody else lost anything


def test_a_stream_open_when_the_account_is_deleted_ends_with_an_error(
    client: FlaskClient, user: dict[str, Any]
) -> None:
    session_id = client.post("/sessions", headers=user["headers"]).get_json()["session_id"]
    chunks = iter(open_stream(client, user["headers"], session_id).response)
    next(chunks)
    deleted = client.delete(
        "/auth/me", json={"password": user["password"]}, headers=bearer(user["access"])
    )
    assert deleted.status_code == 204
    events = read_events(b"".join(chunks))
    assert events[-1][0] == "error"
    assert events[-1][1]["error"] == "SESSION_NOT_FOUND"
    assert not any(name == "done" for name, _ in events)


@pytest.mark.parametrize("path", ["/auth/me", "/auth/me/export", "/sessions", "/auth/devices"])
def test_every_token_of_a_deleted_account_is_refused(
    client: FlaskClient, user: dict[str, Any], path: str
) -> None:
    client.delete("/auth/me", json={"password": user["password"]}, headers=bearer(user["access"]))
    response = client.get(path, headers=bearer(user["access"]))
    assert response.status_code == 401
    assert response.get_json()["error"] in {"TOKEN_REVOKED", "INVALID_TOKEN"}
    assert response.headers["WWW-Authenticate"] == "Bearer"
