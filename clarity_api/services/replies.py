"""Kept replies: each reply's events in order, produced once, read live or resumed after a drop.

A reply is its id and its events (token, done, error) as SSE frames, each with its
`id: <reply_id>:<n>` line; never the person's message or history. The worker producing a
reply holds it in memory (`Reply`), so its live connection never waits on anything else;
with Redis, a `Mirror` copies the frames there in batches so that any worker or instance
can serve a resume. `follow()` is the one reader: replay after `n`, then live to the end.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import gevent
from gevent.event import Event

PING_FRAME = b": ping\n\n"
END_KINDS = ("done", "error")


class ReplyInterrupted(Exception):
    """Thrown into a producer to end its reply early with an `error` event."""

    code = "REPLY_ABANDONED"
    message = "No one was reading this reply, so it was stopped. Please send it again."
    retryable = True


class ReplyAbandoned(ReplyInterrupted):
    pass


class LoginRevoked(ReplyInterrupted):
    code = "TOKEN_REVOKED"
    message = "This login was revoked while the reply was streaming."
    retryable = False


class ServerRestarting(ReplyInterrupted):
    code = "SERVER_RESTARTING"
    message = "The server is restarting; retry."


class Mirror(Protocol):
    """Where a reply's frames are copied for other workers (Redis); `None` without one."""

    def changed(self, reply: Reply) -> None: ...

    def readers(self, reply_id: str) -> bool: ...

    def feed(self, reply_id: str, live: bool) -> Feed | None: ...

    def flush(self) -> int: ...


class Reply:
    """One reply as its producing worker holds it: frames in order, and who is reading."""

    __slots__ = (
        "_changed",
        "_detached_at",
        "_mirror",
        "_prefix",
        "advance_from",
        "end",
        "ended_at",
        "finishing",
        "flushed",
        "followers",
        "frames",
        "producer",
        "reply_id",
        "session_id",
        "until",
    )

    def __init__(
        self, reply_id: str, session_id: str, until: float = 0.0, mirror: Mirror | None = None
    ) -> None:
        self.reply_id = reply_id
        self.session_id = session_id
        self.until = until  # wall-clock end of the claim's lease: no reply runs past it
        self._prefix = b"id: " + reply_id.encode() + b":"
        self.frames: list[bytes] = []
        self.end: str | None = None  # "done" or "error" once the last event is produced
        # The step a `done` advances the session from when the first client to read it
        # does so (the producer had no reader when it ended); None when nothing is owed.
        self.advance_from: str | None = None
        self.followers = 0
        self.finishing = False  # past the point where an interruption may land
        self.producer: gevent.Greenlet | None = None
        self.ended_at = 0.0
        self.flushed = 0  # frames copied to the mirror
        self._changed = Event()
        self._mirror = mirror
        self._detached_at = 0.0

    def append(self, frame: bytes, end: str | None = None) -> int:
        """Add the next event (a frame without its `id:` line); returns its number."""
        assert self.end is None, "a reply has one last event"
        n = len(self.frames) + 1
        self.frames.append(self._prefix + str(n).encode() + b"\n" + frame)
        if end is not None:
            self.end = end
            self.ended_at = time.monotonic()
        self._changed.set()
        if self._mirror is not None:
            self._mirror.changed(self)
        return n

    def wait(self, seen: int, timeout: float) -> bool:
        """Block until there are more than `seen` frames or the reply ended; False on timeout."""
        if len(self.frames) > seen or self.end is not None:
            return True
        self._changed.clear()  # no switch between the check and the wait: nothing is missed
        return self._changed.wait(timeout)

    def attach(self) -> None:
        self.followers += 1

    def detach(self, window_s: float) -> None:
        """A reader left; with none left, the reply goes on for `window_s`, then stops."""
        self.followers -= 1
        if self.followers == 0 and self.end is None:
            self._detached_at = time.monotonic()
            gevent.spawn_later(window_s, self._check_abandoned, window_s)

    def _check_abandoned(self, window_s: float) -> None:
        if self.end is not None or self.followers > 0:
            return
        if self._mirror is not None and self._mirror.readers(self.reply_id):
            gevent.spawn_later(window_s, self._check_abandoned, window_s)
            return
        left = self._detached_at + window_s - time.monotonic()
        if left > 0.001:
            gevent.spawn_later(left, self._check_abandoned, window_s)
        else:
            self.interrupt(ReplyAbandoned())

    def interrupt(self, error: ReplyInterrupted) -> None:
        """End production early with `error`, unless the reply is already finishing."""
        if self.finishing or self.end is not None or self.producer is None:
            return
        gevent.get_hub().loop.run_callback(self._throw, error)

    def _throw(self, error: ReplyInterrupted) -> None:
        # Checked again in the hub: the producer may have moved on since interrupt().
        producer = self.producer
        if self.finishing or self.end is not None or producer is None or producer.dead:
            return
        producer.throw(error)


class MemoryStore:
    """The worker's kept replies: live ones, and ended ones for `retention_s` after their end."""

    def __init__(self, retention_s: float, mirror: Mirror | None = None) -> None:
        self.retention_s = retention_s
        self.mirror = mirror
        if mirror is not None:
            mirror.store = self  # type: ignore[attr-defined]
        self._replies: dict[str, Reply] = {}
        self._ended: deque[tuple[float, str]] = deque()

    def create(self, reply_id: str, session_id: str, until: float = 0.0) -> Reply:
        self.sweep()
        reply = Reply(reply_id, session_id, until, self.mirror)
        self._replies[reply_id] = reply
        return reply

    def get(self, reply_id: str) -> Reply | None:
        self.sweep()
        return self._replies.get(reply_id)

    def ended(self, reply: Reply) -> None:
        """The reply's last event is produced: keep it for the retention, then let it go."""
        self._ended.append((reply.ended_at + self.retention_s, reply.reply_id))

    def forget(self, reply_id: str) -> None:
        self._replies.pop(reply_id, None)

    def feed(self, reply_id: str, live: bool) -> Feed | None:
        """The reply for a reader: this worker's copy, else the mirror's; None if not kept."""
        reply = self.get(reply_id)
        if reply is not None:
            return LocalFeed(reply)
        if self.mirror is not None:
            return self.mirror.feed(reply_id, live)
        return None

    def flush(self) -> None:
        """Copy everything produced so far to the mirror now (shutting down)."""
        if self.mirror is not None:
            self.mirror.flush()

    def live(self) -> list[Reply]:
        return [reply for reply in self._replies.values() if reply.end is None]

    def sweep(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        while self._ended and self._ended[0][0] <= now:
            self._replies.pop(self._ended.popleft()[1], None)


class Feed(Protocol):
    """A reply as a reader sees it: frames so far, its end, and a way to wait for more."""

    def frames_after(self, seen: int) -> list[bytes]: ...

    def ended(self) -> bool: ...

    def wait(self, seen: int, timeout: float) -> bool: ...


class LocalFeed:
    """A reply this worker holds."""

    __slots__ = ("reply",)

    def __init__(self, reply: Reply) -> None:
        self.reply = reply

    def frames_after(self, seen: int) -> list[bytes]:
        return self.reply.frames[seen:]

    def ended(self) -> bool:
        return self.reply.end is not None

    def wait(self, seen: int, timeout: float) -> bool:
        return self.reply.wait(seen, timeout)


def follow(
    feed: Feed, after: int, ping_s: float, delivered: Callable[[], None] | None = None
) -> Iterator[bytes]:
    """Each frame after event `after` once, in order, live to the end; `: ping` while silent.

    `delivered` runs once the chunk holding the last event has been written (the server asks
    for the next chunk only after the write succeeded; a failed write closes us instead).
    """
    seen = after
    while True:
        frames = feed.frames_after(seen)
        if frames:
            seen += len(frames)
            last = feed.ended() and not feed.frames_after(seen)
            yield frames[0] if len(frames) == 1 else b"".join(frames)
            if last:
                if delivered is not None:
                    delivered()
                return
        elif feed.ended():
            return
        elif not feed.wait(seen, ping_s):
            yield PING_FRAME


class Follower:
    """The response body of a stream: `follow()` plus a reader count that a close always
    gives back, even when the server closes the body before reading it."""

    __slots__ = ("_attached", "_events", "_reply", "_window_s")

    def __init__(self, events: Iterator[bytes], reply: Reply | None, window_s: float) -> None:
        self._events = events
        self._reply = reply
        self._window_s = window_s
        self._attached = reply is not None
        if reply is not None:
            reply.attach()

    def __iter__(self) -> Follower:
        return self

    def __next__(self) -> bytes:
        try:
            return next(self._events)
        except StopIteration:
            self._leave()
            raise

    def close(self) -> None:
        close: Any = getattr(self._events, "close", None)
        if close is not None:
            close()
        self._leave()

    def _leave(self) -> None:
        if self._attached and self._reply is not None:
            self._attached = False
            self._reply.detach(self._window_s)


def parse_last_event_id(raw: str | None) -> tuple[str, int] | None:
    """`<reply_id>:<n>` as (reply_id, n); None when the header does not have that shape."""
    if raw is None:
        return None
    reply_id, sep, number = raw.strip().rpartition(":")
    if not sep or not reply_id or not number.isdigit() or len(number) > 9:
        return None
    return reply_id, int(number)


class Source(Protocol):
    """What a producer runs: the turn's token frames, then its last event."""

    def frames(self) -> Iterator[bytes]:
        """Token frames (without `id:` lines), lazily; raises when the reply fails."""
        ...

    def finish(self, attended: bool) -> tuple[bytes, str, str | None]:
        """The last frame, its kind, and the step its `done` still advances from on first
        delivery (None when nothing is owed): with a reader attached, advance now."""
        ...

    def fail(self, error: Exception) -> bytes:
        """The `error` frame for a failure or interruption, after giving the claim back."""
        ...


def produce(reply: Reply, source: Source, store: MemoryStore, draining: Callable[[], bool]) -> None:
    """A producer greenlet's body: the reply's events into `reply`, whoever reads them."""
    frames = source.frames()
    try:
        try:
            for frame in frames:
                if draining():
                    raise ServerRestarting()
                reply.append(frame)
            reply.finishing = True
            last, end, owed = source.finish(reply.followers > 0)
        except Exception as error:  # every failure becomes the `error` event
            reply.finishing = True
            close: Any = getattr(frames, "close", None)
            if close is not None:
                close()  # a coach's iterator lets go of its connection here
            last, end, owed = source.fail(error), "error", None
        reply.advance_from = owed
        reply.append(last, end)
    finally:
        reply.producer = None
        store.ended(reply)


def start(reply: Reply, source: Source, store: MemoryStore, draining: Callable[[], bool]) -> None:
    reply.producer = gevent.spawn(produce, reply, source, store, draining)
