"""Subscription rules without HTTP: entitlements to tiers, the lapse, the configuration."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from clarity_api.config import entitlement_tiers
from clarity_api.models import Subscription, Tier
from clarity_api.services.subscriptions import authorized, payments_enabled, tier_for

MAPPING = {"pro": "pro", "standard": "standard", "plus": "standard"}
EXPIRY = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("event", "tier"),
    [
        ({"entitlement_ids": ["standard"]}, Tier.STANDARD),
        ({"entitlement_ids": ["plus", "pro", "standard"]}, Tier.PRO),
        ({"entitlement_ids": ["unknown"]}, None),
        ({"entitlement_ids": []}, None),
        ({"entitlement_ids": None, "entitlement_id": "plus"}, Tier.STANDARD),  # older events
        ({}, None),
    ],
)
def test_the_highest_mapped_entitlement_wins(event: dict, tier: Tier | None) -> None:
    assert tier_for(event, MAPPING) == tier


@pytest.mark.parametrize(
    ("now", "tier"),
    [
        (EXPIRY - timedelta(days=1), Tier.PRO),
        (EXPIRY + timedelta(hours=24), Tier.PRO),  # the grace for a late renewal
        (EXPIRY + timedelta(hours=24, microseconds=1), Tier.FREE),
    ],
)
def test_a_paid_tier_lapses_a_day_after_expiry(now: datetime, tier: Tier) -> None:
    assert Subscription(tier=Tier.PRO, expires_at=EXPIRY).effective_tier(now) == tier


def test_a_tier_without_expiry_never_lapses() -> None:
    far = datetime(2100, 1, 1, tzinfo=UTC)
    assert Subscription(tier=Tier.STANDARD, expires_at=None).effective_tier(far) == Tier.STANDARD


def test_entitlements_parse_from_the_environment_value() -> None:
    assert entitlement_tiers("pro:pro, standard : standard,") == {
        "pro": "pro",
        "standard": "standard",
    }


@pytest.mark.parametrize("raw", ["pro", "pro:gold", ":pro", "pro:pro,standard"])
def test_a_malformed_entitlement_mapping_is_refused(raw: str) -> None:
    with pytest.raises(ValueError, match="is not entitlement:tier"):
        entitlement_tiers(raw)


def test_payments_are_enabled_only_with_the_webhook_secret() -> None:
    assert payments_enabled({"REVENUECAT_WEBHOOK_AUTH": "Bearer x"}) is True
    assert payments_enabled({"REVENUECAT_WEBHOOK_AUTH": None}) is False
    assert payments_enabled({"REVENUECAT_WEBHOOK_AUTH": ""}) is False


def test_an_unset_secret_authorizes_nobody() -> None:
    assert authorized({"REVENUECAT_WEBHOOK_AUTH": None}, "") is False
    assert authorized({"REVENUECAT_WEBHOOK_AUTH": "x"}, "x") is True
    assert authorized({"REVENUECAT_WEBHOOK_AUTH": "x"}, "\udcff") is False
