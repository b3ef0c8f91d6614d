"""One async function per command: the use cases of the shop."""

from collections.abc import Callable, Sequence
from dataclasses import replace

from commerce.domain import commands as c
from commerce.domain.errors import InvalidInput, NotAllowed, NotFound
from commerce.domain.identity import ChatRef, Identity
from commerce.domain.media import description
from commerce.domain.orders import CANCELLABLE, OrderStatus
from commerce.domain.pay_links import claimant_only
from commerce.domain.products import check_image, normalise_sku
from commerce.service_layer import giveaways, queries
from commerce.service_layer.auctions import close_due_auctions
from commerce.service_layer.checkout import retry_checkouts, with_checkout
from commerce.service_layer.deps import Deps, repos
from commerce.service_layer.events import HoldReleased, emit
from commerce.service_layer.outbox import Outgoing
from commerce.service_layer.packages import OrderCancelled
from commerce.service_layer.queries import Reads
from commerce.service_layer.results import (
    ClaimResult,
    DropEnded,
    DropStarted,
    DropView,
    HoldExpired,
    OrderView,
    ProductView,
    RefusalReason,
    Release,
    WaitlistClosed,
)
from commerce.service_layer.unit_of_work import after_commit, one_unit

SELLER_ROLES = ("owner", "cohost")
# Paid orders are refunded, never cancelled.
PAID_STATES = frozenset(
    {OrderStatus.PAID, OrderStatus.FULFILLED, OrderStatus.PARTIALLY_REFUNDED, OrderStatus.DISPUTED}
)


def _check_stock(stock: int) -> None:
    if not 0 <= stock <= 1_000_000:
        raise InvalidInput("stock must be between 0 and 1,000,000")


async def add_product(cmd: c.AddProduct, deps: Deps) -> ProductView:
    _check_stock(cmd.stock)
    return await repos(deps).products.add_product(cmd.spec, cmd.stock, deps.clock.now())


async def update_product(cmd: c.UpdateProduct, deps: Deps) -> ProductView:
    if cmd.name is not None and not cmd.name.strip():
        raise InvalidInput("a product needs a name")
    if cmd.price is not None and cmd.price.minor <= 0:
        raise InvalidInput("price must be above zero")
    if cmd.ship_units is not None and not 1 <= cmd.ship_units <= 100:
        raise InvalidInput(f"size class {cmd.ship_units}: use 1 to 100 units")
    check_image(cmd.image)
    about = None if cmd.description is None else description(cmd.description)
    return await repos(deps).products.update_product(
        cmd.sku, cmd.name, cmd.price, cmd.ship_units, cmd.image, about
    )


async def set_stock(cmd: c.SetStock, deps: Deps) -> ProductView:
    _check_stock(cmd.stock)
    return await repos(deps).products.set_stock(cmd.sku, cmd.stock, cmd.variant)


async def start_drop(cmd: c.StartDrop, deps: Deps) -> DropView:
    channels = tuple(str(ChatRef.parse(ch)) for ch in cmd.channels)
    drop = await repos(deps).drops.start_drop(
        cmd.terms, cmd.code, channels, cmd.actor, deps.clock.now()
    )
    if cmd.announce and channels:  # a drop in every chat has no list of chats to tell
        await deps.notifier.notify(DropStarted(drop))
    return drop


async def end_drop(cmd: c.EndDrop, deps: Deps) -> DropView:
    drop, waitlist = await repos(deps).drops.end_drop(cmd.code, cmd.chat, deps.clock.now())
    await deps.notifier.notify(DropEnded(drop))
    for identity, chat in waitlist:
        await deps.notifier.notify(WaitlistClosed(drop, identity, chat))
    return drop


async def claim(cmd: c.Claim, deps: Deps) -> ClaimResult:
    """A claim answered with its checkout link (one-message buying: one_message.buy)."""
    return await with_checkout(await take_units(cmd, deps), deps)


async def take_units(
    cmd: c.Claim, deps: Deps, link: Callable[[str], str] | None = None
) -> ClaimResult:
    """The claim decided by the store's claim writer. `link`: a won hold of a buyer with no
    saved card gets its pay link in the claim's own transaction (checkout.link_maker)."""
    identity, chat = str(Identity.parse(cmd.identity)), str(ChatRef.parse(cmd.chat))
    if not 1 <= cmd.quantity <= 999:
        raise InvalidInput("quantity must be between 1 and 999")
    code = normalise_sku(cmd.code) if cmd.code else None
    now = cmd.received_at or deps.clock.now()
    # Normalised: 'Telegram:42' is the same buyer as 'telegram:42', in the same chat.
    normalised = replace(cmd, identity=identity, chat=chat, code=code, received_at=now)
    result = await repos(deps).holds.claim(normalised, now, link)
    if code and result.reason is RefusalReason.NO_LIVE_DROP:
        # A typo ('#buy MUGG') while MUG is live: name what is. Read only after the refusal,
        # so the claim writer's path stays as it is.
        live = await live_codes(deps, chat)
        if live:
            return replace(result, reason=RefusalReason.UNKNOWN_CODE, code=code, live=live)
    return result


async def live_codes(deps: Deps, chat: str) -> tuple[str, ...]:
    """The codes of the drops a `#buy` in this chat may claim from, oldest first."""
    drops = await queries.live_drops(Reads(deps), chat)  # newest first
    return tuple(dict.fromkeys(d.code for d in reversed(drops)))


async def pass_hold(cmd: c.PassHold, deps: Deps) -> Release:
    customer = await repos(deps).customers.customer_id(cmd.identity)
    code = normalise_sku(cmd.code) if cmd.code else None
    order = None
    if customer is not None:
        order = await repos(deps).holds.latest_cancellable(customer, cmd.chat, code)
    if order is None:
        raise NotFound("you hold nothing here to pass")
    return await _release(order, OrderStatus.CANCELLED, f"pass:{cmd.identity}", deps)


async def cancel_order(cmd: c.CancelOrder, deps: Deps) -> Release:
    if cmd.identity is None:  # an operator: the buyer is told, with the reason
        if not cmd.ref:
            raise InvalidInput("name the order to cancel")
        order = await repos(deps).orders.order(cmd.ref)
        if order.status not in CANCELLABLE:
            raise InvalidInput(_not_cancellable(order))
        reason = " ".join(cmd.reason.split())[:200]
        cause = cmd.cause or "operator"
        letters = []
        if deps.letters is not None:
            buyer = await _name_in_public(order, deps)
            letters = deps.letters.write(OrderCancelled(order, reason, buyer))
        return await _release(order, OrderStatus.CANCELLED, cause, deps, letters)
    else:
        customer = await repos(deps).customers.customer_id(cmd.identity)
        if cmd.ref:
            order = await repos(deps).orders.order(cmd.ref)
            if customer is None or await repos(deps).orders.order_customer(cmd.ref) != customer:
                raise NotAllowed(f"order {order.ref} is not yours")
        else:
            found = None
            if customer is not None:
                found = await repos(deps).holds.latest_cancellable(customer, None, None)
            if found is None:
                raise NotFound("you have no unpaid order to cancel")
            order = found
        cause = cmd.cause or f"cancel:{cmd.identity}"
    return await _release(order, OrderStatus.CANCELLED, cause, deps)


async def _name_in_public(order: OrderView, deps: Deps) -> str:
    """The name a buyer of a chat without private messages is told under, in public."""
    if not claimant_only(order.identity):
        return ""
    return await queries.buyer_name(Reads(deps), order.ref)


def _not_cancellable(order: OrderView) -> str:
    if order.status in PAID_STATES:
        return f"order {order.ref} is paid: refund it instead (`livebuy refund {order.ref}`)"
    return f"order {order.ref} is {order.status.value}: only unpaid orders can be cancelled"


async def _release(
    order: OrderView,
    to: OrderStatus,
    cause: str,
    deps: Deps,
    letters: Sequence[Outgoing] = (),
) -> Release:
    release = await release_order(order.ref, to, cause, deps, letters=letters)
    if release is None:
        raise InvalidInput(f"order {order.ref} is {order.status.value} and cannot be released")
    return release


async def release_order(
    ref: str,
    to: OrderStatus,
    cause: str,
    deps: Deps,
    close_checkout: bool = True,
    letters: Sequence[Outgoing] = (),
) -> Release | None:
    """Ends a hold: units back, waitlist promoted (with links); None if it held nothing.
    `letters` tell the buyer, in the release's transaction."""
    release = await repos(deps).holds.release(ref, to, cause, deps.clock.now(), letters)
    if release is not None:
        _units_back(release, deps)
        await emit(HoldReleased(release, close_checkout), deps)
    return release


def _units_back(release: Release, deps: Deps) -> None:
    """The drop's boards and overlays are told its units left once the release commits."""
    news, code = deps.units_left, release.order.drop_code
    if news is not None:
        after_commit(lambda: news.changed(code))


async def expire_holds(cmd: c.ExpireHolds, deps: Deps) -> list[Release]:
    """The sweeper's pass: ends overdue drops, expires holds, promotes waitlists (one unit
    of work: the holds given back and what their buyers are told commit together), then
    closes due auctions and draws due giveaways (a unit each), then hands out the pay links
    a failure kept back (each a Stripe call)."""
    releases = await one_unit(deps.units, lambda: _expire(deps))
    # Auctions due now close, and unpaid wins whose hold just expired go to the runner-up.
    await one_unit(deps.units, lambda: close_due_auctions(c.CloseDueAuctions(), deps))
    # Giveaways due now are drawn; the winner's order of 0 is paid at once.
    await one_unit(deps.units, lambda: giveaways.draw_due_giveaways(c.DrawDueGiveaways(), deps))
    await retry_checkouts(deps)
    return releases


async def _expire(deps: Deps) -> list[Release]:
    now = deps.clock.now()
    for drop in await repos(deps).drops.end_overdue_drops(now):
        await deps.notifier.notify(DropEnded(drop))
    releases = await repos(deps).holds.expire_due(now)
    for release in releases:
        _units_back(release, deps)
        await deps.notifier.notify(HoldExpired(release.order))
        await emit(HoldReleased(release), deps)
    # First-paid: once others paid for the units, the remaining checkouts close, and say so.
    for release in await repos(deps).holds.expire_unfillable(now):
        _units_back(release, deps)
        await deps.notifier.notify(HoldExpired(release.order, sold_out=True))
        await emit(HoldReleased(release), deps)
    return releases


async def list_orders(cmd: c.ListOrders, deps: Deps) -> list[OrderView]:
    customer = None
    if cmd.identity is not None:
        customer = await repos(deps).customers.customer_id(cmd.identity)
        if customer is None:
            return []
    return await repos(deps).orders.orders(cmd.status, customer, cmd.limit)


async def add_seller(cmd: c.AddSeller, deps: Deps) -> None:
    if cmd.role not in SELLER_ROLES:
        raise InvalidInput(f"role must be one of {', '.join(SELLER_ROLES)}")
    identity = str(Identity.typed(cmd.identity))
    await repos(deps).customers.add_seller(identity, cmd.role, deps.clock.now())


async def is_seller(identity: str, deps: Deps) -> bool:
    """Configured in LIVEBUY_SELLERS or added with `livebuy seller add`."""
    return await seller_role(identity, deps) is not None


async def seller_role(identity: str, deps: Deps) -> str | None:
    """owner (LIVEBUY_SELLERS, `seller add`), cohost (`seller add --role cohost`) or None."""
    try:
        identity = str(Identity.parse(identity))
    except InvalidInput:
        return None
    role = await _own_role(identity, deps)
    if role is None and identity.startswith("web:") and deps.web_viewers is not None:
        # A seller who signed in to the web chat (Telegram, Discord, email) is recognised
        # by that account: no `web:` seller ids needed.
        accounts = await repos(deps).web_viewers.accounts(identity)
        roles = {await _own_role(a, deps) for a in accounts}
        role = "owner" if "owner" in roles else "cohost" if "cohost" in roles else None
    return role


async def _own_role(identity: str, deps: Deps) -> str | None:
    if identity in deps.sellers:
        return "owner"
    return await repos(deps).customers.seller_role(identity)


async def refuse_cohost(identity: str, deps: Deps) -> None:
    """Co-hosts run the show; refunds and prices stay with the shop's owners."""
    if await seller_role(identity, deps) == "cohost":
        raise NotAllowed("co-hosts run the show; refunds and prices are for the shop's owner")


async def require_seller(identity: str, deps: Deps) -> None:
    if not await is_seller(identity, deps):
        raise NotAllowed("only sellers can do that")


async def keep_room_lines(cmd: c.KeepRoomLines, deps: Deps) -> None:
    """A web chat's public lines, kept for whoever joins its rooms after a restart."""
    if deps.room_lines is not None and cmd.lines:
        await repos(deps).room_lines.keep(cmd.lines, deps.clock.now())
