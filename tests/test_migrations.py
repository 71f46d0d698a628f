"""The migrations build exactly the models' schema, and run down and up again."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from clarity_api.extensions import db
from clarity_api.models.types import render_item

TABLES = {
    "users",
    "subscriptions",
    "usage_counters",
    "devices",
    "logins",
    "solve_sessions",
    "blocked_message_counts",
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
