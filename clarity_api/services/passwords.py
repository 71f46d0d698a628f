"""Passwords: the strength rule, changing one, and resetting a forgotten one by a code."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

from flask import current_app
from sqlalchemy import delete, update
from sqlalchemy.dialects import postgresql, sqlite
from zxcvbn import matching, scoring

from clarity_api.clock import utcnow
from clarity_api.errors import InvalidCredentials, InvalidResetCode, WeakPassword
from clarity_api.extensions import db
from clarity_api.models import Login, PasswordReset, User
from clarity_api.services import auth as accounts  # a cycle, read only at call time
from clarity_api.services import hashing, logins, mail, rowcount

_UPPER = re.compile(r"[A-Z]")
_DIGIT = re.compile(r"[0-9]")
_NAME_PARTS = re.compile(r"[^a-z0-9]+")
_NOT_LETTERS = re.compile(r"[^a-z]+")
_REPEAT = re.compile(r"(.+)\1+")

# At least 10^7 guesses by zxcvbn's estimate: "Password1" (10^2.6), "Qwerty123" (10^2.6),
# "Abcdefg1" (10^4.1) and "Summer2024" (10^6.3) fall short; a random 8 characters (10^8)
# and "Sup3rSecret!" (10^8.1) pass.
MIN_GUESSES_LOG10 = 7.0
# zxcvbn's cost grows with the square of the length and, through its l33t table, with the
# powers of the number of distinct substitution symbols: 20 of them in 24 characters took
# 2 s. It sees a bounded prefix instead (README "Passwords" has the measurements). A prefix
# is a safe bound: a password is at least as hard to guess as its start.
PREFIX_CHARS = 32
PREFIX_L33T_SYMBOLS = 5
_L33T_SYMBOLS = frozenset(sym for subs in matching.L33T_TABLE.values() for sym in subs)


def meets_rule(password: str) -> bool:
    """API.md's rule: 8 characters or more, an upper-case letter and a digit."""
    return len(password) >= 8 and bool(_UPPER.search(password) and _DIGIT.search(password))


def evaluated_prefix(password: str) -> str:
    """What zxcvbn sees: the first PREFIX_CHARS characters, cut before the symbol that would
    make PREFIX_L33T_SYMBOLS + 1 distinct l33t symbols."""
    seen: set[str] = set()
    end = min(len(password), PREFIX_CHARS)
    for i, char in enumerate(password[:end]):
        if char in _L33T_SYMBOLS and char not in seen:
            if len(seen) == PREFIX_L33T_SYMBOLS:
                end = i
                break
            seen.add(char)
    return _drop_cut_repetition(password[:end]) if end < len(password) else password


def _drop_cut_repetition(prefix: str) -> str:
    """A cut through a repetition leaves a stray fragment ("Password1" x 3 + "Passw") that
    zxcvbn would score as fresh characters: end the prefix with the last whole repetition."""
    for run in _REPEAT.finditer(prefix):
        if run.group(1).startswith(prefix[run.end() :]):
            return prefix[: run.end()]
    return prefix


def personal_words(email: str) -> list[str]:
    """The email's own words ("ana.lopez@example.com": ana, lopez, ana.lopez, example)."""
    local, _, domain = email.lower().partition("@")
    words = [local, _NOT_LETTERS.sub("", local), *_NAME_PARTS.split(local)]
    words += _NAME_PARTS.split(domain.rsplit(".", 1)[0])
    return [w for w in dict.fromkeys(words) if len(w) >= 3] + ["clarity"]


def is_own_name(password: str, email: str) -> bool:
    """The password's letters are only the email's name: "Ana-Lopez-1", "Lopez-Ana-7"."""
    letters = _NOT_LETTERS.sub("", password.lower())
    local = email.lower().partition("@")[0]
    if not letters or letters in _NOT_LETTERS.sub("", local):
        return bool(letters)
    for word in sorted(_NAME_PARTS.split(local), key=len, reverse=True):
        if len(word) >= 3:
            letters = letters.replace(_NOT_LETTERS.sub("", word), "")
    return not letters


def guesses_log10(password: str, words: list[str]) -> float:
    """zxcvbn's estimate of log10(guesses) for the bounded prefix.

    It runs on its own copy of the dictionaries: zxcvbn() itself stores the user's words in
    a module global, which two threads would trample.
    """
    prefix = evaluated_prefix(password)
    if not prefix:
        return 0.0
    dictionaries: dict[str, Any] = dict(matching.RANKED_DICTIONARIES)
    dictionaries["user_inputs"] = matching.build_ranked_dict(words)
    found = matching.omnimatch(prefix, dictionaries)
    result = scoring.most_guessable_match_sequence(prefix, found)
    return float(result["guesses_log10"])


def _estimate(password: str, email: str) -> float:
    return hashing.run(guesses_log10, password, personal_words(email))


def check_strength(password: str, email: str) -> None:
    """WEAK_PASSWORD unless the rule holds and the password is hard to guess.

    The estimate is pure Python, so it runs on the hashing pool's threads (bounded cost, and
    the hub keeps serving between the interpreter's switches).
    """
    if not meets_rule(password):
        raise WeakPassword()
    if is_own_name(password, email) or _estimate(password, email) < MIN_GUESSES_LOG10:
        raise WeakPassword(
            "This password is too easy to guess (a common password, a word with a digit, "
            "a keyboard or alphabet run, or your own name): choose another."
        )


def change(user: User, login_id: uuid.UUID, current: str, new: str) -> None:
    """A new password; every other login of the account ends, the caller's stays."""
    if not hashing.verify_password(user.password_hash, current):
        raise InvalidCredentials("The current password is incorrect.")
    check_strength(new, user.email)
    _set_password(user, new)
    logins.revoke_others(user.id, login_id)


def _set_password(user: User, new: str) -> None:
    """The new hash; a pending reset code is void once the password changed."""
    user.password_hash = hashing.hash_password(new)
    db.session.execute(delete(PasswordReset).where(PasswordReset.user_id == user.id))


def _revoke_every_login(user_id: uuid.UUID) -> None:
    db.session.execute(
        update(Login)
        .where(Login.user_id == user_id, Login.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


# 8 characters from 30 that cannot be misread (no 0/O, 1/I/L, U): 30^8, about 2^39.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789"
CODE_LENGTH = 8


def new_code() -> str:
    code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return f"{code[:4]}-{code[4:]}"


def _code_digest(user_id: uuid.UUID, code: str) -> str:
    """Keyed by the app's secret, so a copy of the table alone cannot be searched for codes."""
    plain = "".join(code.split()).replace("-", "").upper()
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"{user_id}:{plain}".encode(), hashlib.sha256).hexdigest()


def issue_reset(email: str) -> tuple[User, str] | None:
    """A fresh code for this email's account, replacing any earlier one; None if no account."""
    user = accounts.find_user(email)
    if user is None:
        return None
    code = new_code()
    minutes = current_app.config["RESET_CODE_MINUTES"]
    now = utcnow()
    values = {
        "code_hash": _code_digest(user.id, code),
        "created_at": now,
        "expires_at": now + timedelta(minutes=minutes),
        "attempts": 0,
    }
    # One upsert, not delete-then-insert: two requests for one account at once would both
    # insert, and the second would hit the primary key (seen on PostgreSQL).
    upsert = _insert_for(db.engine.dialect.name)(PasswordReset).values(user_id=user.id, **values)
    db.session.execute(upsert.on_conflict_do_update(index_elements=["user_id"], set_=values))
    return user, code


def _insert_for(dialect: str) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT (both of our databases do)."""
    if dialect == "postgresql":
        return postgresql.insert
    return sqlite.insert


def reset_email(config: dict[str, Any], user: User, code: str) -> EmailMessage:
    minutes = config["RESET_CODE_MINUTES"]
    text = (
        f"Your code to choose a new Clarity password is {code}\n\n"
        f"It works once, for {minutes} minutes. If you did not ask for it, ignore this "
        "email: your password has not changed.\n"
    )
    return mail.compose(config, user.email, "Your Clarity password reset code", text)


def reset(email: str, code: str, new: str) -> User:
    """Set a new password with an emailed code; every login of the account ends.

    Each try is counted with one conditional UPDATE (so concurrent guesses cannot share a
    try), and the code is consumed with a conditional DELETE (so it works once).
    """
    check_strength(new, email)
    user = accounts.find_user(email)
    if user is None:
        raise InvalidResetCode()
    now = utcnow()
    tried = db.session.execute(
        update(PasswordReset)
        .where(
            PasswordReset.user_id == user.id,
            PasswordReset.attempts < current_app.config["RESET_CODE_TRIES"],
            PasswordReset.expires_at > now,
        )
        .values(attempts=PasswordReset.attempts + 1)
        .returning(PasswordReset.code_hash)
    ).first()
    digest = _code_digest(user.id, code)
    if tried is None or not hmac.compare_digest(tried.code_hash, digest):
        db.session.commit()  # the counted try must stick even though we raise
        raise InvalidResetCode()
    used = delete(PasswordReset).where(
        PasswordReset.user_id == user.id, PasswordReset.code_hash == digest
    )
    if rowcount(used) != 1:
        raise InvalidResetCode()  # a concurrent reset used it first
    _set_password(user, new)
    _revoke_every_login(user.id)
    return user
