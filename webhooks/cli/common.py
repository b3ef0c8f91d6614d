"""What every command shares: settings, one-line errors, a bus or an engine for one operation,
and the output formats."""

import asyncio
import csv
import io
import json
import sys
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Any, TypeVar

import typer
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError
from sqlalchemy.ext.asyncio import AsyncEngine

from bots.letters import PlatformLetters
from commerce.adapters import migrate
from commerce.adapters.db import create_engine
from commerce.bootstrap import bootstrap
from commerce.config import Settings
from commerce.domain.errors import CommerceError
from commerce.domain.identity import ChatRef
from commerce.domain.money import Money, parse_amount
from commerce.service_layer.messagebus import MessageBus
from commerce.service_layer.ports import PaymentError
from webhooks import spreadsheet
from webhooks.payments import payment_setup

T = TypeVar("T")


class Format(StrEnum):
    TABLE = "table"
    JSON = "json"
    CSV = "csv"


def fail(message: str) -> typer.Exit:
    """One line on stderr and exit status 1: operators get no tracebacks."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=1)


def settings() -> Settings:
    try:
        config = Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in exc.errors()
        )
        raise fail(f"bad configuration: {problems}") from None
    if problem := config.live_key_problem():
        raise fail(f"bad configuration: {problem}")
    return config


def with_bus(work: Callable[[MessageBus], Awaitable[T]], payments: bool = False) -> T:
    """Runs one operation against the configured database, with one-line errors.

    With `payments`, the bus talks to Stripe, or in local mode to the emulator of the
    running `livebuy run` (at PUBLIC_BASE_URL).
    """
    config = settings()

    async def run(engine: AsyncEngine) -> T:
        gateway = await payment_setup(config).gateway(engine) if payments else None
        letters = PlatformLetters(config.livebuy_locale)
        bus = bootstrap(config, engine, payments=gateway, letters=letters)
        try:
            return await work(bus)
        finally:
            await bus.close()
            if gateway is not None:
                await gateway.close()

    return with_engine(run, config)


def with_engine(work: Callable[[AsyncEngine], Awaitable[T]], config: Settings | None = None) -> T:
    """Runs `work` with an engine on the configured database; errors as one line."""
    config = config or settings()

    async def run() -> T:
        engine = create_engine(config.database_url)
        try:
            return await work(engine)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(run())
    except (CommerceError, PaymentError) as exc:
        raise fail(str(exc)) from None
    except (OperationalError, ProgrammingError) as exc:
        if "no such table" in str(exc) or "does not exist" in str(exc):
            raise fail("the database has no schema yet: run `livebuy db upgrade`") from None
        raise fail(f"database error: {first_line(exc)}") from None
    except (DBAPIError, OSError) as exc:
        raise fail(f"cannot reach the database ({first_line(exc)})") from None


def first_line(exc: BaseException) -> str:
    return str(getattr(exc, "orig", exc)).splitlines()[0][:200]


def money(amount: str, currency: str) -> Money:
    try:
        return Money.parse(amount, currency)
    except CommerceError as exc:
        raise fail(str(exc)) from None


def price_allowed(amount: str | Money, yes: bool, option: str = "--price") -> None:
    """Refuses a price above LIVEBUY_MAX_PRICE unless --yes says it is meant (a typo such as
    1e9 would put a €1,000,000,000 drop live). A typed amount that is not one is left to the
    command, which says why."""
    if isinstance(amount, Money):
        value = amount.decimal()
    else:
        try:
            value = parse_amount(amount)
        except CommerceError:
            return
    ceiling = settings().livebuy_max_price
    if value > ceiling and not yes:
        raise fail(
            f"{option} {value:,f} is above LIVEBUY_MAX_PRICE ({ceiling:,f}): "
            "add --yes if you mean it"
        )


def typed_chats(chats: list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    """The chats an operator named (--channel), each in its platform's form of ids."""
    try:
        return tuple(str(ChatRef.typed(chat)) for chat in chats or ())
    except CommerceError as exc:
        raise fail(str(exc)) from None


def interactive() -> bool:
    """A person at a terminal, who can be asked; a script is told what to pass instead."""
    return sys.stdin.isatty()


def all_chats_allowed(what: str, channels: list[str] | None, all_chats: bool) -> None:
    """A sale without --channel goes live in every chat the shop sells in: asked on a
    terminal, and spelled out with --all-chats in scripts."""
    if channels or all_chats:
        return
    if not interactive():
        raise fail(f"say where {what} runs: --channel CHAT (repeatable), or --all-chats")
    if not typer.confirm(f"No --channel: start {what} in every chat the shop sells in?"):
        raise fail("nothing started")


def emit(rows: list[dict[str, Any]], fmt: Format, columns: list[str]) -> None:
    if fmt is Format.JSON:
        typer.echo(json.dumps(rows, indent=2, default=str))
    elif fmt is Format.CSV:
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(spreadsheet.row(r) for r in rows)
        typer.echo(out.getvalue(), nl=False)
    elif not rows:
        typer.echo("(none)")
    else:
        cells = [[str(r[k]) if r[k] is not None else "" for k in columns] for r in rows]
        widths = [max(len(h), *(len(row[i]) for row in cells)) for i, h in enumerate(columns)]
        for line in [columns, *cells]:
            typer.echo("  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip())


def upgrade_schema(database_url: str) -> None:
    try:
        migrate.upgrade(database_url)
    except CommerceError as exc:
        raise fail(str(exc)) from None
    except (DBAPIError, OSError) as exc:
        raise fail(f"cannot migrate the database ({first_line(exc)})") from None
