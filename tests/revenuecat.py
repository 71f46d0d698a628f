"""RevenueCat's documented webhook bodies (tests/revenuecat_samples), aimed at our people."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient

SAMPLES = Path(__file__).with_name("revenuecat_samples")
AUTH = "Bearer rc-hook-7c1f0d9e2b"
# The config a test module needs for the webhook to be on.
WEBHOOK_ON = {"REVENUECAT_WEBHOOK_AUTH": AUTH}
# A fixed "now" for the tests, and the paid period the samples are moved to.
NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
MONTH = timedelta(days=30)
UNSET: Any = object()


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def sample(
    kind: str,
    person: str | None = None,
    *,
    at: datetime = NOW,
    expires: datetime | None = UNSET,
    entitlements: list[str] | None = UNSET,
    **fields: Any,
) -> dict[str, Any]:
    """The documented sample of this type, for `person` (our user id) at `at`, with a fresh
    event id; `expires` defaults to a month after `at` where the sample has an expiry."""
    body = json.loads((SAMPLES / f"{kind}.json").read_text())
    event = body["event"]
    event["id"] = str(uuid.uuid4()).upper()
    event["event_timestamp_ms"] = ms(at)
    if person is not None:
        event["app_user_id"] = person
    if "expiration_at_ms" in event:
        if expires is UNSET:
            expires = at + MONTH if event["expiration_at_ms"] is not None else None
        event["expiration_at_ms"] = ms(expires) if expires is not None else None
    if entitlements is not UNSET:
        event["entitlement_ids"] = entitlements
    elif "entitlement_ids" in event:
        event["entitlement_ids"] = ["pro"]  # PRODUCT_CHANGE's sample names "subscription"
        event["entitlement_id"] = None
    event.update(fields)
    return body


def transfer(giver: str, recipient: str, *, at: datetime = NOW, **fields: Any) -> dict[str, Any]:
    return sample("TRANSFER", at=at, transferred_from=[giver], transferred_to=[recipient], **fields)


def send(client: FlaskClient, body: Any, auth: str | None = AUTH, **kw: Any) -> Any:
    headers = {"Authorization": auth} if auth is not None else {}
    return client.post("/webhooks/revenuecat", json=body, headers=headers, **kw)
