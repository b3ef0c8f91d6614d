"""The `livebuy` command: run the service and operate the shop from a terminal."""

import asyncio
import csv
import io
import json
import os
import re
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, TypeVar

import asyncpg
import typer
from aiohttp import web
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError
from sqlalchemy.ext.asyncio import AsyncEngine

from bench import flash_drop
from bench import webhook as webhook_bench
from bots import console
from bots.rendering import Renderer
from commerce.adapters import migrate
from commerce.adapters.app_settings import admin_token
from commerce.adapters.db import create_engine
from commerce.bootstrap import bootstrap
from commerce.config import Settings
from commerce.domain import commands as c
from commerce.domain.drops import (
    DropPolicy,
    DropStatus,
    DropTerms,
    format_duration,
    parse_duration,
)
from commerce.domain.errors import CommerceError
from commerce.domain.money import Money, parse_amount
from commerce.domain.orders import OrderStatus
from commerce.domain.products import ProductSpec, normalise_sku, parse_variants
from commerce.service_layer.messagebus import MessageBus
from commerce.service_layer.ports import PaymentError
from commerce.service_layer.results import AuctionView, DropView, OrderView, ProductView
from webhooks import demo, logs, spreadsheet
from webhooks.app import create_app
from webhooks.app import reconcile as repair
from webhooks.payments import EMULATOR_PREFIX, payment_setup
from webhooks.status import status_report
from webhooks.telegram import webhook_mode

T = TypeVar("T")

app = typer.Typer(
    help="livebuy: sell in live chats. Buyers type #buy, Stripe takes the money.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
product_app = typer.Typer(help="Products and stock.", no_args_is_help=True)
drop_app = typer.Typer(help="Drops: a quantity of a product sold in chats.", no_args_is_help=True)
seller_app = typer.Typer(help="Who may run drops from a chat.", no_args_is_help=True)
bench_app = typer.Typer(
    help="Benchmarks, next to the raw limit of the database.", no_args_is_help=True
)
app.add_typer(db_app, name="db")
app.add_typer(product_app, name="product")
app.add_typer(drop_app, name="drop")
auction_app = typer.Typer(help="Auctions: one unit, the highest bid wins.", no_args_is_help=True)
app.add_typer(auction_app, name="auction")
app.add_typer(seller_app, name="seller")
app.add_typer(bench_app, name="bench")


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
        bus = bootstrap(config, engine, payments=gateway)
        try:
            return await work(bus)
        finally:
            await bus.deps.store.close()
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
        raise fail(f"database error: {_first_line(exc)}") from None
    except (DBAPIError, OSError) as exc:
        raise fail(f"cannot reach the database ({_first_line(exc)})") from None


def _first_line(exc: BaseException) -> str:
    return str(getattr(exc, "orig", exc)).splitlines()[0][:200]


def money(amount: str, currency: str) -> Money:
    try:
        return Money.parse(amount, currency)
    except CommerceError as exc:
        raise fail(str(exc)) from None


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


# run and db -------------------------------------------------------------------------------


class LogFormat(StrEnum):
    AUTO = "auto"
    TEXT = "text"
    JSON = "json"


@app.command()
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
    as_json = log is LogFormat.JSON or (log is LogFormat.AUTO and not sys.stderr.isatty())
    logs.configure(config, as_json)
    upgrade_schema(config.database_url)
    config = config.serving(host, port)
    host, port = config.livebuy_host, config.livebuy_port
    seeded = config.stripe_emulated and with_bus(lambda bus: seed_demo(bus, config))
    typer.echo(banner(config, host, port, seeded, generated_admin_token(config)))
    try:
        web.run_app(create_app(config), host=host, port=port, print=None)
    except OSError as exc:
        raise fail(f"cannot listen on {host}:{port} ({exc.strerror})") from None


@app.command("demo")
def demo_show(
    host: Annotated[str | None, typer.Option(help="Overrides LIVEBUY_HOST.")] = None,
    port: Annotated[int | None, typer.Option(help="Overrides LIVEBUY_PORT.")] = None,
    viewers: Annotated[int, typer.Option(help="Simulated viewers (at least 6).")] = 8,
    hold: Annotated[str, typer.Option(help="How long a claim holds a cap.")] = "30s",
    pace: Annotated[float, typer.Option(help="Seconds between the viewers' moves.")] = 1.0,
) -> None:
    """Serve the local service and run a scripted show in /chat/show: a seller starts a drop,
    viewers claim, some pay on the Stripe emulator, one passes, one hold expires."""
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
    upgrade_schema(config.database_url)
    config = config.serving(host, port)
    config = type(config).model_validate(config.model_dump() | {"livebuy_hold": hold})
    host, port = config.livebuy_host, config.livebuy_port
    typer.echo(banner(config, host, port, token=generated_admin_token(config)))
    typer.echo(f"The show starts in {config.public_base_url}/chat/{demo.ROOM} …")
    try:
        asyncio.run(demo.serve_with_show(create_app(config), host, port, viewers, pace))
    except KeyboardInterrupt:  # pragma: no cover (Ctrl-C)
        pass
    except demo.CannotListen as exc:
        raise fail(f"{exc}; is `make run` running? Stop it or pass --port") from None


DEMO_CHAT = "web:demo"


async def seed_demo(bus: MessageBus, config: Settings) -> bool:
    """Local mode on an empty database: a product and a live drop in the demo room, so that a
    newcomer can buy in the web chat at once. Nothing happens once any product exists."""
    if await bus.deps.store.products():
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
    config: Settings, host: str, port: int, seeded: bool = False, token: str | None = None
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
        "  stripe     "
        + (
            f"local emulator (STRIPE_SECRET_KEY not set): {base}{EMULATOR_PREFIX}"
            if config.stripe_emulated
            else f"on ({config.stripe_api_base})"
        ),
        f"Try:  {me} product add TEE --name 'Tee' --price 25.00 --stock 10",
        f"      {me} drop start TEE --qty 5 --for 10m --limit 1",
        f"      {me} say --chat web:demo --as alice '#buy TEE'   (prints the checkout link)",
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


def upgrade_schema(database_url: str) -> None:
    try:
        migrate.upgrade(database_url)
    except CommerceError as exc:
        raise fail(str(exc)) from None
    except (DBAPIError, OSError) as exc:
        raise fail(f"cannot migrate the database ({_first_line(exc)})") from None


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or update the schema (Alembic migrations)."""
    upgrade_schema(settings().database_url)
    typer.echo("database schema is up to date")


# products ---------------------------------------------------------------------------------


def product_row(p: ProductView) -> dict[str, Any]:
    variants = ", ".join(f"{v.label}:{v.stock}" for v in p.variants if v.label)
    return {
        "sku": p.sku,
        "name": p.name,
        "price": str(p.price.decimal()),
        "currency": p.price.currency,
        "stock": p.stock,
        "variants": variants,
        "digital": p.digital,
    }


PRODUCT_COLUMNS = ["sku", "name", "price", "currency", "stock", "variants", "digital"]


@product_app.command("add")
def product_add(
    sku: Annotated[str, typer.Argument(help="Short code buyers type, e.g. TEE.")],
    name: Annotated[str, typer.Option("--name", help="What buyers see.")],
    price: Annotated[str, typer.Option("--price", help="Unit price, e.g. 25.00.")],
    currency: Annotated[str, typer.Option("--currency", help="ISO code; LIVEBUY_CURRENCY.")] = "",
    stock: Annotated[int, typer.Option("--stock", help="Units in stock (per variant).")] = 0,
    variant: Annotated[
        str | None, typer.Option("--variant", help="Variants, e.g. size=S,M,L.")
    ] = None,
    digital: Annotated[
        bool, typer.Option("--digital", help="Nothing to ship: checkout asks no address.")
    ] = False,
) -> None:
    """Add a product."""
    config = settings()
    try:
        option, labels = parse_variants(variant)
        spec = ProductSpec(
            normalise_sku(sku),
            name,
            money(price, currency or config.livebuy_currency),
            option,
            tuple(labels),
            digital,
        )
    except CommerceError as exc:
        raise fail(str(exc)) from None
    product: ProductView = with_bus(lambda bus: bus.handle(c.AddProduct(spec, stock)))
    emit([product_row(product)], Format.TABLE, PRODUCT_COLUMNS)


@product_app.command("edit")
def product_edit(
    sku: Annotated[str, typer.Argument(help="The product's SKU.")],
    name: Annotated[str | None, typer.Option("--name", help="New name.")] = None,
    price: Annotated[
        str | None, typer.Option("--price", help="New unit price; live drops keep theirs.")
    ] = None,
) -> None:
    """Rename or reprice a product."""

    async def edit(bus: MessageBus) -> ProductView:
        current = await bus.deps.store.product(sku)
        new_price = Money.parse(price, current.price.currency) if price else None
        result: ProductView = await bus.handle(c.UpdateProduct(sku, name, new_price))
        return result

    emit([product_row(with_bus(edit))], Format.TABLE, PRODUCT_COLUMNS)


@product_app.command("list")
def product_list(
    fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.TABLE,
) -> None:
    """List products with their stock."""
    products = with_bus(lambda bus: bus.deps.store.products())
    emit([product_row(p) for p in products], fmt, PRODUCT_COLUMNS)


@product_app.command("stock")
def product_stock(
    sku: Annotated[str, typer.Argument(help="The product's SKU.")],
    quantity: Annotated[int, typer.Argument(help="Units now in stock.")],
    variant: Annotated[
        str | None, typer.Option("--variant", help="Which variant, e.g. M.")
    ] = None,
) -> None:
    """Set a product's stock (of one variant)."""
    product = with_bus(lambda bus: bus.handle(c.SetStock(sku, quantity, variant)))
    emit([product_row(product)], Format.TABLE, PRODUCT_COLUMNS)


# drops ------------------------------------------------------------------------------------


def drop_row(d: DropView) -> dict[str, Any]:
    return {
        "code": d.code,
        "sku": d.sku,
        "status": d.status,
        "price": str(d.price.decimal()),
        "currency": d.price.currency,
        "quantity": d.quantity,
        "remaining": d.remaining,
        "waitlist": d.waitlist,
        "limit": d.per_buyer_limit,
        "policy": d.policy,
        "confirm": "promo" if d.promo else d.confirm,
        "hold": format_duration_s(d.hold_seconds),
        "ends_at": d.ends_at.isoformat(timespec="seconds") if d.ends_at else None,
        "channels": ",".join(d.channels) or "all",
    }


def format_duration_s(seconds: int) -> str:
    return format_duration(timedelta(seconds=seconds))


DROP_COLUMNS = [
    "code",
    "sku",
    "status",
    "price",
    "quantity",
    "remaining",
    "waitlist",
    "limit",
    "policy",
    "confirm",
    "hold",
    "ends_at",
    "channels",
]


@drop_app.command("start")
def drop_start(
    sku: Annotated[str, typer.Argument(help="The product to sell.")],
    qty: Annotated[int, typer.Option("--qty", help="Units offered in this drop.")],
    price: Annotated[
        str | None, typer.Option("--price", help="Unit price; the product's by default.")
    ] = None,
    duration: Annotated[
        str | None, typer.Option("--for", help="How long it stays live, e.g. 10m.")
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", help="Units per buyer.")] = None,
    channel: Annotated[
        list[str] | None,
        typer.Option("--channel", help="Chat it is live in, e.g. telegram:-100123 (repeatable)."),
    ] = None,
    policy: Annotated[DropPolicy, typer.Option("--policy")] = DropPolicy.HOLD,
    hold: Annotated[
        str | None, typer.Option("--hold", help="How long a claim holds stock; LIVEBUY_HOLD.")
    ] = None,
    code: Annotated[str | None, typer.Option("--code", help="Code buyers type; the SKU.")] = None,
    confirm: Annotated[
        str,
        typer.Option(
            "--confirm",
            help="Buyers with a saved card confirm: always, trusted (not repeat buyers)"
            " or 'above 30' (only above that amount).",
        ),
    ] = "always",
    promo: Annotated[
        bool, typer.Option("--promo", help="Free, one per person: paid with a public #buy.")
    ] = False,
) -> None:
    """Start a drop: buyers claim it with #buy in its chats."""
    config = settings()

    async def start(bus: MessageBus) -> DropView:
        product = await bus.deps.store.product(sku)
        terms = DropTerms.as_typed(
            sku=product.sku,
            quantity=qty,
            list_price=product.price,
            price=price,
            duration=parse_duration(duration) if duration else None,
            limit=limit,
            policy=policy,
            hold=parse_duration(hold) if hold else config.hold,
            confirm=confirm,
            promo=promo,
        )
        result: DropView = await bus.handle(c.StartDrop(terms, tuple(channel or ()), code))
        return result

    emit([drop_row(with_bus(start))], Format.TABLE, DROP_COLUMNS)


@drop_app.command("end")
def drop_end(
    code: Annotated[
        str | None, typer.Argument(help="The drop's code; the latest if omitted.")
    ] = None,
    channel: Annotated[
        str | None, typer.Option("--channel", help="Only a drop in this chat.")
    ] = None,
) -> None:
    """End a live drop (held orders stay payable until their hold ends)."""
    drop = with_bus(lambda bus: bus.handle(c.EndDrop(code, channel)))
    emit([drop_row(drop)], Format.TABLE, DROP_COLUMNS)


@drop_app.command("list")
def drop_list(
    status: Annotated[DropStatus | None, typer.Option("--status")] = None,
    fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.TABLE,
) -> None:
    """List drops, newest first."""
    drops = with_bus(lambda bus: bus.deps.store.drops(status))
    emit([drop_row(d) for d in drops], fmt, DROP_COLUMNS)


def auction_row(a: AuctionView) -> dict[str, Any]:
    return {
        "code": a.code,
        "sku": a.sku,
        "price": str(a.price or a.start),
        "bids": a.bids,
        "leader": a.leader or "",
        "close": a.close,
        "status": a.status,
        "outcome": a.outcome,
        "ends_at": a.ends_at.strftime("%Y-%m-%d %H:%M:%S"),
        "channels": ",".join(a.channels),
    }


AUCTION_COLUMNS = [
    "code", "sku", "price", "bids", "leader", "close", "status", "outcome", "ends_at", "channels"
]  # fmt: skip


class AuctionClose(StrEnum):
    SOFT = "soft"
    SUDDEN = "sudden"


@auction_app.command("start")
def auction_start(
    sku: Annotated[str, typer.Argument(help="The product (one unit is auctioned).")],
    start: Annotated[str, typer.Option("--start", help="Opening bid, e.g. 1.00.")],
    duration: Annotated[
        str | None, typer.Option("--for", help="How long it runs, e.g. 50s (the default).")
    ] = None,
    close: Annotated[
        AuctionClose, typer.Option("--close", help="soft: late bids extend; sudden: no.")
    ] = AuctionClose.SOFT,
    reserve: Annotated[
        str | None, typer.Option("--reserve", help="No sale below this price.")
    ] = None,
    step: Annotated[
        str | None, typer.Option("--step", help="A fixed increment instead of the ladder.")
    ] = None,
    channel: Annotated[
        list[str] | None,
        typer.Option("--channel", help="Chat it runs in, e.g. telegram:-100123 (repeatable)."),
    ] = None,
    code: Annotated[str | None, typer.Option("--code", help="Code bidders see; the SKU.")] = None,
) -> None:
    """Start an auction: bidders type #bid 15 (or /maxbid 40 in private) in its chats."""
    try:
        command = c.StartAuction(
            sku,
            parse_amount(start),
            parse_duration(duration) if duration else None,
            close.value,
            parse_amount(reserve) if reserve else None,
            parse_amount(step) if step else None,
            tuple(channel or ()),
            code,
            actor="cli",
        )
    except CommerceError as exc:
        raise fail(str(exc)) from None
    auction: AuctionView = with_bus(lambda bus: bus.handle(command), payments=True)
    emit([auction_row(auction)], Format.TABLE, AUCTION_COLUMNS)


@auction_app.command("end")
def auction_end(
    code: Annotated[str | None, typer.Argument(help="The auction; the only live one.")] = None,
    channel: Annotated[str | None, typer.Option("--channel", help="The chat it runs in.")] = None,
) -> None:
    """End an auction now: the highest bid wins (and gets its checkout link)."""
    auction: AuctionView = with_bus(
        lambda bus: bus.handle(c.EndAuction(code, channel, actor="cli")), payments=True
    )
    emit([auction_row(auction)], Format.TABLE, AUCTION_COLUMNS)


@auction_app.command("list")
def auction_list(
    fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.TABLE,
) -> None:
    """List auctions, newest first."""

    async def auctions(bus: MessageBus) -> list[AuctionView]:
        if bus.deps.auctions is None:  # pragma: no cover (bootstrap always wires them)
            return []
        return sorted(await bus.deps.auctions.auctions(), key=lambda a: -a.id)

    emit([auction_row(a) for a in with_bus(auctions)], fmt, AUCTION_COLUMNS)


# orders and sellers -----------------------------------------------------------------------


def order_row(o: OrderView) -> dict[str, Any]:
    return {
        "ref": o.ref,
        "status": o.status.value,
        "drop": o.drop_code,
        "sku": o.sku,
        "variant": o.variant,
        "quantity": o.quantity,
        "amount": str(o.amount.decimal()),
        "currency": o.amount.currency,
        "buyer": o.identity,
        "flags": f"disputes:{o.buyer_disputes}" if o.buyer_disputes else "",
        "chat": o.chat,
        "created_at": o.created_at.isoformat(timespec="seconds"),
        "hold_expires_at": o.hold_expires_at.isoformat(timespec="seconds")
        if o.hold_expires_at
        else None,
        "ship_to": o.ship_to,
    }


ORDER_COLUMNS = [
    "ref",
    "status",
    "drop",
    "sku",
    "variant",
    "quantity",
    "amount",
    "currency",
    "buyer",
    "flags",
    "chat",
    "created_at",
    "hold_expires_at",
    "ship_to",
]
# The table stays one short line per order: the address is in json and csv, and under
# `livebuy order REF`.
ORDER_TABLE_COLUMNS = ORDER_COLUMNS[:-1]


@app.command()
def orders(
    status: Annotated[
        OrderStatus | None, typer.Option("--status", help="Only this state.")
    ] = None,
    fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.TABLE,
    buyer: Annotated[str | None, typer.Option("--buyer", help="e.g. telegram:123")] = None,
) -> None:
    """List orders, newest first."""
    found = with_bus(lambda bus: bus.handle(c.ListOrders(status, buyer)))
    columns = ORDER_TABLE_COLUMNS if fmt is Format.TABLE else ORDER_COLUMNS
    emit([order_row(o) for o in found], fmt, columns)


@app.command()
def order(ref: Annotated[str, typer.Argument(help="The order reference.")]) -> None:
    """Show one order and every transition it went through, with its cause."""

    async def show(bus: MessageBus) -> tuple[OrderView, list[Any]]:
        return await bus.deps.store.order(ref), await bus.deps.store.history(ref)

    found, history = with_bus(show)
    emit([order_row(found)], Format.TABLE, ORDER_TABLE_COLUMNS)
    if found.ship_to:
        typer.echo(f"ship to: {found.ship_to}")
    typer.echo("")
    emit(
        [
            {
                "at": e.at.isoformat(timespec="seconds"),
                "from": e.from_status or "",
                "to": e.to_status,
                "cause": e.cause,
            }
            for e in history
        ],
        Format.TABLE,
        ["at", "from", "to", "cause"],
    )


@seller_app.command("add")
def seller_add(
    identity: Annotated[str, typer.Argument(help="e.g. telegram:123 or discord:456")],
    role: Annotated[str, typer.Option("--role", help="owner or cohost")] = "owner",
) -> None:
    """Allow an identity to run drops from chats."""
    with_bus(lambda bus: bus.handle(c.AddSeller(identity, role)))
    typer.echo(f"{identity} is now a seller ({role})")


# chat, payments -----------------------------------------------------------------------


@app.command()
def say(
    text: Annotated[str, typer.Argument(help="The message, e.g. '#buy TEE 2 M'.")],
    chat: Annotated[str, typer.Option("--chat", help="The chat, e.g. web:demo.")] = "web:demo",
    sender: Annotated[
        str, typer.Option("--as", help="Who says it: a name or an identity like telegram:42.")
    ] = "console",
    locale: Annotated[str | None, typer.Option("--locale", help="en, de, fr or es.")] = None,
) -> None:
    """Send one chat message through the same grammar and core as the chat adapters."""
    try:
        msg = console.message(chat, sender, text)
    except CommerceError as exc:
        raise fail(str(exc)) from None
    outcome = with_bus(lambda bus: bus.handle(msg), payments=True)
    renderer = Renderer(locale or settings().livebuy_locale)
    for line in console.lines(renderer.outcome(outcome, who=f"@{msg.display_name}")):
        typer.echo(line)


@app.command()
def refund(
    ref: Annotated[str, typer.Argument(help="The order reference.")],
    amount: Annotated[
        str | None, typer.Option("--amount", help="Part of the amount, e.g. 5.00; all if omitted.")
    ] = None,
    restock: Annotated[
        bool, typer.Option("--restock", help="Put the units back in stock.")
    ] = False,
) -> None:
    """Refund an order (all or part); the order moves when Stripe confirms."""

    async def ask(bus: MessageBus) -> str:
        order = await bus.deps.store.order(ref)
        money = Money.parse(amount, order.amount.currency) if amount else None
        result: str = await bus.handle(c.RefundOrder(ref, money, restock, actor="cli"))
        return result

    refund_id = with_bus(ask, payments=True)
    typer.echo(f"refund {refund_id} requested for order {ref.upper()}")


@app.command()
def status() -> None:
    """Show the workers, who holds each singleton duty, the outbox and the last webhook."""
    now = datetime.now(UTC)
    typer.echo(with_engine(lambda engine: status_report(engine, now)))


@app.command()
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


class BenchDatabase(StrEnum):
    SQLITE = "sqlite"
    POSTGRES = "postgres"


@bench_app.command("flash-drop")
def bench_flash_drop(
    claims: Annotated[int, typer.Option("--claims", min=1, help="How many #buy.")] = 10_000,
    units: Annotated[int, typer.Option("--units", min=1, help="Units in the drop.")] = 100,
    buyers: Annotated[int, typer.Option("--buyers", min=1, help="Distinct buyers.")] = 5_000,
    db: Annotated[BenchDatabase, typer.Option("--db")] = BenchDatabase.SQLITE,
    pg_url: Annotated[
        str, typer.Option("--pg-url", help="PostgreSQL server (a scratch database is made).")
    ] = "postgresql://postgres@127.0.0.1:5432/postgres",
    within: Annotated[
        float, typer.Option("--within", min=0.0, help="Seconds over which the claims arrive.")
    ] = 1.0,
    as_json: Annotated[
        bool, typer.Option("--json", help="All figures as one JSON object.")
    ] = False,
) -> None:
    """A flash drop through the real claim path, with the raw database limit beside it."""
    try:
        run = flash_drop.flash_drop(claims, units, buyers, db.value, pg_url, within)
        figures = asyncio.run(run)
    except (OSError, DBAPIError, asyncpg.PostgresError) as exc:
        raise fail(f"cannot run the benchmark ({_first_line(exc)})") from None
    typer.echo(json.dumps(figures, indent=2) if as_json else flash_drop.report(figures))
    if not figures["product"]["correct"]:
        raise typer.Exit(code=1)


@bench_app.command("webhook")
def bench_webhook(
    events: Annotated[
        int, typer.Option("--events", min=1, help="Orders paid by webhook.")
    ] = 1_000,
    duplicates: Annotated[
        float, typer.Option("--duplicates", min=0.0, max=1.0, help="Share delivered twice.")
    ] = 0.1,
    db: Annotated[BenchDatabase, typer.Option("--db")] = BenchDatabase.SQLITE,
    pg_url: Annotated[
        str, typer.Option("--pg-url", help="PostgreSQL server (a scratch database is made).")
    ] = "postgresql://postgres@127.0.0.1:5432/postgres",
    as_json: Annotated[
        bool, typer.Option("--json", help="All figures as one JSON object.")
    ] = False,
) -> None:
    """Signed Stripe webhooks against the app, next to a bare verify-and-parse handler."""
    try:
        figures = asyncio.run(webhook_bench.webhook(events, duplicates, db.value, pg_url))
    except (OSError, DBAPIError, asyncpg.PostgresError) as exc:
        raise fail(f"cannot run the benchmark ({_first_line(exc)})") from None
    typer.echo(json.dumps(figures, indent=2) if as_json else webhook_bench.report(figures))
    if not figures["correct"]:
        raise typer.Exit(code=1)


def main() -> None:
    """Console entry point."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # a bug: still one line for the operator, never a traceback
        typer.echo(f"error: unexpected {type(exc).__name__}: {str(exc)[:200]}", err=True)
        sys.exit(1)


# `livebuy show …` lives in its own module, which uses the helpers above.
from webhooks.show_cli import show_app  # noqa: E402

app.add_typer(show_app, name="show")

from webhooks.admin_cli import admin_app  # noqa: E402

app.add_typer(admin_app, name="admin")
