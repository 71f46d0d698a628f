"""The closed vocabularies of the API: tiers, platforms, session statuses and steps."""

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
