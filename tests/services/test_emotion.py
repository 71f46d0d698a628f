"""Emotion detection: the lexicon, word boundaries, negation, ties and confidence."""

from __future__ import annotations

import pytest

from clarity_api.coach.emotion import LEXICON, PRIORITY, detect_emotion

EMOTIONS = {"anxious", "sad", "calm", "confused", "neutral"}

CASES = [
    # anxious, English and Spanish
    ("I'm frustrated with my job and I can't stand my boss", "anxious"),
    ("I am so worried about the exam", "anxious"),
    ("My manager makes me furious", "anxious"),
    ("I feel overwhelmed and stressed", "anxious"),
    ("I cannot stand the noise anymore", "anxious"),
    ("I can\u2019t stand it", "anxious"),  # curly apostrophe from a phone keyboard
    ("I can\u00b4t stand it", "anxious"),  # acute accent typed as an apostrophe
    ("Estoy harto de mi jefe", "anxious"),
    ("Estoy muy preocupada por mi madre", "anxious"),
    ("Me siento AGOBIADO y nervioso", "anxious"),
    # sad
    ("I feel sad and lonely", "sad"),
    ("Everything feels hopeless", "sad"),
    ("I feel lost", "sad"),
    ("I've been crying all night", "sad"),
    ("Me siento muy triste", "sad"),
    ("Me siento vacío", "sad"),
    ("Me siento vacio", "sad"),
    ("Estoy sola desde que se fue", "sad"),
    ("Estoy sin esperanza", "sad"),
    # calm
    ("I feel much better now, thank you", "calm"),
    ("I'm hopeful about tomorrow", "calm"),
    ("Thanks, that helped", "calm"),
    ("I'm relieved", "calm"),
    ("Ahora estoy más tranquila", "calm"),
    ("Gracias, ya estoy bien", "calm"),
    ("No, estoy bien", "calm"),  # the comma ends the negation
    ("I can't thank you enough", "calm"),  # gratitude is never negated
    # confused
    ("I don't know what to do", "confused"),
    ("I do not know where to start", "confused"),
    ("I'm not sure about this", "confused"),
    ("I'm torn between two jobs", "confused"),
    ("No tengo idea", "confused"),
    ("No sé qué hacer", "confused"),
    ("no se que hacer", "confused"),
    ("Estoy confundido", "confused"),
    ("No estoy segura de nada", "confused"),
    # neutral and word-boundary traps
    ("I had lobster for dinner", "neutral"),  # "lost" inside "lobster"
    ("Goodbye for now", "neutral"),  # "good" inside "goodbye"
    ("Ella también vino", "neutral"),  # "bien" inside "también"
    ("The table is emptyish", "neutral"),
    ("Solo quiero hablar", "neutral"),  # bare "solo" means "only"
    ("A lo mejor mañana", "neutral"),  # "a lo mejor" means "maybe"
    ("Good morning", "neutral"),
    ("No se puede", "neutral"),
    ("I went to the shop", "neutral"),
    ("", "neutral"),
    ("   \n\t ", "neutral"),
    ("!!! ???", "neutral"),
    # negated calm states count as sad
    ("Things are not good", "sad"),
    ("I'm not feeling any better", "sad"),
    ("I don't feel good", "sad"),
    ("No estoy bien", "sad"),
    ("Nunca estoy tranquilo", "sad"),
    ("I'm not really feeling that good", "sad"),
    # negation does not reach back past an earlier term
    ("I'm not sure things will get better", "confused"),  # 1-1 tie: confused beats calm
    # ties follow PRIORITY: anxious > sad > confused > calm
    ("I'm worried and sad", "anxious"),
    ("I'm sad and confused", "sad"),
    ("I'm confused but hopeful", "confused"),
    ("I'm stressed but grateful", "anxious"),
    # more hits win over priority
    ("I'm sad, lonely and a bit worried", "sad"),
    ("Better now, calmer, but still a bit nervous", "calm"),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_detect_emotion_labels_message(text: str, expected: str) -> None:
    assert detect_emotion(text)[0] == expected


@pytest.mark.parametrize(("text", "_expected"), CASES)
def test_confidence_is_in_range_and_rounded(text: str, _expected: str) -> None:
    emotion, confidence = detect_emotion(text)
    assert emotion in EMOTIONS
    assert 0.5 <= confidence <= 0.95
    assert confidence == round(confidence, 2)


def test_contract_example_is_anxious_with_confidence_at_least_0_7() -> None:
    emotion, confidence = detect_emotion("I'm frustrated with my job and I can't stand my boss")
    assert emotion == "anxious"
    assert confidence >= 0.7


def test_no_hits_is_neutral_half() -> None:
    assert detect_emotion("The meeting is on Tuesday") == ("neutral", 0.5)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I'm worried", ("anxious", 0.6)),
        ("I'm worried and stressed", ("anxious", 0.75)),
        ("I'm worried, stressed and scared", ("anxious", 0.9)),
        ("I'm worried and sad", ("anxious", 0.5)),
        ("I'm worried, stressed and sad", ("anxious", 0.65)),
    ],
)
def test_confidence_follows_documented_formula(text: str, expected: tuple[str, float]) -> None:
    assert detect_emotion(text) == expected


def test_confidence_grows_with_evidence_up_to_cap() -> None:
    words = ["worried", "stressed", "scared", "nervous", "overwhelmed", "anxious", "panic"]
    scores = [detect_emotion(" and ".join(words[:n]))[1] for n in range(1, len(words) + 1)]
    assert scores == sorted(scores)
    assert scores[0] == 0.6
    assert scores[-1] == 0.95


def test_rival_hit_lowers_confidence() -> None:
    alone = detect_emotion("I'm worried and stressed")[1]
    contested = detect_emotion("I'm worried and stressed and sad")[1]
    assert contested < alone


def test_long_message_is_handled() -> None:
    text = ("I went to work and talked to my team about the plan. " * 80)[:4000] + " I'm worried"
    assert detect_emotion(text) == ("anxious", 0.6)


def test_priority_names_every_lexicon_emotion() -> None:
    assert set(PRIORITY) == set(LEXICON)


def test_no_term_belongs_to_two_emotions() -> None:
    seen: dict[str, str] = {}
    for emotion, terms in LEXICON.items():
        for term in terms:
            assert seen.setdefault(term, emotion) == emotion, term
