"""Kept replies in Redis: batched writes, replay and live follow from another worker."""

from __future__ import annotations

import os
import uuid

import gevent
import pytest
import redis

from clarity_api.services import replies
from clarity_api.services.replies import MemoryStore
from clarity_api.services.reply_readers import PING_FRAME, follow
from clarity_api.services.reply_redis import RedisMirror
from tests.services.test_replies import DONE, WORDS, FakeSource, ids

REDIS_URL = os.environ.get("REDIS_URL")
pytestmark = pytest.mark.skipif(not REDIS_URL, reason="needs REDIS_URL")


@pytest.fixture
def client():
    client = redis.Redis.from_url(REDIS_URL)
    yield client
    client.close()


def mirror(client, **kw) -> RedisMirror:
    options = {"retention_s": 60, "lease_s": 100, "flush_s": 3600, "window_s": 30, **kw}
    return RedisMirror(client, prefix=f"test-{uuid.uuid4().hex}:", **options)


def test_a_flush_writes_each_changed_reply_as_one_entry_and_sets_its_ttl(client):
    producer = mirror(client)
    store = MemoryStore(60, producer)
    reply = store.create("r1", "s1", until=123.5)
    reply.append(WORDS[0])
    reply.append(WORDS[1])
    assert producer.flush() == 2  # XADD + EXPIRE (lease + retention)
    assert 100 < client.ttl(producer.key("r1")) <= 160
    reply.advance_from = "receive"
    reply.append(DONE, "done")
    assert producer.flush() == 2  # XADD + EXPIRE (retention)
    assert 0 < client.ttl(producer.key("r1")) <= 60
    assert store.get("r1") is None  # ended and copied: resumes read Redis
    entries = client.xrange(producer.key("r1"))
    assert [sorted(fields) for _id, fields in entries] == [
        [b"1", b"2", b"until"],
        [b"3", b"adv", b"end"],
    ]


def test_another_worker_replays_the_kept_reply_after_n(client):
    producer = mirror(client)
    store = MemoryStore(60, producer)
    reply = store.create("r1", "s1")
    replies.start(reply, FakeSource())
    gevent.idle()
    producer.flush()
    elsewhere = mirror(client)
    elsewhere.prefix = producer.prefix
    feed = MemoryStore(60, elsewhere).feed("r1", live=False)
    assert feed is not None and feed.advance_from == "receive"
    assert ids(b"".join(follow(feed, 4, 1.0))) == ["r1:5", "r1:6"]
    assert MemoryStore(60, elsewhere).feed("unknown", live=False) is None


def test_another_worker_follows_a_live_reply_to_its_end(client):
    producer = mirror(client, flush_s=0.001)
    store = MemoryStore(60, producer)
    reply = store.create("r1", "s1", until=9e9)
    source = FakeSource(gated=True)
    replies.start(reply, source)
    elsewhere = mirror(client)
    elsewhere.prefix = producer.prefix
    feed = elsewhere.feed("r1", live=True)
    assert feed is not None
    events = follow(feed, 0, 0.05)
    got = []

    def read() -> None:
        got.extend(events)

    reader = gevent.spawn(read)
    for gate in source.gates:
        gate.set()
        gevent.sleep(0.002)
    reader.join(timeout=5)
    body = b"".join(got).replace(PING_FRAME, b"")
    assert ids(body) == [f"r1:{n}" for n in range(1, 7)]
    assert body == b"".join(reply.frames)
    assert producer.readers("r1")  # the reader told the producer it is there


def test_a_reply_past_its_lease_with_no_end_ends_abandoned_for_its_reader(client):
    producer = mirror(client)
    store = MemoryStore(60, producer)
    reply = store.create("r1", "s1", until=0.0)  # a lease long over: its worker died
    reply.append(WORDS[0])
    producer.flush()
    elsewhere = mirror(client)
    elsewhere.prefix = producer.prefix
    feed = elsewhere.feed("r1", live=True)
    body = b"".join(follow(feed, 0, 1.0))
    assert ids(body) == ["r1:1", "r1:2"]
    assert b'"REPLY_ABANDONED"' in body and b'"retryable":true' in body
