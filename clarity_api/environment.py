"""Environment variables read strictly: a value that does not parse stops start-up, naming
the variable (API.md, "Running it"). Unset or empty means the default.

Every problem is collected, then `check()` raises one ConfigError listing them all, so a
deploy with two typos learns of both at once. Messages quote the value only for kinds that
are never secret (numbers, switches, choices, budgets); a bad URL or key is named, not shown.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

T = TypeVar("T")

TRUE = frozenset({"1", "true", "yes", "on"})
FALSE = frozenset({"0", "false", "no", "off"})


class ConfigError(RuntimeError):
    """The configuration does not parse; the message names every variable at fault."""


class Environment:
    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = os.environ if environ is None else environ
        self.problems: list[str] = []

    def raw(self, name: str) -> str | None:
        value = self._environ.get(name)
        if value is None or not value.strip():
            return None
        return value.strip()

    def parsed(self, name: str, default: T, parse: Callable[[str], T]) -> T:
        """`parse(raw)` or the default when unset; a ValueError from `parse` is recorded
        as this variable's problem (its message says what the value must be)."""
        raw = self.raw(name)
        if raw is None:
            return default
        try:
            return parse(raw)
        except ValueError as error:
            self.problems.append(f"{name}: {error}")
            return default

    def text(self, name: str, default: str) -> str:
        return self.parsed(name, default, str)

    def optional(self, name: str) -> str | None:
        return self.raw(name)

    def boolean(self, name: str, default: bool) -> bool:
        return self.parsed(name, default, parse_bool)

    def integer(self, name: str, default: int, minimum: int = 0, maximum: int | None = None) -> int:
        return self.parsed(name, default, lambda raw: parse_int(raw, minimum, maximum))

    def number(self, name: str, default: float, minimum: float = 0.0) -> float:
        return self.parsed(name, default, lambda raw: parse_float(raw, minimum))

    def choice(self, name: str, default: str, choices: Sequence[str]) -> str:
        return self.parsed(name, default, lambda raw: parse_choice(raw, choices))

    def rate(self, name: str, default: str) -> str:
        """A rate-limit budget such as "30 per minute" (several: "5/second;100/hour")."""
        return self.parsed(name, default, parse_rate)

    def check(self) -> None:
        if self.problems:
            raise ConfigError("invalid configuration: " + "; ".join(self.problems))


def parse_bool(raw: str) -> bool:
    value = raw.lower()
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    raise ValueError(f"{raw!r} is not a switch: use true or false (also 1/0, yes/no, on/off)")


def parse_int(raw: str, minimum: int = 0, maximum: int | None = None) -> int:
    try:
        value = int(raw, 10)
    except ValueError:
        raise ValueError(f"{raw!r} is not a whole number") from None
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"at least {minimum}" if maximum is None else f"{minimum} to {maximum}"
        raise ValueError(f"{raw!r} is out of range ({bound})")
    return value


def parse_float(raw: str, minimum: float = 0.0) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{raw!r} is not a number") from None
    if not value >= minimum or value == float("inf"):  # also refuses nan
        raise ValueError(f"{raw!r} is out of range (a finite number, at least {minimum:g})")
    return value


def parse_choice(raw: str, choices: Sequence[str]) -> str:
    if raw not in choices:
        raise ValueError(f"{raw!r} is not one of {', '.join(choices)}")
    return raw


def parse_rate(raw: str) -> str:
    from limits import parse_many

    try:
        parse_many(raw)
    except ValueError:
        raise ValueError(f"{raw!r} is not a budget such as '30 per minute'") from None
    return raw


def parse_url(raw: str, schemes: Sequence[str]) -> str:
    """A URL with one of these schemes and something after it (the value is not echoed:
    it may carry a password)."""
    scheme, sep, rest = raw.partition("://")
    if not sep or scheme.lower() not in schemes or not rest:
        raise ValueError(f"not a URL starting with {' or '.join(s + '://' for s in schemes)}")
    return raw
