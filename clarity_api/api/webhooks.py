"""/webhooks: what the app stores tell us (RevenueCat), so the tier follows what people paid."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import abort, current_app, request

from clarity_api.errors import WebhookUnauthorized
from clarity_api.extensions import db
from clarity_api.schemas.webhooks import RevenueCatWebhookSchema, WebhookResultSchema
from clarity_api.services import subscriptions
from clarity_api.web.openapi import errors
from clarity_api.web.parsing import ClarityBlueprint

blp = ClarityBlueprint("webhooks", __name__, url_prefix="/webhooks", description="Store webhooks")


def revenuecat_auth(view: Callable[..., Any]) -> Callable[..., Any]:
    """Off (404, like an unknown route) until configured; then the secret, before the body."""

    @wraps(view)
    def checked(*args: Any, **kwargs: Any) -> Any:
        if not subscriptions.payments_enabled(current_app.config):
            abort(404)
        if not subscriptions.authorized(current_app.config, request.headers.get("Authorization")):
            raise WebhookUnauthorized()
        return view(*args, **kwargs)

    return checked


@blp.route("/revenuecat", methods=["POST"])
@revenuecat_auth
@blp.arguments(RevenueCatWebhookSchema)
@blp.response(200, WebhookResultSchema)
@errors(
    400,
    401,
    404,
    413,
    422,
    e401="INVALID_TOKEN: the Authorization header is not REVENUECAT_WEBHOOK_AUTH",
    e404="NOT_FOUND: the webhook is off (REVENUECAT_WEBHOOK_AUTH is not set)",
    e503="SERVICE_UNAVAILABLE: the database is unreachable; RevenueCat retries later",
)
def revenuecat(body: dict[str, Any]) -> Any:
    """Take one RevenueCat webhook event (RevenueCat's own body, as it sends it).

    Every event RevenueCat should not retry is 200: applied, a redelivery (duplicate), older
    than the last one applied to the person (stale), or ignored (a type that changes
    nothing, a sandbox event, someone who is not one of our accounts).
    """
    outcome = subscriptions.receive(body["event"], current_app.config)
    db.session.commit()
    return outcome
