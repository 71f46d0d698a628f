"""flask commands: operator helpers (tiers) and a terminal client that chats with the API."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from clarity_api.extensions import db
from clarity_api.models import Tier
from clarity_api.services import auth

users = AppGroup("users", help="Manage accounts.")


@users.command("set-tier")
@click.argument("email")
@click.argument("tier", type=click.Choice([t.value for t in Tier]))
def set_tier(email: str, tier: str) -> None:
    """Change an account's subscription tier (payments are out of scope)."""
    from clarity_api.clock import utcnow

    user = auth.find_user(email)
    if user is None:
        raise click.ClickException(f"No account with email {email}")
    user.subscription.tier = Tier(tier)
    user.subscription.updated_at = utcnow()
    db.session.commit()
    click.echo(f"{user.email} is now on the {tier} tier.")


def init_app(app: Flask) -> None:
    from clarity_api.chat import chat

    app.cli.add_command(users)
    app.cli.add_command(chat)
