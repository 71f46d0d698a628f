"""Coach prompts and scripted lines: every step covered, each saying what its step is for."""

from __future__ import annotations

import pytest

from clarity_api.coach.prompts import BASE_PROMPT, SCRIPTED_REPLIES, SYSTEM_PROMPTS, system_prompt
from tests.conftest import STEPS

RECEIVE_LINE = "I understand how you feel. Let me help you work through this."


def test_system_prompts_cover_every_step() -> None:
    assert set(SYSTEM_PROMPTS) == set(STEPS)


@pytest.mark.parametrize(
    ("step", "key_ideas"),
    [
        ("receive", ["acknowledge", "reflect", "no advice"]),
        ("clarify", ["what", "who", "when", "where", "why", "how", "one or two questions"]),
        ("reframe", ["other person", "zooming out", "friend", "control", "learn"]),
        ("options", ["two or three", "pros", "cons", "effort"]),
        ("commit", ["one first step", "48 hours", "specific", "small"]),
    ],
)
def test_step_prompt_names_its_key_ideas(step: str, key_ideas: list[str]) -> None:
    prompt = SYSTEM_PROMPTS[step].lower()
    for idea in key_ideas:
        assert idea in prompt, idea


@pytest.mark.parametrize(
    "rule",
    [
        "problem-solving coach",
        "solve method",
        "not a therapist",
        "120 words",
        "language",
        "never diagnose",
        "emergency services",
    ],
)
def test_base_prompt_states_the_rule(rule: str) -> None:
    assert rule in BASE_PROMPT.lower()


@pytest.mark.parametrize("step", STEPS)
def test_system_prompt_joins_base_and_step(step: str) -> None:
    prompt = system_prompt(step)
    assert prompt.startswith(BASE_PROMPT)
    assert prompt.endswith(SYSTEM_PROMPTS[step])


def test_system_prompt_rejects_unknown_step() -> None:
    with pytest.raises(ValueError, match="unknown step"):
        system_prompt("celebrate")


def test_scripted_replies_cover_every_step() -> None:
    assert set(SCRIPTED_REPLIES) == set(STEPS)


def test_receive_line_is_the_contract_line() -> None:
    assert SCRIPTED_REPLIES["receive"] == RECEIVE_LINE
    assert len(RECEIVE_LINE.split()) == 12


@pytest.mark.parametrize("step", STEPS)
def test_scripted_reply_is_plain_single_spaced_sentence(step: str) -> None:
    line = SCRIPTED_REPLIES[step]
    assert line.isascii()
    assert line == " ".join(line.split())
    assert line[-1] in ".?!"
    assert 10 <= len(line.split()) <= 14


@pytest.mark.parametrize(
    ("step", "cue"),
    [("clarify", "?"), ("reframe", "angle"), ("options", "options"), ("commit", "48 hours")],
)
def test_scripted_reply_fits_its_step(step: str, cue: str) -> None:
    assert cue in SCRIPTED_REPLIES[step]
