"""Subscriptions: the tier follows what the person paid for, as RevenueCat's webhook tells it.

Webhooks arrive twice, late, out of order and at once. Each event is applied at most once
(its id is a primary key of subscription_events), never over a newer one (the subscription
keeps the time of the last event applied), and one person's deliveries take turns: the
subscription row is locked (PostgreSQL) and the write is a compare-and-set on that time, so
even without the lock (SQLite) a delivery that lost the race changes nothing.
"""

from __future__ import annotations

import hmac
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import or_, update
from sqlalchemy.exc import IntegrityError

from clarity_api.clock import utcnow
from clarity_api.extensions import db
from clarity_api.models import Subscription, SubscriptionEvent, Tier, User

# Events that grant the tier of their entitlements until expiration_at_ms.
GRANTS = {
    "INITIAL_PURCHASE",
    "RENEWAL",
    "UNCANCELLATION",
    "PRODUCT_CHANGE",
    "NON_RENEWING_PURCHASE",
}
# Events that keep the tier: access lasts until the expiry (the one they carry).
KEEPS = {"CANCELLATION", "BILLING_ISSUE"}
ENDS = {"EXPIRATION"}
TRANSFER = "TRANSFER"
HANDLED = GRANTS | KEEPS | ENDS | {TRANSFER}
RANK = {Tier.FREE: 0, Tier.STANDARD: 1, Tier.PRO: 2}


class _Overtaken(Exception):
    """A newer event for the same person was applied between our read and our write."""


def payments_enabled(config: Mapping[str, Any]) -> bool:
    """Whether the store webhook is configured (GET /auth/config/features says so)."""
    return bool(config.get("REVENUECAT_WEBHOOK_AUTH"))


def authorized(config: Mapping[str, Any], header: str | None) -> bool:
    """The Authorization header equals the configured value, compared in constant time."""
    expected = config.get("REVENUECAT_WEBHOOK_AUTH") or ""
    return bool(expected) and hmac.compare_digest(
        (header or "").encode("utf-8", "surrogatepass"), expected.encode("utf-8")
    )


def view(user: User) -> dict[str, Any]:
    """What /auth/me shows: the tier in force, when it ends, and whether it renews."""
    tier = user.tier
    paid = tier != Tier.FREE.value
    sub = user.subscription
    return {
        "tier": tier,
        "expires_at": sub.expires_at if paid else None,
        "will_renew": bool(sub.will_renew) if paid else False,
    }


def set_tier(user: User, tier: Tier) -> None:
    """Support's override (`flask users set-tier`): no expiry, no renewal. The last event
    time stays, so the next newer store event for the person decides again."""
    sub = user.subscription
    sub.tier, sub.expires_at, sub.will_renew, sub.updated_at = tier, None, False, utcnow()


def tier_for(event: Mapping[str, Any], entitlements: Mapping[str, str]) -> Tier | None:
    """The highest tier the event's entitlements map to; None if none is ours."""
    ids = event.get("entitlement_ids") or []
    if not ids and event.get("entitlement_id"):
        ids = [event["entitlement_id"]]
    tiers = [Tier(entitlements[e]) for e in ids if e in entitlements]
    return max(tiers, key=RANK.__getitem__) if tiers else None


def receive(event: Mapping[str, Any], config: Mapping[str, Any]) -> dict[str, Any]:
    """Apply one webhook event. Returns what became of it: applied, duplicate, stale, or
    ignored (with the reason)."""
    kind = event["type"]
    if kind not in HANDLED:
        return _ignored(f"{kind} events change nothing")
    if event.get("environment") == "SANDBOX" and not config.get("REVENUECAT_ACCEPT_SANDBOX"):
        return _ignored("sandbox events are not accepted")
    if db.session.get(SubscriptionEvent, event["id"]) is not None:
        return {"result": "duplicate"}
    if kind == TRANSFER:
        return _transfer(event)
    user_id = find_person(_candidates(event))
    if user_id is None:
        return _ignored("app_user_id is no account of ours")
    if kind not in ENDS and tier_for(event, config["REVENUECAT_ENTITLEMENTS"]) is None:
        return _ignored("no entitlement maps to a tier")
    at = _moment(event["event_timestamp_ms"])
    (sub,) = _lock([user_id])
    if _is_older(sub, at):
        return {"result": "stale"}
    return _apply(event, user_id, at, {user_id: _change(kind, event, config)})


def _change(kind: str, event: Mapping[str, Any], config: Mapping[str, Any]) -> dict[str, Any]:
    """The subscription columns one person's event sets.

    Every event but EXPIRATION carries the entitlement and the expiry in force, so each one
    states the whole subscription: CANCELLATION and BILLING_ISSUE restate what a purchase in
    order already set (access lasts until expiry), and a purchase that arrives after them,
    stale, is not missed.
    """
    if kind in ENDS:
        return {"tier": Tier.FREE, "expires_at": None, "will_renew": False}
    expires = event.get("expiration_at_ms")
    values: dict[str, Any] = {
        "tier": tier_for(event, config["REVENUECAT_ENTITLEMENTS"]),
        "expires_at": _moment(expires) if expires is not None else None,
    }
    if kind in GRANTS:
        values["will_renew"] = kind != "NON_RENEWING_PURCHASE"
    elif kind == "CANCELLATION":
        values["will_renew"] = False
    return values  # BILLING_ISSUE: the store retries; renewal stays as it was


def _transfer(event: Mapping[str, Any]) -> dict[str, Any]:
    """Move the paid tier, its expiry and renewal from the giver to the recipient.

    TRANSFER names no entitlements: what moves is what the giver holds when it applies. Each
    side follows its own newest event: a giver with a newer event has moved on (nothing
    moves); a recipient with a newer event keeps it (that event stated their subscription).
    A giver we do not know has nothing we could move; a recipient we do not know still
    takes the tier away from the giver.
    """
    giver = find_person(event.get("transferred_from") or [])
    recipient = find_person(event.get("transferred_to") or [])
    if giver is None or giver == recipient:
        return _ignored("transferred_from is no account of ours")
    at = _moment(event["event_timestamp_ms"])
    subs = {sub.user_id: sub for sub in _lock([p for p in (giver, recipient) if p])}
    held = subs[giver]
    if _is_older(held, at):
        return {"result": "stale"}
    now = utcnow()
    changes: dict[uuid.UUID, dict[str, Any]] = {
        giver: {"tier": Tier.FREE, "expires_at": None, "will_renew": False}
    }
    taker = subs.get(recipient) if recipient is not None else None
    # Highest wins: a recipient who already holds as much keeps their own subscription.
    if (
        taker is not None
        and not _is_older(taker, at)
        and RANK[held.effective_tier(now)] > RANK[taker.effective_tier(now)]
    ):
        changes[taker.user_id] = {
            "tier": held.tier,
            "expires_at": held.expires_at,
            "will_renew": held.will_renew,
        }
    return _apply(event, recipient or giver, at, changes)


def _apply(
    event: Mapping[str, Any],
    owner: uuid.UUID,
    at: datetime,
    changes: Mapping[uuid.UUID, Mapping[str, Any]],
) -> dict[str, Any]:
    """Record the event and write each person's change, all or nothing (a savepoint)."""
    try:
        with db.session.begin_nested():
            db.session.add(
                SubscriptionEvent(
                    id=event["id"], user_id=owner, type=event["type"], event_timestamp=at
                )
            )
            db.session.flush()  # the same id delivered at the same time: IntegrityError
            for user_id, values in changes.items():
                _compare_and_set(user_id, at, values)
    except IntegrityError:
        return {"result": "duplicate"}
    except _Overtaken:
        return {"result": "stale"}
    return {"result": "applied"}


def _compare_and_set(user_id: uuid.UUID, at: datetime, values: Mapping[str, Any]) -> None:
    """One conditional UPDATE: it writes only if no newer event got there first."""
    stmt = (
        update(Subscription)
        .where(
            Subscription.user_id == user_id,
            or_(Subscription.last_event_at.is_(None), Subscription.last_event_at <= at),
        )
        .values(**values, last_event_at=at, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if db.session.execute(stmt).rowcount != 1:  # type: ignore[attr-defined]
        raise _Overtaken()


def _lock(user_ids: list[uuid.UUID]) -> list[Subscription]:
    """The people's subscriptions, locked in id order (no deadlock between two transfers)."""
    stmt = (
        db.select(Subscription)
        .where(Subscription.user_id.in_(user_ids))
        .order_by(Subscription.user_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return list(db.session.execute(stmt).scalars())


def _is_older(sub: Subscription, at: datetime) -> bool:
    return sub.last_event_at is not None and at < sub.last_event_at


def _candidates(event: Mapping[str, Any]) -> list[str]:
    """Every id RevenueCat knows the person by: ours is one of them once the app logged in."""
    found = [event.get("app_user_id"), event.get("original_app_user_id")]
    return [c for c in [*found, *(event.get("aliases") or [])] if c]


def find_person(app_user_ids: Iterable[str]) -> uuid.UUID | None:
    """The first of these RevenueCat ids that is one of our accounts (anonymous ids and
    deleted accounts are not)."""
    ids: list[uuid.UUID] = []
    for raw in app_user_ids:
        try:
            ids.append(uuid.UUID(raw))
        except (ValueError, TypeError, AttributeError):
            continue  # "$RCAnonymousID:…" or an id the app set before signing in
    if not ids:
        return None
    known = set(db.session.scalars(db.select(User.id).where(User.id.in_(ids))))
    return next((i for i in ids if i in known), None)


def _moment(ms: int) -> datetime:
    """Milliseconds since the epoch, exactly (no float rounding)."""
    return datetime.fromtimestamp(ms // 1000, UTC) + timedelta(milliseconds=ms % 1000)


def _ignored(reason: str) -> dict[str, Any]:
    return {"result": "ignored", "reason": reason}
