"""Kept replies in Redis, so that any worker or instance can serve a resume.

One Redis Stream per reply, `<prefix><reply_id>`. Each entry holds the frames produced since
the last write, as fields named by event number ("1", "2", …), plus "end" (done/error) on
the entry with the last event and "adv" (the step its `done` advances from on first
delivery, when no one was reading as it ended). The key expires `retention_s` after the last
event; until then it carries a TTL that covers the longest a reply can run.

The producing worker never waits on Redis: frames land in the in-process `Reply` first and
one greenlet per worker copies every changed reply in one pipeline per `flush_s`.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import gevent
import redis

from clarity_api.services.replies import MemoryStore, Reply

log = logging.getLogger(__name__)

_ABANDONED = {
    "error": "REPLY_ABANDONED",
    "message": "This reply stopped before its end. Please send it again.",
    "retryable": True,
}


class RedisMirror:
    def __init__(
        self,
        client: redis.Redis,
        *,
        prefix: str,
        retention_s: float,
        lease_s: float,
        flush_s: float,
        window_s: float,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.retention_s = retention_s
        self.lease_s = lease_s
        self.flush_s = flush_s
        self.window_s = window_s
        self.store: MemoryStore | None = None  # set by the store: replies it may let go
        self._dirty: dict[str, Reply] = {}
        self._flusher: gevent.Greenlet | None = None

    def key(self, reply_id: str) -> str:
        return self.prefix + reply_id

    def changed(self, reply: Reply) -> None:
        self._dirty[reply.reply_id] = reply
        if self._flusher is None or self._flusher.dead:
            self._flusher = gevent.spawn(self._run)

    def _run(self) -> None:
        while self._dirty:
            gevent.sleep(self.flush_s)
            self.flush()

    def flush(self) -> int:
        """Copy what changed to Redis in one pipeline; returns the commands sent."""
        batch, self._dirty = self._dirty, {}
        if not batch:
            return 0
        pipe = self.client.pipeline(transaction=False)
        wrote: list[tuple[Reply, int]] = []
        for reply in batch.values():
            count = len(reply.frames)
            if count > reply.flushed:
                self._write(pipe, reply, count)
                wrote.append((reply, count))
        sent = len(pipe.command_stack)
        try:
            pipe.execute()
        except redis.RedisError as exc:
            log.warning("kept replies not written to Redis: %s", type(exc).__name__)
            for reply, _count in wrote:  # try again with the next batch
                self._dirty.setdefault(reply.reply_id, reply)
            return 0
        for reply, count in wrote:
            reply.flushed = count
            if reply.end is not None and count == len(reply.frames) and self.store is not None:
                self.store.forget(reply.reply_id)  # resumes read it from Redis from now on
        return sent

    def _write(self, pipe: Any, reply: Reply, count: int) -> None:
        key = self.key(reply.reply_id)
        fields: dict[str, Any] = {
            str(n): reply.frames[n - 1] for n in range(reply.flushed + 1, count + 1)
        }
        first = reply.flushed == 0
        if first:
            fields["until"] = repr(reply.until)
        last = reply.end is not None and count == len(reply.frames)
        if last:
            fields["end"] = reply.end
            if reply.advance_from is not None:
                fields["adv"] = reply.advance_from
        pipe.xadd(key, fields)
        if last:
            pipe.expire(key, max(1, round(self.retention_s)))
        elif first:
            pipe.expire(key, max(1, round(self.lease_s + self.retention_s)))

    def readers(self, reply_id: str) -> bool:
        """Whether a worker elsewhere is following this reply (it refreshes a short key)."""
        try:
            return bool(self.client.exists(self.key(reply_id) + ":r"))
        except redis.RedisError:
            return False

    def feed(self, reply_id: str, live: bool) -> RemoteFeed | None:
        """The reply as kept in Redis; None when nothing is kept and it is not live."""
        feed = RemoteFeed(self, reply_id)
        if not feed.load() and not live:
            return None
        return feed


class RemoteFeed:
    """A reply produced elsewhere: XRANGE what is kept, then XREAD BLOCK for the rest."""

    def __init__(self, mirror: RedisMirror, reply_id: str) -> None:
        self.mirror = mirror
        self.reply_id = reply_id
        self.key = mirror.key(reply_id)
        self.frames: list[bytes] = []
        self.end: str | None = None
        self.advance_from: str | None = None
        self.until = time.time() + mirror.lease_s
        self._last_entry = "0-0"
        self._reader_mark = 0.0

    def load(self) -> bool:
        entries: Any = self.mirror.client.xrange(self.key)
        self._take(entries)
        return bool(entries)

    def _take(self, entries: list[tuple[bytes, dict[bytes, bytes]]]) -> None:
        for entry_id, fields in entries:
            self._last_entry = entry_id.decode()
            for name, value in fields.items():
                if name.isdigit():
                    self.frames.append(value)
                elif name == b"until":
                    self.until = float(value)
                elif name == b"end":
                    self.end = value.decode()
                elif name == b"adv":
                    self.advance_from = value.decode()

    def frames_after(self, seen: int) -> list[bytes]:
        return self.frames[seen:]

    def ended(self) -> bool:
        return self.end is not None

    def settle(self) -> bool:
        return False  # only the producing worker can write a reply's last event

    def owed(self) -> str | None:
        return self.advance_from

    def paid(self) -> None:
        self.advance_from = None

    def wait(self, seen: int, timeout: float) -> bool:
        if len(self.frames) > seen or self.end is not None:
            return True
        self._mark_reading()
        left = self.until - time.time()
        if left <= 0:
            self._give_up()
            return True
        block_ms = max(1, int(min(timeout, left) * 1000))
        answer: Any = self.mirror.client.xread({self.key: self._last_entry}, block=block_ms)
        for _key, entries in answer or ():
            self._take(entries)
        return len(self.frames) > seen or self.end is not None

    def _mark_reading(self) -> None:
        """Tell the producing worker someone reads this reply, so it does not stop it."""
        now = time.monotonic()
        window = self.mirror.window_s
        if now - self._reader_mark >= window / 3:
            self._reader_mark = now
            self.mirror.client.set(self.key + ":r", b"1", ex=max(1, round(window)))

    def _give_up(self) -> None:
        # Past the claim's lease with no end: its producer died without a word (a crash).
        data = json.dumps(_ABANDONED, separators=(",", ":")).encode()
        n = len(self.frames) + 1
        self.frames.append(
            b"id: %s:%d\nevent: error\ndata: %s\n\n" % (self.reply_id.encode(), n, data)
        )
        self.end = "error"
