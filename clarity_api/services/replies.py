"""Kept replies: each reply's events in order, produced once, read live or resumed after a drop.

A reply is its id and its events (token, done, error) as SSE frames, each with its
`id: <reply_id>:<n>` line; never the person's message or history. The worker producing a
reply holds it in memory (`Reply`), so its live connection never waits on anything else;
with Redis, a `Mirror` copies the frames there in batches so that any worker or instance
can serve a resume. Readers are in reply_readers.py.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import gevent
from gevent.event import Event

from clarity_api.errors import ReplyAbandoned
from clarity_api.services.reply_readers import Feed, LocalFeed


class Mirror(Protocol):
    """Where a reply's frames are copied for other workers (Redis); `None` without one."""

    def changed(self, reply: Reply) -> None: ...

    def readers(self, reply_id: str) -> bool: ...

    def feed(self, reply_id: str, live: bool) -> Feed | None: ...

    def flush(self) -> int: ...


class Source(Protocol):
    """What a producer runs: the turn's token frames, then its last event."""

    def frames(self) -> Iterator[bytes]:
        """Token frames (without `id:` lines), lazily, touching no database."""
        ...

    def finish(self, attended: bool, error: Exception | None) -> tuple[bytes, str, str | None]:
        """The last frame, its kind ("done"/"error"), and the step its `done` still advances
        from on first delivery (None when nothing is owed). `attended`: a reader is about to
        write it, so advance now; `error`: end with this instead. Gives the claim back."""
        ...


Finisher = Callable[[bool, Exception | None], tuple[bytes, str, str | None]]


class Reply:
    """One reply as its producing worker holds it: frames in order, and who is reading.

    Producing, then pending (every token produced, the last event not yet: the first reader
    to catch up writes it, so the session advances only as `done` reaches a client; with no
    reader, it is written at once and the advance is owed to the first delivery), then ended.
    """

    __slots__ = (
        "_changed",
        "_detached_at",
        "_mirror",
        "_overdue",
        "_prefix",
        "advance_from",
        "end",
        "ended_at",
        "finisher",
        "finishing",
        "flushed",
        "followers",
        "frames",
        "interrupted",
        "on_end",
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
        self.advance_from: str | None = None  # the step a `done` still owes its advance from
        self.followers = 0
        self.producer: gevent.Greenlet | None = None
        self.finisher: Finisher | None = None  # set while pending
        self.finishing = False  # the last event is being written: no interruption lands
        self.interrupted: Exception | None = None
        self.ended_at = 0.0
        self.flushed = 0  # frames copied to the mirror
        self._changed = Event()
        self._mirror = mirror
        self._detached_at = 0.0
        self.on_end: Callable[[Reply], None] | None = None
        self._overdue = False  # past its lease: the last event is written without a reader

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
        if end is not None and self.on_end is not None:
            self.on_end(self)
        return n

    def wait(self, seen: int, timeout: float) -> bool:
        """Block until there are more than `seen` frames or the reply ended; False on timeout."""
        if len(self.frames) > seen or self.end is not None or self.finisher is not None:
            return True
        self._changed.clear()  # no switch between the check and the wait: nothing is missed
        return self._changed.wait(timeout)

    def pend(self, finisher: Finisher) -> None:
        """Every token is produced: the last event waits for a reader (or is written now)."""
        self.finisher = finisher
        self._changed.set()
        if self.followers == 0 or self._overdue:
            self.finish(attended=False)

    def finish(self, attended: bool) -> bool:
        """Write the last event now, once; False if it is not pending or someone else is."""
        finisher = self.finisher
        if finisher is None or self.finishing:
            return False
        self.finishing = True
        self.finisher = None
        try:
            last, end, owed = finisher(attended, self.interrupted)
        finally:
            self.finishing = False
        self.advance_from = owed
        self.append(last, end)
        return True

    def attach(self) -> None:
        self.followers += 1

    def detach(self, window_s: float) -> None:
        """A reader left; with none left, the reply goes on for `window_s`, then stops."""
        self.followers -= 1
        if self.followers > 0 or self.end is not None:
            return
        if self.finisher is not None:
            gevent.spawn(self.finish, False)
        else:
            self._detached_at = time.monotonic()
            self._check_later(window_s, window_s)

    def _check_later(self, delay_s: float, window_s: float) -> None:
        # A bare timer, not a greenlet: thousands of dropped replies may be waiting at once.
        timer = gevent.get_hub().loop.timer(max(0.0, delay_s))
        timer.start(self._check_abandoned, timer, window_s)

    def _check_abandoned(self, timer: Any, window_s: float) -> None:
        timer.close()
        if self.end is not None or self.followers > 0 or self.producer is None:
            return
        left = self._detached_at + window_s - time.monotonic()
        if left > 0.001:
            self._check_later(left, window_s)
        elif self._mirror is not None:
            gevent.spawn(self._ask_mirror, window_s)  # a Redis round trip: not in the loop
        else:
            self.interrupt(ReplyAbandoned())

    def _ask_mirror(self, window_s: float) -> None:
        if self._mirror is not None and self._mirror.readers(self.reply_id):
            self._detached_at = time.monotonic()
            self._check_later(window_s, window_s)
        else:
            self.interrupt(ReplyAbandoned())

    def bound(self, lease_s: float) -> None:
        """No reply outlives its claim's lease, even with a reader that never reads on."""
        timer = gevent.get_hub().loop.timer(max(0.0, lease_s))
        timer.start(self._lease_over, timer)

    def _lease_over(self, timer: Any) -> None:
        timer.close()
        if self.end is None:
            self._overdue = True
            self.interrupt(ReplyAbandoned())
            if self.finisher is not None:
                gevent.spawn(self.finish, False)

    def interrupt(self, error: Exception) -> None:
        """End the reply early with `error` (a ClarityError), unless it is already ending."""
        if self.end is not None or self.finishing or self.interrupted is not None:
            return
        self.interrupted = error
        if self.producer is not None:
            gevent.get_hub().loop.run_callback(self._throw, error)
        # Pending: the reader about to write the last event writes this error instead.

    def _throw(self, error: Exception) -> None:
        # Checked again in the hub: the producer may have moved on since interrupt().
        producer = self.producer
        if producer is not None and not producer.dead and self.finisher is None:
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
        reply.on_end = self.ended
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


def produce(reply: Reply, source: Source) -> None:
    """A producer greenlet's body: the reply's tokens into `reply`, whoever reads them; then
    the last event is left to the first reader to catch up (or written now, with none)."""
    try:
        for frame in source.frames():
            reply.append(frame)
    except Exception as error:  # thrown in (revoked, abandoned) or a bug: the reply ends
        if reply.interrupted is None:
            reply.interrupted = error
    finally:
        reply.producer = None
    reply.pend(source.finish)


def start(reply: Reply, source: Source) -> None:
    reply.producer = gevent.spawn(produce, reply, source)
