"""`livebuy auction …`: one unit, the highest bid wins."""

from enum import StrEnum
from typing import Annotated, Any

import typer

from commerce.domain import commands as c
from commerce.domain.drops import parse_duration
from commerce.domain.errors import CommerceError
from commerce.domain.money import parse_amount
from commerce.service_layer import queries
from commerce.service_layer.messagebus import MessageBus
from commerce.service_layer.results import AuctionView
from webhooks.cli.common import Format, emit, fail, price_allowed, typed_chats, with_bus

auction_app = typer.Typer(help="Auctions: one unit, the highest bid wins.", no_args_is_help=True)


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
    yes: Annotated[
        bool, typer.Option("--yes", help="Allow a price above LIVEBUY_MAX_PRICE.")
    ] = False,
) -> None:
    """Start an auction: bidders type #bid 15 (or /maxbid 40 in private) in its chats."""
    price_allowed(start, yes, "--start")
    if reserve is not None:
        price_allowed(reserve, yes, "--reserve")
    try:
        command = c.StartAuction(
            sku,
            parse_amount(start),
            parse_duration(duration) if duration else None,
            close.value,
            parse_amount(reserve) if reserve else None,
            parse_amount(step) if step else None,
            typed_chats(channel),
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
        return await queries.auctions(bus.reads)

    emit([auction_row(a) for a in with_bus(auctions)], fmt, AUCTION_COLUMNS)
