"""Personal data out of text bound for a language-model provider: emails, phones, cards, links."""

from __future__ import annotations

import re

EMAIL = "[email]"
PHONE = "[phone]"
CARD = "[card]"
URL = "[url]"

# Patterns open with a plain character or class, never a lookbehind or \b, and check what comes
# before them just after it: the regex engine can then skip ahead to candidates, which makes
# redact several times faster on long messages.
_EMAIL = re.compile(
    r"[\w%+-](?<![\w.%+-][\w%+-])[\w.%+'-]*@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}(?![\w-])"
)

# A link ends before trailing punctuation: "see example.com/faq." keeps its full stop.
_LINK_END = r"[^\s<>\"'.,;:!?)\]]"
_LINK_TAIL = rf"(?:[/?#][^\s<>\"]*{_LINK_END})?"
_SCHEME_LINK = re.compile(rf"[hH](?<!\w[hH])(?i:ttps?)://[^\s<>\"]*{_LINK_END}")
_WWW_LINK = re.compile(rf"[wW](?<!\w[wW])(?i:ww)\.[\w-]+(?:\.[\w-]+)+{_LINK_TAIL}")
# Bare domains ("example.com/path") count only with these endings, typed in lower case, so
# "main.py", "Node.js" and a missing space in "tired.Me too" stay as they are.
_BARE_TLDS = (
    "com",
    "org",
    "net",
    "edu",
    "gov",
    "io",
    "co",
    "es",
    "uk",
    "de",
    "fr",
    "eu",
    "mx",
    "ar",
    "cl",
    "pe",
    "br",
    "pt",
    "nl",
    "ca",
    "au",
    "ai",
    "app",
    "dev",
    "info",
    "biz",
    "ly",
    "tv",
    "xyz",
    "online",
    "site",
    "shop",
    "store",
    "blog",
)
_TLD = rf"\.(?:{'|'.join(_BARE_TLDS)})(?![\w-]|\.\w)"
_HAS_TLD = re.compile(_TLD)  # cheap to search for: it opens with a literal "."
_BARE_DOMAIN = re.compile(
    rf"[a-zA-Z0-9](?<![\w.@-][a-zA-Z0-9])(?i:[a-z0-9-]*(?:\.[a-z0-9-]+)*){_TLD}{_LINK_TAIL}"
)

# Numbers are never glued to a word or to more digits: "v2.5551234567" and "1,612345678" stay.
_NUMBER_END = r"(?!\w|[.,/:-]\d)"
_SEP = r"[ .-]?"
_GROUP = rf"{_SEP}(?:\(\d{{1,4}}\)|\d{{1,4}})"
# Phones that open with "+" or "(" go first: they are cheap to find and never look like a card.
_MARKED_PHONES = (
    # International: +34 612 345 678, +1 555.123.4567, +44 (0)20 7946 0958
    re.compile(rf"\+(?<![\w+]\+)\d{{1,3}}(?:{_GROUP}){{2,5}}(?!\d)"),
    # North American with an area code in brackets: (555) 123-4567 ("1 (555) 123-4567" is
    # left to _LONG_NUMBER, which takes its country code too)
    re.compile(rf"\((?<!\w\()(?<!1[ .-]\()\d{{3}}\){_SEP}\d{{3}}{_SEP}\d{{4}}{_NUMBER_END}"),
    # A national area code in brackets: (020) 7946 0958, (0161) 496 0000
    re.compile(rf"\((?<!\w\()0\d{{2,4}}\)[ -]?\d{{3,4}}[ -]?\d{{3,4}}{_NUMBER_END}"),
)
# Cards and the other phones in one pass, cards first so a card never becomes a phone. Each
# alternative goes on from the number's first digit; a lookbehind checks that digit if needed.
# A number right after "#" is an order or ticket number, never a phone.
_LONG_NUMBER = re.compile(
    r"\d(?<![\w+#.,-]\d)(?:"
    # Cards: 13-19 digits in a run, or in fours (Amex: 4-6-5) split by one kind of separator.
    # Looser grouping would swallow two dates in a row, "2025-12-22 2026-01-05". No card
    # number starts with 0: "00442079460958" is a phone dialled from abroad.
    r"(?P<card>(?<=[1-9])(?:\d{12,18}|\d{3}([ -])\d{4}\2\d{4}\2\d{1,7}|\d{3}([ -])\d{6}\3\d{4,5}))"
    # Dialled from abroad with 00 or 011 instead of "+": 0044 20 7946 0958, 0034 612 345 678
    rf"|(?P<intl>(?<=0)(?:0|11){_SEP}\d{{1,3}}(?:{_GROUP}){{2,5}}(?!\d))"
    # North American, with the country code 1 or without: 1-800-555-0199, 1 415 555 0134
    rf"|(?<=1)[ .-]?(?:\(\d{{3}}\)|\d{{3}}){_SEP}\d{{3}}{_SEP}\d{{4}}"
    # North American: 555-123-4567, 555.123.4567, 5551234567
    rf"|\d{{2}}{_SEP}\d{{3}}{_SEP}\d{{4}}"
    # Spanish, nine digits from 6 to 9: 612345678, 612 345 678, 612 34 56 78, 91 234 56 78.
    # No dots here, since "700.000.000" is an amount.
    r"|(?<=[6-9])\d{2}(?:[ -]?\d{3}){2}|(?<=[6-9])\d{2}(?:[ -]?\d{2}){3}"
    r"|(?<=[89])\d[ -]?\d{3}(?:[ -]?\d{2}){2}"
    # National with a leading 0 (UK, and most of Europe): 020 7946 0958, 0161 496 0000,
    # 07700 900123, 02079460958; French 06 12 34 56 78; German 030 1234567.
    r"|(?<=0)(?=[1-9])(?:\d{2}[ -]?\d{4}[ -]?\d{4}|\d{3}[ -]?\d{3}[ -]?\d{4}"
    r"|\d{4}[ -]?(?:\d{6}|\d{3}[ -]?\d{3})|\d{10}|\d(?:[ .-]?\d{2}){4}|\d{2,3}[ /-]\d{6,8})"
    rf"){_NUMBER_END}"
)
_MIN_PHONE_DIGITS, _MAX_PHONE_DIGITS = 7, 15  # E.164 allows at most 15
_MIN_INTL_DIGITS = 10


def _digits(text: str) -> str:
    return "".join(char for char in text if char.isdigit())


def _luhn_valid(digits: str) -> bool:
    """The payment-card checksum: double every second digit from the right; sum % 10 == 0."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        digit = int(char)
        if position % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def _phone_or_keep(match: re.Match[str]) -> str:
    count = len(_digits(match.group()))
    return PHONE if _MIN_PHONE_DIGITS <= count <= _MAX_PHONE_DIGITS else match.group()


def _card_phone_or_keep(match: re.Match[str]) -> str:
    if match.group("intl") is not None:
        # Past the 00 or 011 prefix: a country code and a national number, 10 digits at least
        # (shorter is more likely an order number with leading zeros, "0012345678").
        count = len(_digits(match.group())) - (2 if match.group().startswith("00") else 3)
        return PHONE if _MIN_INTL_DIGITS <= count <= _MAX_PHONE_DIGITS else match.group()
    if match.group("card") is None:
        return _phone_or_keep(match)
    # A long run of digits that fails the checksum is an order or account number, not a card.
    return CARD if _luhn_valid(_digits(match.group())) else match.group()


def _replace_links(text: str) -> str:
    if "://" in text:
        text = _SCHEME_LINK.sub(URL, text)
    if "ww." in text or "WW." in text:
        text = _WWW_LINK.sub(URL, text)
    if _HAS_TLD.search(text):
        text = _BARE_DOMAIN.sub(URL, text)
    return text


def redact(text: str) -> str:
    """Replace emails, web addresses, card numbers and phone numbers with placeholders.

    Emails go first, so their domains are not taken for web addresses, and cards before
    phones, so a card number is never half-read as a phone. Times, dates, prices, years,
    percentages, version numbers and ordinary numbers are left as they are.
    """
    if "@" in text:
        text = _EMAIL.sub(EMAIL, text)
    text = _replace_links(text)
    for pattern in _MARKED_PHONES:
        text = pattern.sub(_phone_or_keep, text)
    return _LONG_NUMBER.sub(_card_phone_or_keep, text)
