"""The `livebuy` command: run the service and operate the shop from a terminal.

One module per command group; this one only assembles them, in the order `livebuy --help`
lists them (commands first, then groups).
"""

import sys

import typer

from webhooks.cli import (
    admin,
    auctions,
    bench,
    chat,
    db,
    drops,
    fulfilment,
    operations,
    orders,
    products,
    sellers,
    serve,
    shipping,
    shows,
)
from webhooks.cli.help import TidyGroup

app = typer.Typer(
    cls=TidyGroup,  # readable --help: no <bool>/<str> placeholders, no broken sentences
    help="livebuy: sell in live chats. Buyers type #buy, Stripe takes the money.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command()(serve.run)
app.command("demo")(serve.demo_show)
app.command()(orders.orders)
app.command()(orders.order)
app.command()(chat.say)
app.command()(orders.refund)
app.command()(fulfilment.cancel)
app.command()(fulfilment.ship)
app.command("packing-list")(fulfilment.packing_list)
app.command()(operations.status)
app.command()(operations.reconcile)
app.add_typer(db.db_app, name="db")
app.add_typer(products.product_app, name="product")
app.add_typer(drops.drop_app, name="drop")
app.add_typer(auctions.auction_app, name="auction")
app.add_typer(sellers.seller_app, name="seller")
app.add_typer(bench.bench_app, name="bench")
app.add_typer(shows.show_app, name="show")
app.add_typer(shipping.shipping_app, name="shipping")
app.add_typer(admin.admin_app, name="admin")


def main() -> None:
    """Console entry point."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # a bug: still one line for the operator, never a traceback
        typer.echo(f"error: unexpected {type(exc).__name__}: {str(exc)[:200]}", err=True)
        sys.exit(1)
