"""Crisis detection: the phrase table, normalisation, negation, idioms, the message and speed."""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

import pytest

from clarity_api.safety.crisis import (
    _READER,
    CRISIS_RULES,
    RESOURCES,
    SAFE_USES,
    SAFETY_MESSAGE,
    detect_crisis,
)
from clarity_api.safety.obfuscation import fold_unicode, join_spelled_out

TABLE = Path(__file__).resolve().parent.parent / "data" / "crisis_phrases.tsv"


def load_table() -> list[dict[str, str]]:
    with TABLE.open(encoding="utf-8", newline="") as table:
        return list(csv.DictReader(table, delimiter="\t", quoting=csv.QUOTE_NONE))


ROWS = load_table()


def rows(**wanted: str) -> list[Any]:
    """Table rows matching every given column, as params named by their text."""
    chosen = [row for row in ROWS if all(row[key] == value for key, value in wanted.items())]
    return [pytest.param(row["text"], id=row["text"][:50]) for row in chosen]


def test_phrase_table_is_well_formed() -> None:
    assert len(ROWS) >= 80
    assert {row["expected"] for row in ROWS} == {"crisis", "safe"}
    assert {row["language"] for row in ROWS} == {"en", "es"}
    assert {row["kind"] for row in ROWS} == {"positive", "negative", "negation", "idiom"}
    assert {row["form"] for row in ROWS} == {"plain", "obfuscated"}
    obfuscated = [row for row in ROWS if row["form"] == "obfuscated"]
    assert sum(row["expected"] == "crisis" for row in obfuscated) >= 40
    assert sum(row["expected"] == "safe" for row in obfuscated) >= 30
    for row in ROWS:
        assert row["text"].strip(), row
        assert (row["expected"] == "crisis") == (row["kind"] == "positive"), row
    texts = [row["text"] for row in ROWS]
    assert len(texts) == len(set(texts)), "duplicate phrases"


@pytest.mark.parametrize("text", rows(expected="crisis", language="en"))
def test_detect_crisis_flags_english_phrases(text: str) -> None:
    assert detect_crisis(text) is True


@pytest.mark.parametrize("text", rows(expected="crisis", language="es"))
def test_detect_crisis_flags_spanish_phrases(text: str) -> None:
    assert detect_crisis(text) is True


@pytest.mark.parametrize("text", rows(kind="negative"))
def test_detect_crisis_ignores_everyday_messages(text: str) -> None:
    assert detect_crisis(text) is False


@pytest.mark.parametrize("text", rows(kind="negation"))
def test_detect_crisis_ignores_negated_phrases(text: str) -> None:
    assert detect_crisis(text) is False


@pytest.mark.parametrize("text", rows(kind="idiom"))
def test_detect_crisis_ignores_idioms(text: str) -> None:
    assert detect_crisis(text) is False


@pytest.mark.parametrize(
    "text",
    [
        "Quiero morír",  # stray accent
        "QUIERO MORIR",
        "Me quiero MATAR",
        "No quiero vivir más",
        "Quiero hacerme daño",
        "quiero hacerme dano",
        "Pienso en el suicidio",
        "pienso en el suicídio",
    ],
)
def test_detect_crisis_ignores_accents_and_case(text: str) -> None:
    assert detect_crisis(text) is True


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I don\u2019t want to kill myself", False),  # curly apostrophe from a phone keyboard
        ("I don\u2018t want to kill myself", False),
        ("I don\u00b4t want to kill myself", False),  # acute accent typed as an apostrophe
        ("I dont want to kill myself", False),
        ("I don\u2019t want to live anymore", True),
        ("I\u2019d be better off dead", True),
    ],
)
def test_detect_crisis_reads_any_apostrophe(text: str, expected: bool) -> None:
    assert detect_crisis(text) is expected


@pytest.mark.parametrize(
    "text",
    [
        "I want to   kill\n\tmyself",
        "(suicidal)",
        '"kill myself"',
        "I want to die\u2014seriously",
        "I want to die\U0001f62d",
        "¿Y si me mato?",
        "self-harm",
        "selfharm",
        "I've been self-harming",
        "I want to kill my self",
    ],
)
def test_detect_crisis_reads_through_spacing_and_punctuation(text: str) -> None:
    assert detect_crisis(text) is True


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("No, I want to die", True),  # the comma ends the negation
        ("I'm not okay I want to die", True),  # "okay" breaks the link to "not"
        ("I don't know why I want to die", True),
        ("Not gonna lie I want to die", True),
        ("I would never, ever hurt myself", False),
        ("I have no desire to hurt myself at all", False),
        ("I'm not suicidal. I want to die.", True),  # a new sentence is a new clause
        ("No, no quiero vivir", True),  # a rule that holds its own negation
        ("ya no me quiero matar", False),
    ],
)
def test_detect_crisis_negation_stays_in_its_clause(text: str, expected: bool) -> None:
    assert detect_crisis(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I don't want to live in Madrid", False),
        ("I don't want to live in this world anymore", True),
        ("I don't want to live with my parents", False),
        ("I don't want to live with this pain", True),
        ("estaría mejor sin mi ex", False),
        ("todos estarían mejor sin mí", True),
        ("I ran 10 kms", False),
        ("i want to kms", True),
    ],
)
def test_detect_crisis_tells_safe_uses_apart(text: str, expected: bool) -> None:
    assert detect_crisis(text) is expected


@pytest.mark.parametrize("text", ["", " ", "\n", "?!", "ok", "12345"])
def test_detect_crisis_handles_empty_and_tiny_input(text: str) -> None:
    assert detect_crisis(text) is False


def test_detect_crisis_finds_a_phrase_at_the_end_of_a_long_message() -> None:
    filler = "I keep going back and forth about the job offer in Madrid. " * 70
    assert len(filler) > 3900
    assert detect_crisis(filler[:3980] + " I want to die.") is True
    assert detect_crisis(filler[:4000]) is False


@pytest.mark.parametrize(
    "text",
    [
        "I want to k1ll myself",
        "I want to k\u0456ll myself",  # a Cyrillic "і"
        "k i l l m y s e l f",
    ],
)
def test_detect_crisis_sees_through_the_reported_spellings(text: str) -> None:
    assert detect_crisis(text) is True


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("\uff4b\uff49\uff4c\uff4c", "kill"),  # fullwidth
        ("\U0001d424\U0001d422\U0001d425\U0001d425", "kill"),  # mathematical bold
        ("k\u0456ll m\u0443s\u0435lf", "kill myself"),  # Cyrillic і, у, е
        ("\u03ba\u03b9ll", "kill"),  # Greek kappa and iota
        ("k\u0337i\u0337l\u0337l\u0337", "kill"),  # combining marks ("zalgo")
        ("ki\u200bll my\u00adself", "kill myself"),  # zero-width space, soft hyphen
        ("don\u2019t \U0001f62d", "don't \U0001f62d"),  # emoji stay, for the "?" of the rules
    ],
)
def test_fold_unicode_reads_look_alikes_as_latin(text: str, expected: str) -> None:
    assert fold_unicode(text) == expected


def test_fold_unicode_leaves_english_and_spanish_as_they_are() -> None:
    for text in ["I want to die", "Quiero hacerme daño, ¿sabes? Ñandú, pingüino"]:
        assert fold_unicode(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (" i want to k1ll myself", " i want to kill myself"),
        (" ki11 myse1f", " kill myself"),
        (" su1c1de", " suicide"),
        (" $uicide and m4t4rme", " suicide and matarme"),
        (" kiiiill myyyyself", " kill myself"),
        (" nooo", " no"),
        (" i want to die!", " i want to die!"),  # a full stop, not leetspeak
        (" i have 1 kid and 10 kms at 10:30", " i have 1 kid and 10 kms at 10:30"),
        (" meet at 5pm", " meet at spm"),  # read, and harmless
    ],
)
def test_word_reader_reads_leetspeak_by_the_words_it_knows(text: str, expected: str) -> None:
    assert _READER.read(text) == expected


@pytest.mark.parametrize(
    ("text", "joined"),
    [
        (" k i l l m y s e l f", " killmyself"),
        (" k.i.l.l myself", " kill myself"),
        (" k - i - l - l", " kill"),
        (" su.ic.ide", " suicide"),
        (" i a m s o t i r e d", " iamsotired"),
    ],
)
def test_join_spelled_out_joins_single_letters_and_cut_words(text: str, joined: str) -> None:
    result = join_spelled_out(text)
    assert result is not None
    assert result[0] == joined


@pytest.mark.parametrize(
    "text",
    [" a b", " e.g. this", " 10.30-11.45 on 22/12/2025", " i a", " u.s. trip", " plain words"],
)
def test_join_spelled_out_leaves_short_runs_and_numbers(text: str) -> None:
    assert join_spelled_out(text) is None


def test_crisis_rules_start_with_a_letter() -> None:
    # Rules are indexed by their first letters; a group at the front defeats the index.
    rules = [rule for category in CRISIS_RULES.values() for rule in category]
    assert [rule for rule in rules if not rule[0].isalpha()] == []


def _top_level_bar(rule: str) -> bool:
    depth, escaped, in_class = 0, False, False
    for char in rule:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char in "()":
            depth += 1 if char == "(" else -1
        elif char == "|" and depth == 0:
            return True
    return False


def test_rules_have_no_top_level_alternatives() -> None:
    # Rules are merged by their leading letters, so "a|b" would leak into its neighbours:
    # write two rules instead.
    rules = [rule for category in CRISIS_RULES.values() for rule in category] + list(SAFE_USES)
    assert [rule for rule in rules if _top_level_bar(rule)] == []
    for rule in rules:
        re.compile(rule)


def test_safety_message_is_short_warm_and_points_to_help() -> None:
    sentences = [part for part in re.split(r"(?<=[.!?])\s+", SAFETY_MESSAGE.strip()) if part]
    assert 2 <= len(sentences) <= 3
    assert "not alone" in SAFETY_MESSAGE
    assert "988" in SAFETY_MESSAGE
    assert "024" in SAFETY_MESSAGE
    assert "emergency" in SAFETY_MESSAGE
    assert detect_crisis(SAFETY_MESSAGE) is False


def test_resources_are_the_contract_wording() -> None:
    assert RESOURCES == {
        "US": "Call or text 988 (Suicide & Crisis Lifeline)",
        "ES": "Llama al 024 (línea de atención a la conducta suicida)",
    }
