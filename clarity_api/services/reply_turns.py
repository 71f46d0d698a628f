"""A turn's reply, kept: produced by its own greenlet, read live, resumed after a drop.

    desk = app.extensions["clarity_kept_replies"]
    body = desk.stream(turn, login_id)                 # POST /sessions/{id}/messages
    reply_id, body = desk.resume(user_id, session_id, last_event_id)   # GET …/reply

The producer writes the reply into the worker's `Reply` (and Redis, when configured)
whether or not anyone reads it; the response body only follows it. The session advances
when `done` reaches a client: by the reader that writes it as the reply ends, else by the
first delivery of the kept `done` (claims.advance_on_delivery); a replay advances nothing.
"""

from __future__ import annotations

import logging
import time
import uuid
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import gevent
from sqlalchemy.engine import Engine

from clarity_api.errors import InternalError, ReplyNotFound, ServerRestarting, SessionNotFound
from clarity_api.extensions import db
from clarity_api.services import claims, parse_id, replies, turns
from clarity_api.services.events import DoneEvent, ErrorEvent, TokenEvent
from clarity_api.services.replies import MemoryStore, Reply
from clarity_api.services.reply_readers import Follower, LocalFeed, follow, parse_last_event_id
from clarity_api.services.revocation import RevocationWatcher
from clarity_api.streaming import encode, token_frame
from clarity_api.web import metrics

log = logging.getLogger(__name__)


class TurnSource:
    """The turn as a producer's source: token frames, then `done` or `error`."""

    __slots__ = ("_end", "draining", "engine", "turn")

    def __init__(self, turn: turns.TurnPlan, engine: Engine, draining: Callable[[], bool]):
        self.turn = turn
        self.engine = engine
        self.draining = draining
        self._end: turns.Finished | ErrorEvent | None = None

    def frames(self) -> Iterator[bytes]:
        # Pings are left out: each reader sends its own while the reply is silent.
        for event in turns.produce(self.turn, self.draining):
            if isinstance(event, TokenEvent):
                yield token_frame(event.content)
            elif isinstance(event, (turns.Finished, ErrorEvent)):
                self._end = event

    def finish(self, attended: bool, error: Exception | None) -> tuple[bytes, str, str | None]:
        end = turns.failure(error) if error is not None else self._end
        if isinstance(end, turns.Finished):
            event = turns.finish(self.engine, self.turn, end, attended)
            _count_failure(event)
            owed = not attended and end.ending.advances and isinstance(event, DoneEvent)
            kind = "done" if isinstance(event, DoneEvent) else "error"
            return encode(event), kind, self.turn.step.value if owed else None
        try:
            turns.give_back(self.engine, self.turn)
        except Exception as exc:  # the claim then lapses with its lease
            log.warning("reply claim not given back: %s", type(exc).__name__)
        last = end or ErrorEvent.of(InternalError())
        _count_failure(last)
        return encode(last), "error", None


def _count_failure(event: DoneEvent | ErrorEvent) -> None:
    if isinstance(event, ErrorEvent):
        metrics.count_coach_failure(event.error)


class KeptReplies:
    """This app's kept replies in this worker: store, revocation watcher, settings."""

    def __init__(self, config: Any, engine: Engine, redis_client: Any = None) -> None:
        self.engine = engine
        self.lease_s = claims.lease_s(config)
        self.window_s = config["REPLY_RESUME_WINDOW_S"]
        self.ping_s = config["STREAM_PING_INTERVAL_S"]
        mirror = None
        if redis_client is not None:
            from clarity_api.services.reply_redis import RedisMirror

            mirror = RedisMirror(
                redis_client,
                prefix="clarity:reply:",
                retention_s=config["REPLY_RETENTION_S"],
                lease_s=self.lease_s,
                flush_s=config["REPLY_FLUSH_MS"] / 1000,
                window_s=self.window_s,
            )
        self.store = MemoryStore(config["REPLY_RETENTION_S"], mirror)
        self.watcher = RevocationWatcher(lambda: engine, config["REVOCATION_CHECK_S"])
        _desks.add(self)

    def stream(
        self,
        turn: turns.TurnPlan,
        login_id: uuid.UUID | None,
        draining: Callable[[], bool],
        started: float | None = None,
    ) -> Follower:
        """Start producing the turn's reply; the body that follows it from its first event."""
        assert turn.reply_id is not None
        reply = self.store.create(
            str(turn.reply_id), str(turn.session_id), time.time() + self.lease_s
        )
        if login_id is not None:
            self.watcher.watch(login_id, reply)
            reply.on_end = self._ended(login_id)
        watch = metrics.StreamWatch(started)
        body = Follower(follow(LocalFeed(reply), 0, self.ping_s), reply, self.window_s, watch)
        replies.start(reply, TurnSource(turn, self.engine, draining))
        reply.bound(self.lease_s - 1.0)  # ends before its claim lapses
        return body

    def _ended(self, login_id: uuid.UUID) -> Callable[[Reply], None]:
        def ended(reply: Reply) -> None:
            self.store.ended(reply)
            self.watcher.unwatch(login_id, reply)

        return ended

    def resume(
        self, user_id: uuid.UUID, session_id: str, last_event_id: str | None
    ) -> tuple[str, Follower | None]:
        """The session's latest reply after `Last-Event-ID`; None as the body when nothing
        is left (204). Reads the session in the request's transaction."""
        key = parse_id(session_id, SessionNotFound)
        reply_id, live = claims.latest_reply(db.session.connection(), user_id, key)
        after = 0
        if last_event_id is not None:
            parsed = parse_last_event_id(last_event_id)
            if parsed is None or parsed[0] != reply_id:
                raise ReplyNotFound()
            after = parsed[1]
        feed = self.store.feed(reply_id, live) if reply_id is not None else None
        if feed is None or reply_id is None:
            raise ReplyNotFound()
        if feed.ended() and after >= len(feed.frames_after(0)):
            return reply_id, None
        local = feed.reply if isinstance(feed, LocalFeed) else None

        def delivered(step: str) -> None:
            self.deliver(key, uuid.UUID(reply_id), step)

        return reply_id, Follower(follow(feed, after, self.ping_s, delivered), local, self.window_s)

    def deliver(self, session_id: uuid.UUID, reply_id: uuid.UUID, step: str) -> None:
        """A kept `done` reached a client for the first time: the advance it owed."""
        try:
            with self.engine.begin() as connection:
                claims.advance_on_delivery(connection, session_id, reply_id, step)
        except Exception as exc:
            log.warning("delivered done not applied: %s", type(exc).__name__)

    def shutdown(self, within_s: float) -> None:
        """The worker is stopping: let live replies end within `within_s`, end the rest with a
        retryable error, and copy everything to Redis for resuming elsewhere."""
        deadline = time.monotonic() + within_s
        while self.store.live() and time.monotonic() < deadline:
            gevent.sleep(0.05)
        for reply in self.store.live():
            reply.interrupt(ServerRestarting())
            reply.finish(attended=False)
        settle = time.monotonic() + 2.0
        while self.store.live() and time.monotonic() < settle:
            gevent.sleep(0.05)
        self.store.flush()


_desks: weakref.WeakSet[KeptReplies] = weakref.WeakSet()


def shutdown_all(within_s: float) -> None:
    """Every app's kept replies in this worker (gunicorn's worker_exit)."""
    for desk in list(_desks):
        desk.shutdown(within_s)
