"""`livebuy bench …`: benchmarks, next to the raw limit of the database."""

import asyncio
import json
import sys
from collections.abc import Callable
from enum import StrEnum
from typing import Annotated

import asyncpg
import typer
from aiohttp import web
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from bench import chat as chat_bench
from bench import console_chat, flash_drop
from bench import webhook as webhook_bench
from commerce.config import Settings
from commerce.service_layer.messagebus import MessageBus
from webhooks.app import create_app
from webhooks.cli.common import fail, first_line
from webhooks.keys import BUS

bench_app = typer.Typer(
    help="Benchmarks, next to the raw limit of the database.", no_args_is_help=True
)


class ChatVia(StrEnum):
    WEB = "web"
    CONSOLE = "console"


class BenchDatabase(StrEnum):
    SQLITE = "sqlite"
    POSTGRES = "postgres"


# The options every benchmark shares.
Database = Annotated[BenchDatabase, typer.Option("--db")]
PgUrl = Annotated[
    str, typer.Option("--pg-url", help="PostgreSQL server (a scratch database is made).")
]
PG_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
AsJson = Annotated[bool, typer.Option("--json", help="All figures as one JSON object.")]


@bench_app.command("flash-drop")
def bench_flash_drop(
    claims: Annotated[int, typer.Option("--claims", min=1, help="How many #buy.")] = 10_000,
    units: Annotated[int, typer.Option("--units", min=1, help="Units in the drop.")] = 100,
    buyers: Annotated[int, typer.Option("--buyers", min=1, help="Distinct buyers.")] = 2_000,
    db: Database = BenchDatabase.SQLITE,
    pg_url: PgUrl = PG_SERVER,
    within: Annotated[
        float, typer.Option("--within", min=0.0, help="Seconds over which the claims arrive.")
    ] = 1.0,
    repeats: Annotated[
        float,
        typer.Option("--repeats", min=0.0, max=1.0, help="Share of messages delivered again."),
    ] = 0.0,
    as_json: AsJson = False,
) -> None:
    """A flash drop through the real claim path, with the same-work raw baseline beside it."""
    try:
        run = flash_drop.flash_drop(claims, units, buyers, db.value, pg_url, within, repeats)
        figures = asyncio.run(run)
    except (OSError, DBAPIError, asyncpg.PostgresError) as exc:
        raise fail(f"cannot run the benchmark ({first_line(exc)})") from None
    typer.echo(json.dumps(figures, indent=2) if as_json else flash_drop.report(figures))
    if not figures["product"]["correct"]:
        raise typer.Exit(code=1)


def webhook_app(
    settings: Settings, engine: AsyncEngine
) -> tuple[web.Application, Callable[[], MessageBus]]:
    """The real web app the webhook benchmark posts to (no sweeps during the measurement), and
    its bus once the app has started."""
    app = create_app(settings, engine=engine, sweep_every=3600)
    return app, lambda: app[BUS]


@bench_app.command("webhook")
def bench_webhook(
    events: Annotated[
        int, typer.Option("--events", min=1, help="Orders paid by webhook.")
    ] = 1_000,
    duplicates: Annotated[
        float, typer.Option("--duplicates", min=0.0, max=1.0, help="Share delivered twice.")
    ] = 0.1,
    db: Database = BenchDatabase.SQLITE,
    pg_url: PgUrl = PG_SERVER,
    as_json: AsJson = False,
) -> None:
    """Signed Stripe webhooks against the app, next to a bare verify-and-parse handler."""
    try:
        figures = asyncio.run(
            webhook_bench.webhook(webhook_app, events, duplicates, db.value, pg_url)
        )
    except (OSError, DBAPIError, asyncpg.PostgresError) as exc:
        raise fail(f"cannot run the benchmark ({first_line(exc)})") from None
    typer.echo(json.dumps(figures, indent=2) if as_json else webhook_bench.report(figures))
    if not figures["correct"]:
        raise typer.Exit(code=1)


def emulator_command(port: int, webhook_url: str) -> list[str]:
    """The Stripe emulator in a process of its own (python -m webhooks.devtools.emulator)."""
    module = "webhooks.devtools.emulator"
    return [sys.executable, "-m", module, "--port", str(port), "--webhook-url", webhook_url]


@bench_app.command("chat")
def bench_chat(
    claims: Annotated[int, typer.Option("--claims", min=1, help="How many #buy.")] = 2_000,
    buyers: Annotated[
        int, typer.Option("--buyers", min=1, help="Buyers, each with a live stream.")
    ] = 200,
    within: Annotated[
        float, typer.Option("--within", min=0.0, help="Seconds over which the claims arrive.")
    ] = 0.0,
    via: Annotated[
        ChatVia,
        typer.Option(
            "--via",
            help="web: over HTTP to a server process, answered on live streams; console: in"
            " one process, answered through the outbox by a courier.",
        ),
    ] = ChatVia.WEB,
    db: Database = BenchDatabase.SQLITE,
    pg_url: PgUrl = PG_SERVER,
    as_json: AsJson = False,
) -> None:
    """Claims typed into a chat, answered privately, each winner's Checkout made on a
    Stripe emulator in a process of its own."""
    try:
        if via is ChatVia.WEB:
            run = chat_bench.chat(
                serve_command, emulator_command, claims, buyers, within, db.value, pg_url
            )
        else:
            run = console_chat.console_chat(
                emulator_command, claims, buyers, within, db.value, pg_url
            )
        figures = asyncio.run(run)
    except (OSError, DBAPIError, asyncpg.PostgresError) as exc:
        raise fail(f"cannot run the benchmark ({first_line(exc)})") from None
    typer.echo(json.dumps(figures, indent=2) if as_json else chat_bench.report(figures))
    if not figures["correct"]:
        raise typer.Exit(code=1)


def serve_command(port: int) -> list[str]:
    """`livebuy run` in a process of its own."""
    start = "from webhooks.cli import app; app()"
    return [sys.executable, "-c", start, "run", "--port", str(port), "--log", "text"]


@bench_app.command("local-memory")
def bench_local_memory(
    first: Annotated[
        int, typer.Option("--first", min=1, help="Claims before the first reading.")
    ] = 1_000,
    total: Annotated[int, typer.Option("--total", min=2, help="Claims in all.")] = 20_000,
    buyers: Annotated[int, typer.Option("--buyers", min=1)] = 100,
    as_json: AsJson = False,
) -> None:
    """Local mode's resident memory (the built-in Stripe emulator included) after a few
    claims and after many, each claim's Checkout made."""
    if total <= first:
        raise fail("--total must be more than --first")
    try:
        figures = asyncio.run(chat_bench.local_memory(serve_command, first, total, buyers))
    except OSError as exc:
        raise fail(f"cannot run the benchmark ({first_line(exc)})") from None
    rss = figures["rss_mib"]
    text = (
        f"local mode: RSS {rss['started']:.0f} MiB at start, {rss[str(first)]:.0f} MiB after"
        f" {first} claims, {rss[str(total)]:.0f} MiB after {total} ({figures['growth']:+.1%})"
    )
    typer.echo(json.dumps(figures, indent=2) if as_json else text)
