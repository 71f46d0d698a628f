"""The strength rule: API.md's rule, zxcvbn's estimate on a bounded prefix, the email's name."""

from __future__ import annotations

import time

import pytest
from zxcvbn import matching

from clarity_api.errors import WeakPassword
from clarity_api.services import passwords

EMAIL = "ana.lopez@example.com"
L33T_SYMBOLS = "".join(sorted({s for subs in matching.L33T_TABLE.values() for s in subs}))


@pytest.mark.parametrize(
    "password",
    [
        "Password1",
        "Qwerty123",
        "Abcdefg1",
        "Iloveyou2",
        "Monkey123",
        "Asdfghjk1",  # a keyboard run
        "Zxcvbnm12",
        "Summer2024",  # a common word with a year
        "Passw0rd!x",
        "Ana-Lopez-1",  # the email's own name
        "Analopez2026",
        "Lopez2026!",
        "Password1Password1Password1Password1",
    ],
)
def test_guessable_passwords_are_weak(password: str) -> None:
    assert passwords.meets_rule(password)  # the old rule alone let these through
    with pytest.raises(WeakPassword):
        passwords.check_strength(password, EMAIL)


@pytest.mark.parametrize(
    "password",
    ["Sup3rSecret!", "Str0ng-Lantern-42", "Blue-Kite-Harbor-7", "Zq8vR2mn", "Tr0ub4dor&3"],
)
def test_hard_to_guess_passwords_pass(password: str) -> None:
    passwords.check_strength(password, EMAIL)


@pytest.mark.parametrize("password", ["Short1A", "alllowercase1", "NoDigitsHere", ""])
def test_the_rule_still_applies(password: str) -> None:
    with pytest.raises(WeakPassword):
        passwords.check_strength(password, EMAIL)


def test_someone_elses_name_is_not_the_own_name() -> None:
    assert passwords.is_own_name("Lopez-Ana-77", EMAIL)
    assert not passwords.is_own_name("Lopez-Ana-77", "kim@example.com")


def test_the_estimate_sees_at_most_the_prefix_bound() -> None:
    long = "Tr0ub4dor&3-" + "x" * 116
    assert passwords.evaluated_prefix(long) == long[: passwords.PREFIX_CHARS]
    passwords.check_strength(long, EMAIL)  # a strong start is enough


def test_the_prefix_stops_before_one_l33t_symbol_too_many() -> None:
    prefix = passwords.evaluated_prefix("Ab" + L33T_SYMBOLS * 6)
    symbols = {c for c in prefix if c in L33T_SYMBOLS}
    assert len(symbols) == passwords.PREFIX_L33T_SYMBOLS
    assert prefix == "Ab" + L33T_SYMBOLS[: passwords.PREFIX_L33T_SYMBOLS]


@pytest.mark.parametrize(
    "password",
    [
        (L33T_SYMBOLS * 7)[:128],  # unbounded, 24 of these characters took zxcvbn 2 s
        ("$+157|" * 22)[:128],  # the costliest symbols the bound allows
        ("Password1" * 15)[:128],
        ("1234567890" * 13)[:128],
    ],
    ids=["all-l33t-symbols", "five-costly-symbols", "repeated-word", "digit-run"],
)
def test_the_estimate_is_bounded_on_long_inputs(password: str) -> None:
    started = time.perf_counter()
    passwords.guesses_log10(password, passwords.personal_words(EMAIL))
    # Measured at 1-40 ms; the bound is loose because the CPU is shared.
    assert time.perf_counter() - started < 1.0
