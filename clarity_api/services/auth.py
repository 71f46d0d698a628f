"""Accounts: register and sign in."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from clarity_api.errors import EmailAlreadyExists, InvalidCredentials
from clarity_api.extensions import db
from clarity_api.models import Device, Subscription, Tier, UsageCounter, User
from clarity_api.services import devices, hashing, passwords, tokens


def normalize_email(email: str) -> str:
    return email.strip().lower()


def find_user(email: str) -> User | None:
    stmt = db.select(User).where(User.email == normalize_email(email))
    return db.session.execute(stmt).scalar_one_or_none()  # type: ignore[no-any-return]


def register(
    email: str, password: str, fingerprint: str, device_name: str | None, platform: str | None
) -> tuple[User, str, str]:
    """A new free account with its first device and login."""
    email = normalize_email(email)
    passwords.check_strength(password, email)
    if find_user(email) is not None:
        raise EmailAlreadyExists()
    user = User(email=email, password_hash=hashing.hash_password(password))
    user.subscription = Subscription(tier=Tier.FREE)
    user.usage = UsageCounter(sessions_total=0, period="", sessions_in_period=0)
    db.session.add(user)
    try:
        db.session.flush()  # two registrations racing for one email: the loser gets a 409
    except IntegrityError:
        db.session.rollback()
        raise EmailAlreadyExists() from None
    device = devices.bind(user, fingerprint, device_name, platform)
    db.session.flush()
    access, refresh = tokens.open_login(user, device)
    return user, access, refresh


def authenticate(email: str, password: str) -> User:
    """The user whose password this is; unknown email and wrong password look the same."""
    user = find_user(email)
    if not hashing.verify_password(user.password_hash if user else None, password):
        raise InvalidCredentials()
    assert user is not None
    return user


def login(
    email: str, password: str, fingerprint: str, device_name: str | None, platform: str | None
) -> tuple[User, str, str]:
    user = authenticate(email, password)
    device: Device = devices.bind(user, fingerprint, device_name, platform)
    db.session.flush()
    access, refresh = tokens.open_login(user, device)
    return user, access, refresh
