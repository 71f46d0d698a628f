"""Redaction: emails, phones, cards and links become placeholders; everything else stays."""

from __future__ import annotations

import pytest

from clarity_api.safety.redaction import redact


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Write to ana.garcia@gmail.com please", "Write to [email] please"),
        ("Mail: john.o'neil+work@sub.example.co.uk.", "Mail: [email]."),
        ("Mi correo es josé_pérez@correo.es", "Mi correo es [email]"),
        ("Email 'ana@x.com' now", "Email '[email]' now"),
        ("<LUIS.MARTIN@EMPRESA.COM>", "<[email]>"),
    ],
)
def test_redact_replaces_email_addresses(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Call me on +34 612 345 678 tonight", "Call me on [phone] tonight"),
        ("+34612345678", "[phone]"),
        ("My US number is (555) 123-4567", "My US number is [phone]"),
        ("or 555-123-4567, or +1 555.123.4567", "or [phone], or [phone]"),
        ("555 123 4567 and 5551234567", "[phone] and [phone]"),
        ("+44 (0)20 7946 0958 is the London office", "[phone] is the London office"),
        ("Mi móvil es 612345678", "Mi móvil es [phone]"),
        ("Móvil 612 34 56 78 y fijo 91 234 56 78", "Móvil [phone] y fijo [phone]"),
        ("612-345-678", "[phone]"),
        ("tel:612345678", "tel:[phone]"),
    ],
)
def test_redact_replaces_phone_numbers(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # dialled from abroad with 00 or 011 instead of "+"
        ("Ring 0044 20 7946 0958 after six", "Ring [phone] after six"),
        ("00442079460958", "[phone]"),
        ("Llámame al 0034 612 345 678", "Llámame al [phone]"),
        ("From the US: 011 44 20 7946 0958", "From the US: [phone]"),
        # United Kingdom, with the trunk 0
        ("My number is 020 7946 0958.", "My number is [phone]."),
        ("020-7946-0958 or 02079460958", "[phone] or [phone]"),
        ("(020) 7946 0958", "[phone]"),
        ("Mobile 07700 900123, office 0161 496 0000", "Mobile [phone], office [phone]"),
        ("01632 960 123", "[phone]"),
        ("call 020 7946 0958 2 times", "call [phone] 2 times"),
        # North America
        ("Call (415) 555-0134 today", "Call [phone] today"),
        ("415-555-0134 or 415.555.0134", "[phone] or [phone]"),
        ("+1 415 555 0134", "[phone]"),
        ("1-800-555-0199, 1 (415) 555-0134, 1 415 555 0134", "[phone], [phone], [phone]"),
        # Spain
        ("Móvil 612 34 56 78", "Móvil [phone]"),
        ("Fijo 91 123 45 67 o 93 123 45 67", "Fijo [phone] o [phone]"),
        ("912 345 678", "[phone]"),
        # France and Germany, national formats
        ("06 12 34 56 78 or 06.12.34.56.78", "[phone] or [phone]"),
        ("Ruf 030 1234567 an", "Ruf [phone] an"),
    ],
)
def test_redact_replaces_national_phone_formats(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Card 4111 1111 1111 1111 expires soon", "Card [card] expires soon"),
        ("Card 4111-1111-1111-1111", "Card [card]"),
        ("Card 4111111111111111", "Card [card]"),
        ("Mastercard 5555 5555 5555 4444.", "Mastercard [card]."),
        ("Amex 3782 822463 10005", "Amex [card]"),
        ("Amex 378282246310005", "Amex [card]"),
        ("Visa 4222222222222", "Visa [card]"),  # 13 digits
        ("Maestro 6759649826438453", "Maestro [card]"),  # starts like a Spanish mobile
        ("Tarjeta 4000 0566 5566 5556 y CVV", "Tarjeta [card] y CVV"),
    ],
)
def test_redact_replaces_luhn_valid_cards(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Not a card 4111 1111 1111 1112",  # fails the checksum
        "Order 1234567890123",
        "Tracking 4111 1111 1111 111",  # groups that are not a card's
    ],
)
def test_redact_keeps_numbers_that_are_not_cards(text: str) -> None:
    assert redact(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("See https://example.com/path?q=1.", "See [url]."),
        ("HTTP://EXAMPLE.COM/X", "[url]"),
        ("Go to www.example.com, then", "Go to [url], then"),
        ("Look at example.com/path and bit.ly/abc123", "Look at [url] and [url]"),
        ("I work at Google.com now", "I work at [url] now"),
        ("mi blog es ana.es", "mi blog es [url]"),
        ("Lee noticias.example.co.uk/hoy", "Lee [url]"),
        ("(see https://example.com/a) and (example.org).", "(see [url]) and ([url])."),
        ("https://example.com/orders/5551234567", "[url]"),  # its digits are not a phone
    ],
)
def test_redact_replaces_web_addresses(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_redact_takes_emails_before_web_addresses() -> None:
    assert redact("ana@example.com or example.com") == "[email] or [url]"


def test_redact_takes_cards_before_phones() -> None:
    # Read as phones, its groups would give "[phone] [phone]" or a partial phone.
    assert redact("4111 1111 1111 1111") == "[card]"
    assert redact("6011 0009 9013 9424") == "[card]"
    assert redact("Card 4111 1111 1111 1111, phone 020 7946 0958") == "Card [card], phone [phone]"


def test_redact_handles_a_message_with_everything() -> None:
    text = (
        "I'm 34 and my wife Ana (ana.lopez@gmail.com, +34 612 345 678) found our old card "
        "4111 1111 1111 1111 on www.example.com at 10:30 on 2025-12-22. It cost $1,299.99, "
        "12% more than last year. Call me at (555) 123-4567 or see example.org/help."
    )
    assert redact(text) == (
        "I'm 34 and my wife Ana ([email], [phone]) found our old card "
        "[card] on [url] at 10:30 on 2025-12-22. It cost $1,299.99, "
        "12% more than last year. Call me at [phone] or see [url]."
    )


@pytest.mark.parametrize(
    "text",
    [
        # times
        "Let's meet at 10:30 or 9am, or at 21:45",
        "The meeting runs 10:30-11:45",
        # prices
        "It costs $1,299.99 or 45 € or 1.299,99 €",
        "Me costó 700.000.000 pesos y 850.000 €",
        # dates and years
        "Due 2025-12-22, paid 22/12/2025, moved Dec 22, 2025",
        "from 2025-12-22 2026-01-05",
        "Between 1999 and 2024, or 2019-2023",
        # percentages and ordinary numbers
        "Growth was 12.5% and 45 % of people agreed",
        "I'm 34 with 3 kids, 2 dogs and 100 000 ideas",
        "1,000,000 dollars and 100000 steps",
        "Room 101, flight IB6123, postcode 28013, DNI 12345678Z",
        # version numbers and file names
        "version 3.11.7, v2.0.1, Python 3.11 and Node.js",
        "Open main.py and README.md",
        # plain words with dots and at signs
        "e.g. this, i.e. that, 9 a.m., the U.S., a Ph.D.",
        "I was tired.Me too",
        "Meet me @ the cafe",
        "+5 10 times",
        # times, prices, dates and references that share a phone's digits and separators
        "Let's talk at 10:30, or 10.30-11.45, or 08:30-09:45",
        "It was $1,299.99, now 1.299,99 € or 0,99 €",
        "On 2025-12-22, 22/12/2025, 01/12/2025 or 01.12.2025",
        "My order #123456789 and ref 2025-0042",
        "Pedido 0012345678, factura INV-2025-000123",
        "IBAN ES91 2100 0418 4502 0005 1332",
        "Tracking 1Z999AA10123456784",
        "Lottery 10 11 12 13 14, rooms 0042 and 0043",
        "0044 20",
    ],
)
def test_redact_leaves_everything_else_alone(text: str) -> None:
    assert redact(text) == text


def test_redact_leaves_text_without_personal_data_unchanged() -> None:
    text = "Should I take the job in Madrid? My partner is worried about the move."
    assert redact(text) == text
    assert redact("") == ""
