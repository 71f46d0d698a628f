"""The migrations build exactly the models' schema, and run down and up again."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import String, Uuid, column, insert, inspect, select, table, text

from clarity_api.extensions import db
from clarity_api.models import SolveSession
from clarity_api.models.types import UTCDateTime, render_item

TABLES = {
    "users",
    "subscriptions",
    "usage_counters",
    "devices",
    "logins",
    "solve_sessions",
    "blocked_message_counts",
    "subscription_events",
    "password_resets",
}


@pytest.fixture
def empty_db(app):
    with app.app_context():
        db.drop_all()
        with db.engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
        yield
        db.session.remove()
        downgrade(revision="base")
        db.create_all()  # the app fixture drops what it created


def schema_differences():
    with db.engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "render_item": render_item}
        )
        return compare_metadata(context, db.metadata)


def test_upgrade_builds_the_models_schema_exactly(app, empty_db):
    upgrade()
    assert set(inspect(db.engine).get_table_names()) >= TABLES
    assert schema_differences() == []


def test_upgrade_downgrade_upgrade_round_trip(app, empty_db):
    upgrade()
    downgrade(revision="base")
    assert not TABLES & set(inspect(db.engine).get_table_names())
    upgrade()
    assert schema_differences() == []


def test_last_active_at_is_filled_from_what_each_session_recorded(app, empty_db):
    """8212af9cb821 adds a required column to a table that may already hold sessions."""
    upgrade(revision="ee38b8a1af71")
    opened = datetime(2026, 1, 1, 9, tzinfo=UTC)
    finished = datetime(2026, 1, 2, 18, tzinfo=UTC)
    user_id, active_id, completed_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    sessions = table(
        "solve_sessions",
        column("id", Uuid()),
        column("user_id", Uuid()),
        column("status", String()),
        column("current_step", String()),
        column("created_at", UTCDateTime()),
        column("completed_at", UTCDateTime()),
    )
    with db.engine.begin() as conn:
        conn.execute(
            insert(db.metadata.tables["users"]).values(
                id=user_id, email="old@example.com", password_hash="x", created_at=opened
            )
        )
        conn.execute(
            insert(sessions),
            [
                {
                    "id": active_id,
                    "user_id": user_id,
                    "status": "active",
                    "current_step": "clarify",
                    "created_at": opened,
                    "completed_at": None,
                },
                {
                    "id": completed_id,
                    "user_id": user_id,
                    "status": "completed",
                    "current_step": "commit",
                    "created_at": opened,
                    "completed_at": finished,
                },
            ],
        )
    upgrade()
    stmt = select(SolveSession.id, SolveSession.last_active_at)
    with db.engine.connect() as conn:
        filled = dict(conn.execute(stmt).all())
    assert filled == {active_id: opened, completed_id: finished}
    assert schema_differences() == []


def test_updated_at_is_filled_from_the_last_recorded_move(app, empty_db):
    """4c043f6ebe83 adds a required updated_at to sessions that may already exist."""
    upgrade(revision="8212af9cb821")
    opened = datetime(2026, 1, 1, 9, tzinfo=UTC)
    moved = datetime(2026, 1, 3, 12, tzinfo=UTC)
    user_id, session_id = uuid.uuid4(), uuid.uuid4()
    sessions = table(
        "solve_sessions",
        column("id", Uuid()),
        column("user_id", Uuid()),
        column("status", String()),
        column("current_step", String()),
        column("created_at", UTCDateTime()),
        column("last_active_at", UTCDateTime()),
    )
    with db.engine.begin() as conn:
        conn.execute(
            insert(db.metadata.tables["users"]).values(
                id=user_id, email="old@example.com", password_hash="x", created_at=opened
            )
        )
        conn.execute(
            insert(sessions).values(
                id=session_id,
                user_id=user_id,
                status="active",
                current_step="reframe",
                created_at=opened,
                last_active_at=moved,
            )
        )
    upgrade()
    stmt = select(
        SolveSession.updated_at,
        SolveSession.committed_at,
        SolveSession.reminder_time,
        SolveSession.locale,
    )
    with db.engine.connect() as conn:
        assert conn.execute(stmt).one() == (moved, None, None, None)
    assert schema_differences() == []


def test_password_resets_come_and_go_alone_and_go_with_their_account(app, empty_db):
    """5c1d2e7a9b40 adds one table, cascaded from users; down again, it takes nothing else."""
    upgrade()
    users, resets = db.metadata.tables["users"], db.metadata.tables["password_resets"]
    now = datetime(2026, 12, 1, 20, tzinfo=UTC)
    kept, gone = uuid.uuid4(), uuid.uuid4()
    with db.engine.begin() as conn:
        for user_id in (kept, gone):
            conn.execute(
                insert(users).values(
                    id=user_id, email=f"{user_id}@example.com", password_hash="x", created_at=now
                )
            )
            conn.execute(
                insert(resets).values(
                    user_id=user_id, code_hash="h", created_at=now, expires_at=now, attempts=0
                )
            )
        conn.execute(users.delete().where(users.c.id == gone))
        assert conn.execute(select(resets.c.user_id)).scalars().all() == [kept]

    downgrade(revision="f506189a90f0")
    tables = set(inspect(db.engine).get_table_names())
    assert "password_resets" not in tables and TABLES - {"password_resets"} <= tables
    with db.engine.connect() as conn:
        assert conn.execute(select(users.c.id)).scalars().all() == [kept]
    upgrade()
    assert schema_differences() == []
