"""Shipping: the shop's zones, what a checkout offers for shipping, and the check of what
was paid for it against the address's zone (never silently under-charged).

Without any zone nothing here charges anything: an upgraded shop works as before.
"""

from dataclasses import replace

from commerce.domain import commands as c
from commerce.domain.countries import ISO_COUNTRIES
from commerce.domain.errors import NotAllowed
from commerce.domain.money import Money
from commerce.domain.shipping import (
    MAX_OPTIONS,
    ShippingPolicy,
    Zone,
    country_of,
    package_total,
    zone_for,
)
from commerce.service_layer.deps import Deps, repos
from commerce.service_layer.ports import ShippingOption, ShippingStore
from commerce.service_layer.results import OrderView, ShippingShare


def shipping_store(deps: Deps) -> ShippingStore:
    if deps.shipping is None:
        raise NotAllowed("shipping zones are not available here")
    return repos(deps).shipping


async def add_zone(cmd: c.AddZone, deps: Deps) -> Zone:
    return await shipping_store(deps).add_zone(cmd.zone, deps.clock.now())


async def remove_zone(cmd: c.RemoveZone, deps: Deps) -> Zone:
    """Orders already priced keep their shipping; later ones no longer ship there."""
    return await shipping_store(deps).remove_zone(cmd.name)


async def list_zones(cmd: c.ListZones, deps: Deps) -> list[Zone]:
    return await shipping_store(deps).zones()


def zone_countries(zone: Zone, zones: list[Zone]) -> frozenset[str]:
    """Where a zone ships: its countries, or for the rest of the world every country no
    other zone names."""
    if not zone.world:
        return zone.countries
    return ISO_COUNTRIES - frozenset().union(*(z.countries for z in zones))


def option_name(share: ShippingShare, zone: Zone) -> str:
    if share.with_order:
        return f"Shipping (bundled with order {share.with_order})"
    return f"Shipping, {zone.name}"


async def known_address(order: OrderView, deps: Deps) -> str | None:
    """Where the order ships if the buyer did not say otherwise: the address recorded for
    it, or the one of the buyer's last paid order."""
    if order.ship_to:
        return order.ship_to
    return await repos(deps).cards.ship_to(order.identity) if deps.cards is not None else None


async def checkout_shipping(
    order: OrderView, deps: Deps
) -> tuple[tuple[ShippingOption, ...], tuple[str, ...]]:
    """The shipping a checkout of the order offers, and the countries it ships to.

    The buyer's address known: the order joins its package now (under the package's lock)
    and the page offers that one price. Unknown: one option per zone (at most five), each
    the price of a new package in that zone; what the buyer chose is checked against the
    address when the payment comes (`check_paid_shipping`). No zone: nothing."""
    if deps.shipping is None or order.digital:
        return (), ()
    zones = await repos(deps).shipping.zones()
    if not zones:
        return (), ()
    info = await repos(deps).shipping.order_shipping(order.ref)
    if info.units == 0:
        return (), ()
    address = await known_address(order, deps)
    zone = zone_for(zones, country_of(address))
    if address and zone is not None:
        share = await repos(deps).shipping.join_bundle(
            order.ref, address, None, deps.bundle_window, deps.clock.now()
        )
        if share is not None:
            zone = next((z for z in zones if z.name == share.zone), zone)
            option = ShippingOption(option_name(share, zone), Money(share.charged, share.currency))
            return (option,), tuple(sorted(zone_countries(zone, zones)))
    policy = ShippingPolicy.from_stored(info.policy)
    offered = [z for z in zones if z.currency.lower() == info.currency.lower()][:MAX_OPTIONS]
    options = tuple(
        ShippingOption(
            f"Shipping, {z.name}", Money(package_total(z, policy, info.units), z.currency)
        )
        for z in offered
    )
    countries = frozenset().union(*(zone_countries(z, zones) for z in offered))
    return options, tuple(sorted(countries))


async def charge_shipping(order: OrderView, deps: Deps) -> int:
    """The shipping of an order paid without a page (a saved card charged, a Telegram
    invoice): the order joins the package of the buyer's known address now. 0 when nothing
    ships, no zone ships there, or the address is not known."""
    if deps.shipping is None or order.digital:
        return 0
    if order.bundle_id is not None:
        return order.shipping_amount
    address = await known_address(order, deps)
    if not address:
        return 0
    share = await repos(deps).shipping.join_bundle(
        order.ref, address, None, deps.bundle_window, deps.clock.now()
    )
    return share.charged if share is not None else 0


async def price_invoice(order: OrderView, deps: Deps) -> OrderView:
    """The order with the shipping a platform's own invoice charges (a Telegram invoice
    has fixed prices): the package's share for the buyer's known address; unknown, the
    price of a new package in the dearest zone (never less than the address will cost:
    what it paid over counts towards the package's later orders)."""
    if deps.shipping is None or order.digital or order.bundle_id is not None:
        return order
    postage = await charge_shipping(order, deps)
    fresh = await repos(deps).orders.order(order.ref)
    if fresh.bundle_id is not None or postage:
        return replace(order, shipping_amount=fresh.shipping_amount, bundle_id=fresh.bundle_id)
    zones = [z for z in await repos(deps).shipping.zones() if z.currency == order.amount.currency]
    info = await repos(deps).shipping.order_shipping(order.ref)
    if not zones or info.units == 0:
        return order
    policy = ShippingPolicy.from_stored(info.policy)
    dearest = max(package_total(z, policy, info.units) for z in zones)
    await repos(deps).shipping.quote(order.ref, dearest)
    return replace(order, shipping_amount=dearest)


async def check_paid_shipping(
    order: OrderView, ship_to: str | None, paid: int | None, tax: int | None, deps: Deps
) -> str | None:
    """What is wrong with the shipping a checkout's payment paid (for the order's review),
    or None. The order joins its package (the address is known now) with what it paid;
    paid less than the package's price for the address's zone, the difference is named."""
    if deps.shipping is None:
        return None
    if tax:
        await repos(deps).shipping.set_tax(order.ref, tax)
    if paid is None:
        return None  # no shipping was offered: the amount check covers the payment
    currency = order.amount.currency
    if order.bundle_id is not None:  # priced for a known address when the page was made
        if paid < order.shipping_amount:
            return _short(order.shipping_amount - paid, paid, order.shipping_amount, currency)
        return None
    if not ship_to:
        return None if paid == 0 else "shipping paid without an address"
    share = await repos(deps).shipping.join_bundle(
        order.ref, ship_to, paid, deps.bundle_window, deps.clock.now()
    )
    if share is None:
        if paid == 0:
            return None  # nothing ships, or no zone: nothing was owed
        return f"shipping paid, but no zone ships to {country_of(ship_to) or 'the address'}"
    if share.short:
        return _short(share.short, share.charged, share.due, currency, share.zone)
    return None


def _short(missing: int, paid: int, due: int, currency: str, zone: str = "") -> str:
    where = f" in zone {zone}" if zone else ""
    return (
        f"shipping short by {Money(missing, currency)}: paid {Money(paid, currency)},"
        f" the package{where} costs {Money(due, currency)}"
    )
