"""The closed vocabularies of the API: tiers, platforms, session statuses and steps."""

from __future__ import annotations

from enum import StrEnum


class Tier(StrEnum):
    FREE = "free"
    STANDARD = "standard"
    PRO = "pro"


class Platform(StrEnum):
    IOS = "ios"
    ANDROID = "android"
    WEB = "web"


class SessionStatus(StrEnum):
    ACTIVE = "active"
    COMPLETED = "completed"
    ABANDONED = "abandoned"


class SolveStep(StrEnum):
    RECEIVE = "receive"
    CLARIFY = "clarify"
    REFRAME = "reframe"
    OPTIONS = "options"
    COMMIT = "commit"

    def next(self) -> SolveStep | None:
        """The step after this one; None after the last (a message there completes the session).

        The order of the members is the order of the steps: this enum is its only home.
        """
        return _FOLLOWING[self]


_ORDER = tuple(SolveStep)
_FOLLOWING: dict[SolveStep, SolveStep | None] = dict(zip(_ORDER, (*_ORDER[1:], None), strict=True))
