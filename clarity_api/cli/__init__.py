"""flask commands: operator helpers (tiers, stale sessions, the funnel report) and a terminal
client that chats with the API."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import click
from flask import Flask
from flask.cli import AppGroup

from clarity_api.clock import isoformat, utcnow
from clarity_api.extensions import db
from clarity_api.models import Tier
from clarity_api.services import auth, expiry, subscriptions
from clarity_api.services.funnel import funnel

users = AppGroup("users", help="Manage accounts.")
sessions = AppGroup("sessions", help="Look after Solve sessions.")


class Duration(click.ParamType):
    """A span of time written as a number and a unit: 90s, 30m, 12h, 7d, 2w."""

    name = "duration"
    _UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
    LONGEST = timedelta(days=36500)  # a century: "now minus" it is always a valid date

    def convert(self, value: Any, param: Any, ctx: Any) -> timedelta:
        if isinstance(value, timedelta):
            return value
        match = re.fullmatch(r"\s*(\d{1,6})\s*([smhdw])\s*", str(value))
        if match is None or int(match[1]) == 0:
            self.fail(f"{value!r} is not a duration like 90s, 30m, 12h, 7d or 2w.", param, ctx)
        span = timedelta(**{self._UNITS[match[2]]: int(match[1])})
        if span > self.LONGEST:
            self.fail(f"{value!r} is longer than {self.LONGEST.days} days.", param, ctx)
        return span


@users.command("set-tier")
@click.argument("email")
@click.argument("tier", type=click.Choice([t.value for t in Tier]))
def set_tier(email: str, tier: str) -> None:
    """Set an account's tier by hand (support): no expiry; the next store event decides again."""
    user = auth.find_user(email)
    if user is None:
        raise click.ClickException(f"No account with email {email}")
    subscriptions.set_tier(user, Tier(tier))
    db.session.commit()
    click.echo(f"{user.email} is now on the {tier} tier.")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}{'es' if noun.endswith('ch') else 's'}"


@sessions.command("expire")
@click.option(
    "--older-than",
    "idle_for",
    type=Duration(),
    default="7d",
    show_default=True,
    help="Abandon active sessions nobody has moved for longer than this.",
)
@click.option(
    "--batch-size",
    type=click.IntRange(1, 10_000),
    default=500,
    show_default=True,
    help="Sessions changed per transaction.",
)
@click.option("--dry-run", is_flag=True, help="Count the stale sessions; change nothing.")
def expire(idle_for: timedelta, batch_size: int, dry_run: bool) -> None:
    """Mark long-idle active sessions abandoned; safe to run while the service is serving."""
    cutoff = utcnow() - idle_for
    if dry_run:
        count = expiry.count_idle(cutoff)
        click.echo(
            f"{_count(count, 'active session')} idle since before {isoformat(cutoff)} "
            "(dry run: nothing changed)."
        )
        return
    changed, batches = expiry.expire_idle(cutoff, batch_size)
    click.echo(
        f"Abandoned {_count(changed, 'session')} idle since before {isoformat(cutoff)} "
        f"({_count(batches, 'batch')})."
    )


@sessions.command("report")
@click.option(
    "--since",
    "window",
    type=Duration(),
    default="30d",
    show_default=True,
    help="Count sessions opened within this span before now.",
)
@click.option("--all", "everything", is_flag=True, help="Count every session ever opened.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as one JSON object.")
def report(window: timedelta, everything: bool, as_json: bool) -> None:
    """How far sessions get: steps reached, completed, abandoned, blocked for safety."""
    since = None if everything else utcnow() - window
    figures = funnel(since)
    if as_json:
        click.echo(json.dumps(figures.as_dict()))
        return
    opened = figures.opened

    def share(count: int) -> str:
        return f"{count / opened:7.1%}" if opened else "      -"

    scope = "ever" if since is None else f"since {isoformat(since)}"
    click.echo(f"Sessions opened {scope}: {opened}")
    for step in figures.reached:  # in step order
        click.echo(f"  reached {step:<9} {figures.reached[step]:>8} {share(figures.reached[step])}")
    for status in ("completed", "abandoned", "active"):
        click.echo(f"  {status:<17} {figures.status[status]:>8} {share(figures.status[status])}")
    rate = figures.resolution_rate
    click.echo(
        f"Problem resolution rate (completed / opened): {'-' if rate is None else f'{rate:.1%}'}"
    )
    click.echo(
        f"Messages blocked for safety: {figures.blocked_messages} "
        "(a daily count, tied to no session or person)"
    )


def init_app(app: Flask) -> None:
    from clarity_api.cli.chat import chat

    app.cli.add_command(users)
    app.cli.add_command(sessions)
    app.cli.add_command(chat)
