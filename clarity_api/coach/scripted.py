"""The scripted coach: one fixed line per step, sent a word at a time at a steady pace."""

from __future__ import annotations

import re
from collections.abc import Iterator

import gevent

from clarity_api.coach.base import PING, CoachRequest, ReplyItem
from clarity_api.coach.prompts import SCRIPTED_REPLIES

_WORDS = re.compile(r"\s*\S+")


def split_words(text: str) -> list[str]:
    """Words with their leading whitespace, so the pieces concatenate back to `text`."""
    return _WORDS.findall(text)


def paced(words: list[str], delay_s: float, ping_interval_s: float) -> Iterator[ReplyItem]:
    """Yield words `delay_s` apart (cooperative sleep); a PING for every silent interval."""
    for index, word in enumerate(words):
        if index and delay_s > 0:
            remaining = delay_s
            while remaining > ping_interval_s:
                gevent.sleep(ping_interval_s)
                remaining -= ping_interval_s
                yield PING
            gevent.sleep(remaining)
        yield word


class ScriptedCoach:
    def __init__(self, delay_s: float, ping_interval_s: float = 15.0):
        self.delay_s = delay_s
        self.ping_interval_s = ping_interval_s
        # Split once: the lines never change, and this runs for every stream.
        self._words = {step: split_words(line) for step, line in SCRIPTED_REPLIES.items()}

    def reply(self, request: CoachRequest) -> Iterator[ReplyItem]:
        return paced(self._words[request.step], self.delay_s, self.ping_interval_s)
