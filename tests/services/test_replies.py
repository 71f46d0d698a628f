"""Kept replies in the worker's memory: producing, following, resuming, abandoning."""

from __future__ import annotations

from collections.abc import Iterator

import gevent
import pytest
from gevent.event import Event

from clarity_api.errors import ReplyAbandoned, TokenRevoked
from clarity_api.services import replies
from clarity_api.services.replies import MemoryStore, Reply
from clarity_api.services.reply_readers import (
    PING_FRAME,
    Follower,
    LocalFeed,
    follow,
    parse_last_event_id,
)

WORDS = [b'event: token\ndata: {"content":"%d"}\n\n' % i for i in range(1, 6)]
DONE = b'event: done\ndata: {"next_step":"clarify"}\n\n'


class FakeSource:
    """Yields WORDS, each after its gate opens (so a test decides when tokens arrive)."""

    def __init__(self, gated: bool = False) -> None:
        self.gates = [Event() for _ in WORDS]
        if not gated:
            for gate in self.gates:
                gate.set()
        self.finished_with: bool | None = None
        self.failed_with: Exception | None = None
        self.closed = False

    def frames(self) -> Iterator[bytes]:
        try:
            for gate, word in zip(self.gates, WORDS, strict=True):
                gate.wait()
                yield word
        finally:
            self.closed = True

    def finish(self, attended: bool, error: Exception | None) -> tuple[bytes, str, str | None]:
        self.finished_with = attended
        if error is not None:
            self.failed_with = error
            code = getattr(error, "error", "X").encode()
            return b'event: error\ndata: {"error":"%s"}\n\n' % code, "error", None
        return DONE, "done", None if attended else "receive"


def ids(body: bytes) -> list[str]:
    return [line[4:] for line in body.decode().split("\n") if line.startswith("id: ")]


def run(reply: Reply, source: FakeSource, store: MemoryStore) -> None:
    replies.start(reply, source)


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore(retention_s=60)


def test_a_followed_reply_carries_numbered_ids_and_ends_with_done(store):
    reply = store.create("r1", "s1")
    source = FakeSource()
    body = Follower(follow(LocalFeed(reply), 0, 1.0), reply, 30)
    run(reply, source, store)
    data = b"".join(body)
    assert ids(data) == [f"r1:{n}" for n in range(1, 7)]
    assert data.endswith(b"id: r1:6\n" + DONE)
    assert source.finished_with is True  # a reader was attached: the producer advances
    assert reply.advance_from is None
    assert reply.followers == 0


def test_a_reader_that_leaves_before_done_leaves_the_advance_owed(store):
    reply = store.create("r1", "s1")
    source = FakeSource()
    body = Follower(follow(LocalFeed(reply), 0, 1.0), reply, 30)
    run(reply, source, store)
    next(body)
    body.close()  # every token was produced, but done had not been written
    gevent.idle()
    assert source.finished_with is False
    assert reply.end == "done" and reply.advance_from == "receive"


def test_resuming_after_n_replays_the_rest_once_in_order(store):
    reply = store.create("r1", "s1")
    run(reply, FakeSource(), store)
    gevent.idle()
    assert reply.end == "done"
    assert ids(b"".join(follow(LocalFeed(reply), 3, 1.0))) == ["r1:4", "r1:5", "r1:6"]
    assert b"".join(follow(LocalFeed(reply), 6, 1.0)) == b""


def test_a_reply_nobody_reads_owes_its_advance_to_the_first_delivery(store):
    reply = store.create("r1", "s1")
    source = FakeSource()
    run(reply, source, store)
    gevent.idle()
    assert source.finished_with is False
    assert reply.advance_from == "receive"
    delivered = []
    list(follow(LocalFeed(reply), 2, 1.0, delivered=delivered.append))
    assert delivered == ["receive"]
    list(follow(LocalFeed(reply), 2, 1.0, delivered=delivered.append))
    assert delivered == ["receive"]  # a replayed done owes nothing


def test_a_follower_waits_for_live_tokens_and_pings_while_silent(store):
    reply = store.create("r1", "s1")
    source = FakeSource(gated=True)
    events = follow(LocalFeed(reply), 0, 0.001)
    run(reply, source, store)
    assert next(events) == PING_FRAME  # nothing produced yet
    source.gates[0].set()
    assert ids(next(events)) == ["r1:1"]
    for gate in source.gates[1:]:
        gate.set()
    rest = b"".join(events).replace(PING_FRAME, b"")
    assert ids(rest) == ["r1:2", "r1:3", "r1:4", "r1:5", "r1:6"]


def test_a_reply_no_one_reads_for_the_window_ends_abandoned(store):
    reply = store.create("r1", "s1")
    source = FakeSource(gated=True)
    body = Follower(follow(LocalFeed(reply), 0, 1.0), reply, window_s=0.01)
    run(reply, source, store)
    source.gates[0].set()
    assert ids(next(body)) == ["r1:1"]
    body.close()  # the client went away
    reply.producer.join(timeout=5) if reply.producer else None
    assert reply.end == "error"
    assert isinstance(source.failed_with, ReplyAbandoned)
    assert source.closed  # what the coach held is let go
    assert ids(b"".join(reply.frames)) == ["r1:1", "r1:2"]


def test_a_reader_back_within_the_window_keeps_the_reply_going(store):
    reply = store.create("r1", "s1")
    source = FakeSource(gated=True)
    first = Follower(follow(LocalFeed(reply), 0, 1.0), reply, window_s=0.02)
    run(reply, source, store)
    source.gates[0].set()
    next(first)
    first.close()
    again = Follower(follow(LocalFeed(reply), 1, 1.0), reply, window_s=0.02)
    gevent.sleep(0.05)  # longer than the window, with a reader attached
    for gate in source.gates[1:]:
        gate.set()
    assert ids(b"".join(again)) == ["r1:2", "r1:3", "r1:4", "r1:5", "r1:6"]
    assert reply.end == "done"


def test_a_body_closed_before_it_is_read_gives_its_reader_back(store):
    reply = store.create("r1", "s1")
    body = Follower(follow(LocalFeed(reply), 0, 1.0), reply, 30)
    assert reply.followers == 1
    body.close()
    body.close()
    assert reply.followers == 0


def test_an_interrupted_reply_ends_with_that_error(store):
    reply = store.create("r1", "s1")
    source = FakeSource(gated=True)
    run(reply, source, store)
    source.gates[0].set()
    gevent.idle()
    reply.interrupt(TokenRevoked())
    reply.producer.join(timeout=5) if reply.producer else None
    assert reply.end == "error"
    assert b'"TOKEN_REVOKED"' in reply.frames[-1]
    assert len(reply.frames) == 2


def test_ended_replies_are_kept_for_the_retention_then_dropped():
    store = MemoryStore(retention_s=60)
    reply = store.create("r1", "s1")
    run(reply, FakeSource(), store)
    gevent.idle()
    store.sweep(now=reply.ended_at + 59)
    assert store.get("r1") is reply
    store.sweep(now=reply.ended_at + 60)
    assert store._replies == {}


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [
        ("5f0c-e1:3", ("5f0c-e1", 3)),
        (" abc:0 ", ("abc", 0)),
        ("abc", None),
        ("abc:", None),
        (":3", None),
        ("abc:-1", None),
        ("abc:1e3", None),
        (None, None),
    ],
)
def test_last_event_id_is_reply_id_colon_number(raw, parsed):
    assert parse_last_event_id(raw) == parsed


def test_a_reply_still_unfinished_at_its_lease_ends_abandoned(store):
    reply = store.create("r1", "s1")
    source = FakeSource(gated=True)
    body = Follower(follow(LocalFeed(reply), 0, 1.0), reply, window_s=30)
    run(reply, source, store)
    reply.bound(0.01)  # a stuck reader never lets the reply end on its own
    assert reply.producer is not None
    reply.producer.join(timeout=5)
    assert reply.end == "error" and isinstance(source.failed_with, ReplyAbandoned)
    body.close()
