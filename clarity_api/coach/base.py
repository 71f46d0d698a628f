"""The coach interface: what every reply source (scripted, language model) gives the stream."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

STEPS: tuple[str, ...] = ("receive", "clarify", "reframe", "options", "commit")


@dataclass(frozen=True, slots=True)
class Turn:
    """One earlier turn of the conversation, as the app sent it in `history`."""

    role: str  # "user" | "assistant"
    content: str


@dataclass(frozen=True, slots=True)
class CoachRequest:
    """Everything a coach may use to write one reply. Plain data: no ORM, no request."""

    step: str
    content: str
    history: Sequence[Turn] = ()


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts a provider reported for one reply; yielded once, after the text."""

    input_tokens: int
    output_tokens: int


class Ping:
    """Yielded while a reply is silent, so the stream can send a keep-alive comment."""

    __slots__ = ()


PING = Ping()

# What a coach's reply iterator yields: text pieces (concatenating exactly to the reply),
# PING while it waits, and at most one Usage at the end.
ReplyItem = str | Ping | Usage


class CoachError(Exception):
    """A reply could not be produced; the stream ends with an `error` event carrying `code`."""

    code = "COACH_UNAVAILABLE"
    message = "The coach is unavailable right now. Please try again."
    retryable = True


class CoachUnavailable(CoachError):
    pass


class CoachTimeout(CoachError):
    code = "COACH_TIMEOUT"
    message = "The coach took too long to answer. Please try again."


class Coach(Protocol):
    """A reply source. `reply` is lazy: nothing happens until the stream iterates it.

    Closing the iterator (the client went away) must release whatever it holds.
    Failures are raised as CoachError subclasses, never anything else.
    """

    def reply(self, request: CoachRequest) -> Iterator[ReplyItem]: ...


def next_step(step: str) -> str | None:
    """The step after `step`; None after the last one (the session completes)."""
    index = STEPS.index(step)
    return STEPS[index + 1] if index + 1 < len(STEPS) else None
