"""`livebuy orders`, `livebuy order REF` and `livebuy refund REF`."""

from typing import Annotated, Any

import typer

from commerce.domain import commands as c
from commerce.domain.orders import OrderStatus
from commerce.service_layer import queries
from commerce.service_layer.messagebus import MessageBus
from commerce.service_layer.results import OrderView
from webhooks.cli.common import Format, emit, with_bus


def order_row(o: OrderView) -> dict[str, Any]:
    return {
        "ref": o.ref,
        "status": o.status.value,
        "drop": o.drop_code,
        "sku": o.sku,
        "variant": o.variant,
        "quantity": o.quantity,
        "amount": str(o.amount.decimal()),  # the items
        "shipping": str(o.shipping.decimal()),
        "tax": str(o.tax.decimal()),
        "total": str(o.total.decimal()),
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
    "shipping",
    "tax",
    "total",
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


def order(ref: Annotated[str, typer.Argument(help="The order reference.")]) -> None:
    """Show one order and every transition it went through, with its cause."""

    async def show(bus: MessageBus) -> tuple[OrderView, list[Any]]:
        return await queries.order_history(bus.reads, ref)

    found, history = with_bus(show)
    emit([order_row(found)], Format.TABLE, ORDER_TABLE_COLUMNS)
    package = f" (package {found.bundle_id})" if found.bundle_id is not None else ""
    typer.echo(
        f"items {found.amount} + shipping {found.shipping}{package} + tax {found.tax}"
        f" = {found.total}"
    )
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


def refund(
    ref: Annotated[str, typer.Argument(help="The order reference.")],
    amount: Annotated[
        str | None, typer.Option("--amount", help="Part of the amount, e.g. 5.00; all if omitted.")
    ] = None,
    restock: Annotated[
        bool, typer.Option("--restock", help="Put the units back in stock.")
    ] = False,
    bundle: Annotated[
        bool,
        typer.Option("--bundle", help="Every order of its bundle, in full with the shipping."),
    ] = False,
) -> None:
    """Refund an order (all or part); the order moves when Stripe confirms. An order of a
    bundle whose other items still ship keeps the shipping; --bundle refunds it all."""
    command = c.RefundOrder(ref, None, restock, actor="cli", part=amount, bundle=bundle)
    refund_id = with_bus(lambda bus: bus.handle(command), payments=True)
    whose = "the bundle of order" if bundle else "order"
    typer.echo(f"refund {refund_id} requested for {whose} {ref.upper()}")
