"""Typed results the core hands back to adapters, which render them for their platform."""

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from commerce.domain.money import Money
from commerce.domain.orders import OrderStatus


@dataclass(frozen=True, slots=True)
class VariantView:
    label: str
    stock: int


@dataclass(frozen=True, slots=True)
class ProductView:
    sku: str
    name: str
    price: Money
    option: str
    variants: tuple[VariantView, ...]
    digital: bool = False
    ship_units: int = 1  # the units one piece counts as in a package
    image: str | None = None  # an https URL or a media folder file (domain/media.py)
    description: str = ""

    @property
    def stock(self) -> int:
        return sum(v.stock for v in self.variants)


@dataclass(frozen=True, slots=True)
class DropView:
    id: int
    code: str
    sku: str
    name: str
    price: Money
    quantity: int
    remaining: int
    per_buyer_limit: int | None
    policy: str
    hold_seconds: int
    status: str
    waitlist: int
    channels: tuple[str, ...]
    starts_at: datetime
    ends_at: datetime | None
    confirm: str = "always"  # buyers with a saved card confirm: always | trusted | above:N
    promo: bool = False  # free, paid with the public message
    ended_at: datetime | None = None  # when it was marked ended (by hand, or by the sweeper)
    image: str | None = None  # the product's picture (domain/media.py), read with the drop
    description: str = ""  # the product's

    @property
    def ended(self) -> datetime | None:
        """When an ended drop ended: by hand, or at its end time (the sweeper that marks it
        may come a moment later)."""
        if self.status == "live":
            return None
        times = [t for t in (self.ended_at, self.ends_at) if t is not None]
        return min(times) if times else None


@dataclass(frozen=True, slots=True)
class OrderView:
    ref: str
    drop_code: str
    sku: str
    name: str
    variant: str
    identity: str
    chat: str
    quantity: int
    amount: Money
    status: OrderStatus
    hold_expires_at: datetime | None
    created_at: datetime
    checkout_session: str | None = None
    checkout_url: str | None = None
    payment_ref: str | None = None
    refunded: Money | None = None
    unit_price: Money | None = None
    buyer_disputes: int = 0  # chargebacks the buyer opened, on any order
    digital: bool = False  # nothing to ship
    confirm_until: datetime | None = None  # a one-message buy waiting for the buyer's confirm
    charging: bool = False  # a saved card's charge is under way for it
    charge_pending: bool = False  # ... and the provider's answer to it is still awaited
    ship_to: str | None = None  # the shipping address typed at payment, one line
    # A delayed payment is under way since then (its hold no longer runs out).
    payment_pending_since: datetime | None = None
    payment_attempts: int = 0  # background calls to the provider failed in a row
    # Paid on top of `amount` (minor units of its currency): the order's share of its
    # package's shipping, and the tax the provider added.
    shipping_amount: int = 0
    tax_amount: int = 0
    bundle_id: int | None = None  # the package it ships in
    # False for a first-paid order (strikes, a first-paid drop, an anonymous web viewer):
    # it holds no unit, and the first payments take the units.
    holds_stock: bool = True

    @property
    def shipping(self) -> Money:
        return Money(self.shipping_amount, self.amount.currency)

    @property
    def tax(self) -> Money:
        return Money(self.tax_amount, self.amount.currency)

    @property
    def total(self) -> Money:
        """What the buyer pays: items, shipping and tax."""
        return Money(
            self.amount.minor + self.shipping_amount + self.tax_amount, self.amount.currency
        )

    @property
    def description(self) -> str:
        return f"{self.name} ({self.variant})" if self.variant else self.name


@dataclass(frozen=True, slots=True)
class OrderEventView:
    from_status: str | None
    to_status: str
    cause: str
    at: datetime


class ClaimOutcome(StrEnum):
    WON = "won"
    WAITLISTED = "waitlisted"
    REFUSED = "refused"


class RefusalReason(StrEnum):
    NO_LIVE_DROP = "no_live_drop"
    UNKNOWN_CODE = "unknown_code"  # no drop by that code here, while others are (`live`)
    DROP_ENDED = "drop_ended"
    LIMIT_REACHED = "limit_reached"
    NOT_ENOUGH_LEFT = "not_enough_left"  # fewer units than asked remain; `remaining` tells
    VARIANT_REQUIRED = "variant_required"
    UNKNOWN_VARIANT = "unknown_variant"
    VARIANT_SOLD_OUT = "variant_sold_out"
    ALREADY_WAITLISTED = "already_waitlisted"


@dataclass(frozen=True, slots=True)
class ClaimResult:
    outcome: ClaimOutcome
    drop: DropView | None = None
    order: OrderView | None = None
    position: int | None = None  # place in the waitlist
    reason: RefusalReason | None = None
    remaining: int | None = None
    variants: tuple[str, ...] = ()  # the labels to choose from, for variant refusals
    duplicate: bool = False  # the same message was delivered before; this is its result
    claim_id: int | None = None  # the arrival sequence number
    order_id: int | None = None
    checkout_error: str | None = None  # the checkout could not be opened (retried later)
    # One-message buying: the saved card the buyer is asked to confirm (until
    # `order.hold_expires_at`), or what charging it at once gave (a drop that needs no confirm).
    confirm: "CardView | None" = None
    payment: "PaymentResult | None" = None
    code: str | None = None  # the code asked for, for an UNKNOWN_CODE refusal
    live: tuple[str, ...] = ()  # the codes of the drops live in the chat, for UNKNOWN_CODE


@dataclass(frozen=True, slots=True)
class CardView:
    """A saved card as buyers recognise it: "Visa •••• 4242"."""

    brand: str
    last4: str
    ship_to: str | None = None  # where a one-message buy of something to ship goes

    def __str__(self) -> str:
        return f"{self.brand.title()} •••• {self.last4}"


class PaymentOutcome(StrEnum):
    PAID = "paid"
    PROCESSING = "processing"  # the provider answers later (webhook)
    FALLBACK = "fallback"  # declined or needs the buyer: pay through the link instead
    FREE = "free"  # a promo drop, paid with the message
    REFUNDED = "refunded"  # charged, but the units were gone by then: the charge is refunded


@dataclass(frozen=True, slots=True)
class PaymentResult:
    """A saved card charged for an order (on confirm, or at once)."""

    outcome: PaymentOutcome
    order: "OrderView"
    card: CardView | None = None
    reason: str = ""  # why a charge fell back to the link, as the provider put it


@dataclass(frozen=True, slots=True)
class Release:
    """Units went back to stock (hold expired, passed, cancelled) and who got them next."""

    order: OrderView
    promoted: tuple[ClaimResult, ...] = field(default=())


class SettlementOutcome(StrEnum):
    PAID = "paid"
    NO_STOCK = "no_stock"  # the money came but the units are gone: refund it
    UNCHANGED = "unchanged"  # already paid, or in a state a payment does not change
    PAID_TWICE = "paid_twice"  # a second, different payment for a paid order: refund it
    # The card or email already paid for the drop's per-buyer limit (under any identity):
    # the order is in needs_review, and the payment refunded (LIVEBUY_LIMIT_BREACH=refund) or
    # kept there for the seller (review).
    OVER_LIMIT = "over_limit"
    OVER_LIMIT_REVIEW = "over_limit_review"


@dataclass(frozen=True, slots=True)
class Settlement:
    order: OrderView
    outcome: SettlementOutcome
    release: Release | None = None  # the units an over-limit order held went back
    again: bool = False  # the same payment reported again: nothing changed this time


# Notices: what the core tells people, through the Notifier port, outside a direct reply.


@dataclass(frozen=True, slots=True)
class HoldExpired:
    order: OrderView
    sold_out: bool = False  # a first-paid order closed because others paid first


@dataclass(frozen=True, slots=True)
class PromotedFromWaitlist:
    claim: ClaimResult


@dataclass(frozen=True, slots=True)
class WaitlistClosed:
    """The drop ended while the buyer was still waiting."""

    drop: DropView
    identity: str
    chat: str


@dataclass(frozen=True, slots=True)
class OrderDisputed:
    """The buyer disputed the payment (`state` open), or the dispute closed (won, lost)."""

    order: OrderView
    state: str


@dataclass(frozen=True, slots=True)
class DropStarted:
    """A drop started outside its chats (dashboard, CLI): they get its board."""

    drop: DropView


@dataclass(frozen=True, slots=True)
class UnitsLeft:
    """Claims or releases changed a drop's units left (from any chat): its boards and
    overlays redraw. Coalesced (service_layer/units_left.py): a few a second per drop at
    most, each with the drop as read after the changes it follows."""

    drop: DropView


@dataclass(frozen=True, slots=True)
class DropEnded:
    drop: DropView


@dataclass(frozen=True, slots=True)
class OrderPaid:
    order: OrderView
    tell_buyer: bool = True  # False: the buyer was told in the answer to their action


class PageKind(StrEnum):
    """What a buyer's pay link leads to."""

    PAY = "pay"  # the provider's checkout: `url`
    PAID = "paid"  # paid already (or refunded, disputed: past paying)
    CONFIRMING = "confirming"  # paid, the provider's word on its way
    ENDED = "ended"  # the hold ended (expired, cancelled): a new #buy
    UNAVAILABLE = "unavailable"  # the provider failed just now: try again
    REVIEW = "review"  # the shop looks into the order (the provider refused it)
    UNKNOWN = "unknown"  # no such order, or not this link's


@dataclass(frozen=True, slots=True)
class PaymentPage:
    kind: PageKind
    order: OrderView | None = None
    url: str | None = None
    error: str = ""


@dataclass(frozen=True, slots=True)
class CheckoutReady:
    """A checkout link the buyer did not get with the reply (opened on a retry)."""

    order: OrderView


@dataclass(frozen=True, slots=True)
class OrderRefunded:
    order: OrderView


@dataclass(frozen=True, slots=True)
class AuctionView:
    """An auction as chats show it (the leader's maximum is never part of it)."""

    id: int
    code: str
    sku: str
    name: str
    start: Money
    price: Money | None  # the current bid; None before the first
    minimum: Money  # the smallest bid accepted now
    leader: str | None  # the leading identity
    bids: int
    close: str  # soft | sudden
    reserve_met: bool | None  # None: no reserve
    status: str  # live | closed
    outcome: str  # once closed: sold | no_bids | reserve_not_met | no_stock | unpaid
    channels: tuple[str, ...]
    starts_at: datetime
    ends_at: datetime
    leader_name: str = ""
    image: str | None = None  # the product's picture (domain/media.py), read with the auction
    description: str = ""  # the product's


class BidStatus(StrEnum):
    LEADING = "leading"
    OUTBID = "outbid"  # accepted, but a proxy maximum answered it at once
    RAISED = "raised"  # the leader raised their maximum; nothing visible changed
    REFUSED = "refused"


class BidRefusalReason(StrEnum):
    NO_LIVE_AUCTION = "no_live_auction"
    ENDED = "ended"
    TOO_LOW = "too_low"
    ALREADY_LEADING = "already_leading"


@dataclass(frozen=True, slots=True)
class BidResult:
    status: BidStatus
    auction: AuctionView | None = None
    amount: Money | None = None  # what the bidder asked (their maximum for a proxy)
    seq: int | None = None  # the bid's sequence number in the auction
    reason: BidRefusalReason | None = None
    proxy: bool = False
    extended: bool = False  # soft close moved the end
    duplicate: bool = False  # the same message was delivered before
    outbid_identity: str | None = None  # who lost the lead with this bid
    outbid_chat: str | None = None


@dataclass(frozen=True, slots=True)
class AuctionOffer:
    """The auction's item offered to one buyer: the winner, or a runner-up (second chance)."""

    auction: AuctionView
    order: OrderView | None  # None: nobody (left) to offer it to
    second_chance: bool = False
    struck: str | None = None  # the unpaid buyer who got a strike


@dataclass(frozen=True, slots=True)
class AuctionUpdated:
    """A bid changed the board: price, leader, time left, bid count."""

    auction: AuctionView
    seconds_left: int = 0  # when the notice was made


@dataclass(frozen=True, slots=True)
class Outbid:
    auction: AuctionView
    identity: str
    chat: str


@dataclass(frozen=True, slots=True)
class AuctionEnded:
    auction: AuctionView


@dataclass(frozen=True, slots=True)
class AuctionWon:
    """The winner's (or runner-up's) order and payment link, or their saved card's confirm."""

    auction: AuctionView
    order: OrderView
    second_chance: bool = False
    confirm: CardView | None = None  # a saved card: one tap pays (`/confirm`)


@dataclass(frozen=True, slots=True)
class LotView:
    position: int
    sku: str
    name: str
    mode: str  # auction | fixed | giveaway
    price: Money | None  # auction: start; fixed: unit price
    quantity: int
    duration_seconds: int | None
    close: str | None
    status: str  # pending | live | done | skipped
    # What the lot became once live, and whether that is still running (bids, stock, entries).
    drop_id: int | None = None
    auction_id: int | None = None
    giveaway_id: int | None = None
    running: bool = False
    started_at: datetime | None = None
    ended_at: datetime | None = None
    image: str | None = None  # the product's picture (domain/media.py): the show board's
    description: str = ""  # the product's


@dataclass(frozen=True, slots=True)
class ShowView:
    id: int
    code: str
    title: str
    status: str  # scheduled | live | paused | ended
    starts_at: datetime
    channels: tuple[str, ...]
    lots: tuple[LotView, ...]
    sold: int = 0  # paid orders of the show's lots
    revenue: Money | None = None
    shipping: str = "buyer"  # who pays its packages' shipping (ShippingPolicy.stored())

    @property
    def current(self) -> LotView | None:
        live = [lot for lot in self.lots if lot.status == "live"]
        return live[-1] if live else None

    @property
    def next(self) -> LotView | None:
        return next((lot for lot in self.lots if lot.status == "pending"), None)


@dataclass(frozen=True, slots=True)
class ShowAnnounced:
    """A show was scheduled (or starts soon, `reminder`): its chats are told ahead."""

    show: ShowView
    minutes: int = 0  # a reminder: the show starts in this many minutes


@dataclass(frozen=True, slots=True)
class ShowUpdated:
    """The show's board in each of its chats: current lot, what is next, totals."""

    show: ShowView


@dataclass(frozen=True, slots=True)
class GiveawayView:
    """A giveaway as chats show it; the seed only once drawn (`commitment` = its SHA-256)."""

    id: int
    code: str
    sku: str
    name: str
    commitment: str
    status: str  # live | drawn
    outcome: str  # once drawn: won | no_entries | no_stock
    entries: int
    channels: tuple[str, ...]
    starts_at: datetime
    ends_at: datetime
    show_id: int | None = None
    seed: str | None = None
    winner_number: int | None = None
    winner_name: str = ""
    record_url: str = ""  # where anyone reads the entries and the seed (GET /giveaways/<id>)


@dataclass(frozen=True, slots=True)
class EntryResult:
    """`#enter`: the entry's number (`already`: the person had entered before)."""

    giveaway: GiveawayView
    number: int
    already: bool = False


@dataclass(frozen=True, slots=True)
class GiveawayDraw:
    """A drawn giveaway and the winner's order (None: no entries, or no unit left)."""

    giveaway: GiveawayView
    order: OrderView | None = None
    winner_identity: str | None = None
    winner_chat: str | None = None


@dataclass(frozen=True, slots=True)
class GiveawayRecord:
    """Everything anyone needs to recompute the draw: the entries as published."""

    giveaway: GiveawayView
    entries: tuple[tuple[int, str], ...]  # (number, name)


@dataclass(frozen=True, slots=True)
class PollOptionView:
    number: int  # 1 ... 6: what voters type after '#'
    label: str
    votes: int


@dataclass(frozen=True, slots=True)
class PollView:
    id: int
    question: str
    options: tuple[PollOptionView, ...]
    status: str  # live | closed
    channels: tuple[str, ...]
    started_at: datetime
    closed_at: datetime | None = None
    show_id: int | None = None

    @property
    def votes(self) -> int:
        return sum(o.votes for o in self.options)


@dataclass(frozen=True, slots=True)
class VoteResult:
    """A vote counted, or (`already`) the person's earlier vote, which stays."""

    poll: PollView
    option: int
    already: bool = False


@dataclass(frozen=True, slots=True)
class GiveawayStarted:
    """A giveaway began: its board in each chat (item, commitment, end, entries)."""

    giveaway: GiveawayView


@dataclass(frozen=True, slots=True)
class GiveawayUpdated:
    """Someone entered: the board's entry count."""

    giveaway: GiveawayView


@dataclass(frozen=True, slots=True)
class GiveawayDrawn:
    """The draw: the seed published, the winner named; `winner_identity` (in `winner_chat`)
    gets a private message. No winner when nobody entered or no unit was left."""

    giveaway: GiveawayView
    winner_identity: str | None = None
    winner_chat: str | None = None
    order: OrderView | None = None


@dataclass(frozen=True, slots=True)
class PollUpdated:
    """A poll began or got a vote: its board with the counts."""

    poll: PollView


@dataclass(frozen=True, slots=True)
class PollClosed:
    """A poll ended (`/poll end`, or a new poll in its chat): the final counts."""

    poll: PollView


@dataclass(frozen=True, slots=True)
class CardSaved:
    """A buyer's card was kept for one-message buys (after a payment or /card)."""

    identity: str
    card: CardView


@dataclass(frozen=True, slots=True)
class PaymentFellBack:
    """A one-message payment was declined later (webhook): the buyer gets the link."""

    result: PaymentResult


class PaymentProblem(StrEnum):
    FAILED = "failed"  # a delayed payment failed at the provider: the order is released
    TIMED_OUT = "timed_out"  # it never completed in time: the order is released
    REVIEW = "review"  # the provider refused a call for the order: the shop looks at it
    # The card or email paid with already paid for the drop's per-buyer limit:
    OVER_LIMIT = "over_limit"  # the payment is refunded
    OVER_LIMIT_REVIEW = "over_limit_review"  # the shop decides (LIVEBUY_LIMIT_BREACH=review)


@dataclass(frozen=True, slots=True)
class PaymentStopped:
    """The buyer's payment will not complete by itself (a lost webhook repaired by
    reconciliation, or a provider refusal): what became of the order."""

    order: OrderView
    problem: PaymentProblem


@dataclass(frozen=True, slots=True)
class RefundFailed:
    """A refund the provider could not make (the money never went back): the order counts
    it no more, and the shop's operator is told so the buyer can be refunded another way."""

    order: OrderView
    refund_ref: str
    amount: Money


Notice = (
    RefundFailed
    | ShowAnnounced
    | PaymentStopped
    | ShowUpdated
    | CardSaved
    | PaymentFellBack
    | HoldExpired
    | PromotedFromWaitlist
    | WaitlistClosed
    | DropStarted
    | OrderDisputed
    | DropEnded
    | UnitsLeft
    | OrderPaid
    | CheckoutReady
    | OrderRefunded
    | AuctionUpdated
    | Outbid
    | AuctionEnded
    | AuctionWon
    | GiveawayStarted
    | GiveawayUpdated
    | GiveawayDrawn
    | PollUpdated
    | PollClosed
)


@dataclass(frozen=True, slots=True)
class OrderShipping:
    """What an order ships as: its units in a package (0: nothing ships), the shipping
    policy of its show (`buyer` outside shows) and, once decided, its package's share."""

    ref: str
    units: int
    policy: str  # domain.shipping.ShippingPolicy.stored()
    currency: str
    bundle_id: int | None = None
    shipping: int = 0  # minor units: what the order pays (or paid) for shipping
    tax: int = 0


@dataclass(frozen=True, slots=True)
class ShippingShare:
    """An order's place in its package (bundle), decided under the bundle's lock: `due` is
    what takes the package's charge to its total (domain.shipping.increment), `charged`
    what the order pays (`due`, or what the buyer already paid on a page that offered one
    price per zone)."""

    bundle_id: int
    zone: str
    currency: str
    due: int
    charged: int
    units: int  # the package's, this order's included
    first: bool  # the order opened the package
    with_order: str | None = None  # the package's first order, when another one

    @property
    def short(self) -> int:
        """What the buyer paid under the package's price (0 when nothing is missing)."""
        return max(0, self.due - self.charged)
