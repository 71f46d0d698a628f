"""What a reply is made of, as a client receives it: token, ping, done and error events.

Plain data with no wire format: services/turns.py produces them, streaming.py writes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from clarity_api.errors import ClarityError


@dataclass(frozen=True, slots=True)
class TokenEvent:
    """The next piece of the reply, spaces included."""

    content: str


@dataclass(frozen=True, slots=True)
class PingEvent:
    """A keep-alive while the reply is silent (a comment on the wire, not an event)."""


@dataclass(frozen=True, slots=True)
class DoneEvent:
    """The last event of a reply that ended its turn: `data` is the `done` payload."""

    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ErrorEvent:
    """The last event of a reply that failed after the stream began."""

    error: str
    message: str
    retryable: bool

    @classmethod
    def of(cls, exc: ClarityError) -> ErrorEvent:
        return cls(exc.error, exc.message, exc.retryable)


PING = PingEvent()
Event = TokenEvent | PingEvent | DoneEvent | ErrorEvent
