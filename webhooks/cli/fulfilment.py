"""`livebuy ship`, `livebuy packing-list` and `livebuy cancel`: the seller's work after the
sale. Registered on the main `livebuy` command by webhooks/cli/__init__.py."""

from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from commerce.domain import commands as c
from commerce.domain.drops import parse_duration
from commerce.domain.errors import InvalidInput
from commerce.domain.fulfilment import tracking_file
from commerce.service_layer.results import Release
from webhooks import packing
from webhooks.cli.common import fail, with_bus

MAX_FILE = 5 * 1024 * 1024  # a label tool's export of a busy week is far smaller


def ship(
    refs: Annotated[
        list[str] | None, typer.Argument(help="Orders in the package (one names its bundle).")
    ] = None,
    tracking: Annotated[
        str | None, typer.Option("--tracking", help="The package's tracking code.")
    ] = None,
    carrier: Annotated[
        str, typer.Option("--carrier", help="e.g. DHL, UPS, USPS, Royal Mail, DPD.")
    ] = "",
    csv_file: Annotated[
        Path | None,
        typer.Option("--csv", help="A file with columns order,tracking,carrier (one per line)."),
    ] = None,
) -> None:
    """Marks paid orders shipped with their tracking code; each buyer is told privately on
    the platform they bought on. With --csv, the whole file is checked first: one wrong line
    and nothing is shipped."""
    if csv_file is not None:
        if refs or tracking or carrier:
            raise fail("give either order refs with --tracking, or --csv FILE, not both")
        parcels = _parcels_of(csv_file)
        actor = f"csv:{csv_file.name}"[:80]
    else:
        if not refs:
            raise fail("name the orders to ship (or give --csv FILE)")
        if tracking is None:
            raise fail("--tracking is required: the code on the package's label")
        parcels = (c.Parcel(tuple(refs), tracking, carrier),)
        actor = "cli"
    shipped = with_bus(lambda bus: bus.handle(c.ShipOrders(parcels, actor)))
    for shipment in shipped:
        carried = f" ({shipment.carrier})" if shipment.carrier else ""
        line = f"shipped {', '.join(shipment.refs)}: tracking {shipment.tracking}{carried}"
        typer.echo(line + (f" {shipment.link}" if shipment.link else ""))


def _parcels_of(path: Path) -> tuple[c.Parcel, ...]:
    try:
        if path.stat().st_size > MAX_FILE:
            raise fail(f"{path} is larger than {MAX_FILE // 1024 // 1024} MB")
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise fail(f"{path} is not UTF-8 text") from None
    except OSError as exc:
        raise fail(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        lines = tracking_file(text)
    except InvalidInput as exc:
        raise fail(f"{path.name}: {exc}; nothing was shipped") from None
    return tuple(c.Parcel((t.order,), t.tracking, t.carrier, t.line) for t in lines)


class PackFormat(StrEnum):
    CSV = "csv"
    HTML = "html"


def packing_list(
    show: Annotated[str | None, typer.Option("--show", help="The show's code.")] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Paid within, e.g. 24h or 2d (default 24h).")
    ] = None,
    fmt: Annotated[PackFormat, typer.Option("--format", help="csv or html.")] = PackFormat.CSV,
) -> None:
    """What to pack: the paid packages not shipped yet of one show, or of the last day."""
    now = datetime.now(UTC)
    try:
        window = parse_duration(since) if since else None
    except InvalidInput as exc:
        raise fail(str(exc)) from None
    if window is None and show is None:
        window = parse_duration("24h")
    start = now - window if window else None
    packages = with_bus(lambda bus: bus.handle(c.PackingList(show, start)))
    if fmt is PackFormat.CSV:
        typer.echo(packing.to_csv(packages), nl=False)
    else:
        typer.echo(packing.to_html(packages, packing.title(show, start, None), now))


def cancel(
    ref: Annotated[str, typer.Argument(help="The unpaid order.")],
    reason: Annotated[str, typer.Option("--reason", help="Told to the buyer.")] = "",
) -> None:
    """Cancels an unpaid order: its units go back to stock or to the waitlist's next buyer,
    and the buyer is told. A paid order is refunded instead (`livebuy refund`)."""
    cause = "cancel:cli" + (f" ({' '.join(reason.split())})" if reason.strip() else "")
    release: Release = with_bus(
        lambda bus: bus.handle(c.CancelOrder(None, ref, cause=cause[:200], reason=reason)),
        payments=True,
    )
    went = "to the waitlist's next buyer" if release.promoted else "back to stock"
    typer.echo(f"order {release.order.ref} cancelled; its units went {went}")
