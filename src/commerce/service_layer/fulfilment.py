"""Use cases after the payment: shipping packages with tracking, what is left to ship, the
packing list. The buyer's news is written to the outbox in the shipment's own transaction."""

import logging
from dataclasses import replace

from commerce.domain import commands as c
from commerce.domain.errors import InvalidInput, NotFound
from commerce.domain.fulfilment import carrier_name, ship_by, tracking_code, tracking_link
from commerce.domain.pay_links import claimant_only
from commerce.service_layer import queries
from commerce.service_layer.deps import Deps, repos
from commerce.service_layer.packages import (
    SHIPPABLE,
    OrderShipped,
    Package,
    ShipmentPlan,
    Shipments,
    ShipmentView,
)
from commerce.service_layer.queries import Reads

log = logging.getLogger(__name__)


def _shipments(deps: Deps) -> Shipments:
    if deps.shipments is None:
        raise InvalidInput("shipping is not available here")
    return repos(deps).shipments


async def ship_orders(cmd: c.ShipOrders, deps: Deps) -> list[ShipmentView]:
    """Every parcel is checked before anything changes: one wrong ref, code or order
    state refuses the whole command (naming the file's line), and the rest is applied in
    one transaction, with the buyers' messages."""
    if not cmd.parcels:
        raise InvalidInput("name at least one order to ship")
    shipments = _shipments(deps)
    plans: list[ShipmentPlan] = []
    taken: dict[str, int | None] = {}  # order ref -> the line it was named on
    for parcel in cmd.parcels:
        where = f"line {parcel.line}: " if parcel.line is not None else ""
        try:
            plans.append(await _plan(parcel, shipments, deps, taken, where))
        except NotFound as exc:
            raise NotFound(f"{where}{exc}") from None
    shipped = await shipments.ship(plans, cmd.actor, deps.clock.now())
    log.info("%d package(s) shipped by %s", len(shipped), cmd.actor)
    return shipped


async def _plan(
    parcel: c.Parcel,
    shipments: Shipments,
    deps: Deps,
    taken: dict[str, int | None],
    where: str,
) -> ShipmentPlan:
    if not parcel.refs:
        raise InvalidInput(f"{where}name the order to ship")
    try:
        tracking = tracking_code(parcel.tracking)
        carrier = carrier_name(parcel.carrier)
    except InvalidInput as exc:
        raise InvalidInput(f"{where}{exc}") from None
    named = {ref.strip().upper() for ref in parcel.refs}
    packages = await shipments.packages(sorted(named))
    refs: list[str] = []
    for package in packages:
        for order in package.orders:
            if order.ref in named and order.status not in SHIPPABLE:
                raise InvalidInput(f"{where}{_not_shippable(order.ref, order.status.value)}")
            if order.status not in SHIPPABLE:
                continue  # a refunded order of a bundle stays behind
            if order.ref in taken:
                line = taken[order.ref]
                also = f" (line {line} too)" if line is not None else ""
                raise InvalidInput(f"{where}order {order.ref} is named twice{also}")
            taken[order.ref] = parcel.line
            refs.append(order.ref)
    link = tracking_link(carrier, tracking)
    letters = []
    if deps.letters is not None:
        for package in packages:
            leaving = tuple(o for o in package.orders if o.ref in refs)
            buyer = ""
            if leaving and claimant_only(leaving[0].identity):  # said in public, naming them
                buyer = await queries.buyer_name(Reads(deps), leaving[0].ref)
            news = OrderShipped(leaving, tracking, carrier, link, buyer)
            letters += deps.letters.write(news)
    return ShipmentPlan(tuple(refs), tracking, carrier, link, tuple(letters))


def _not_shippable(ref: str, status: str) -> str:
    if status == "fulfilled":
        return f"order {ref} is shipped already"
    if status in ("reserved", "checkout_open"):
        return f"order {ref} is not paid yet: only paid orders ship"
    return f"order {ref} is {status}: only paid orders ship"


async def list_to_ship(cmd: c.ListToShip, deps: Deps) -> list[Package]:
    """Paid packages not yet shipped, oldest first, each with its ship-by time."""
    now = deps.clock.now()
    out = []
    for package in await _shipments(deps).to_ship(cmd.limit):
        due = ship_by(package.paid_at, deps.ship_within)
        out.append(replace(package, due=due, overdue=now >= due))
    return out


async def packing_list(cmd: c.PackingList, deps: Deps) -> list[Package]:
    if cmd.since and cmd.until and cmd.until <= cmd.since:
        raise InvalidInput("the packing list's end comes before its start")
    return await _shipments(deps).packing_list(cmd.show, cmd.since, cmd.until)
