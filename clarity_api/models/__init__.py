"""The tables, imported together so Alembic and relationships see all of them."""

from clarity_api.models.device import Device, Login
from clarity_api.models.enums import Platform, SessionStatus, SolveStep, Tier
from clarity_api.models.password_reset import PasswordReset
from clarity_api.models.solve_session import BlockedMessageCount, SolveSession
from clarity_api.models.user import Subscription, SubscriptionEvent, UsageCounter, User

__all__ = [
    "BlockedMessageCount",
    "Device",
    "Login",
    "PasswordReset",
    "Platform",
    "SessionStatus",
    "SolveSession",
    "SolveStep",
    "Subscription",
    "SubscriptionEvent",
    "Tier",
    "UsageCounter",
    "User",
]
