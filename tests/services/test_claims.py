"""The reply claim in the session's row: taken once, lapses with its lease, released."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from clarity_api.clock import utcnow
from clarity_api.errors import ReplyInProgress, SessionCompleted, SessionNotFound, StepMismatch
from clarity_api.extensions import db
from clarity_api.models import SessionStatus, SolveSession, SolveStep
from clarity_api.services import claims
from tests.conftest import open_session


@pytest.fixture
def session_key(client, user):
    return uuid.UUID(open_session(client, user["headers"])["session_id"])


def try_claim(app, key, now=None, lease=60.0):
    """The claiming UPDATE as a turn issues it; the new reply id, or the refusal."""
    now = now or utcnow()
    reply_id = uuid.uuid4()
    with app.app_context(), db.engine.begin() as connection:
        row = connection.execute(
            update(SolveSession)
            .where(SolveSession.id == key, claims.free())
            .values(**claims.take())
            .returning(SolveSession.id),
            claims.taking(reply_id, now, lease),
        ).first()
        if row is None:
            found = connection.execute(
                select(*claims.refusal_columns()).where(SolveSession.id == key)
            ).first()
            return claims.refusal(found, now)
    return reply_id


def test_one_claim_at_a_time_naming_the_live_reply(app, session_key):
    first = try_claim(app, session_key)
    refused = try_claim(app, session_key)
    assert isinstance(refused, ReplyInProgress)
    assert refused.details == {"reply_id": str(first)}
    assert refused.status_code == 409


def test_a_claim_lapses_with_its_lease(app, session_key):
    try_claim(app, session_key, lease=30)
    later = utcnow() + timedelta(seconds=31)
    assert isinstance(try_claim(app, session_key, now=later), uuid.UUID)


def test_release_frees_the_session_and_reports_where_it_stands(app, session_key):
    reply_id = try_claim(app, session_key)
    with app.app_context(), db.engine.begin() as connection:
        row = claims.release(connection, session_key, reply_id)
        assert row is not None and row.current_step.value == "receive"
        assert claims.release(connection, session_key, uuid.uuid4()) is None
    assert isinstance(try_claim(app, session_key), uuid.UUID)


def test_a_done_delivered_late_advances_once(app, session_key):
    reply_id = try_claim(app, session_key)
    with app.app_context(), db.engine.begin() as connection:
        claims.release(connection, session_key, reply_id)
        assert claims.advance_on_delivery(connection, session_key, reply_id, "receive")
        assert not claims.advance_on_delivery(connection, session_key, reply_id, "receive")
        step = connection.execute(
            select(SolveSession.current_step).where(SolveSession.id == session_key)
        ).scalar_one()
    assert step.value == "clarify"


def test_a_late_done_of_a_reply_no_longer_latest_advances_nothing(app, session_key):
    old = try_claim(app, session_key)
    with app.app_context(), db.engine.begin() as connection:
        claims.release(connection, session_key, old)
    newer = try_claim(app, session_key)
    assert isinstance(newer, uuid.UUID)
    with app.app_context(), db.engine.begin() as connection:
        assert not claims.advance_on_delivery(connection, session_key, old, "receive")


def row(**values):
    fields = {"status": SessionStatus.ACTIVE, "reply_id": None, "reply_claimed_until": None}
    return type("Row", (), {**fields, "current_step": SolveStep.RECEIVE, **values})


def test_refusals_name_the_condition():
    now = utcnow()
    assert isinstance(claims.refusal(None, now), SessionNotFound)
    assert isinstance(claims.refusal(row(status=SessionStatus.COMPLETED), now), SessionCompleted)
    live = row(reply_id=uuid.uuid4(), reply_claimed_until=now + timedelta(seconds=5))
    assert isinstance(claims.refusal(live, now, "receive"), ReplyInProgress)


def test_a_reply_that_ended_between_the_statements_is_no_refusal():
    # The claim met the live reply, which then advanced the step: the message is late.
    now = utcnow()
    moved = claims.refusal(row(current_step=SolveStep.CLARIFY), now, "receive")
    assert isinstance(moved, StepMismatch)
    assert moved.details == {"current_step": "clarify"}
    # Released at the same step (or no step sent): claimable again, so no refusal.
    assert claims.refusal(row(), now, "receive") is None
    assert claims.refusal(row(current_step=SolveStep.CLARIFY), now) is None


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"STREAM_TOKEN_DELAY_MS": 0}, 35.0),
        ({"STREAM_TOKEN_DELAY_MS": 1000, "REPLY_RESUME_WINDOW_S": 10}, None),
        ({"COACH_PROVIDER": "openai", "COACH_TIMEOUT_S": 60, "STREAM_TOKEN_DELAY_MS": 0}, 95.0),
    ],
)
def test_the_lease_covers_the_longest_reply_plus_the_resume_window(overrides, expected):
    config = {
        "STREAM_TOKEN_DELAY_MS": 50,
        "COACH_PROVIDER": "scripted",
        "COACH_TIMEOUT_S": 60,
        "REPLY_RESUME_WINDOW_S": 30,
        **overrides,
    }
    lease = claims.lease_s(config)
    if expected is None:
        assert lease > 10 + 15  # at least the longest line's pacing (the safety reply's)
    else:
        assert lease == expected
