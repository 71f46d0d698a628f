"""The safety reply: what answers a message that signals a crisis, instead of any coach."""

from __future__ import annotations

from collections.abc import Iterator

from clarity_api.coach.base import CoachRequest, Ending, ReplyItem
from clarity_api.coach.scripted import paced, split_words
from clarity_api.safety.crisis import RESOURCES, SAFETY_MESSAGE

# The session stays at its step, and `done` says why and where to find help now.
SAFETY_ENDING = Ending(
    advances=False,
    done={"blocked": True, "reason": "CRISIS", "message": SAFETY_MESSAGE, "resources": RESOURCES},
)


class SafetyReply:
    """The safety message, a word at a time at the scripted coach's pace, whatever the step."""

    def __init__(self, delay_s: float, ping_interval_s: float = 15.0):
        self.delay_s = delay_s
        self.ping_interval_s = ping_interval_s
        self._words = split_words(SAFETY_MESSAGE)

    def reply(self, request: CoachRequest) -> Iterator[ReplyItem]:
        yield from paced(self._words, self.delay_s, self.ping_interval_s)
        yield SAFETY_ENDING
