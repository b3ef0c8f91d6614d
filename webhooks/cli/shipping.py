"""`livebuy shipping …`: the shop's shipping zones (what a package costs where)."""

from typing import Annotated, Any

import typer

from commerce.domain import commands as c
from commerce.domain.errors import CommerceError
from commerce.domain.money import Money
from commerce.domain.shipping import Zone
from webhooks.cli.common import Format, emit, fail, settings, with_bus

shipping_app = typer.Typer(help="Shipping zones and their prices.", no_args_is_help=True)
zone_app = typer.Typer(help="Where the shop ships and what a package costs.", no_args_is_help=True)
shipping_app.add_typer(zone_app, name="zone")

ZONE_COLUMNS = ["name", "countries", "first", "each", "cap", "currency"]


def zone_row(zone: Zone) -> dict[str, Any]:
    def amount(minor: int | None) -> str | None:
        return None if minor is None else str(Money(minor, zone.currency).decimal())

    return {
        "name": zone.name,
        "countries": zone.countries_text(),
        "first": amount(zone.first),
        "each": amount(zone.each),
        "cap": amount(zone.cap),
        "currency": zone.currency,
    }


@zone_app.command("add")
def zone_add(
    name: Annotated[str, typer.Argument(help='The zone\'s name, e.g. EU or "Rest of world".')],
    countries: Annotated[
        str, typer.Option("--countries", help="ISO codes, e.g. DE,AT; * for the rest.")
    ],
    first: Annotated[str, typer.Option("--first", help="A package's first unit, e.g. 4.90.")],
    each: Annotated[str, typer.Option("--each", help="Each further unit, e.g. 1.00.")],
    cap: Annotated[
        str | None, typer.Option("--cap", help="At most this per package, e.g. 12.00.")
    ] = None,
) -> None:
    """Add a shipping zone (prices in LIVEBUY_CURRENCY)."""
    currency = settings().livebuy_currency
    try:
        zone = Zone.parse(name, countries, first, each, cap, currency)
    except CommerceError as exc:
        raise fail(str(exc)) from None
    added: Zone = with_bus(lambda bus: bus.handle(c.AddZone(zone)))
    emit([zone_row(added)], Format.TABLE, ZONE_COLUMNS)


@zone_app.command("list")
def zone_list(
    fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.TABLE,
) -> None:
    """List the shipping zones; without any, no shipping is charged."""
    zones: list[Zone] = with_bus(lambda bus: bus.handle(c.ListZones()))
    emit([zone_row(z) for z in zones], fmt, ZONE_COLUMNS)


@zone_app.command("remove")
def zone_remove(name: Annotated[str, typer.Argument(help="The zone's name.")]) -> None:
    """Remove a shipping zone: orders priced already keep their shipping."""
    removed: Zone = with_bus(lambda bus: bus.handle(c.RemoveZone(name)))
    typer.echo(f"removed zone {removed.name}")
