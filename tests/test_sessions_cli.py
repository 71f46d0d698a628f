"""flask sessions expire and flask sessions report, and the services behind them.

expire: only active sessions idle past the cutoff become abandoned, in batches, leaving
completed_at and last_active_at alone; a session the person moved (a message, a PATCH) is not
idle; a stream open on an expired session ends with an error, not done; bad durations and
batch sizes are usage errors; on PostgreSQL a row another transaction holds is skipped, not
waited for.

report: sessions opened, steps reached (cumulative), status counts, the resolution rate and
blocked messages, as JSON and as text, over a window or over everything.

Sessions are made idle by writing last_active_at (or created_at) straight into the database,
never by waiting.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, select, update

from clarity_api.clock import utcnow
from clarity_api.extensions import db
from clarity_api.models import SolveSession
from clarity_api.services import expiry
from clarity_api.services.funnel import funnel
from tests.conftest import STEPS, message_events, open_session, open_stream, read_events

# --- helpers ----------------------------------------------------------------------------------


def advance(client: FlaskClient, person: dict[str, Any], session_id: str, steps: int) -> None:
    for _ in range(steps):
        name, _data = message_events(client, person["headers"], session_id, "I feel stuck at work")[
            -1
        ]
        assert name == "done"


def close(client: FlaskClient, person: dict[str, Any], session_id: str, status: str) -> None:
    response = client.patch(
        f"/sessions/{session_id}", headers=person["headers"], json={"status": status}
    )
    assert response.status_code == 200, response.get_json()


def api_session(client: FlaskClient, person: dict[str, Any], session_id: str) -> dict[str, Any]:
    response = client.get(f"/sessions/{session_id}", headers=person["headers"])
    assert response.status_code == 200, response.get_json()
    return response.get_json()  # type: ignore[no-any-return]


def status_of(client: FlaskClient, person: dict[str, Any], session_id: str) -> str:
    return api_session(client, person, session_id)["status"]  # type: ignore[no-any-return]


def set_column(app: Flask, session_id: str, **values: datetime) -> None:
    with app.app_context():
        db.session.execute(
            update(SolveSession).where(SolveSession.id == uuid.UUID(session_id)).values(**values)
        )
        db.session.commit()


def make_idle(app: Flask, session_id: str, idle_for: timedelta) -> datetime:
    """Pretend nobody moved the session for `idle_for`; returns the last_active_at written."""
    moment = utcnow() - idle_for
    set_column(app, session_id, last_active_at=moment)
    return moment


def row(app: Flask, session_id: str) -> SolveSession:
    with app.app_context():
        found = db.session.get(SolveSession, uuid.UUID(session_id))
        assert found is not None
        return found


def expire(runner: Any, *args: str) -> Any:
    return runner.invoke(args=["sessions", "expire", *args])


ISO_Z = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z"
EXPIRED = re.compile(
    rf"Abandoned (\d+) (sessions?) idle since before {ISO_Z} \((\d+) (batch(?:es)?)\)\."
)


def plural(count: int, one: str, many: str) -> str:
    return one if count == 1 else many


def expired_counts(output: str) -> tuple[int, int]:
    """(changed, batches) from the expire command's one line, whose nouns agree with them."""
    match = EXPIRED.fullmatch(output.strip())
    assert match is not None, output
    changed, batches = int(match[1]), int(match[3])
    assert match[2] == plural(changed, "session", "sessions"), output
    assert match[4] == plural(batches, "batch", "batches"), output
    return changed, batches


def report_json(runner: Any, *args: str) -> dict[str, Any]:
    result = runner.invoke(args=["sessions", "report", "--json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)  # type: ignore[no-any-return]


WEEK = timedelta(days=7)
IDLE = timedelta(days=8)  # past the default 7d cutoff


# --- flask sessions expire ------------------------------------------------------------------


def test_expire_abandons_only_active_sessions_idle_past_the_cutoff(
    app: Flask, client: FlaskClient, runner: Any, user: dict[str, Any]
) -> None:
    idle = [open_session(client, user["headers"])["session_id"] for _ in range(2)]
    recent = open_session(client, user["headers"])["session_id"]
    completed = open_session(client, user["headers"])["session_id"]
    abandoned = open_session(client, user["headers"])["session_id"]
    close(client, user, completed, "completed")
    close(client, user, abandoned, "abandoned")
    written = {sid: make_idle(app, sid, IDLE) for sid in [*idle, completed, abandoned]}
    make_idle(app, recent, timedelta(days=6))
    before = {sid: api_session(client, user, sid) for sid in [completed, abandoned, recent]}

    result = expire(runner, "--older-than", "7d")

    assert result.exit_code == 0, result.output
    assert expired_counts(result.output) == (2, 1)
    for sid in idle:
        assert status_of(client, user, sid) == "abandoned"
        stored = row(app, sid)
        assert stored.completed_at is None
        assert stored.last_active_at == written[sid]
        assert stored.current_step.value == "receive"
    for sid, seen in before.items():
        assert api_session(client, user, sid) == seen
    assert row(app, completed).last_active_at == written[completed]


def test_expire_works_in_batches_and_a_second_run_changes_nothing(
    app: Flask, client: FlaskClient, runner: Any, user: dict[str, Any]
) -> None:
    ids = [open_session(client, user["headers"])["session_id"] for _ in range(5)]
    for sid in ids:
        make_idle(app, sid, IDLE)

    first = expire(runner, "--older-than", "7d", "--batch-size", "2")
    second = expire(runner, "--older-than", "7d", "--batch-size", "2")

    assert first.exit_code == 0, first.output
    assert expired_counts(first.output) == (5, 3)
    assert second.exit_code == 0, second.output
    assert expired_counts(second.output) == (0, 0)
    assert {status_of(client, user, sid) for sid in ids} == {"abandoned"}


def test_expire_default_cutoff_is_seven_days(
    app: Flask, client: FlaskClient, runner: Any, user: dict[str, Any]
) -> None:
    old, young = (
        open_session(client, user["headers"])["session_id"],
        open_session(client, user["headers"])["session_id"],
    )
    make_idle(app, old, IDLE)
    make_idle(app, young, timedelta(days=6))

    result = expire(runner)

    assert result.exit_code == 0, result.output
    assert expired_counts(result.output) == (1, 1)
    assert status_of(client, user, old) == "abandoned"
    assert status_of(client, user, young) == "active"


@pytest.mark.parametrize(("idle", "noun"), [(0, "sessions"), (1, "session"), (2, "sessions")])
def test_expire_dry_run_counts_and_changes_nothing(
    app: Flask, client: FlaskClient, runner: Any, user: dict[str, Any], idle: int, noun: str
) -> None:
    ids = [open_session(client, user["headers"])["session_id"] for _ in range(3)]
    for sid in ids[:idle]:
        make_idle(app, sid, IDLE)

    result = expire(runner, "--older-than", "7d", "--dry-run")

    assert result.exit_code == 0, result.output
    dry_run = rf"{idle} active {noun} idle since before {ISO_Z} \(dry run: nothing changed\)\."
    assert re.fullmatch(dry_run, result.output.strip()), result.output
    assert {status_of(client, user, sid) for sid in ids} == {"active"}
    assert expired_counts(expire(runner, "--older-than", "7d").output) == (idle, min(idle, 1))


@pytest.mark.parametrize(
    ("idle_for", "older_than", "expired"),
    [
        (timedelta(hours=2), "90m", True),
        (timedelta(hours=2), "3h", False),
        (timedelta(hours=2), "7000s", True),
        (timedelta(hours=2), "7400s", False),
        (timedelta(days=10), "1w", True),
        (timedelta(days=10), "2w", False),
        (timedelta(days=10), "9d", True),
        (timedelta(days=10), "11d", False),
    ],
)
def test_expire_accepts_every_duration_unit(
    app: Flask,
    client: FlaskClient,
    runner: Any,
    user: dict[str, Any],
    idle_for: timedelta,
    older_than: str,
    expired: bool,
) -> None:
    sid = open_session(client, user["headers"])["session_id"]
    make_idle(app, sid, idle_for)

    result = expire(runner, "--older-than", older_than)

    assert result.exit_code == 0, result.output
    assert expired_counts(result.output)[0] == int(expired)
    assert status_of(client, user, sid) == ("abandoned" if expired else "active")


@pytest.mark.parametrize("value", ["0d", "7x", "abc", "-1d", "", "1.5h", "d"])
def test_expire_rejects_a_bad_duration(
    app: Flask, client: FlaskClient, runner: Any, user: dict[str, Any], value: str
) -> None:
    sid = open_session(client, user["headers"])["session_id"]
    make_idle(app, sid, IDLE)

    result = expire(runner, "--older-than", value)

    assert result.exit_code == 2, result.output
    assert "--older-than" in result.output
    assert "is not a duration like 90s, 30m, 12h, 7d or 2w" in result.output
    assert status_of(client, user, sid) == "active"


@pytest.mark.parametrize("value", ["0", "-1", "10001", "two"])
def test_expire_rejects_a_bad_batch_size(
    app: Flask, client: FlaskClient, runner: Any, user: dict[str, Any], value: str
) -> None:
    sid = open_session(client, user["headers"])["session_id"]
    make_idle(app, sid, IDLE)

    result = expire(runner, "--batch-size", value)

    assert result.exit_code == 2, result.output
    assert "--batch-size" in result.output
    assert status_of(client, user, sid) == "active"


# --- what counts as a move --------------------------------------------------------------------


def test_a_session_advanced_after_going_idle_is_not_expired(
    app: Flask, client: FlaskClient, runner: Any, user: dict[str, Any]
) -> None:
    moved, left = (
        open_session(client, user["headers"])["session_id"],
        open_session(client, user["headers"])["session_id"],
    )
    idle_since = make_idle(app, moved, IDLE)
    make_idle(app, left, IDLE)

    advance(client, user, moved, 1)

    assert row(app, moved).last_active_at > idle_since
    assert expired_counts(expire(runner, "--older-than", "7d").output) == (1, 1)
    assert api_session(client, user, moved)["status"] == "active"
    assert api_session(client, user, moved)["current_step"] == "clarify"
    assert status_of(client, user, left) == "abandoned"


def test_a_crisis_message_refreshes_the_session_like_any_message_but_does_not_advance_it(
    app: Flask, client: FlaskClient, runner: Any, user: dict[str, Any]
) -> None:
    blocked, plain = (
        open_session(client, user["headers"])["session_id"],
        open_session(client, user["headers"])["session_id"],
    )
    idle_since = make_idle(app, blocked, IDLE)
    make_idle(app, plain, IDLE)

    name, done = message_events(client, user["headers"], blocked, "I want to kill myself")[-1]
    response = client.post(
        f"/sessions/{plain}/messages", headers=user["headers"], json={"content": "hi", "step": "x"}
    )  # refused before any reply (422): not a message that was answered
    assert response.status_code == 422

    assert name == "done"
    assert done["blocked"] is True
    assert api_session(client, user, blocked)["current_step"] == "receive"
    assert row(app, blocked).last_active_at > idle_since  # the row does not tell it was blocked
    assert expired_counts(expire(runner, "--older-than", "7d").output) == (1, 1)
    assert status_of(client, user, blocked) == "active"
    assert status_of(client, user, plain) == "abandoned"


def test_a_message_to_an_idle_session_keeps_it_from_expiring_while_the_reply_streams(
    app: Flask, client: FlaskClient, runner: Any, user: dict[str, Any]
) -> None:
    sid = open_session(client, user["headers"])["session_id"]
    make_idle(app, sid, IDLE)
    chunks = iter(open_stream(client, user["headers"], sid, "I'm back").response)
    assert b"\nevent: token\n" in next(chunks)

    assert expired_counts(expire(runner, "--older-than", "7d").output) == (0, 0)
    events = read_events(b"".join(chunks))

    assert events[-1][0] == "done"
    assert api_session(client, user, sid)["current_step"] == "clarify"


@pytest.mark.parametrize("status", ["completed", "abandoned"])
def test_closing_an_idle_session_with_patch_refreshes_last_active_at(
    app: Flask, client: FlaskClient, runner: Any, user: dict[str, Any], status: str
) -> None:
    sid = open_session(client, user["headers"])["session_id"]
    make_idle(app, sid, IDLE)
    before_patch = utcnow()

    close(client, user, sid, status)

    stored = row(app, sid)
    assert stored.last_active_at >= before_patch
    assert stored.status.value == status
    assert (stored.completed_at is not None) == (status == "completed")
    assert expired_counts(expire(runner, "--older-than", "7d").output) == (0, 0)
    assert status_of(client, user, sid) == status


def test_patch_after_expiry_is_an_invalid_transition(
    app: Flask, client: FlaskClient, runner: Any, user: dict[str, Any]
) -> None:
    sid = open_session(client, user["headers"])["session_id"]
    make_idle(app, sid, IDLE)
    expire(runner, "--older-than", "7d")

    response = client.patch(
        f"/sessions/{sid}", headers=user["headers"], json={"status": "completed"}
    )

    assert response.status_code == 409
    assert response.get_json()["error"] == "INVALID_TRANSITION"
    assert status_of(client, user, sid) == "abandoned"


def test_a_stream_open_when_the_session_expires_ends_with_error_not_done(
    app: Flask, client: FlaskClient, runner: Any, user: dict[str, Any]
) -> None:
    sid = open_session(client, user["headers"])["session_id"]
    chunks = iter(open_stream(client, user["headers"], sid, "hello").response)
    assert b"\nevent: token\n" in next(chunks)

    make_idle(app, sid, IDLE)
    assert expired_counts(expire(runner, "--older-than", "7d").output) == (1, 1)
    events = read_events(b"".join(chunks))

    assert events[-1][0] == "error"
    assert events[-1][1]["error"] == "SESSION_COMPLETED"
    assert events[-1][1]["retryable"] is False
    assert not any(name == "done" for name, _ in events)
    current = api_session(client, user, sid)
    assert (current["status"], current["current_step"]) == ("abandoned", "receive")


# --- PostgreSQL: a held row is skipped, not waited for ---------------------------------------


@pytest.mark.postgres
@pytest.mark.timeout(30)  # a hang guard only: without SKIP LOCKED the call below never returns
def test_expire_skips_a_row_another_transaction_holds(
    app: Flask, client: FlaskClient, user: dict[str, Any]
) -> None:
    ids = [open_session(client, user["headers"])["session_id"] for _ in range(4)]
    held, others = ids[0], ids[1:]
    make_idle(app, held, timedelta(days=10))  # the idlest: first in line for every batch
    for sid in others:
        make_idle(app, sid, IDLE)

    with app.app_context():
        cutoff = utcnow() - WEEK
        with db.engine.connect() as holder:
            transaction = holder.begin()
            locked = holder.execute(
                select(SolveSession.id).where(SolveSession.id == uuid.UUID(held)).with_for_update()
            ).scalar_one()
            assert locked == uuid.UUID(held)

            changed, _batches = expiry.expire_idle(cutoff, batch_size=2)
            assert changed == 3
            assert expiry.count_idle(cutoff) == 1  # still idle: skipped only for the lock
            assert status_of(client, user, held) == "active"
            assert {status_of(client, user, sid) for sid in others} == {"abandoned"}

            # The holder was a person's move finishing: it refreshes the row and commits.
            holder.execute(
                update(SolveSession)
                .where(SolveSession.id == uuid.UUID(held))
                .values(last_active_at=utcnow())
            )
            transaction.commit()

        assert expiry.expire_idle(cutoff, batch_size=2) == (0, 0)
    assert status_of(client, user, held) == "active"


# --- flask sessions report --------------------------------------------------------------------


def build_mix(app: Flask, client: FlaskClient, user: dict[str, Any]) -> dict[str, str]:
    """Five sessions: 2 completed by messages, 1 abandoned at reframe, 1 active at receive
    (with one crisis message), 1 completed by PATCH from clarify."""
    sessions = {
        name: open_session(client, user["headers"])["session_id"]
        for name in ["walked-1", "walked-2", "abandoned", "active", "patched"]
    }
    advance(client, user, sessions["walked-1"], 5)
    advance(client, user, sessions["walked-2"], 5)
    advance(client, user, sessions["abandoned"], 2)
    close(client, user, sessions["abandoned"], "abandoned")
    advance(client, user, sessions["patched"], 1)
    close(client, user, sessions["patched"], "completed")
    name, done = message_events(
        client, user["headers"], sessions["active"], "I want to kill myself"
    )[-1]
    assert (name, done["blocked"]) == ("done", True)
    expected = {
        "walked-1": ("completed", "commit"),
        "walked-2": ("completed", "commit"),
        "abandoned": ("abandoned", "reframe"),
        "active": ("active", "receive"),
        "patched": ("completed", "clarify"),
    }
    for key, (status, step) in expected.items():
        seen = api_session(client, user, sessions[key])
        assert (seen["status"], seen["current_step"]) == (status, step), key
    return sessions


MIX_REACHED = {"receive": 5, "clarify": 4, "reframe": 3, "options": 2, "commit": 2}
MIX_STATUS = {"active": 1, "completed": 3, "abandoned": 1}


def test_report_json_counts_a_known_mix_exactly(
    app: Flask, client: FlaskClient, runner: Any, user: dict[str, Any]
) -> None:
    build_mix(app, client, user)

    figures = report_json(runner)

    assert re.fullmatch(ISO_Z, figures.pop("since"))
    assert figures == {
        "sessions_opened": 5,
        "reached_step": MIX_REACHED,
        "status": MIX_STATUS,
        "resolution_rate": 0.6,
        "blocked_messages": 1,
    }
    assert list(figures["reached_step"]) == list(STEPS)


def test_report_text_shows_every_step_and_the_resolution_rate(
    app: Flask, client: FlaskClient, runner: Any, user: dict[str, Any]
) -> None:
    build_mix(app, client, user)

    result = runner.invoke(args=["sessions", "report"])

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert re.fullmatch(r"Sessions opened since \S+: 5", lines[0])
    shares = {"receive": "100.0%", "clarify": "80.0%", "reframe": "60.0%"}
    shares |= {"options": "40.0%", "commit": "40.0%"}
    for step in STEPS:
        pattern = rf"\s+reached {step}\s+{MIX_REACHED[step]}\s+{re.escape(shares[step])}"
        assert any(re.fullmatch(pattern, line) for line in lines), (step, result.output)
    for status, share in [("completed", "60.0%"), ("abandoned", "20.0%"), ("active", "20.0%")]:
        pattern = rf"\s+{status}\s+{MIX_STATUS[status]}\s+{re.escape(share)}"
        assert any(re.fullmatch(pattern, line) for line in lines), (status, result.output)
    assert "Problem resolution rate (completed / opened): 60.0%" in lines
    assert any(line.startswith("Messages blocked for safety: 1 ") for line in lines)


def test_a_crisis_message_counts_as_blocked_and_does_not_advance(
    app: Flask, client: FlaskClient, runner: Any, user: dict[str, Any]
) -> None:
    sid = open_session(client, user["headers"])["session_id"]
    assert report_json(runner)["blocked_messages"] == 0

    message_events(client, user["headers"], sid, "I want to kill myself")

    figures = report_json(runner)
    assert figures["blocked_messages"] == 1
    assert figures["reached_step"] == {**dict.fromkeys(STEPS, 0), "receive": 1}
    assert api_session(client, user, sid)["current_step"] == "receive"


def test_report_since_leaves_out_older_sessions_and_all_counts_them(
    app: Flask, client: FlaskClient, runner: Any, user: dict[str, Any]
) -> None:
    old, new = (
        open_session(client, user["headers"])["session_id"],
        open_session(client, user["headers"])["session_id"],
    )
    close(client, user, old, "completed")
    set_column(app, old, created_at=utcnow() - timedelta(days=3))

    recent = report_json(runner, "--since", "1d")
    everything = report_json(runner, "--all")
    default = report_json(runner)  # 30 days

    assert recent["sessions_opened"] == 1
    assert recent["status"] == {"active": 1, "completed": 0, "abandoned": 0}
    assert recent["resolution_rate"] == 0.0
    assert everything["since"] is None
    assert everything["sessions_opened"] == 2
    assert everything["status"] == {"active": 1, "completed": 1, "abandoned": 0}
    assert everything["resolution_rate"] == 0.5
    assert default["sessions_opened"] == 2
    assert api_session(client, user, new)["status"] == "active"


def test_report_on_an_empty_database_says_zero_and_no_rate(runner: Any) -> None:
    result = runner.invoke(args=["sessions", "report"])

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert re.fullmatch(r"Sessions opened since \S+: 0", lines[0])
    assert "Problem resolution rate (completed / opened): -" in lines
    assert any(re.fullmatch(r"\s+reached receive\s+0\s+-", line) for line in lines)
    assert report_json(runner, "--all") == {
        "since": None,
        "sessions_opened": 0,
        "reached_step": dict.fromkeys(STEPS, 0),
        "status": {"active": 0, "completed": 0, "abandoned": 0},
        "resolution_rate": None,
        "blocked_messages": 0,
    }


def test_report_all_says_ever(runner: Any) -> None:
    result = runner.invoke(args=["sessions", "report", "--all"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == "Sessions opened ever: 0"


@pytest.mark.parametrize("value", ["0d", "abc", "-3d"])
def test_report_rejects_a_bad_since(runner: Any, value: str) -> None:
    result = runner.invoke(args=["sessions", "report", "--since", value])
    assert result.exit_code == 2, result.output
    assert "is not a duration" in result.output


# --- the services without the CLI ------------------------------------------------------------


@pytest.mark.parametrize("batch_size", [0, -1])
def test_expire_idle_rejects_a_batch_size_below_one(app: Flask, batch_size: int) -> None:
    with app.app_context(), pytest.raises(ValueError, match="batch_size"):
        expiry.expire_idle(utcnow(), batch_size=batch_size)


def test_expire_idle_cutoff_is_strict(
    app: Flask, client: FlaskClient, user: dict[str, Any]
) -> None:
    sid = open_session(client, user["headers"])["session_id"]
    moment = make_idle(app, sid, timedelta(days=1))

    with app.app_context():
        assert expiry.count_idle(moment) == 0
        assert expiry.expire_idle(moment) == (0, 0)
        later = moment + timedelta(microseconds=1)
        assert expiry.count_idle(later) == 1
        assert expiry.expire_idle(later, batch_size=1) == (1, 1)
    assert status_of(client, user, sid) == "abandoned"


def update_rowcounts(app: Flask) -> list[int]:
    """Rows changed by each UPDATE of solve_sessions from now on (each batch is one)."""
    counts: list[int] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "UPDATE solve_sessions" in statement:
            counts.append(cursor.rowcount)

    with app.app_context():
        event.listen(db.engine, "after_cursor_execute", record)
    return counts


def test_expire_idle_changes_at_most_batch_size_sessions_per_transaction(
    app: Flask, client: FlaskClient, make_user: Any
) -> None:
    people = [make_user() for _ in range(3)]
    owned = [
        (person, open_session(client, person["headers"])["session_id"])
        for person in people
        for _ in range(2)
    ]
    for i, (_person, sid) in enumerate(owned):
        make_idle(app, sid, IDLE + timedelta(minutes=i))
    rowcounts = update_rowcounts(app)

    with app.app_context():
        result = expiry.expire_idle(utcnow() - WEEK, batch_size=4)

    assert rowcounts == [4, 2, 0]
    assert result == (6, 2)
    assert {status_of(client, person, sid) for person, sid in owned} == {"abandoned"}
    with app.app_context():
        assert expiry.expire_idle(utcnow() - WEEK, batch_size=4) == (0, 0)


def test_funnel_on_an_empty_database(app: Flask) -> None:
    with app.app_context():
        figures = funnel()
    assert figures.opened == 0
    assert figures.resolution_rate is None
    assert figures.reached == dict.fromkeys(STEPS, 0)
    assert figures.blocked_messages == 0


def test_funnel_counts_steps_cumulatively_and_filters_by_created_at(
    app: Flask, client: FlaskClient, user: dict[str, Any]
) -> None:
    at_options, at_receive = (
        open_session(client, user["headers"])["session_id"],
        open_session(client, user["headers"])["session_id"],
    )
    advance(client, user, at_options, 3)
    set_column(app, at_receive, created_at=utcnow() - timedelta(days=3))

    with app.app_context():
        everything = funnel()
        recent = funnel(utcnow() - timedelta(days=1))

    assert everything.reached == {
        "receive": 2,
        "clarify": 1,
        "reframe": 1,
        "options": 1,
        "commit": 0,
    }
    assert everything.status == {"active": 2, "completed": 0, "abandoned": 0}
    assert everything.resolution_rate == 0.0
    assert recent.opened == 1
    assert recent.reached["options"] == 1
    assert re.fullmatch(ISO_Z, recent.as_dict()["since"])  # type: ignore[arg-type]
    assert everything.as_dict()["since"] is None
