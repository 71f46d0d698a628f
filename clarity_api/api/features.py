"""/auth/config/features: what the app may switch on, asked before anyone signs in."""

from __future__ import annotations

from typing import Any

from flask import current_app

from clarity_api.schemas.auth import FeaturesSchema
from clarity_api.services import subscriptions
from clarity_api.web.openapi import errors
from clarity_api.web.parsing import ClarityBlueprint

blp = ClarityBlueprint(
    "features", __name__, url_prefix="/auth/config", description="Service features"
)


@blp.route("/features", methods=["GET"])
@blp.response(200, FeaturesSchema)
@errors()
def features() -> Any:
    """Which features this service offers; no token needed."""
    config = current_app.config
    return {
        "payments_enabled": subscriptions.payments_enabled(config),
        "beta_mode": False,
        "app_version": config["APP_VERSION"],
    }
