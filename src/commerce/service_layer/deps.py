"""What every handler gets: the ports, built once by bootstrap."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from commerce.domain.grammar import DEFAULT_KEYWORDS, Keywords
from commerce.domain.money import Money
from commerce.domain.payments import LimitBreach
from commerce.service_layer.packages import Letters, Shipments
from commerce.service_layer.ports import (
    AuctionStore,
    Cards,
    Clock,
    Customers,
    Drops,
    EmailSignIns,
    GiveawayStore,
    Holds,
    Ledger,
    Notifier,
    Orders,
    PayLinks,
    PaymentGateway,
    Products,
    RoomLines,
    ShippingStore,
    ShowStore,
    Store,
    Throttle,
    WebViewers,
)
from commerce.service_layer.ratelimit import RateLimit
from commerce.service_layer.unit_of_work import Repositories, UnitsOfWork, current
from commerce.service_layer.units_left import UnitsLeftNews

if TYPE_CHECKING:
    from commerce.service_layer.bid_turns import BidTurns
    from commerce.service_layer.queries import ReadModel


@dataclass
class Deps:
    store: Store
    clock: Clock
    notifier: Notifier
    payments: PaymentGateway | None = None  # None: claims get no checkout link
    ledger: Ledger | None = None
    sellers: frozenset[str] = field(default_factory=frozenset)  # LIVEBUY_SELLERS
    hold: timedelta = timedelta(minutes=10)  # LIVEBUY_HOLD, for drops started from a chat
    keywords: Keywords = DEFAULT_KEYWORDS
    auctions: AuctionStore | None = None  # None: auctions answer "not available"
    # At most one outbid message per buyer and auction in this window (a bidding war).
    outbid_limit: RateLimit = field(default_factory=lambda: RateLimit(timedelta(seconds=3)))
    # Platforms whose buyers pay with the platform's own invoice (Telegram with a payment
    # provider token): their orders get no Checkout link, the adapter sends an invoice.
    invoice_platforms: frozenset[str] = field(default_factory=frozenset)
    shows: ShowStore | None = None  # None: /next and friends answer "not available"
    cards: Cards | None = None  # None: no one-message buying (every buyer gets a link)
    confirm_window: timedelta = timedelta(minutes=5)  # LIVEBUY_CONFIRM_WINDOW
    # A delayed payment still processing after this long is given up (LIVEBUY_ASYNC_PAYMENT_WAIT).
    async_payment_wait: timedelta = timedelta(days=3)
    link_ttl: timedelta = timedelta(minutes=10)
    public_url: str = ""  # PUBLIC_BASE_URL: public records (a giveaway's entries) link there
    giveaways: GiveawayStore | None = None  # None: giveaways and polls answer "not available"
    giveaway_shipping: Money | None = None  # LIVEBUY_GIVEAWAY_SHIPPING; None: prizes free
    pay_links: PayLinks | None = None  # None: no pay links (payments not configured)
    shipments: Shipments | None = None  # None: `ship` and packing lists are not available
    # Private news for buyers (shipped, cancelled), stored with the change; None: none sent.
    letters: Letters | None = None
    ship_within: int = 2  # LIVEBUY_SHIP_WITHIN, business days: later is overdue
    shipping: ShippingStore | None = None  # None: no shipping charged (no zones either)
    bundle_window: timedelta = timedelta(hours=24)  # LIVEBUY_BUNDLE_WINDOW
    stripe_tax: bool = False  # LIVEBUY_STRIPE_TAX: Checkout adds tax (automatic_tax)
    web_viewers: WebViewers | None = None  # None: the web chat issues no identities
    # LIVEBUY_WEB_CLAIMS=signed-in: web viewers not linked to an account may not claim.
    web_claims_signed_in: bool = False
    email_sign_ins: EmailSignIns | None = None  # None: no email links
    # LIVEBUY_LIMIT_BREACH: a payment over a per-buyer limit by card or email is refunded
    # (refund) or kept in needs_review for the seller (review).
    limit_breach: LimitBreach = LimitBreach.REFUND
    room_lines: RoomLines | None = None  # None: web chat rooms remember nothing on disk
    views: "ReadModel | None" = None  # the read side (service_layer.queries) reads through it
    # LIVEBUY_RATE_PER_BUYER: messages per person and chat; None: no flood control.
    throttle: Throttle | None = None
    # A new unit of work per command (messagebus.ONE_UNIT); None: every repository method
    # commits on its own (tests of a single adapter).
    units: UnitsOfWork | None = None
    # Claims and releases mark their drop here; it tells `UnitsLeft`, coalesced (the app's
    # overlays and boards). None: not told (tests of the core that count notices).
    units_left: UnitsLeftNews | None = None
    # Hands an event (service_layer/events.py) to its handlers; set by the MessageBus.
    dispatch: Callable[[Any], Awaitable[None]] | None = None
    # Decides bids one after another in the order they reach it, in one unit of work per
    # batch (service_layer/auctions.py); set by the MessageBus when there are units of work.
    bid_turns: "BidTurns | None" = None


class ShopRepositories:
    """Outside a unit of work (tests of a single adapter, the claim writer's path): the
    shop's own repositories, each method a transaction of its own."""

    __slots__ = ("_deps", "customers", "drops", "holds", "orders", "products")

    def __init__(self, deps: Deps) -> None:
        self._deps = deps
        self.products: Products = deps.store
        self.drops: Drops = deps.store
        self.holds: Holds = deps.store
        self.orders: Orders = deps.store
        self.customers: Customers = deps.store

    @property
    def ledger(self) -> Ledger:
        return _configured(self._deps.ledger, "payment ledger")

    @property
    def cards(self) -> Cards:
        return _configured(self._deps.cards, "saved cards")

    @property
    def shipping(self) -> ShippingStore:
        return _configured(self._deps.shipping, "shipping zones")

    @property
    def auctions(self) -> AuctionStore:
        return _configured(self._deps.auctions, "auctions")

    @property
    def giveaways(self) -> GiveawayStore:
        return _configured(self._deps.giveaways, "giveaways")

    @property
    def shows(self) -> ShowStore:
        return _configured(self._deps.shows, "shows")

    @property
    def pay_links(self) -> PayLinks:
        return _configured(self._deps.pay_links, "pay links")

    @property
    def shipments(self) -> Shipments:
        return _configured(self._deps.shipments, "shipments")

    @property
    def web_viewers(self) -> WebViewers:
        return _configured(self._deps.web_viewers, "web viewers")

    @property
    def email_sign_ins(self) -> EmailSignIns:
        return _configured(self._deps.email_sign_ins, "email sign-ins")

    @property
    def room_lines(self) -> RoomLines:
        return _configured(self._deps.room_lines, "room lines")


T = TypeVar("T")


def _configured(port: T | None, name: str) -> T:
    if port is None:  # a handler asks `Deps` first: a shop without it never gets here
        raise RuntimeError(f"this shop was built without {name}")
    return port


def repos(deps: Deps) -> Repositories:
    """The repositories a handler works through: the ones the unit of work open in this task
    hands out (their statements run in its one transaction), else the shop's own."""
    unit = current()
    return ShopRepositories(deps) if unit is None else unit
