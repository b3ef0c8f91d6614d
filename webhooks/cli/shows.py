"""`livebuy show …`: prepare a show (run sheet from the command line or a CSV), run it, list it.

Registered on the main `livebuy` command by webhooks/cli/__init__.py.
"""

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.adapters.show_report import REPORT_COLUMNS, ShowReport, SqlShowReport, seconds
from commerce.domain import commands as c
from commerce.domain.drops import format_duration, parse_duration
from commerce.domain.errors import InvalidInput
from commerce.domain.money import Money
from commerce.domain.shipping import ShippingPolicy
from commerce.domain.shows import LotSpec, parse_lots_csv, parse_start
from commerce.service_layer import queries
from commerce.service_layer.messagebus import MessageBus
from commerce.service_layer.results import ShowView
from webhooks import spreadsheet
from webhooks.cli.common import (
    Format,
    emit,
    fail,
    price_allowed,
    settings,
    typed_chats,
    with_bus,
    with_engine,
)

show_app = typer.Typer(
    help="Shows: a run sheet of lots (PDD auctions, fixed-price drops, giveaways) run with /next.",
    no_args_is_help=True,
)

SHOW_COLUMNS = [
    "code", "title", "status", "starts_at", "channels", "lots", "live", "next", "sold", "shipping",
]  # fmt: skip
LOT_COLUMNS = ["position", "sku", "mode", "price", "quantity", "duration", "close", "status"]


def show_row(show: ShowView) -> dict[str, Any]:
    return {
        "code": show.code,
        "title": show.title,
        "status": show.status,
        "starts_at": show.starts_at.isoformat(timespec="minutes"),
        "channels": ",".join(show.channels),
        "lots": len(show.lots),
        "live": show.current.sku if show.current else "",
        "next": show.next.sku if show.next else "",
        "sold": show.sold,
        "shipping": policy_text(show.shipping),
    }


def policy_text(stored: str) -> str:
    """A show's shipping policy as sellers type it: buyer, free or cap:9.90."""
    policy = ShippingPolicy.from_stored(stored)
    if policy.cap is None:
        return policy.kind.value
    return f"cap:{Money(policy.cap, settings().livebuy_currency).decimal()}"


def lot_rows(show: ShowView) -> list[dict[str, Any]]:
    return [
        {
            "position": lot.position,
            "sku": lot.sku,
            "mode": lot.mode,
            "price": str(lot.price.decimal()) if lot.price else "",
            "quantity": lot.quantity,
            "duration": format_duration(timedelta(seconds=lot.duration_seconds))
            if lot.duration_seconds
            else "",
            "close": lot.close or "",
            "status": lot.status,
        }
        for lot in show.lots
    ]


def _lots_file(path: Path | None) -> tuple[LotSpec, ...]:
    if path is None:
        return ()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(f"cannot read {path}: {exc.__class__.__name__}") from None
    try:
        return tuple(parse_lots_csv(text))
    except InvalidInput as exc:
        raise fail(f"{path}: {exc}") from None


@show_app.command("create")
def show_create(
    title: Annotated[str, typer.Argument(help='The show\'s name, e.g. "Sunday cards".')],
    at: Annotated[str, typer.Option("--at", help="Start, e.g. '2026-12-06 20:00' (UTC).")],
    channels: Annotated[
        str,
        typer.Option("--channels", help="Its chats: telegram:-100123,discord:456,web:live"),
    ],
    code: Annotated[
        str | None, typer.Option("--code", help="What sellers type; from the title.")
    ] = None,
    lots: Annotated[
        Path | None,
        typer.Option("--lots", help="A CSV run sheet: sku,mode,price,duration,close,quantity"),
    ] = None,
    shipping: Annotated[
        str,
        typer.Option(
            "--shipping", help="Who pays shipping: buyer, free, or cap:9.90 per package."
        ),
    ] = "buyer",
) -> None:
    """Schedule a show: its chats are told now, reminded shortly before, and it opens at its
    start; /next puts lot after lot live."""
    try:
        starts_at = parse_start(at)
        policy = ShippingPolicy.parse(shipping, settings().livebuy_currency)
    except InvalidInput as exc:
        raise fail(str(exc)) from None
    specs = _lots_file(lots)
    chats = typed_chats([ch for ch in channels.split(",") if ch.strip()])

    async def create(bus: MessageBus) -> ShowView:
        command = c.CreateShow(title, starts_at, chats, code, lots=specs, shipping=policy)
        show: ShowView = await bus.handle(command)
        return show

    show = with_bus(create)
    emit([show_row(show)], Format.TABLE, SHOW_COLUMNS)


@show_app.command("lot")
def show_lot(
    show: Annotated[str, typer.Argument(help="The show's code.")],
    sku: Annotated[str, typer.Argument(help="The product.")],
    mode: Annotated[
        str,
        typer.Option(
            "--mode", help="pdd (auction from 1 for 50 s, sudden), auction, fixed, giveaway."
        ),
    ] = "pdd",
    price: Annotated[
        str | None, typer.Option("--price", help="Start price (auction) or unit price (fixed).")
    ] = None,
    quantity: Annotated[int | None, typer.Option("--qty", help="Units (fixed).")] = None,
    duration: Annotated[str | None, typer.Option("--for", help="e.g. 50s, 2m.")] = None,
    close: Annotated[
        str | None, typer.Option("--close", help="soft or sudden (auctions).")
    ] = None,
    yes: Annotated[
        bool, typer.Option("--yes", help="Allow a price above LIVEBUY_MAX_PRICE.")
    ] = False,
) -> None:
    """Add a lot at the end of a show's run sheet."""
    if price is not None:
        price_allowed(price, yes)
    try:
        spec = LotSpec.preset(
            sku,
            mode,
            price=Decimal(price.replace(",", ".")) if price else None,
            quantity=quantity,
            duration=parse_duration(duration) if duration else None,
            close=close,
        )
    except (InvalidInput, ArithmeticError) as exc:
        raise fail(str(exc) or f"{price!r} is not a price") from None

    async def add(bus: MessageBus) -> ShowView:
        result: ShowView = await bus.handle(c.AddLot(show, spec))
        return result

    emit(lot_rows(with_bus(add)), Format.TABLE, LOT_COLUMNS)


@show_app.command("import")
def show_import(
    show: Annotated[str, typer.Argument(help="The show's code.")],
    path: Annotated[Path, typer.Argument(help="CSV: sku,mode,price,duration,close,quantity")],
) -> None:
    """Add every lot of a CSV run sheet (checked whole before anything is added)."""
    specs = _lots_file(path)

    async def add(bus: MessageBus) -> ShowView:
        result: ShowView = await bus.handle(c.AddLots(show, specs))
        return result

    emit(lot_rows(with_bus(add)), Format.TABLE, LOT_COLUMNS)


@show_app.command("list")
def show_list(
    fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.TABLE,
) -> None:
    """Shows, the latest start first."""

    async def shows(bus: MessageBus) -> list[ShowView]:
        return await queries.shows(bus.reads)

    emit([show_row(s) for s in with_bus(shows)], fmt, SHOW_COLUMNS)


@show_app.command("lots")
def show_lots(
    show: Annotated[str, typer.Argument(help="The show's code.")],
    fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.TABLE,
) -> None:
    """A show's run sheet."""

    async def one(bus: MessageBus) -> ShowView:
        return await queries.show(bus.reads, show)

    emit(lot_rows(with_bus(one)), fmt, LOT_COLUMNS)


@show_app.command("next")
def show_next(show: Annotated[str, typer.Argument(help="The show's code.")]) -> None:
    """Put the show's next lot live (as /next in its chats)."""

    async def go(bus: MessageBus) -> ShowView:
        result: ShowView = await bus.handle(c.NextLot(show=show))
        return result

    emit([show_row(with_bus(go))], Format.TABLE, SHOW_COLUMNS)


@show_app.command("end")
def show_end(show: Annotated[str, typer.Argument(help="The show's code.")]) -> None:
    """End the show (the live lot closes as /end would)."""

    async def end(bus: MessageBus) -> ShowView:
        result: ShowView = await bus.handle(c.EndShow(show=show))
        return result

    emit([show_row(with_bus(end))], Format.TABLE, SHOW_COLUMNS)


# the report -------------------------------------------------------------------------------


class ReportFormat(StrEnum):
    MD = "md"
    CSV = "csv"
    JSON = "json"


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f} %" if whole else "–"


def report_csv(report: ShowReport) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=REPORT_COLUMNS)
    writer.writeheader()
    writer.writerows(spreadsheet.row(r) for r in report.rows())
    return out.getvalue()


def _md_table(header: list[str], rows: list[list[Any]]) -> list[str]:
    def line(cells: list[Any]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    return [line(header), "|" + "|".join(" --- " for _ in header) + "|", *map(line, rows)]


def report_markdown(report: ShowReport) -> str:
    """A readable report: totals, lots, sales per minute (peaks marked), platforms, funnel,
    unpaid wins, refunds."""
    money = report.money
    f = report.funnel
    when = report.opened_at or report.starts_at
    lines = [
        f"# {report.title} ({report.code})",
        "",
        f"Status: {report.status} · opened {when:%Y-%m-%d %H:%M} UTC"
        + (f" · ended {report.ended_at:%H:%M} UTC" if report.ended_at else "")
        + f" · chats: {', '.join(report.channels)}",
        "",
        f"**Revenue {money(report.revenue_minor)}** ({report.paid_orders} paid orders, "
        f"{report.items_sold} items) · refunded {money(report.refunds.refunded_minor)} · "
        f"net {money(report.net_minor)}",
        "",
        f"Paid: items {money(report.revenue_minor)} · shipping {money(report.shipping_minor)}"
        f" · tax {money(report.tax_minor)} · total {money(report.total_minor)}"
        f" · {report.packages} package{'' if report.packages == 1 else 's'} to send",
        "",
        "## Lots",
        "",
        *_md_table(
            ["#", "SKU", "Mode", "Result", "Price", "Buyers", "Seconds to sell"],
            [
                [
                    lot.position,
                    lot.sku,
                    lot.mode,
                    lot.result,
                    money(lot.price_minor),
                    ", ".join(lot.buyers),
                    seconds(lot.seconds_to_sell),
                ]
                for lot in report.lots
            ],
        ),
        "",
        "## Sales per minute",
        "",
    ]
    busy = [m for m in report.minutes if m.orders or m.peak]
    if busy:
        lines += _md_table(
            ["Minute (UTC)", "Orders", "Paid", "Revenue", "Peak"],
            [
                [f"{m.minute:%H:%M}", m.orders, m.paid, money(m.revenue_minor),
                 "▲ peak" if m.peak else ""]
                for m in busy
            ],
        )  # fmt: skip
        quiet = len(report.minutes) - len(busy)
        lines += ["", f"{len(report.minutes)} minutes, {quiet} without orders."]
    else:
        lines.append("No orders.")
    platforms = sorted(set(report.chatters) | set(report.buyers))
    lines += [
        "",
        "## Platforms",
        "",
        *_md_table(
            ["Platform", "Chatters", "Buyers"],
            [[p, report.chatters.get(p, 0), report.buyers.get(p, 0)] for p in platforms],
        ),
        "",
        "## Conversion",
        "",
        *_md_table(
            ["Step", "Count", "Of the step before"],
            [
                ["Claims (won #buy and auction wins)", f.claims, ""],
                ["Checkouts", f.checkouts, _percent(f.checkouts, f.claims)],
                ["Paid", f.paid, _percent(f.paid, f.checkouts)],
            ],
        ),
        "",
        "Every #buy of the fixed-price lots: "
        + (", ".join(f"{n} {s}" for s, n in report.claims_by_status.items()) or "none"),
        "",
        "## Unpaid wins",
        "",
    ]
    if report.unpaid:
        lines += _md_table(
            ["#", "SKU", "Winner", "Amount", "Status"],
            [[u.position, u.sku, u.buyer, money(u.amount_minor), u.status]
             for u in report.unpaid],
        )  # fmt: skip
    else:
        lines.append("None.")
    r = report.refunds
    lines += [
        "",
        "## Refunds and returns",
        "",
        f"{r.orders} refunded orders ({money(r.refunded_minor)}); {r.returns} returns "
        f"({r.returned_units} units back in stock).",
        "",
    ]
    return "\n".join(lines)


def load_report(code: str) -> ShowReport:
    async def work(engine: AsyncEngine) -> ShowReport:
        return await SqlShowReport(engine).report(code, datetime.now(UTC))

    return with_engine(work)


@show_app.command("report")
def show_report(
    show: Annotated[str, typer.Argument(help="The show's code.")],
    fmt: Annotated[
        ReportFormat,
        typer.Option("--format", help="md: readable; csv: one row per lot; json: everything."),
    ] = ReportFormat.MD,
) -> None:
    """How the show went: lots, sales per minute with peaks, chatters and buyers per
    platform, claims → checkouts → paid, unpaid wins, refunds and returns."""
    report = load_report(show)
    if fmt is ReportFormat.JSON:
        typer.echo(json.dumps(report.as_dict(), indent=2))
    elif fmt is ReportFormat.CSV:
        typer.echo(report_csv(report), nl=False)
    else:
        typer.echo(report_markdown(report))
