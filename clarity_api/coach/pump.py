"""Run a blocking reply source in its own greenlet, with keep-alive pings and one deadline."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Generator, Iterator

import gevent
from gevent.queue import Empty, Queue

from clarity_api.coach.base import PING, CoachError, CoachTimeout, CoachUnavailable, ReplyItem

log = logging.getLogger(__name__)

# Named so that a stuck producer is easy to spot in gevent's monitoring and in tests.
PRODUCER_NAME = "coach-pump"
# How long closing waits for the producer to unwind (close its HTTP response) once killed.
_KILL_WAIT_S = 1.0


class _End:
    """Queued last by the producer: the source finished, or failed with `error`."""

    __slots__ = ("error",)

    def __init__(self, error: CoachError | None = None) -> None:
        self.error = error


def pump(
    source: Callable[[], Iterator[ReplyItem]], *, ping_interval: float, deadline_s: float
) -> Generator[ReplyItem, None, None]:
    """Yield the source's items as they arrive, PING while it is silent, CoachTimeout at the end.

    The source runs in its own greenlet so a silent provider cannot stall the stream: the
    consumer wakes every `ping_interval` whatever the source is blocked on. Closing this
    iterator (the client went away) or finishing it kills that greenlet, which closes the
    source at its blocking point, so nothing outlives the reply.
    """
    deadline = time.monotonic() + deadline_s
    queue: Queue = Queue()
    producer = gevent.spawn(_produce, source, queue)
    producer.name = PRODUCER_NAME
    try:
        while True:
            item = _next(queue, deadline, ping_interval)
            if isinstance(item, _End):
                if item.error is not None:
                    # Drop any chained provider exception: its text may quote the person.
                    raise item.error from None
                return
            yield item
    finally:
        producer.kill(block=True, timeout=_KILL_WAIT_S)


def _next(queue: Queue, deadline: float, ping_interval: float) -> ReplyItem | _End:
    """The next queued item; PING after `ping_interval` of silence; CoachTimeout at `deadline`."""
    remaining = deadline - time.monotonic()
    wait = max(0.0, min(ping_interval, remaining))
    try:
        # Items already queued are returned at once, even past the deadline: they arrived in time.
        item: ReplyItem | _End = queue.get(timeout=wait)
    except Empty:
        if wait >= remaining:
            raise CoachTimeout() from None
        return PING
    return item


def _produce(source: Callable[[], Iterator[ReplyItem]], queue: Queue) -> None:
    """Feed the queue from the source and end with one _End (unless killed: GreenletExit)."""
    try:
        items = source()
        try:
            for item in items:
                queue.put(item)
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()
    except CoachError as error:
        queue.put(_End(error))
    except Exception as error:
        # The type only: a provider's error text can quote what the person wrote.
        log.warning("coach source failed: %s", type(error).__name__)
        queue.put(_End(CoachUnavailable()))
    else:
        queue.put(_End())
