"""The coach interface: what every reply source (scripted, model, safety) gives the turn."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

# The coach's failures belong to the one error family; named here too, for reply sources.
from clarity_api.errors import CoachError as CoachError
from clarity_api.errors import CoachTimeout as CoachTimeout
from clarity_api.errors import CoachUnavailable as CoachUnavailable
from clarity_api.models import SolveStep


@dataclass(frozen=True, slots=True)
class Turn:
    """One earlier turn of the conversation, as the app sent it in `history`."""

    role: str  # "user" | "assistant"
    content: str


@dataclass(frozen=True, slots=True)
class CoachRequest:
    """Everything a coach may use to write one reply. Plain data: no ORM, no request."""

    step: SolveStep
    content: str
    history: Sequence[Turn] = ()


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts a provider reported for one reply; yielded once, after the text."""

    input_tokens: int
    output_tokens: int


@dataclass(frozen=True, slots=True)
class Ending:
    """How a reply ends its turn; a source may yield one, last.

    Without one the session moves on a step and `done` carries the standard fields. A source
    whose reply is not an answer to the step (the safety reply) keeps the session where it
    is (`advances=False`) and adds its own fields to `done`.
    """

    advances: bool = True
    done: Mapping[str, Any] = field(default_factory=dict)


class Ping:
    """Yielded while a reply is silent, so the stream can send a keep-alive comment."""

    __slots__ = ()


PING = Ping()

# What a coach's reply iterator yields: text pieces (concatenating exactly to the reply),
# PING while it waits, and at the end at most one Usage and at most one Ending.
ReplyItem = str | Ping | Usage | Ending


class Coach(Protocol):
    """A reply source. `reply` is lazy: nothing happens until the stream iterates it.

    Closing the iterator (the client went away) must release whatever it holds.
    Failures are raised as CoachError subclasses, never anything else.
    """

    def reply(self, request: CoachRequest) -> Iterator[ReplyItem]: ...
