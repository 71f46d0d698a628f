"""Reading through spelling tricks: look-alike letters, leetspeak, stretched and spelled-out words.

The crisis rules read plain lower-case Latin words. People in distress (and people testing
the filter) also write "k1ll", "kіll" with a Cyrillic "і", "kiiiill", "k i l l" and "k.i.l.l".
This module turns those back into the words the rules know, and nothing else: ordinary text
(numbers, prices, dates, other scripts) comes out as the rules would have read it anyway.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from itertools import product

from confusable_homoglyphs.confusables import confusables_data

# Look-alikes from other scripts, as Latin letters. Unicode's confusables table (packaged by
# confusable-homoglyphs) maps ~1,300 characters to an ASCII letter or digit ("а" -> "a",
# "ο" -> "o"); it leaves out letters that only resemble a Latin one in most fonts, which
# people use all the same ("к", "т", "κ", "ε"), so those are added here.
_LOOK_ALIKES_ADDED = {
    "к": "k",
    "т": "t",
    "н": "h",
    "м": "m",
    "в": "b",
    "г": "r",
    "п": "n",
    "и": "u",
    "ь": "b",
    "ш": "w",
    "щ": "w",
    "ц": "u",
    "κ": "k",
    "ε": "e",
    "τ": "t",
    "η": "n",
    "μ": "u",
    "ω": "w",
    "π": "n",
    "β": "b",
    "χ": "x",
    "δ": "d",
    "ς": "s",
    "ı": "i",  # dotless i
    "ł": "l",
}
# A look-alike of "I" or "l" (a capital "І", a Greek "Ι", the palochka "ӏ") could be either:
# it becomes "|", which the leetspeak reading resolves by the word it sits in.
_I_OR_L = "|"
# Combining marks (accents the rules fold anyway, "zalgo" stacks) and invisible format
# characters (zero-width space and joiner, soft hyphen, direction marks) vanish.
_VANISHING = (
    (0x0300, 0x036F),
    (0x0483, 0x0489),
    (0x1AB0, 0x1AFF),
    (0x1DC0, 0x1DFF),
    (0x20D0, 0x20FF),
    (0xFE20, 0xFE2F),
    (0x00AD, 0x00AD),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x2064),
    (0xFEFF, 0xFEFF),
)


def _reading(glyphs: Iterable[dict[str, str]]) -> str | None:
    """The Latin letter (or digit) a look-alike reads as, from its confusables entry."""
    asciis = [g["c"] for g in glyphs if len(g["c"]) == 1 and g["c"].isascii() and g["c"].isalnum()]
    choices = [char for char in asciis if char.isalpha()] or asciis
    if not choices:
        return None
    if choices[0] in ("l", "I"):
        return _I_OR_L
    return choices[0].lower()


def _look_alike_table() -> list[str | None]:
    """A translate table over the Basic Multilingual Plane, as a list: a dict would raise and
    catch a KeyError for every character it does not hold, ten times slower on Cyrillic."""
    table: dict[int, str | None] = {}
    for char, glyphs in confusables_data.items():
        if len(char) == 1 and ord(char) > 0xFF and (reading := _reading(glyphs)):
            table[ord(char)] = reading
    for char, latin in _LOOK_ALIKES_ADDED.items():
        table[ord(char)] = latin
        if len(char.upper()) == 1:
            table.setdefault(ord(char.upper()), latin)
    for first, last in _VANISHING:
        table.update(dict.fromkeys(range(first, last + 1)))
    return [table[code] if code in table else chr(code) for code in range(0x10000)]


_LOOK_ALIKES = _look_alike_table()
# Typed and curly apostrophes, as "'" (replace() each: a translate dict is slow on non-ASCII).
_APOSTROPHES = ("\u2019", "\u2018", "\u02bc", "\u2032", "\u00b4")
# Text beyond Latin-1, or with a soft hyphen: the only text that needs the slow path.
_BEYOND_LATIN1 = re.compile(r"[^\x00-\xac\xae-\xff]")


def fold_unicode(text: str) -> str:
    """Compatibility forms decomposed, look-alikes as Latin, marks and invisible characters gone.

    Compatibility decomposition (NFKD: the first half of NFKC, and with the marks dropped the
    same result) turns fullwidth "ｋｉｌｌ", mathematical "𝐤𝐢𝐥𝐥", ligatures and circled
    letters into plain ones. Text within Latin-1 (English, Spanish with its accents) is
    returned as it is: the rules' own table folds its accents, faster.
    """
    if text.isascii():
        return text
    for apostrophe in _APOSTROPHES:
        if apostrophe in text:
            text = text.replace(apostrophe, "'")
    if _BEYOND_LATIN1.search(text) is None:
        return text
    return unicodedata.normalize("NFKD", text).translate(_LOOK_ALIKES)


# Leetspeak, read only inside a word that also has letters: "k1ll", "$uicide", "m4t4rme".
# A number on its own ("10 kms", "I have 1 kid") is never read as letters.
_LEET = str.maketrans({"0": "o", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"})
_EITHER = "1!|"  # "i" or "l": the word decides ("k1ll" is kill, "ki11" is kill too)
_WORD_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789@$!|")
_EDGE_PUNCTUATION = "!|"  # "die!" ends a sentence; "k!ll" is leetspeak
# Where a word needs reading: a letter next to a leet character, or a letter three times.
# Both are found by searches that open with a rare character or are plain substring searches:
# a pattern that could start at any letter costs ten times more on a long message.
_LEET_SPOT = re.compile(r"[0-9@$!|](?:(?<=[a-z].)|(?=[a-z]))")
_TRIPLES = tuple(letter * 3 for letter in "abcdefghijklmnopqrstuvwxyz")
_REPEATS = re.compile(r"([a-z])\1\1+")
_SHORT = 200  # below this, one regex finds stretched letters faster than 26 substring searches
_MAX_CHOICES = 3  # either-characters and stretched letters weighed one by one, per word
_LONGEST_WORD = 40  # longer "words" (a URL, a hash) are left as they are


def _odd_spots(text: str) -> list[int]:
    """Positions of leetspeak and of letters written three times, in order."""
    spots = [spot.start() for spot in _LEET_SPOT.finditer(text)]
    if len(text) < _SHORT:
        return sorted(spots + [run.start() for run in _REPEATS.finditer(text)])
    for triple in _TRIPLES:
        position = text.find(triple)
        while position != -1:
            spots.append(position)
            position = text.find(triple, position + 3)
    return sorted(spots)


class WordReader:
    """Reads leetspeak and stretched letters as the words a lexicon knows.

    Each "1", "!" or "|" could be "i" or "l", and "kiiiill" could keep one or two of each
    stretched letter: of the readings, the one most covered by lexicon fragments wins (longer
    fragments weigh more), ties going to "i" and to single letters.
    """

    def __init__(self, fragments: Iterable[str]) -> None:
        self._lexicon = re.compile(
            _trie({fragment for fragment in fragments if len(fragment) >= 3})
        )

    def read(self, text: str) -> str:
        """The text with every odd word read; the rest unchanged."""
        spots = _odd_spots(text)
        if not spots:
            return text
        pieces: list[str] = []
        done = 0
        readings: dict[str, str] = {}  # this text's repeated words, read once
        for spot in spots:
            if spot < done:
                continue  # a second odd spot in a word already read
            start, end = _word_around(text, spot, _WORD_CHARS)
            pieces.append(text[done:start])
            word = text[start:end]
            if word not in readings:
                readings[word] = self.read_word(word)
            pieces.append(readings[word])
            done = end
        pieces.append(text[done:])
        return "".join(pieces)

    def read_word(self, word: str) -> str:
        core = word.strip(_EDGE_PUNCTUATION)
        if not core or not any(char.isalpha() for char in core) or len(core) > _LONGEST_WORD:
            return word
        head = word[: len(word) - len(word.lstrip(_EDGE_PUNCTUATION))]
        tail = word[len(head) + len(core) :]
        readings = _readings(core.translate(_LEET))
        if len(readings) > 1:
            return head + max(readings, key=self._coverage) + tail
        return head + readings[0] + tail

    def _coverage(self, reading: str) -> int:
        return sum(len(fragment) ** 2 for fragment in self._lexicon.findall(reading))


def _trie(words: set[str]) -> str:
    """One regex for many words, as a tree of shared prefixes, longest match first.

    A flat alternation of 600 fragments is tried branch by branch at every position; the tree
    is tried one character at a time, which makes scoring a reading about 20 times faster.
    """
    branches: dict[str, set[str]] = {}
    ends = False
    for word in words:
        if word:
            branches.setdefault(word[0], set()).add(word[1:])
        else:
            ends = True
    parts = [re.escape(first) + _trie(rests) for first, rests in sorted(branches.items())]
    if not parts:
        return ""
    body = parts[0] if len(parts) == 1 else "(?:" + "|".join(parts) + ")"
    return f"(?:{body})?" if ends else body


def _word_around(text: str, position: int, chars: frozenset[str]) -> tuple[int, int]:
    start = end = position
    while start > 0 and text[start - 1] in chars:
        start -= 1
    while end < len(text) and text[end] in chars:
        end += 1
    return start, end


def _readings(word: str) -> list[str]:
    """Every reading of the either-characters and stretched letters, preferred first."""
    either = [index for index, char in enumerate(word) if char in _EITHER]
    if len(either) <= _MAX_CHOICES:
        choices: Iterable[tuple[str, ...]] = product("il", repeat=len(either))
    else:
        choices = [("i",) * len(either), ("l",) * len(either)]
    readings = []
    for choice in choices:
        letters = list(word)
        for index, letter in zip(either, choice, strict=True):
            letters[index] = letter
        readings.extend(_unstretched("".join(letters)))
    return readings


def _unstretched(word: str) -> list[str]:
    """A letter written three times or more, kept once or twice: "kiiiill" -> "kill"."""
    runs = list(_REPEATS.finditer(word))
    if not runs:
        return [word]
    if len(runs) > _MAX_CHOICES:
        return [_REPEATS.sub(r"\1", word)]
    readings = []
    for counts in product((1, 2), repeat=len(runs)):
        pieces, done = [], 0
        for run, count in zip(runs, counts, strict=True):
            pieces.append(word[done : run.start()] + run.group(1) * count)
            done = run.end()
        readings.append("".join(pieces) + word[done:])
    return readings


# Words spelled out letter by letter ("k i l l", "k.i.l.l", "k - i - l - l") and words cut by
# punctuation ("su.ic.ide", "kill-my-self") are joined. A spelled-out run needs three single
# characters, three of them letters, so "a b" and "e.g." stay as they are.
_UNIT = r"[a-z0-9@$!|]"
_SEPARATOR = r"[-._*~+/\\]"
_SPELLED_OUT = re.compile(rf" {_UNIT}(?:(?: ?{_SEPARATOR} ?| ){_UNIT}){{2,}}(?![a-z0-9@$!|])")
_CUT = re.compile(rf"{_SEPARATOR}(?:(?<=[a-z].)(?={_UNIT})|(?<={_UNIT}.)(?=[a-z]))")
_CUT_SEPARATORS = frozenset("-._*~+/\\")
_CUT_PIECES = re.compile(_SEPARATOR)
_PIECE = 3  # a piece this short is a fragment of a word
_CUT_WORD_CHARS = _WORD_CHARS | _CUT_SEPARATORS
_SEPARATORS = str.maketrans(dict.fromkeys(" -._*~+/\\"))


def _spans(text: str) -> list[tuple[int, int]]:
    """Where spelled-out runs and cut words are, merged and in order."""
    spans = [(run.start() + 1, run.end()) for run in _SPELLED_OUT.finditer(text)]
    cut_end = 0
    for cut in _CUT.finditer(text):
        if cut.start() < cut_end:
            continue  # a second cut in a word already found
        start, cut_end = _word_around(text, cut.start(), _CUT_WORD_CHARS)
        end = cut_end
        while text[end - 1] in _CUT_SEPARATORS:  # "e.g." ends with a full stop, not a cut
            end -= 1
        # Whole words joined by punctuation ("well-being", "kill-myself") are read as words
        # already; only a word cut into pieces ("su.ic.ide", "ki.ll") needs joining.
        if min(map(len, _CUT_PIECES.split(text[start:end]))) <= _PIECE:
            spans.append((start, end))
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def join_spelled_out(text: str) -> tuple[str, list[tuple[int, str]]] | None:
    """The text with spelled-out and cut words joined, and each joined word with its position.

    None when there is nothing to join, the usual case.
    """
    joined: list[tuple[int, str]] = []
    pieces: list[str] = []
    done = length = 0
    for start, end in _spans(text):
        word = text[start:end].translate(_SEPARATORS)
        if sum(char.isalpha() for char in word) < 3:
            continue
        pieces.append(text[done:start])
        length += start - done
        joined.append((length, word))
        pieces.append(word)
        length += len(word)
        done = end
    if not joined:
        return None
    pieces.append(text[done:])
    return "".join(pieces), joined
