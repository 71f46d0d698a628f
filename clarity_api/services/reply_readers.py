"""Reading a kept reply: replay after `n`, then follow it live to its end, once per request.

`follow()` is the one reader, over a `Feed` (this worker's `Reply`, or Redis); `Follower` is
the response body around it, which always gives its reader count back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from clarity_api.services.replies import Reply

PING_FRAME = b": ping\n\n"
# Response bodies following a reply in this worker (for /internal/stats and the benchmarks).
open_streams = 0


class Feed(Protocol):
    """A reply as a reader sees it: frames so far, its end, and a way to wait for more."""

    def frames_after(self, seen: int) -> list[bytes]: ...

    def ended(self) -> bool: ...

    def wait(self, seen: int, timeout: float) -> bool: ...

    def settle(self) -> bool:
        """Write the pending last event now (this reader is about to deliver it)."""
        ...

    def owed(self) -> str | None:
        """The step the `done` just delivered still advances the session from."""
        ...

    def paid(self) -> None: ...


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

    def settle(self) -> bool:
        return self.reply.finish(attended=True)

    def owed(self) -> str | None:
        return self.reply.advance_from

    def paid(self) -> None:
        self.reply.advance_from = None


def follow(
    feed: Feed, after: int, ping_s: float, delivered: Callable[[str], None] | None = None
) -> Iterator[bytes]:
    """Each frame after event `after` once, in order, live to the end; `: ping` while silent.

    `delivered(step)` runs when the chunk holding a `done` that still owes its advance has
    been written (the server asks for the next chunk only after a write succeeded; a failed
    write closes us instead), so a session advances as its `done` first reaches a client.
    """
    seen = after
    backlog = after > 0  # a resume: what it missed goes out as one write
    while True:
        frames = feed.frames_after(seen)
        if frames:
            chunks = [b"".join(frames)] if backlog and len(frames) > 1 else frames
            backlog = False
            yield from chunks
            seen += len(frames)
            if feed.ended() and not feed.frames_after(seen):
                owed = feed.owed()
                if owed is not None and delivered is not None:
                    feed.paid()
                    delivered(owed)
                return
        elif feed.ended():
            return
        elif not feed.settle() and not feed.wait(seen, ping_s):
            yield PING_FRAME


class Watch(Protocol):
    """What a stream reports about itself (metrics): its first write, and how it ended."""

    def first(self) -> None: ...

    def left(self, reply: Reply | None, finished: bool) -> None: ...


class Follower:
    """The response body of a stream: `follow()` plus a reader count that a close always
    gives back, even when the server closes the body before reading it."""

    __slots__ = ("_attached", "_events", "_fresh", "_reply", "_watch", "_window_s")

    def __init__(
        self,
        events: Iterator[bytes],
        reply: Reply | None,
        window_s: float,
        watch: Watch | None = None,
    ) -> None:
        self._events = events
        self._reply = reply
        self._window_s = window_s
        self._watch = watch
        self._fresh = watch is not None
        self._attached = True
        if reply is not None:
            reply.attach()
        global open_streams
        open_streams += 1

    def __iter__(self) -> Follower:
        return self

    def __next__(self) -> bytes:
        try:
            chunk = next(self._events)
        except StopIteration:
            self._leave(finished=True)
            raise
        if self._fresh and chunk is not PING_FRAME and self._watch is not None:
            self._fresh = False
            self._watch.first()
        return chunk

    def close(self) -> None:
        close: Any = getattr(self._events, "close", None)
        if close is not None:
            close()
        self._leave(finished=False)

    def _leave(self, finished: bool) -> None:
        if self._attached:
            self._attached = False
            global open_streams
            open_streams -= 1
            if self._reply is not None:
                self._reply.detach(self._window_s)
            if self._watch is not None:
                self._watch.left(self._reply, finished)


def parse_last_event_id(raw: str | None) -> tuple[str, int] | None:
    """`<reply_id>:<n>` as (reply_id, n); None when the header does not have that shape."""
    if raw is None:
        return None
    reply_id, sep, number = raw.strip().rpartition(":")
    if not sep or not reply_id or not number.isdigit() or len(number) > 9:
        return None
    return reply_id, int(number)
