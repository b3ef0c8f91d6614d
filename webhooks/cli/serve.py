"""`livebuy run` and `livebuy demo`: serve the shop; the start-up banner says what runs."""

import asyncio
import os
import socket
import sys
import tempfile
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

import typer
from aiohttp import web

from commerce.adapters.app_settings import admin_token
from commerce.config import Settings
from commerce.domain import commands as c
from commerce.domain.drops import DropPolicy, DropTerms, parse_duration
from commerce.domain.errors import CommerceError
from commerce.domain.money import Money
from commerce.domain.products import ProductSpec
from commerce.service_layer import queries
from commerce.service_layer.messagebus import MessageBus
from webhooks import logs
from webhooks.app import create_app
from webhooks.cli.common import fail, settings, upgrade_schema, with_bus, with_engine
from webhooks.devtools import demo
from webhooks.payments import EMULATOR_PREFIX, payment_setup
from webhooks.telegram import webhook_mode


class LogFormat(StrEnum):
    AUTO = "auto"
    TEXT = "text"
    JSON = "json"


def run(
    host: Annotated[str | None, typer.Option(help="Overrides LIVEBUY_HOST.")] = None,
    port: Annotated[int | None, typer.Option(help="Overrides LIVEBUY_PORT.")] = None,
    log: Annotated[
        LogFormat, typer.Option(help="Log lines as text, JSON, or auto: JSON unless a terminal.")
    ] = LogFormat.AUTO,
) -> None:
    """Migrate the database and serve webhooks, pages and background work until stopped."""
    config = settings()
    try:
        payment_setup(config)  # e.g. Stripe keys without a webhook secret: refuse to start
    except CommerceError as exc:
        raise fail(str(exc)) from None
    config = config.serving(host, port)
    host, port = config.livebuy_host, config.livebuy_port
    listenable(host, port)
    as_json = log is LogFormat.JSON or (log is LogFormat.AUTO and not sys.stderr.isatty())
    logs.configure(config, as_json)
    upgrade_schema(config.database_url)
    seeded = config.stripe_emulated and with_bus(lambda bus: seed_demo(bus, config))
    sku = with_bus(free_sku)
    typer.echo(banner(config, host, port, seeded, generated_admin_token(config), sku))
    try:
        web.run_app(create_app(config), host=host, port=port, print=None)
    except OSError as exc:
        raise fail(f"cannot listen on {host}:{port} ({exc.strerror})") from None


def demo_show(
    host: Annotated[str | None, typer.Option(help="Overrides LIVEBUY_HOST.")] = None,
    port: Annotated[int | None, typer.Option(help="Overrides LIVEBUY_PORT.")] = None,
    viewers: Annotated[int, typer.Option(help="Simulated viewers (at least 6).")] = 8,
    hold: Annotated[str, typer.Option(help="How long a claim holds a cap.")] = "30s",
    pace: Annotated[float, typer.Option(help="Seconds between the viewers' moves.")] = 1.0,
    database: Annotated[
        str | None,
        typer.Option(help="Run the demo on this database; a temporary one by default."),
    ] = None,
) -> None:
    """Serve the local service and run a scripted show in /chat/show: a seller starts a drop,
    viewers claim, some pay on the Stripe emulator, one passes, one hold expires. It runs on a
    temporary database of its own unless --database names one."""
    config = settings()
    if not config.stripe_emulated:
        raise fail("the demo pays on the built-in Stripe emulator: unset STRIPE_SECRET_KEY")
    if not 6 <= viewers <= len(demo.NAMES):
        raise fail(f"--viewers must be between 6 and {len(demo.NAMES)}")
    if pace < 0:
        raise fail("--pace must be 0 or more seconds")
    try:
        parse_duration(hold)
    except CommerceError as exc:
        raise fail(f"--hold: {exc}") from None
    config = config.serving(host, port)
    host, port = config.livebuy_host, config.livebuy_port
    listenable(host, port)
    with tempfile.TemporaryDirectory(prefix="livebuy-demo-") as scratch:
        # The demo's fake buyers and its drop never land in the shop's own database.
        database_url = database or f"sqlite:///{scratch}/demo.db"
        # Its viewers are actors on one machine: their claims hold (the show needs holds to
        # pass and expire) and they type as fast as the script says.
        update = {
            "livebuy_hold": hold,
            "database_url": database_url,
            "livebuy_web_claims": "hold",
            "livebuy_rate_per_buyer": "off",
        }
        config = type(config).model_validate(config.model_dump() | update)
        upgrade_schema(config.database_url)
        typer.echo(banner(config, host, port, token=generated_admin_token(config)))
        where = (
            f"the database {_redacted(database)}"
            if database
            else "a temporary database (removed when it stops): your shop's data is untouched"
        )
        typer.echo(f"The demo runs on {where}.")
        typer.echo(f"The show starts in {config.public_base_url}/chat/{demo.ROOM} …")
        try:
            asyncio.run(demo.serve_with_show(create_app(config), host, port, viewers, pace))
        except KeyboardInterrupt:  # pragma: no cover (Ctrl-C)
            pass
        except demo.CannotListen as exc:
            raise fail(f"{exc}; is `make run` running? Stop it or pass --port") from None


DEMO_CHAT = "web:demo"
# The banner's "Try:" product: the first of these that is not a product yet, so that its hints
# work on a fresh database and on one the seller has used.
TRY_SKUS = ("MUG", "CAP", "HAT", "BAG", "PIN", "SOCKS", "SCARF", "POSTER")


def listenable(host: str, port: int) -> None:
    """A port in use is reported before anything is printed or written (the banner would
    otherwise promise a server that never starts)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise fail(f"cannot listen on {host}:{port} ({exc.strerror})") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds
        try:
            probe.bind(address)
        except OSError as exc:
            raise fail(
                f"cannot listen on {host}:{port} ({exc.strerror}); is livebuy running already?"
                " Stop it or pass --port"
            ) from None


async def free_sku(bus: MessageBus) -> str:
    taken = {p.sku for p in await queries.products(bus.reads)}
    return next((sku for sku in TRY_SKUS if sku not in taken), f"TRY{len(taken) + 1}")


async def seed_demo(bus: MessageBus, config: Settings) -> bool:
    """Local mode on an empty database: a product and a live drop in the demo room, so that a
    newcomer can buy in the web chat at once. Nothing happens once any product exists."""
    if await queries.products(bus.reads):
        return False
    price = Money.parse("25", config.livebuy_currency)
    await bus.handle(c.AddProduct(ProductSpec("TEE", "Demo tee", price, "", ()), 50))
    terms = DropTerms("TEE", 20, price, None, 2, DropPolicy.HOLD, config.hold)
    await bus.handle(c.StartDrop(terms, (DEMO_CHAT,), actor="demo"))
    return True


def generated_admin_token(config: Settings) -> str | None:
    """The dashboard's token made on the first run (None when LIVEBUY_ADMIN_TOKEN is set:
    the operator knows it, and a configured secret is never printed)."""
    if config.livebuy_admin_token is not None:
        return None

    return with_engine(lambda engine: admin_token(engine, None, datetime.now(UTC)), config)


def banner(
    config: Settings,
    host: str,
    port: int,
    seeded: bool = False,
    token: str | None = None,
    sku: str = TRY_SKUS[0],
) -> str:
    """Says what runs and why the rest does not, so nobody has to guess."""

    def state(on: bool, why_off: str) -> str:
        return "on" if on else f"off ({why_off})"

    base = config.public_base_url.rstrip("/")
    me = os.path.relpath(sys.argv[0]) if sys.argv[0].endswith("livebuy") else "livebuy"
    lines = [
        f"livebuy serving on http://{host}:{port}  (public URL {config.public_base_url})",
        f"  database   {_redacted(config.database_url)}",
        f"  web chat   {base}/chat/demo   (any room name works: /chat/<room>)",
        *(
            ["  demo       a drop of 20 Demo tees is live in /chat/demo: type #buy there"]
            if seeded
            else []
        ),
        f"  dashboard  {base}/dashboard   admin token: "
        + (token or "the one in LIVEBUY_ADMIN_TOKEN"),
        f"  health     http://{host}:{port}/healthz   readiness /readyz",
        "  sweeper    on (expires holds, ends drops whose time is up)",
        "  telegram   "
        + (
            f"on ({telegram_mode(config)}, Bot API {config.telegram_api_base_url})"
            if config.telegram_bot_token
            else state(False, "TELEGRAM_BOT_TOKEN not set")
        ),
        "  discord    "
        + (
            "on (gateway; #buy text "
            + ("read" if config.discord_message_content else "not read: DISCORD_MESSAGE_CONTENT=0")
            + ")"
            if config.discord_bot_token
            else state(False, "DISCORD_BOT_TOKEN not set")
        ),
        "  youtube    "
        + (
            state(False, config.youtube_off)
            if config.youtube_off
            else "on (live chat "
            + (config.youtube_live_chat_id or f"of broadcast {config.youtube_broadcast_id}")
            + f", read every {config.youtube_min_poll_seconds:g}s at least)"
        ),
        "  twitch     "
        + (
            state(False, config.twitch_off)
            if config.twitch_off
            else f"on (EventSub chat of {', '.join(config.twitch_channel_list)},"
            f" {config.twitch_messages_per_30s} lines per 30 s per channel)"
        ),
        "  stripe     "
        + (
            f"local emulator (STRIPE_SECRET_KEY not set): {base}{EMULATOR_PREFIX}"
            if config.stripe_emulated
            else f"on ({config.stripe_api_base})"
        ),
        f"Try:  {me} product add {sku} --name '{sku.title()}' --price 12.00 --stock 10",
        f"      {me} drop start {sku} --qty 5 --for 10m --limit 1 --channel web:demo",
        f"      {me} say --chat web:demo --as alice '#buy {sku}'   (prints the checkout link)",
    ]
    if config.stripe_emulated and config.livebuy_emulator_public:
        # The emulator marks orders paid without money: it is for a laptop, not the internet.
        lines.append(
            "WARNING: LIVEBUY_EMULATOR_PUBLIC=1: the Stripe test emulator answers ANYONE who"
            " reaches this server: anyone can 'pay' without money and read buyers' addresses."
            " Set STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET for a real shop."
        )
    elif config.stripe_emulated and host not in ("127.0.0.1", "localhost", "::1"):
        lines.append(
            "NOTE: this server listens beyond loopback, but the Stripe test emulator (its"
            " checkout pages too) answers this machine only. Other machines: set"
            " STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET (Stripe test keys), or"
            " LIVEBUY_EMULATOR_PUBLIC=1 on a network you trust."
        )
    return "\n".join(lines)


def telegram_mode(config: Settings) -> str:
    if webhook_mode(config):
        return f"webhook {config.public_base_url}/webhooks/telegram"
    return "long polling"


def _redacted(url: str) -> str:
    """The database URL without its password."""
    scheme, sep, rest = url.partition("://")
    creds, at, host = rest.rpartition("@")
    if at and ":" in creds:
        creds = creds.split(":", 1)[0] + ":***"
    return f"{scheme}{sep}{creds}{at}{host}"
