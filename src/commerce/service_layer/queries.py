"""The read side: what chat adapters, pages and the CLI display (as cosmicpython's views.py).

Read-only functions over the read port (`ReadModel`, filtering in SQL); adapters reach them
through `bus.reads` and never through the ports the handlers use. Nothing here changes state.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from commerce.domain.drops import DropStatus
from commerce.domain.errors import InvalidInput, NotFound
from commerce.domain.grammar import Keywords
from commerce.domain.identity import Identity
from commerce.domain.orders import OrderStatus
from commerce.domain.products import normalise_sku
from commerce.service_layer import reading
from commerce.service_layer.deps import Deps
from commerce.service_layer.ports import Clock, SavedCard
from commerce.service_layer.reading import Reading as Reading  # re-exported for adapters
from commerce.service_layer.results import (
    AuctionView,
    CardView,
    DropView,
    GiveawayRecord,
    GiveawayView,
    OrderEventView,
    OrderView,
    PollView,
    ProductView,
    ShowView,
)


class ReadModel(Protocol):
    """The read port: every filter in the database, nothing written."""

    async def drop(self, drop_id: int) -> DropView | None: ...
    async def latest_drop(self, code: str) -> DropView | None:
        """The newest drop with this code (codes repeat across drops of a product)."""
        ...

    async def drops(
        self, status: DropStatus | None, chat: str | None, limit: int | None
    ) -> list[DropView]:
        """Newest first; with `chat`, the drops a `#buy` there may claim from (those shown
        in the chat and those shown everywhere)."""
        ...

    async def drop_chats(self) -> list[str]:
        """Every chat a drop was ever shown in, sorted."""
        ...

    async def products(self) -> list[ProductView]: ...
    async def product(self, sku: str) -> ProductView | None: ...
    async def order(self, ref: str) -> OrderView | None: ...
    async def order_history(self, ref: str) -> list[OrderEventView]: ...
    async def orders(
        self, status: OrderStatus | None, identity: str | None, limit: int
    ) -> list[OrderView]:
        """Newest first; with `identity`, the orders of its customer (linked identities
        included)."""
        ...

    async def auctions(self, status: str | None) -> list[AuctionView]: ...
    async def shows(self) -> list[ShowView]: ...
    async def show_in_chat(self, chat: str) -> ShowView | None:
        """The show running (or the next scheduled) in this chat."""
        ...

    async def room_lines(self, room: str) -> list[dict[str, Any]]:
        """A web chat room's latest public lines kept on disk, oldest first."""
        ...

    async def show(self, code: str) -> ShowView:
        """NotFound when there is no such show."""
        ...

    async def giveaway(self, giveaway_id: int) -> GiveawayRecord:
        """NotFound when there is no such giveaway."""
        ...

    async def giveaways_in_chat(
        self, chat: str, since: datetime, limit: int
    ) -> list[GiveawayView]:
        """The chat's live giveaways and those drawn since `since`, newest first."""
        ...

    async def polls_in_chat(self, chat: str, since: datetime, limit: int) -> list[PollView]:
        """The chat's live polls and those closed since `since`, newest first."""
        ...

    async def pending_events(self, received_before: datetime) -> list[tuple[str, str]]:
        """(id, payload) of stored payment events never processed, oldest first."""
        ...

    async def dead_letters(self, received_since: datetime) -> list[tuple[str, str]]:
        """(id, payload) of payment events kept because their order was unknown."""
        ...

    async def seller_role(self, identity: str) -> str | None: ...
    async def saved_card(self, identity: str) -> SavedCard | None: ...
    async def accounts(self, identity: str) -> list[str]:
        """The accounts (telegram:…, discord:…, email:…) a web identity is signed in to."""
        ...

    async def ship_to(self, identity: str) -> str | None:
        """Where the buyer's last paid order shipped to."""
        ...

    async def buyer_name(self, ref: str) -> str:
        """The name the order's buyer was last known by in a chat ('' if none)."""
        ...

    async def buyer_names(self, refs: list[str]) -> dict[str, str]:
        """`buyer_name` of several orders in one read (an order without a name left out)."""
        ...

    async def shipment(self, ref: str) -> tuple[str, str] | None:
        """The tracking number and carrier of the package the order left in (None: not
        shipped)."""
        ...


class Reads:
    """What the bus lends to adapters and pages: the read model and the few settings that
    decide what they show. The ports that change state stay inside the service layer."""

    __slots__ = ("_deps",)

    def __init__(self, deps: Deps) -> None:
        self._deps = deps

    @property
    def model(self) -> ReadModel:
        if self._deps.views is None:  # pragma: no cover (bootstrap always wires it)
            raise RuntimeError("this core was built without a read model")
        return self._deps.views

    @property
    def clock(self) -> Clock:
        return self._deps.clock

    @property
    def sellers(self) -> frozenset[str]:
        return self._deps.sellers

    @property
    def hold(self) -> timedelta:
        """How long a drop started without a hold of its own holds a claim."""
        return self._deps.hold

    @property
    def keywords(self) -> Keywords:
        return self._deps.keywords

    @property
    def invoice_platforms(self) -> frozenset[str]:
        return self._deps.invoice_platforms

    @property
    def one_message_buying(self) -> bool:
        return self._deps.cards is not None


# chat messages (parsed once: service_layer.reading) ------------------------------------------


def side_by_side(reads: Reads, text: str) -> bool:
    """A claim or a bid: it may share its chat's turn with its neighbours (an inbox that
    asks hands the reading on to the update's processing: service_layer.inbox)."""
    return reading.read(text, reads.keywords).side_by_side


def read(reads: Reads, text: str) -> Reading:
    """A chat text as the core reads it (`.personal`: a command about the sender's own card,
    link, confirm or orders, answered privately). Handed over with the message
    (`ChatMessage.reading`), it is the message's one reading."""
    return reading.read(text, reads.keywords)


# drops ---------------------------------------------------------------------------------------


async def drop(reads: Reads, drop_id: int) -> DropView | None:
    return await reads.model.drop(drop_id)


async def latest_drop(reads: Reads, code: str) -> DropView | None:
    """The newest drop with this code (an order names its drop by code)."""
    return await reads.model.latest_drop(code.upper())


async def live_drops(reads: Reads, chat: str | None = None) -> list[DropView]:
    """The live drops, newest first; with `chat`, those a `#buy` there may claim from."""
    return await reads.model.drops(DropStatus.LIVE, chat, None)


async def drops(
    reads: Reads, status: DropStatus | None = None, limit: int | None = None
) -> list[DropView]:
    """Drops newest first (all of them, or the latest `limit`)."""
    return await reads.model.drops(status, None, limit)


async def drop_chats(reads: Reads) -> list[str]:
    return await reads.model.drop_chats()


@dataclass(frozen=True, slots=True)
class RoomState:
    """What a chat room shows whoever opens it: its live drop, auctions and show, and its
    giveaways and polls (running, or ended lately: their results), oldest first."""

    drop: DropView | None
    auctions: tuple[AuctionView, ...]
    show: ShowView | None
    giveaways: tuple[GiveawayView, ...] = ()
    polls: tuple[PollView, ...] = ()


# Giveaways and polls that ended this long ago still show their card (the draw, the result)
# to whoever opens the room; at most this many of each.
RECENT_CARDS = timedelta(hours=1)
MAX_ROOM_CARDS = 5


def _shown_in(chat: str, channels: tuple[str, ...]) -> bool:
    return not channels or chat in channels  # no channels: every chat


async def room_state(reads: Reads, chat: str) -> RoomState:
    """A chat's live state, read on every page load (and so after any restart)."""
    drops = await reads.model.drops(DropStatus.LIVE, chat, 1)
    auctions = [a for a in await reads.model.auctions("live") if _shown_in(chat, a.channels)]
    show = await reads.model.show_in_chat(chat)
    since = reads.clock.now() - RECENT_CARDS
    giveaways = await reads.model.giveaways_in_chat(chat, since, MAX_ROOM_CARDS)
    polls = await reads.model.polls_in_chat(chat, since, MAX_ROOM_CARDS)
    return RoomState(
        drops[0] if drops else None,
        tuple(auctions),
        show,
        tuple(reversed(giveaways)),
        tuple(reversed(polls)),
    )


async def room_lines(reads: Reads, room: str) -> list[dict[str, Any]]:
    """A web chat room's latest public lines as kept in the database, oldest first (what a
    newcomer sees when this worker has heard nothing of the room since it started)."""
    return await reads.model.room_lines(room)


async def live_rooms(reads: Reads, platform: str = "web") -> tuple[list[str], bool]:
    """The rooms of a platform where something is live (a drop, an auction, a show), sorted,
    and whether something is live in every chat (a drop or auction without channels)."""
    prefix = f"{platform}:"
    drops = await reads.model.drops(DropStatus.LIVE, None, None)
    auctions = await reads.model.auctions("live")
    shows = [s for s in await reads.model.shows() if s.status in ("live", "paused")]
    channels = [d.channels for d in drops] + [a.channels for a in auctions]
    rooms = {
        c.removeprefix(prefix)
        for chats in (*channels, *(s.channels for s in shows))
        for c in chats
        if c.startswith(prefix)
    }
    everywhere = any(not chats for chats in channels)
    return sorted(rooms), everywhere


# products ------------------------------------------------------------------------------------


async def products(reads: Reads) -> list[ProductView]:
    """The catalogue, by SKU."""
    return await reads.model.products()


async def product(reads: Reads, sku: str) -> ProductView:
    """NotFound (with a hint) when there is no such product; InvalidInput for a word that
    cannot be a SKU."""
    code = normalise_sku(sku)
    found = await reads.model.product(code)
    if found is None:
        raise NotFound(f"no product with SKU {code}; `livebuy product list` shows them")
    return found


# orders --------------------------------------------------------------------------------------


async def order(reads: Reads, ref: str) -> OrderView:
    """NotFound when there is no such order."""
    found = await reads.model.order(ref.upper())
    if found is None:
        raise NotFound(f"no order {ref.upper()}")
    return found


async def buyers_order(reads: Reads, ref: str, identity: str) -> OrderView | None:
    """The order if it is this buyer's own (a deep link names it); None otherwise."""
    found = await reads.model.order(ref.upper())
    return found if found is not None and found.identity == identity else None


async def paid_through(reads: Reads, ref: str, token: str) -> OrderView | None:
    """The order a genuine pay link (its ref and token) names; None for a link this shop
    did not make, or when payments are off."""
    links = reads._deps.pay_links
    if links is None or not await links.genuine(ref, token, reads.clock.now()):
        return None
    return await reads.model.order(ref.upper())


async def order_history(reads: Reads, ref: str) -> tuple[OrderView, list[OrderEventView]]:
    """The order and its transitions, oldest first (NotFound when there is none)."""
    return await order(reads, ref), await reads.model.order_history(ref.upper())


async def orders(
    reads: Reads,
    status: OrderStatus | None = None,
    identity: str | None = None,
    limit: int = 1000,
) -> list[OrderView]:
    """Orders newest first: all of them, or a buyer's own (`identity`)."""
    return await reads.model.orders(status, identity, limit)


async def awaiting_confirm(reads: Reads, order: OrderView) -> CardView | None:
    """The saved card a one-message buy still waits a confirm for (with where it ships), or
    None: not waiting (or too late: its hold ran out with the confirm's time)."""
    until = order.confirm_until
    if order.status is not OrderStatus.RESERVED or until is None:
        return None
    if not reads.one_message_buying or until <= reads.clock.now():
        return None
    card = await reads.model.saved_card(order.identity)
    if card is None:
        return None
    address = None if order.digital else await reads.model.ship_to(order.identity)
    return CardView(card.brand, card.last4, address)


# auctions, shows, giveaways ------------------------------------------------------------------


async def auctions(reads: Reads, status: str | None = None) -> list[AuctionView]:
    """Auctions, newest first."""
    return sorted(await reads.model.auctions(status), key=lambda a: -a.id)


async def shows(reads: Reads) -> list[ShowView]:
    return await reads.model.shows()


async def show(reads: Reads, code: str) -> ShowView:
    return await reads.model.show(code)


async def giveaway(reads: Reads, giveaway_id: int) -> GiveawayRecord:
    """A giveaway's public record: its commitment, its entries and (once drawn) its seed."""
    return await reads.model.giveaway(giveaway_id)


# payment events ------------------------------------------------------------------------------


async def pending_payment_events(reads: Reads, older_than: timedelta) -> list[tuple[str, str]]:
    """Stored events never processed (a crash, a restart, a failure) received more than
    `older_than` ago (a younger one's delivery may still be processing it)."""
    return await reads.model.pending_events(reads.clock.now() - older_than)


async def dead_letters(reads: Reads, since: timedelta) -> list[tuple[str, str]]:
    """Events kept because their order was unknown, received within `since`."""
    return await reads.model.dead_letters(reads.clock.now() - since)


# people --------------------------------------------------------------------------------------


async def seller_role(reads: Reads, identity: str) -> str | None:
    """owner (LIVEBUY_SELLERS, `seller add`), cohost (`seller add --role cohost`) or None."""
    try:
        identity = str(Identity.parse(identity))
    except InvalidInput:
        return None
    if identity in reads.sellers:
        return "owner"
    return await reads.model.seller_role(identity)


async def buyer_name(reads: Reads, ref: str) -> str:
    """The name an order's buyer chats under (a stream overlay lists who bought)."""
    return await reads.model.buyer_name(ref)


async def shipment(reads: Reads, ref: str) -> tuple[str, str] | None:
    """How an order shipped: (tracking number, carrier), for its buyer's eyes only."""
    return await reads.model.shipment(ref.upper())


async def buyer_names(reads: Reads, refs: list[str]) -> dict[str, str]:
    """The names several orders' buyers chat under, by order ref (none for no refs)."""
    return await reads.model.buyer_names(refs) if refs else {}


async def signed_in_as(reads: Reads, identity: str) -> list[str]:
    """The accounts a web viewer signed in (or /link-ed) to; empty for an anonymous one."""
    return await reads.model.accounts(identity)


async def is_seller(reads: Reads, identity: str) -> bool:
    return await seller_role(reads, identity) is not None


def pays_with_invoices(reads: Reads, platform: str) -> bool:
    """Buyers of this platform pay with its own invoices (Telegram with a provider token)."""
    return platform in reads.invoice_platforms
