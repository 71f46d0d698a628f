"""Ends live replies whose login was revoked, without a database query per token.

One watcher per app and worker: while replies are live it wakes every `interval_s` and asks
the database, in one query per `chunk` logins, which of the live replies' logins still
stand. A login revoked (logout, refresh theft, password change) or deleted (device or login
removed, account deleted) is missing from the answer, and its replies get `TOKEN_REVOKED`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable

import gevent
from sqlalchemy import select
from sqlalchemy.engine import Engine

from clarity_api.errors import TokenRevoked
from clarity_api.models import Login
from clarity_api.services.replies import Reply

log = logging.getLogger(__name__)


class RevocationWatcher:
    def __init__(
        self,
        engine: Callable[[], Engine],
        interval_s: float,
        chunk: int = 500,
        sleep: Callable[[float], object] = gevent.sleep,
    ) -> None:
        self._engine = engine
        self.interval_s = interval_s
        self.chunk = chunk
        self._sleep = sleep
        self._watched: dict[uuid.UUID, set[Reply]] = {}
        self._loop: gevent.Greenlet | None = None

    def watch(self, login_id: uuid.UUID, reply: Reply) -> None:
        self._watched.setdefault(login_id, set()).add(reply)
        if self._loop is None or self._loop.dead:
            self._loop = gevent.spawn(self._run)

    def unwatch(self, login_id: uuid.UUID, reply: Reply) -> None:
        replies = self._watched.get(login_id)
        if replies is not None:
            replies.discard(reply)
            if not replies:
                del self._watched[login_id]

    def _run(self) -> None:
        while self._watched:
            self._sleep(self.interval_s)
            try:
                self.check()
            except Exception as exc:  # a database hiccup: try again next round
                log.warning("revocation check failed: %s", type(exc).__name__)

    def check(self) -> int:
        """One round: interrupt the replies of every login that no longer stands."""
        logins = list(self._watched)
        if not logins:
            return 0
        standing = self._standing(logins)
        revoked = [login for login in logins if login not in standing]
        for login in revoked:
            for reply in self._watched.pop(login, ()):
                reply.interrupt(
                    TokenRevoked("This login was revoked while the reply was streaming.")
                )
        return len(revoked)

    def _standing(self, logins: Iterable[uuid.UUID]) -> set[uuid.UUID]:
        ids = list(logins)
        found: set[uuid.UUID] = set()
        with self._engine().connect() as connection:
            for start in range(0, len(ids), self.chunk):
                part = ids[start : start + self.chunk]
                found.update(
                    connection.execute(
                        select(Login.id).where(Login.id.in_(part), Login.revoked_at.is_(None))
                    ).scalars()
                )
        return found

    def watching(self) -> int:
        return sum(len(replies) for replies in self._watched.values())
