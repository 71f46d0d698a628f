"""Emotion detection: a small English and Spanish lexicon that labels what a person writes."""

from __future__ import annotations

import re
import unicodedata

# fmt: off
# (The formatter would put each term on its own line; packed lists read better as word lists.)
# Terms are written as people type them; they go through the same normalisation as messages
# (lower-case, no accents, straight apostrophes) when the pattern is built, so "vacío" and
# "vacio", "no sé" and "no se" are one entry each. Feminine Spanish forms are listed because
# "estoy preocupada" is as common as "estoy preocupado".
_ANXIOUS = (
    "frustrated", "frustrating", "frustration", "angry", "furious", "mad at", "worried",
    "worry", "worrying", "anxious", "anxiety", "stressed", "stress", "stressful", "nervous",
    "scared", "afraid", "terrified", "overwhelmed", "panic", "panicking", "calm down",
    "can't stand", "cant stand", "cannot stand", "can not stand",
    "harto", "harta", "enfadado", "enfadada", "enojado", "enojada", "furioso", "furiosa",
    "preocupado", "preocupada", "agobiado", "agobiada", "ansioso", "ansiosa", "ansiedad",
    "nervioso", "nerviosa", "estresado", "estresada", "miedo",
)
_SAD = (
    "sad", "sadness", "unhappy", "hopeless", "empty", "lost", "lonely", "depressed",
    "miserable", "heartbroken", "crying", "feeling down",
    "triste", "tristeza", "vacío", "vacía", "perdido", "perdida", "deprimido", "deprimida",
    "sin esperanza", "llorando", "desanimado", "desanimada", "soledad",
    # Bare "solo" is mostly the adverb "only" ("solo quiero..."), so only these phrases count.
    "me siento solo", "me siento sola", "estoy solo", "estoy sola",
)
_CONFUSED = (
    "don't know", "dont know", "do not know", "confused", "confusing", "not sure", "unsure",
    "torn", "undecided", "no idea", "uncertain", "can't decide", "cannot decide",
    "mixed feelings",
    "no sé", "no tengo idea", "ni idea", "confundido", "confundida", "no estoy seguro",
    "no estoy segura", "dudas", "indeciso", "indecisa",
)
# Calm words that describe a state; only these can be negated ("not good", "no estoy bien").
_CALM_STATES = (
    "good", "better", "hopeful", "relieved", "calm", "calmer", "fine", "grateful", "relaxed",
    "peaceful", "happy",
    "tranquilo", "tranquila", "mejor", "bien", "esperanza", "aliviado", "aliviada",
    "agradecido", "agradecida", "contento", "contenta", "en paz",
)
# Thanks is calm but never negated: "I can't thank you enough" is still gratitude.
_GRATITUDE = ("thank you", "thanks", "gracias")

LEXICON: dict[str, tuple[str, ...]] = {
    "anxious": _ANXIOUS,
    "sad": _SAD,
    "confused": _CONFUSED,
    "calm": _CALM_STATES + _GRATITUDE,
}

# Everyday phrases that contain a lexicon word but carry no emotion. They are matched like any
# term (the longest match wins) and then dropped, so their words cannot count on their own.
IGNORED = (
    "a lo mejor", "good morning", "good afternoon", "good night", "good luck",
    "don't worry", "dont worry", "no se puede", "sin embargo",
)

# Ties go to the first of these: distress outranks calm, since missing it costs the person more.
PRIORITY: tuple[str, ...] = ("anxious", "sad", "confused", "calm")
NEUTRAL: tuple[str, float] = ("neutral", 0.5)

_BASE_CONFIDENCE = 0.45
_PER_HIT = 0.05
_PER_MARGIN = 0.10
_MAX_CONFIDENCE = 0.95

# "not", "never", "don't"... within this many words before a calm state, in the same clause.
_NEGATION_WINDOW = 4
_NEGATION_LOOKBACK_CHARS = 60
_NEGATORS = frozenset({
    "not", "no", "never", "nothing", "dont", "doesnt", "didnt", "isnt", "wasnt", "arent",
    "cant", "wont", "havent", "couldnt", "nunca", "sin", "ni", "nada", "tampoco",
})
# fmt: on
_CLAUSE_BREAK = re.compile(r"[.,;:!?]|\b(?:but|pero|though|aunque)\b")
_WORD = re.compile(r"[\w']+")

# Curly quotes, modifier letter, acute accent, backtick, prime: all typed as apostrophes.
# A regex, not str.translate, which is ~15x slower on non-ASCII text.
_APOSTROPHES = re.compile("[\u2019\u2018\u02bc\u00b4`\u2032]")
_COMBINING_MARKS = re.compile(r"[\u0300-\u036f]")


def _normalise(text: str) -> str:
    """Lower-case, straight apostrophes, no accents, single spaces: the form every term uses."""
    # Apostrophes first: NFKD would split an acute accent typed as an apostrophe into a space
    # and a combining mark, turning "can't" into "can t".
    text = _APOSTROPHES.sub("'", text.lower())
    if not text.isascii():
        text = _COMBINING_MARKS.sub("", unicodedata.normalize("NFKD", text))
    return " ".join(text.split())


def _build_index() -> tuple[dict[str, str | None], re.Pattern[str]]:
    """Map each normalised term to its emotion (None for ignored phrases) and compile one regex."""
    index: dict[str, str | None] = {_normalise(term): None for term in IGNORED}
    for emotion, terms in LEXICON.items():
        index.update({_normalise(term): emotion for term in terms})
    # Longest first, so at any position "sin esperanza" wins over "esperanza". Grouping by
    # first letter matters for speed: re tries every alternative at each word boundary, and
    # the groups let it skip all but one (about 5x faster on a 4000-character message).
    by_initial: dict[str, list[str]] = {}
    for term in sorted(index, key=len, reverse=True):
        by_initial.setdefault(term[0], []).append(re.escape(term[1:]))
    alternatives = "|".join(
        f"{re.escape(initial)}(?:{'|'.join(rests)})" for initial, rests in by_initial.items()
    )
    # \b keeps "lost" out of "lobster" and "good" out of "goodbye".
    return index, re.compile(rf"\b(?:{alternatives})\b")


_TERM_EMOTION, _TERMS = _build_index()
_NEGATABLE = frozenset(_normalise(term) for term in _CALM_STATES)


def _is_negated(before: str) -> bool:
    """Whether the text just before a calm word negates it ("not really good", "no estoy bien")."""
    clause = _CLAUSE_BREAK.split(before)[-1]
    words = _WORD.findall(clause)[-_NEGATION_WINDOW:]
    return any(word.replace("'", "") in _NEGATORS or word.endswith("n't") for word in words)


def _count_hits(text: str) -> dict[str, int]:
    """Hits per emotion in normalised text; a negated calm state counts as sad."""
    counts = dict.fromkeys(PRIORITY, 0)
    last_end = 0
    for match in _TERMS.finditer(text):
        term = match.group()
        emotion = _TERM_EMOTION[term]
        # Negation never reaches back past the previous term: in "don't know which is better"
        # the "don't" belongs to "don't know", not to "better".
        start = max(last_end, match.start() - _NEGATION_LOOKBACK_CHARS)
        if term in _NEGATABLE and _is_negated(text[start : match.start()]):
            emotion = "sad"
        if emotion is not None:
            counts[emotion] += 1
        last_end = match.end()
    return counts


def _confidence(hits: int, runner_up: int) -> float:
    """0.45 + 0.10 x margin + 0.05 x hits, capped at 0.95 (see detect_emotion)."""
    score = _BASE_CONFIDENCE + _PER_MARGIN * (hits - runner_up) + _PER_HIT * hits
    return round(min(score, _MAX_CONFIDENCE), 2)


def detect_emotion(text: str) -> tuple[str, float]:
    """The emotion a message expresses and how sure we are: ("anxious", 0.75).

    Every whole word or phrase of LEXICON found in the normalised text is one hit for its
    emotion. A calm state after a negator in the same clause ("not good", "I don't feel
    better", "no estoy bien") counts as sad instead: saying you are not okay is low mood.
    The emotion with most hits wins; ties go to the first in PRIORITY (anxious, sad,
    confused, calm). No hits at all gives ("neutral", 0.5).

    confidence = min(0.95, 0.45 + 0.10 * margin + 0.05 * hits), rounded to 2 decimals,
    where hits is the winner's count and margin its lead over the runner-up. One lone hit
    gives 0.60, two 0.75, three 0.90; each rival hit costs 0.10; a 1-1 tie gives 0.50.
    It never drops below 0.50, and never falls when the winner gains a hit.
    """
    counts = _count_hits(_normalise(text))
    ranked = sorted(PRIORITY, key=lambda emotion: counts[emotion], reverse=True)  # stable
    winner, runner_up = ranked[0], ranked[1]
    if counts[winner] == 0:
        return NEUTRAL
    return winner, _confidence(counts[winner], counts[runner_up])
