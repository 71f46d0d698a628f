"""Budgets (rate limits): their keys and their sizes, read from config per request.

Which budget guards what, and why each is sized as it is: docs/reliability.md ("Budgets").
Per client address we count only what signals abuse, never ordinary use, because one
carrier-NAT or office address carries thousands of people (API.md, Conventions).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from flask import Response, current_app, request
from flask_jwt_extended import get_jwt, get_jwt_identity

from clarity_api.extensions import limiter
from clarity_api.services import auth
from clarity_api.web.auth import signed_in_user, signed_in_without_budget

# Answers that mean someone is guessing or probing: a wrong password or reset code, a token
# that is not (or no longer) good, an email that is taken (who has an account here?).
GUESS_ERRORS = frozenset(
    {
        "INVALID_CREDENTIALS",
        "INVALID_TOKEN",
        "TOKEN_EXPIRED",
        "TOKEN_REVOKED",
        "INVALID_RESET_CODE",
        "EMAIL_ALREADY_EXISTS",
    }
)


def _setting(name: str) -> Callable[[], str]:
    return lambda: current_app.config[name]  # type: ignore[no-any-return]


def user_key() -> str:
    return f"user:{get_jwt_identity()}"


def login_key() -> str:
    """One sign-in (and its refreshed tokens): a stolen token's login is not the victim's."""
    return f"login:{get_jwt()['lid']}"


def _email_key(email: str) -> str:
    """A digest of the normalised email: no address sits in the limiter's storage, and any
    text (even a lone surrogate, which Redis cannot encode) makes a valid key."""
    normalised = auth.normalize_email(email).encode("utf-8", "surrogatepass")
    return "login:" + hashlib.sha256(normalised).hexdigest()[:32]


def login_email_key() -> str:
    try:
        body = request.get_json(silent=True, force=True)
    except RecursionError:  # nested too deep: the view answers 400 INVALID_JSON
        body = None
    email = body.get("email") if isinstance(body, dict) else None
    return _email_key(email) if isinstance(email, str) else "login:-"


def account_email_key() -> str:
    return _email_key(signed_in_user().email)


def _failed(response: Response) -> bool:
    return response.status_code == 401


def signals_abuse(response: Response) -> bool:
    """A failed attempt (GUESS_ERRORS), or a reset email asked for (202: sending mail to
    many addresses from one is flooding, while the answer itself never tells)."""
    if response.status_code == 202:
        return True
    if response.status_code not in (400, 401, 409) or response.is_streamed:
        return False
    body = response.get_json(silent=True)
    return isinstance(body, dict) and body.get("error") in GUESS_ERRORS


def _signed_up(response: Response) -> bool:
    return response.status_code == 201


def address_failure_limit(app: Any) -> int:
    """The smallest count in RATELIMIT_PER_IP (for tests and docs)."""
    from limits import parse_many

    return min(item.amount for item in parse_many(app.config["RATELIMIT_PER_IP"]))


# One budget per user across every authenticated endpoint (web.auth.signed_in puts it on).
per_user = limiter.shared_limit(_setting("RATELIMIT_PER_USER"), scope="user", key_func=user_key)
# Per client address on register, login, refresh and password reset: only answers that signal
# guessing or flooding count (signals_abuse), so a NAT full of people signing in is never
# refused; once over, every such request from the address waits.
per_ip = limiter.shared_limit(
    _setting("RATELIMIT_PER_IP"), scope="auth-ip", deduct_when=signals_abuse
)
# New accounts per client address: dozens at once are normal behind a NAT, thousands are not.
signups_per_ip = limiter.shared_limit(
    _setting("SIGNUP_PER_IP"), scope="signup-ip", deduct_when=_signed_up
)
# Wrong passwords for one account: only 401s count, and once over, every attempt waits. Login
# and DELETE /auth/me share the budget, so a stolen access token buys no extra guesses.
login_failures = limiter.shared_limit(
    _setting("LOGIN_FAILURE_LIMIT"), scope="password", key_func=login_email_key, deduct_when=_failed
)
account_password_failures = limiter.shared_limit(
    _setting("LOGIN_FAILURE_LIMIT"),
    scope="password",
    key_func=account_email_key,
    deduct_when=_failed,
)
# Signing out, revoking a login or device, changing the password, deleting the account: per
# login, apart from everything else (web.auth.signed_in_without_budget puts it on).
revocations = limiter.shared_limit(
    _setting("REVOCATION_LIMIT"), scope="revocation", key_func=login_key
)
# The decorator for such endpoints, under the name this module's budgets go by.
revocation_budget = signed_in_without_budget
# Reset codes asked for one email, by anyone: every request counts.
reset_requests = limiter.shared_limit(
    _setting("RESET_EMAIL_LIMIT"), scope="reset-email", key_func=login_email_key
)
