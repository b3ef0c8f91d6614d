"""`livebuy drop …`: drops, a quantity of a product sold in chats."""

from datetime import timedelta
from typing import Annotated, Any

import typer

from commerce.domain import commands as c
from commerce.domain.drops import (
    DropPolicy,
    DropStatus,
    DropTerms,
    format_duration,
    parse_duration,
)
from commerce.service_layer import queries
from commerce.service_layer.messagebus import MessageBus
from commerce.service_layer.results import DropView
from webhooks.cli.common import (
    Format,
    all_chats_allowed,
    emit,
    fail,
    interactive,
    price_allowed,
    settings,
    typed_chats,
    with_bus,
)

drop_app = typer.Typer(help="Drops: a quantity of a product sold in chats.", no_args_is_help=True)


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
    all_chats: Annotated[
        bool, typer.Option("--all-chats", help="Live in every chat (no --channel needed).")
    ] = False,
    yes: Annotated[
        bool, typer.Option("--yes", help="Allow a price above LIVEBUY_MAX_PRICE.")
    ] = False,
) -> None:
    """Start a drop: buyers claim it with #buy in its chats."""
    config = settings()
    if price is not None:
        price_allowed(price, yes)
    chats = typed_chats(channel)
    all_chats_allowed(f"the drop of {sku.upper()}", channel, all_chats)

    async def start(bus: MessageBus) -> DropView:
        product = await queries.product(bus.reads, sku)
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
        result: DropView = await bus.handle(c.StartDrop(terms, chats, code))
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
    if code is None:
        code = _the_one_live(channel)
    drop = with_bus(lambda bus: bus.handle(c.EndDrop(code, channel)))
    emit([drop_row(drop)], Format.TABLE, DROP_COLUMNS)


def _the_one_live(channel: str | None) -> str | None:
    """Without a code: the only live drop (of the chat), or the operator chooses; a script
    that names none while several are live is told which ones are."""
    live = with_bus(lambda bus: queries.live_drops(bus.reads))
    if channel is not None:
        live = [d for d in live if not d.channels or channel.lower() in d.channels]
    codes = [d.code for d in live]
    if len(codes) < 2:
        return None  # the core ends that one, or says none is live
    if not interactive():
        raise fail(f"{len(codes)} drops are live ({', '.join(codes)}): name one to end")
    typed: str = typer.prompt(f"{len(codes)} drops are live ({', '.join(codes)}); end which one")
    chosen = typed.strip().upper()
    if chosen not in codes:
        raise fail(f"{typed!r} is not one of {', '.join(codes)}")
    return chosen


@drop_app.command("list")
def drop_list(
    status: Annotated[DropStatus | None, typer.Option("--status")] = None,
    fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.TABLE,
) -> None:
    """List drops, newest first."""
    drops = with_bus(lambda bus: queries.drops(bus.reads, status))
    emit([drop_row(d) for d in drops], fmt, DROP_COLUMNS)
