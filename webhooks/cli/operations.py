"""`livebuy status` and `livebuy reconcile`: operating the running service."""

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

from commerce.domain import commands as c
from commerce.domain.drops import parse_duration
from commerce.domain.errors import CommerceError
from webhooks.app import reconcile as repair
from webhooks.cli.common import fail, with_bus, with_engine
from webhooks.status import status_report


def status() -> None:
    """Show the workers, who holds each singleton duty, the outbox and the last webhook."""
    now = datetime.now(UTC)
    typer.echo(with_engine(lambda engine: status_report(engine, now)))


def reconcile(
    since: Annotated[
        str, typer.Option("--since", help="How far back, e.g. 24h, or days: 45d.")
    ] = "24h",
) -> None:
    """Ask Stripe about recent open orders and missed events, and repair what lost webhooks
    left behind. Beyond 30 days (Stripe's event history) completed checkouts are listed."""
    days = re.fullmatch(r"\s*(\d{1,3})\s*d\s*", since)
    try:
        window = timedelta(days=int(days[1])) if days else parse_duration(since)
    except CommerceError as exc:
        raise fail(str(exc)) from None
    if not timedelta(0) < window <= timedelta(days=400):
        raise fail(f"'{since}' must be between 1s and 400 days")
    changes: list[str] = with_bus(lambda bus: repair(bus, c.Reconcile(window)), payments=True)
    for line in changes or ["nothing to repair"]:
        typer.echo(line)
