"""HTTP: one blueprint per area; routes are thin and commit once."""

from __future__ import annotations

from clarity_api.web.parsing import ClarityApi


def register_blueprints(api: ClarityApi) -> None:
    from clarity_api.api import (
        account,
        auth,
        devices,
        docs,
        features,
        health,
        logins,
        passwords,
        solve_sessions,
        webhooks,
    )

    docs.register_components(api)
    for module in (
        auth,
        account,
        passwords,
        devices,
        logins,
        features,
        solve_sessions,
        health,
        webhooks,
    ):
        api.register_blueprint(module.blp)
    api.register_blueprint(account.app_blp)
