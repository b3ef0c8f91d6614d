"""The ports the core needs from the outside world, as Protocols (fakes live in tests/)."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from commerce.domain.auctions import AuctionTerms
from commerce.domain.commands import Claim, PlaceBid
from commerce.domain.drops import DropStatus, DropTerms
from commerce.domain.money import Money
from commerce.domain.orders import OrderStatus
from commerce.domain.payments import NO_PAYER, LimitBreach, Payer, PaymentEvent
from commerce.domain.products import ProductSpec
from commerce.domain.shipping import Zone
from commerce.domain.shows import LotSpec
from commerce.service_layer.results import (
    AuctionOffer,
    AuctionView,
    BidResult,
    ClaimResult,
    DropView,
    EntryResult,
    GiveawayDraw,
    GiveawayRecord,
    GiveawayView,
    LotView,
    Notice,
    OrderEventView,
    OrderShipping,
    OrderView,
    PollView,
    ProductView,
    Release,
    Settlement,
    ShippingShare,
    ShowView,
    VoteResult,
)

if TYPE_CHECKING:  # the outbox module imports this one (Clock)
    from commerce.service_layer.outbox import Outgoing


class Clock(Protocol):
    def now(self) -> datetime:
        """Timezone-aware UTC."""
        ...


class Notifier(Protocol):
    async def notify(self, notice: Notice) -> None: ...


@dataclass(frozen=True, slots=True)
class ShippingOption:
    """One shipping price a checkout page offers (Stripe: a fixed-amount shipping rate)."""

    name: str  # "Shipping, EU", or "Shipping (bundled with order K7P2QX9M)"
    amount: Money


@dataclass(frozen=True, slots=True)
class CheckoutRequest:
    """What a checkout is opened for; the amount always comes from the database."""

    order_ref: str
    drop_code: str
    chat: str
    description: str  # product name and variant, e.g. "Logo tee (M)"
    unit_amount: Money
    quantity: int
    expires_at: datetime  # when the hold ends (the gateway applies Stripe's 30-minute minimum)
    customer: str | None = None  # a payment customer id to reuse (returning buyer)
    collect_shipping: bool = True
    # Keep the card for one-message buys (Stripe: setup_future_usage=off_session); the page
    # tells the buyer so, and /unlink forgets it.
    save_card: bool = False
    ordered_at: datetime | None = None  # when the order was made (keeps retries identical)
    replaces: str | None = None  # an expired session of the same order: this is its successor
    # Shipping charged on the page: one option (the buyer's address is known) or one per
    # zone; `ship_countries` are where they ship (empty: the gateway's own default list).
    shipping_options: tuple[ShippingOption, ...] = ()
    ship_countries: tuple[str, ...] = ()
    automatic_tax: bool = False  # the provider computes and adds tax (LIVEBUY_STRIPE_TAX)


@dataclass(frozen=True, slots=True)
class CheckoutSession:
    id: str
    url: str
    expires_at: datetime
    customer: str | None = None


@dataclass(frozen=True, slots=True)
class SessionState:
    """A checkout session as the payment provider sees it (for reconciliation)."""

    id: str
    order_ref: str | None
    status: str  # open | complete | expired
    payment_status: str  # paid | unpaid | no_payment_required
    payment_intent: str | None
    amount_total: int | None
    currency: str | None
    ship_to: str | None = None  # the address the page asked for, in one line
    url: str | None = None  # the page to pay on, while the session is open
    shipping: int | None = None  # the shipping option paid (before tax); None: none offered
    tax: int | None = None  # the tax the provider added


@dataclass(frozen=True, slots=True)
class SavedCard:
    """A card a buyer let the shop charge again: provider ids plus what the buyer recognises.
    No card number is ever stored, only the brand and the last four digits."""

    payment_customer: str  # Stripe: cus_...
    payment_method: str  # Stripe: pm_...
    brand: str  # visa, mastercard, amex, ...
    last4: str
    fingerprint: str | None = None  # the same card number has the same one (Stripe's)


class ChargeStatus(StrEnum):
    SUCCEEDED = "succeeded"
    PROCESSING = "processing"  # the webhook tells the end
    DECLINED = "declined"
    AUTHENTICATION_REQUIRED = "authentication_required"  # the buyer must be present: Checkout


@dataclass(frozen=True, slots=True)
class ChargeRequest:
    """An off-session charge of a saved card for one order (one-message buying)."""

    order_ref: str
    drop_code: str
    chat: str
    description: str
    amount: Money
    card: SavedCard


@dataclass(frozen=True, slots=True)
class Charge:
    status: ChargeStatus
    payment_intent: str | None  # None only when the provider refused before creating one
    message: str = ""  # the provider's short, safe reason for a decline


@dataclass(frozen=True, slots=True)
class PaymentState:
    """A payment (Stripe: PaymentIntent) as the provider sees it now (for reconciliation)."""

    id: str
    # succeeded | processing | requires_payment_method | canceled | requires_action | ...
    status: str
    amount: int | None
    currency: str | None
    order_ref: str | None = None  # from the payment's metadata


class PaymentError(Exception):
    """The payment provider refused or could not be reached; the message is safe to show.

    `status` is the provider's HTTP status (None: no answer at all), `retry_after` its
    Retry-After in seconds and `should_retry` its own advice (Stripe-Should-Retry), when
    given: domain.backoff decides from them whether a background call is tried again."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        should_retry: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after
        self.should_retry = should_retry


class PaymentGateway(Protocol):
    """Stripe, behind one thin adapter (commerce/adapters/stripe_gateway.py)."""

    async def open_checkout(self, request: CheckoutRequest) -> CheckoutSession:
        """Creates a checkout session, idempotently per order (a retry returns the same)."""
        ...

    async def expire_checkout(self, session_id: str) -> None:
        """Ends an open session; a session already complete or expired is left as it is."""
        ...

    async def refund(self, payment_intent: str, amount: Money | None, key: str) -> str:
        """Refunds all (amount None) or part of a payment, idempotently per key."""
        ...

    async def session_state(self, session_id: str) -> SessionState: ...

    async def payment_state(self, payment_intent: str) -> PaymentState:
        """Where a payment stands (an off-session charge, a delayed method's payment)."""
        ...

    async def missed_events(self, since: datetime) -> list[tuple[PaymentEvent, str]]:
        """Events of the kinds livebuy uses since `since` whose delivery failed (the
        provider keeps 30 days of them), each with its JSON payload to be stored."""
        ...

    async def completed_sessions(self, since: datetime) -> list[str]:
        """The ids of checkout sessions completed since `since` (however long ago)."""
        ...

    async def open_card_setup(
        self, identity: str, customer: str | None, locale: str = "en"
    ) -> CheckoutSession:
        """A setup-mode checkout that saves a card for `identity` (creating the customer when
        None); its completion arrives as a webhook with the identity in the metadata."""
        ...

    async def saved_card(
        self, payment_intent: str | None = None, setup_intent: str | None = None
    ) -> SavedCard | None:
        """The card a completed payment (saved for later use) or setup left on its customer;
        None when the buyer's card was not kept."""
        ...

    async def charge_card(self, request: ChargeRequest) -> Charge:
        """Charges a saved card off-session, confirmed at once, idempotently per order."""
        ...

    async def detach_card(self, payment_method: str) -> None:
        """The card can no longer be charged (a card already detached is fine)."""
        ...

    async def payer(self, payment_intent: str) -> Payer:
        """Who paid a payment: its card's fingerprint and the email given with it (Stripe:
        the PaymentIntent's latest charge, `payment_method_details.card.fingerprint` and
        `billing_details.email`). Nothing known for a payment without a card charge."""
        ...


@dataclass(frozen=True, slots=True)
class PaidCheckout:
    """A paid Checkout's event as the batch applier takes it (Ledger.pay_checkouts)."""

    event_id: str
    type: str
    payload: str
    order_ref: str | None
    session_id: str | None
    payment_ref: str | None
    amount: int | None
    currency: str | None
    card: str | None  # who paid (#18), recorded with the payment
    email: str | None
    payment_customer: str | None  # the provider's customer, remembered for the buyer
    ship_to: str | None  # the address typed on the Checkout page (the first one stays)
    cause: str  # the order history's cause ("stripe:<event id>")
    payment: str  # the payment the order is paid with (its intent, else the session)
    # False: an event of another kind, answered here only if it is a duplicate (stored
    # already and processed, or being processed); otherwise the batch stops at it.
    applies: bool = True


@dataclass(frozen=True, slots=True)
class CheckoutPaid:
    """One event of the batch: its order paid (`order`), or a duplicate (None)."""

    order: OrderView | None
    outcome: str


class Ledger(Protocol):
    """The payment side of orders: checkouts, webhook events, refunds and disputes."""

    async def pay_checkouts(
        self, payments: list[PaidCheckout], now: datetime, check_card: bool
    ) -> list[CheckoutPaid]:
        """Applies paid Checkouts of orders that hold their units, in order, in the open
        unit of work's transaction: each event stored once and marked processed, its order
        paid and its history written. Stops at the first event that needs more (answers
        fewer than given, having written nothing of it): the caller applies that one the
        usual way. `check_card`: an order whose buyer has no saved card needs more (a first
        Checkout may have kept one)."""
        ...

    async def store_event(
        self, event_id: str, type_: str, payload: str, now: datetime
    ) -> bool: ...
    async def mark_event(self, event_id: str, outcome: str, now: datetime, done: bool) -> None: ...
    async def store_malformed(self, payload: bytes, reason: str, now: datetime) -> str: ...
    async def claim_event(self, event_id: str, now: datetime) -> bool: ...
    async def pending_events(self, received_before: datetime) -> list[tuple[str, str]]: ...
    async def wait_for_order(
        self, event_id: str, outcome: str, received_since: datetime
    ) -> bool: ...
    async def dead_letter(self, event_id: str, reason: str, now: datetime) -> None: ...
    async def dead_letters(self, received_since: datetime) -> list[tuple[str, str]]: ...
    async def find_order(
        self, ref: str | None, session: str | None, payment: str | None
    ) -> OrderView | None: ...
    async def link_handed_out(self, ref: str, url: str, cause: str, now: datetime) -> OrderView:
        """The buyer got the order's pay link: a reserved order becomes checkout_open."""
        ...

    async def session_opened(self, ref: str, session: str, now: datetime) -> OrderView:
        """The buyer opened the link: the provider's checkout session made for it."""
        ...

    async def awaiting_checkout(self, created_before: datetime) -> list[OrderView]: ...
    async def await_async_payment(self, ref: str, payment: str | None, now: datetime) -> None: ...
    async def payment_customer(self, identity: str) -> str | None: ...
    async def remember_payment_customer(self, ref: str, customer: str) -> None: ...
    async def record_refund(
        self,
        ref: str,
        refunded_total: int,
        payment: str | None,
        cause: str,
        now: datetime,
        refunds: tuple[tuple[str, int, str], ...] = (),
    ) -> OrderView: ...
    async def refund_changed(
        self,
        ref: str,
        refund_id: str,
        amount: int,
        status: str,
        payment: str | None,
        cause: str,
        now: datetime,
    ) -> tuple[OrderView, bool]:
        """One refund by its id; True when this report is its failure (taken back once)."""
        ...

    async def record_dispute(
        self, ref: str, state: str, cause: str, now: datetime
    ) -> OrderView: ...
    async def apply_pending(self, ref: str, cause: str, now: datetime) -> OrderView: ...
    async def transition(
        self, ref: str, to: OrderStatus, cause: str, now: datetime
    ) -> OrderView | None: ...
    async def record_ship_to(self, ref: str, ship_to: str, now: datetime) -> None:
        """Keeps where the order ships to; the first address recorded stays (a payment
        reported again, or a second payment of the order, changes nothing)."""
        ...

    async def to_reconcile(self, since: datetime, now: datetime | None = None) -> list[OrderView]:
        """Checkouts made since `since` and delayed payments under way, except orders whose
        last background call failed and waits beyond `now` for its next try."""
        ...

    async def payment_call_failed(
        self, ref: str, now: datetime, delay: Callable[[int], timedelta]
    ) -> int:
        """Counts a failed background call of the order's; none again before
        `now + delay(attempts so far)`. Returns the attempts so far."""
        ...

    async def payment_call_ok(self, ref: str) -> None: ...

    async def give_up_payment_call(
        self, ref: str, cause: str, now: datetime, until: datetime
    ) -> OrderView | None:
        """No background call for the order before `until`; the cause goes into its history
        and an open order to review (returned, else None)."""
        ...


class Products(Protocol):
    """The catalogue: products, their variants and stock (the units a drop can sell)."""

    async def add_product(self, spec: ProductSpec, stock: int, now: datetime) -> ProductView: ...
    async def products(self) -> list[ProductView]: ...
    async def product(self, sku: str) -> ProductView: ...
    async def update_product(
        self,
        sku: str,
        name: str | None,
        price: Money | None,
        ship_units: int | None = None,
        image: str | None = None,
        description: str | None = None,
    ) -> ProductView: ...
    async def set_stock(self, sku: str, stock: int, variant: str | None) -> ProductView: ...


class Drops(Protocol):
    """Drops: a product on sale in chats for a while; which drop is live is decided here."""

    async def start_drop(
        self,
        terms: DropTerms,
        code: str | None,
        channels: tuple[str, ...],
        actor: str,
        now: datetime,
    ) -> DropView: ...
    async def end_drop(
        self, code: str | None, chat: str | None, now: datetime
    ) -> tuple[DropView, list[tuple[str, str]]]: ...
    async def end_overdue_drops(self, now: datetime) -> list[DropView]: ...
    async def drops(self, status: DropStatus | None = None) -> list[DropView]: ...
    async def live_drop(self, chat: str, code: str | None) -> DropView | None:
        """The drop a `#buy` in this chat (naming `code`, or not) would claim from."""
        ...


class Holds(Protocol):
    """Claims and the units they hold: every stock decision is made here, by the database
    (a claim, a hold given back or expired, a waitlist promoted, a payment settled)."""

    async def claim(
        self, claim: Claim, now: datetime, link: Callable[[str], str] | None = None
    ) -> ClaimResult:
        """`link`: a won hold of a buyer without a saved card (and not from a promo drop)
        gets its pay link in the claim's own transaction (status checkout_open)."""
        ...

    async def release(
        self,
        order_ref: str,
        to_status: OrderStatus,
        cause: str,
        now: datetime,
        letters: "Sequence[Outgoing]" = (),
    ) -> Release | None:
        """Gives a held order's units back (the waitlist promoted); `letters` are stored
        in the same transaction, when it released something."""
        ...

    async def expire_due(self, now: datetime) -> list[Release]: ...
    async def expire_unfillable(self, now: datetime) -> list[Release]: ...
    async def settle(
        self,
        order_ref: str,
        payment_ref: str,
        cause: str,
        now: datetime,
        payer: Payer = NO_PAYER,
        breach: LimitBreach = LimitBreach.REFUND,
    ) -> Settlement:
        """Records a payment (see SqlStore.settle); a payment whose `payer` (card, email)
        already paid for the drop's per-buyer limit is over it: `breach` says what then."""
        ...

    async def restock(self, ref: str, now: datetime) -> list[ClaimResult]:
        """Units of a refunded order back in stock (and to a live drop's waitlist first)."""
        ...

    async def waitlist_places(
        self, customer_id: int, code: str | None
    ) -> list[tuple[str, int]]: ...
    async def latest_cancellable(
        self, customer_id: int, chat: str | None, code: str | None
    ) -> OrderView | None:
        """The buyer's latest order that still holds its units (what /cancel gives back)."""
        ...


class Orders(Protocol):
    """Orders as they stand, and their history."""

    async def orders(
        self, status: OrderStatus | None, customer_id: int | None, limit: int = 1000
    ) -> list[OrderView]: ...
    async def order(self, ref: str) -> OrderView: ...
    async def order_customer(self, ref: str) -> int: ...
    async def history(self, ref: str) -> list[OrderEventView]: ...


class Customers(Protocol):
    """Who is who: buyers by their chat identity, and the shop's sellers."""

    async def customer_id(self, identity: str) -> int | None: ...
    async def add_seller(self, identity: str, role: str, now: datetime) -> None: ...
    async def seller_role(self, identity: str) -> str | None: ...


class Store(Products, Drops, Holds, Orders, Customers, Protocol):
    """The shop's database as one object (adapters/repository.py's SqlStore, the tests'
    FakeStore): bootstrap builds it, the unit of work hands it out as the repositories
    above, and its lifecycle (ping, close) is the app's. Handlers reach it through
    `repositories.repos(deps)`, never as a whole."""

    async def close(self) -> None: ...
    async def ping(self) -> None: ...


class AuctionStore(Protocol):
    """Auctions: every bid is decided inside it, under the auction row's lock."""

    async def start_auction(
        self,
        terms: AuctionTerms,
        sku: str,
        code: str | None,
        channels: tuple[str, ...],
        actor: str,
        pay: timedelta,
        now: datetime,
    ) -> AuctionView: ...
    async def meet_bidders(self, bids: Sequence[PlaceBid], now: datetime) -> None:
        """Bidders seen for the first time become customers, in a transaction of their own."""
        ...

    async def lock_for_bids(self, bids: Sequence[PlaceBid]) -> None:
        """Locks the live auctions these bids go to, in one order (ascending id)."""
        ...

    async def place_bid(self, bid: PlaceBid, now: datetime) -> BidResult: ...
    async def end_auction(self, code: str | None, chat: str | None, now: datetime) -> int:
        """Makes the live auction (by code, in the chat) due now; returns its id."""
        ...

    async def close_due(self, now: datetime) -> list[AuctionOffer]:
        """Closes the auctions whose time is up: the winner gets an order (or no sale)."""
        ...

    async def second_chances(self, now: datetime) -> list[AuctionOffer]:
        """Unpaid wins whose order ended: a strike, and the item offered to the runner-up."""
        ...

    async def auctions(self, status: str | None = None) -> list[AuctionView]: ...


@dataclass(frozen=True, slots=True)
class Linked:
    """Two identities now buy as one customer."""

    identities: tuple[str, ...]  # every identity of the customer, this one included
    card: SavedCard | None  # the card they share, if any


class Cards(Protocol):
    """One-message buying: saved cards, linked identities and confirms of held orders."""

    async def card(self, identity: str) -> SavedCard | None: ...
    async def save_card(self, identity: str, card: SavedCard, now: datetime) -> None: ...
    async def forget_card(self, identity: str) -> SavedCard | None: ...
    async def trusted(self, identity: str) -> bool:
        """A repeat buyer: one of the customer's orders was paid before."""
        ...

    async def issue_code(self, identity: str, now: datetime, ttl: timedelta) -> str: ...
    async def join(self, account: str, identity: str, now: datetime) -> Linked:
        """Joins `identity`'s customer to `account`'s (created if new), as a redeemed code
        joins them: a sign-in proved that the web viewer `identity` is `account`."""
        ...

    async def redeem_code(self, identity: str, code: str, now: datetime) -> Linked:
        """Joins the code's customer and this identity's (InvalidInput when the code is
        unknown, used, expired or this identity's own)."""
        ...

    async def ask_confirm(self, ref: str, until: datetime, now: datetime) -> OrderView:
        """The held order waits for the buyer's confirm until then (its hold ends then)."""
        ...

    async def awaiting_confirm(self, identity: str, ref: str | None) -> OrderView | None: ...
    async def ship_to(self, identity: str) -> str | None:
        """Where the buyer's last paid order shipped to: their one-message buys go there."""
        ...

    async def start_charge(self, ref: str, now: datetime, ship_to: str | None = None) -> bool:
        """Takes the confirm: True for the one caller that may charge (a double tap is not
        a second charge). The order ships to `ship_to`."""
        ...

    async def charge_started(self, ref: str, payment: str, now: datetime) -> None: ...
    async def charge_failed(
        self, ref: str, payment: str | None, hold: datetime, cause: str, now: datetime
    ) -> OrderView | None:
        """The charge under way failed: the order holds its units until `hold` for the link.
        None when it was handled already (the API answer and the webhook both report it)."""
        ...


class ShowStore(Protocol):
    """Shows and their run sheets; which lot is live is decided under the show's lock."""

    async def create_show(
        self,
        title: str,
        code: str,
        starts_at: datetime,
        channels: tuple[str, ...],
        actor: str,
        now: datetime,
        shipping: str = "buyer",
    ) -> ShowView: ...
    async def add_lot(self, code: str, spec: LotSpec, price_minor: int | None) -> ShowView: ...
    async def show(self, code: str) -> ShowView: ...
    async def show_in_chat(self, chat: str) -> ShowView | None:
        """The show running (or else the next scheduled) in this chat."""
        ...

    async def shows(self, status: str | None = None) -> list[ShowView]: ...
    async def set_status(self, show_id: int, status: str, now: datetime) -> ShowView:
        """Live (from scheduled or paused), paused (from live) or ended; InvalidInput when
        the show is not in a state it can come from."""
        ...

    async def take_next(self, show_id: int, on_stage: int | None, now: datetime) -> LotView:
        """Under the show's lock: the lot on stage is still `on_stage` (Conflict when another
        /next or /skip came first), it is done, and the next pending lot is being started
        (NotFound when none is left)."""
        ...

    async def lot_started(
        self, show_id: int, position: int, ref: tuple[str, int], now: datetime
    ) -> ShowView:
        """`ref`: ('drop', id), ('auction', id) or ('giveaway', id)."""
        ...

    async def lot_not_started(self, show_id: int, position: int, now: datetime) -> None: ...
    async def lot_ended(
        self, show_id: int, position: int, status: str, now: datetime
    ) -> ShowView: ...
    async def due(self, now: datetime) -> tuple[list[ShowView], list[ShowView]]:
        """Shows to remind (starting soon) and shows to open (their time has come)."""
        ...

    async def reminded(self, show_id: int, now: datetime) -> bool:
        """True for the one caller that records the reminder (it then sends it)."""
        ...

    async def open_due(self, show_id: int, now: datetime) -> ShowView | None: ...
    async def chatted(self, chat: str, identity: str, now: datetime) -> None:
        """Counts a chatter of the show running in this chat, if any."""
        ...


class GiveawayStore(Protocol):
    """Giveaways and polls: entries and votes are one per customer, decided in the database."""

    async def start_giveaway(
        self,
        sku: str,
        channels: tuple[str, ...],
        actor: str,
        show_id: int | None,
        seed: str,
        ends_at: datetime,
        now: datetime,
    ) -> GiveawayView: ...
    async def enter(
        self,
        chat: str,
        identity: str,
        display_name: str,
        name: str,
        giveaway_id: int | None,
        now: datetime,
    ) -> EntryResult | None:
        """The entry (the first one of this person, linked identities included) under its
        public `name`; None when no giveaway takes entries in this chat."""
        ...

    async def draw_due(self, now: datetime, shipping: Money | None) -> list[GiveawayDraw]:
        """Draws the giveaways whose time is up: the winner's unit taken, an order of 0, or
        of `shipping` for a product that ships and is priced in the same currency."""
        ...

    async def unsettled(self) -> list[tuple[int, str]]:
        """(giveaway id, order ref) of free winners' orders not marked paid yet."""
        ...

    async def giveaway(self, giveaway_id: int) -> GiveawayRecord: ...
    async def start_poll(
        self,
        question: str,
        options: tuple[str, ...],
        channels: tuple[str, ...],
        actor: str,
        show_id: int | None,
        now: datetime,
    ) -> tuple[PollView, list[PollView]]:
        """The new poll, and the polls it closed (live in one of its chats)."""
        ...

    async def vote(
        self, chat: str, identity: str, option: int, poll_id: int | None, now: datetime
    ) -> VoteResult | None:
        """None when no poll is live here or it has no such option."""
        ...

    async def end_poll(self, chat: str | None, poll_id: int | None, now: datetime) -> PollView:
        """Closes the poll live in the chat (or `poll_id`); NotFound when there is none."""
        ...


class PayLinks(Protocol):
    """The shop's own pay links (commerce.domain.pay_links), signed with the shop's key."""

    async def url(self, ref: str, now: datetime) -> str: ...
    async def genuine(self, ref: str, token: str, now: datetime) -> bool: ...
    async def signer(self, now: datetime) -> Callable[[str], str]:
        """The pay link of an order's ref, made without a wait: what a claim's own
        transaction hands out to a winner (the key is read first)."""
        ...


class RoomLines(Protocol):
    """A web chat room's latest public lines (commerce.adapters.room_lines)."""

    async def keep(self, lines: Sequence[tuple[str, dict[str, Any]]], now: datetime) -> None:
        """Adds (room, line) pairs in order; older lines beyond each room's latest go."""
        ...


class WebViewers(Protocol):
    """Identities the server issues to web chat browsers (commerce.adapters.web_viewers)."""

    async def issue(self, now: datetime) -> tuple[str, str]:
        """A new viewer: (the cookie to set, the identity 'web:v_…')."""
        ...

    async def recognise(self, cookie: str, now: datetime) -> str | None:
        """The identity of a cookie this server issued, else None."""
        ...

    async def seller_names(self, configured: frozenset[str]) -> list[str]:
        """The display names sellers are known by."""
        ...

    async def named(self, identity: str, name: str) -> None:
        """A seller chats under this name in the web chat."""
        ...

    async def linked(self, identity: str) -> bool:
        """Whether this web identity is linked (/link) to a Telegram or Discord account."""
        ...

    async def accounts(self, identity: str) -> list[str]:
        """The accounts (not web viewers) this web identity is linked or signed in to."""
        ...

    async def roles(self, identity: str) -> tuple[str | None, tuple[tuple[str, str | None], ...]]:
        """The identity's own seller role (`seller`) and its accounts with theirs, as
        `seller_role` asks them, read together with every other message's meanwhile."""
        ...


class EmailSignIns(Protocol):
    """One-time email sign-in links (commerce.adapters.email_sign_ins): only the token's
    sha256 is kept."""

    async def issue(
        self, token_hash: str, email: str, room: str, until: datetime, now: datetime
    ) -> None: ...
    async def redeem(self, token_hash: str, now: datetime) -> tuple[str, str] | None:
        """Marks the link used: (email, room) for the one caller that may, else None
        (unknown, used or expired)."""
        ...


class Throttle(Protocol):
    """Flood control: how many messages a key (a person in a chat) may send."""

    def allows(self, key: str) -> bool:
        """Counts a message; False once the key is over its rate."""
        ...

    def retry_after(self, key: str) -> int:
        """Seconds until the key may send again."""
        ...

    def refused(self, key: str, platform: str) -> bool:
        """A message was dropped: True when its sender should be told (once in a while)."""
        ...

    def dropped(self) -> dict[str, int]:
        """Messages dropped so far, per platform."""
        ...


class Contacts(Protocol):
    """Who opened a private chat with the bot: only they can be messaged privately."""

    async def started(self, platform: str, identity: str, now: datetime) -> None: ...
    async def has_started(self, platform: str, identity: str) -> bool: ...
    async def stopped(self, platform: str, identity: str) -> None:
        """The user blocked the bot: back to deep links."""
        ...


class ShippingStore(Protocol):
    """Shipping zones and bundles: which package an order ships in, and what it pays for
    it, is decided under the bundle's lock (two orders at once never both pay `first`)."""

    async def add_zone(self, zone: Zone, now: datetime) -> Zone:
        """Conflict when the name is taken, a country is in another zone already, or a
        second rest-of-the-world zone is added."""
        ...

    async def zones(self) -> list[Zone]: ...
    async def remove_zone(self, name: str) -> Zone: ...
    async def order_shipping(self, ref: str) -> OrderShipping: ...
    async def join_bundle(
        self, ref: str, ship_to: str, paid: int | None, window: timedelta, now: datetime
    ) -> ShippingShare | None:
        """The order's share of the package it ships in to `ship_to` (opened for it when
        none is open): the order's own share when it has one already; None when nothing
        ships (digital goods) or no zone ships there. `paid`: what the buyer paid already
        (a page with one price per zone), recorded as the order's charge."""
        ...

    async def set_tax(self, ref: str, tax: int) -> None: ...
    async def quote(self, ref: str, shipping: int) -> None:
        """The shipping an order's invoice asks for before its package is known (the
        address comes with the payment); an order in a package keeps its share."""
        ...
