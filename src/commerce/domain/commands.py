"""Commands the core accepts, whatever their origin (chat message, CLI, dashboard)."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from commerce.domain.drops import DropTerms
from commerce.domain.money import Money
from commerce.domain.orders import OrderStatus
from commerce.domain.payments import NO_PAYER, Payer, PaymentEvent
from commerce.domain.products import ProductSpec
from commerce.domain.shipping import ShippingPolicy, Zone
from commerce.domain.shows import LotSpec


@dataclass(frozen=True, slots=True)
class AddProduct:
    spec: ProductSpec
    stock: int  # units per variant


@dataclass(frozen=True, slots=True)
class UpdateProduct:
    """Renames or reprices a product; drops already live keep the price they started with."""

    sku: str
    name: str | None = None
    price: Money | None = None
    ship_units: int | None = None  # the units one piece counts as in a package
    image: str | None = None  # None: unchanged; "": no picture any more
    description: str | None = None  # None: unchanged


@dataclass(frozen=True, slots=True)
class SetStock:
    sku: str
    stock: int
    variant: str | None = None


@dataclass(frozen=True, slots=True)
class StartDrop:
    terms: DropTerms
    channels: tuple[str, ...] = ()  # chats ('telegram:-100123'); none means every chat
    code: str | None = None  # what buyers type; the SKU by default
    actor: str = "operator"
    # The chats are told (board, announcement); not when a seller's /drop in the chat already
    # got its answer there.
    announce: bool = True


@dataclass(frozen=True, slots=True)
class EndDrop:
    code: str | None = None
    chat: str | None = None
    actor: str = "operator"


@dataclass(frozen=True, slots=True)
class Claim:
    """A buyer's `#buy`: one message, identified by `key` (platform + chat + message id)."""

    key: str
    chat: str
    identity: str
    display_name: str = ""
    code: str | None = None
    quantity: int = 1
    variant_words: tuple[str, ...] = ()
    received_at: datetime | None = None  # set by the bus from the Clock when missing


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """A message posted in a chat, on any platform, with the sender's platform identity."""

    key: str  # platform + chat + message id: a redelivered message is recognised
    chat: str
    identity: str
    text: str
    display_name: str = ""
    private: bool = False  # a private chat with the bot
    # The platform vouches that the sender administers this chat (a Telegram group admin):
    # they may start and end drops there, as sellers do (refunds stay with sellers).
    chat_admin: bool = False
    # Or the platform's question for it (getChatMember), asked only for a command that a
    # chat's administrators may run.
    is_admin: Callable[[], Awaitable[bool]] | None = None
    # The core's reading of `text` (service_layer.reading.Reading), once taken: whoever looks
    # at the message next uses it instead of reading the text again. Not part of what the
    # message is (a redelivery with or without it is the same message).
    reading: object = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class PassHold:
    """`/pass`: give back the units the buyer holds in this chat's drop."""

    identity: str
    chat: str | None  # None: the latest hold wherever it was claimed (a private chat's /pass)
    code: str | None = None


@dataclass(frozen=True, slots=True)
class CancelOrder:
    identity: str | None  # None: an operator cancels any order
    ref: str | None = None  # None: the buyer's most recent unpaid order
    cause: str = ""
    reason: str = ""  # an operator's word for the buyer, who is told


@dataclass(frozen=True, slots=True)
class SettlePayment:
    """The payment provider says an order was paid (`cause`: e.g. the webhook event id)."""

    order_ref: str
    payment_ref: str
    cause: str
    # The buyer hears of the payment in the answer to their own action (a confirm charged,
    # a promo's post, a giveaway won): the paid notice then tells only the chat.
    answered: bool = False
    # Who paid (the card's fingerprint, the Checkout email): limits follow them (#18).
    payer: Payer = NO_PAYER


@dataclass(frozen=True, slots=True)
class ApplyPaymentEvent:
    """A verified, stored payment webhook to apply to its order."""

    event: PaymentEvent


@dataclass(frozen=True, slots=True)
class StorePaymentEvent:
    """A verified webhook kept before it is acknowledged; answers True for a duplicate."""

    event_id: str
    type: str
    payload: str


@dataclass(frozen=True, slots=True)
class KeepMalformedEvent:
    """A signed body that is not an event of the provider's shapes: kept, applied to
    nothing; answers the key it is kept under."""

    payload: bytes
    reason: str


@dataclass(frozen=True, slots=True)
class MarkPaymentEvent:
    """What became of a stored event (`done`: nothing left to try)."""

    event_id: str
    outcome: str
    done: bool = True


@dataclass(frozen=True, slots=True)
class ProcessPaymentEvent:
    """Applies a stored event and records the outcome (service_layer.payment_events)."""

    event: PaymentEvent
    wait_for_order: timedelta  # how long an unknown order is waited for, then a dead letter


@dataclass(frozen=True, slots=True)
class ClaimPaymentEvent:
    """A pending event taken for processing by this worker; answers False while a
    delivery holds it."""

    event_id: str


@dataclass(frozen=True, slots=True)
class IdentifyPayer:
    """A Checkout payment's event, before it is received: who paid (the card's fingerprint,
    the email) is asked of the provider, outside the delivery's unit of work."""

    event: PaymentEvent


@dataclass(frozen=True, slots=True)
class ReceivePaymentEvent:
    """A verified payment webhook, just delivered: stored once and applied."""

    event: PaymentEvent
    payload: str  # the signed body, kept with the event
    ignore: str | None = None  # why it is kept but never applied (the other Stripe mode)


@dataclass(frozen=True, slots=True)
class PaymentEventFailed:
    """A delivery that could not be applied: kept (once) with its error, for Stripe's retry
    and `reprocess`."""

    event: PaymentEvent
    payload: str
    error: str


@dataclass(frozen=True, slots=True)
class RefundOrder:
    ref: str
    amount: Money | None = None  # None: whatever is left to refund
    restock: bool = False  # put the units back in stock
    actor: str = "operator"
    # Part of the amount as typed (e.g. "5.00"), in the order's currency; for callers that do
    # not know it (the dashboard). `amount` wins when both are given.
    part: str | None = None
    # Every order of the order's bundle, each in full with its shipping and tax.
    bundle: bool = False


@dataclass(frozen=True, slots=True)
class Reconcile:
    """Asks the payment provider about recent open orders and repairs what webhooks missed."""

    since: timedelta = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class CheckPayment:
    """The buyer is back from the payment page: the provider is asked about the order's
    checkout, and a payment it reports is settled as its webhook would settle it."""

    ref: str


@dataclass(frozen=True, slots=True)
class ExpireHolds:
    pass


@dataclass(frozen=True, slots=True)
class StartAuction:
    """One unit of a product auctioned; amounts in the product's currency."""

    sku: str
    start: Decimal
    duration: timedelta | None = None  # 50 seconds by default
    close: str | None = None  # soft (default) | sudden
    reserve: Decimal | None = None
    step: Decimal | None = None  # a fixed increment instead of the ladder
    channels: tuple[str, ...] = ()  # none: every chat
    code: str | None = None  # the SKU by default
    actor: str = "operator"


@dataclass(frozen=True, slots=True)
class PlaceBid:
    """`#bid 15` (or `/maxbid 40` with proxy=True) on the auction live in `chat`."""

    key: str  # platform + chat + message id
    chat: str
    identity: str
    amount: Decimal
    proxy: bool = False
    display_name: str = ""
    private: bool = False  # sent in a private chat: the latest live auction anywhere
    received_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class EndAuction:
    """The seller's `/end` while an auction runs: it closes now, the highest bid wins."""

    code: str | None = None
    chat: str | None = None
    actor: str = "operator"


@dataclass(frozen=True, slots=True)
class CloseDueAuctions:
    """Closes auctions whose time is up and passes unpaid wins to the runner-up."""


@dataclass(frozen=True, slots=True)
class CreateShow:
    title: str
    starts_at: datetime
    channels: tuple[str, ...]
    code: str | None = None  # from the title by default: SUNDAY-CARDS
    actor: str = "operator"
    lots: tuple[LotSpec, ...] = ()
    shipping: ShippingPolicy | None = None  # who pays its packages' shipping; None: buyer


@dataclass(frozen=True, slots=True)
class AddLot:
    show: str
    spec: LotSpec


@dataclass(frozen=True, slots=True)
class AddLots:
    """A CSV run sheet's lots, added all or none."""

    show: str
    specs: tuple[LotSpec, ...]


@dataclass(frozen=True, slots=True)
class NextLot:
    """`/next`: the show's next lot goes live (the show opens if it has not)."""

    chat: str | None = None  # the show running in this chat ...
    show: str | None = None  # ... or this one
    actor: str = "operator"


@dataclass(frozen=True, slots=True)
class PauseShow:
    chat: str | None = None
    show: str | None = None
    actor: str = "operator"


@dataclass(frozen=True, slots=True)
class SkipLot:
    chat: str | None = None
    show: str | None = None
    actor: str = "operator"


@dataclass(frozen=True, slots=True)
class EndShow:
    chat: str | None = None
    show: str | None = None
    actor: str = "operator"


@dataclass(frozen=True, slots=True)
class TickShows:
    """Reminders shortly before shows, and shows opened at their start."""


@dataclass(frozen=True, slots=True)
class ConfirmPurchase:
    """`#confirm [ORDER]`: charge the saved card for the buyer's held order."""

    identity: str
    ref: str | None = None  # None: the order that waits for a confirm


@dataclass(frozen=True, slots=True)
class StartGiveaway:
    """One unit of a product given to an entrant drawn when the time is up (a show passes
    its chats and its id)."""

    sku: str
    duration: timedelta | None = None  # 60 seconds by default
    channels: tuple[str, ...] = ()  # none: every chat
    actor: str = "operator"
    show_id: int | None = None


@dataclass(frozen=True, slots=True)
class OpenPayment:
    """A buyer opened the pay link of order `ref` (`token` from the link)."""

    ref: str
    token: str


@dataclass(frozen=True, slots=True)
class EnterGiveaway:
    """`#enter` in `chat`, or the Enter button of giveaway `giveaway_id`."""

    chat: str
    identity: str
    display_name: str = ""
    giveaway_id: int | None = None


@dataclass(frozen=True, slots=True)
class DrawDueGiveaways:
    """The sweeper's pass: giveaways whose time is up are drawn, winners get their order."""


@dataclass(frozen=True, slots=True)
class StartPoll:
    """A question with 2 to 6 options; it closes the poll live in the same chats."""

    question: str
    options: tuple[str, ...]
    channels: tuple[str, ...] = ()  # none: every chat
    actor: str = "operator"
    show_id: int | None = None


@dataclass(frozen=True, slots=True)
class CastVote:
    """`#2` in `chat`, or the button of option 2 of poll `poll_id`."""

    chat: str
    identity: str
    option: int
    poll_id: int | None = None


@dataclass(frozen=True, slots=True)
class PressButton:
    """A board's Enter or vote button pressed on any platform: answered as a chat outcome."""

    action: EnterGiveaway | CastVote


@dataclass(frozen=True, slots=True)
class EndPoll:
    """`/poll end`: the poll live in `chat` (or poll `poll_id`) closes."""

    chat: str | None = None
    poll_id: int | None = None
    actor: str = "operator"


@dataclass(frozen=True, slots=True)
class CountThrottled:
    """Messages flood control dropped, per platform (the dashboard's funnel)."""


@dataclass(frozen=True, slots=True)
class IssueWebViewer:
    """A browser with no identity this server issued: a new one (its cookie and identity)."""


@dataclass(frozen=True, slots=True)
class RecogniseWebViewer:
    """Whose cookie is this? The identity ('web:v_…'), or None for a value never issued."""

    cookie: str


@dataclass(frozen=True, slots=True)
class AdmitWebLine:
    """A web viewer is about to chat under `name`: may they, and are they a seller (whose
    lines the page marks)? The handler answers a WebLine."""

    identity: str
    name: str


@dataclass(frozen=True, slots=True)
class SignIn:
    """A web viewer proved they are `account` (telegram:…, discord:…, twitch:…, youtube:… or
    email:…, checked by the web adapter: a signed Telegram login, a Discord, Twitch or Google
    OAuth answer, an email link): the web identity joins that account's customer, as /link
    joins them. Answers a Linked."""

    identity: str  # "web:v_…"
    account: str


@dataclass(frozen=True, slots=True)
class AskEmailSignIn:
    """A web viewer asks for a sign-in link at `email`: answers the one-time token to send
    (the database keeps only its hash) and the address ('anna@example.com')."""

    email: str
    room: str  # where the link leads back to


@dataclass(frozen=True, slots=True)
class RedeemEmailSignIn:
    """The email link's token, opened by the browser of `identity`: used once, within its
    time, it signs that browser in as the address. Answers (Linked, room)."""

    token: str
    identity: str


@dataclass(frozen=True, slots=True)
class ListOrders:
    status: OrderStatus | None = None
    identity: str | None = None
    limit: int = 1000


@dataclass(frozen=True, slots=True)
class Parcel:
    """Orders that leave in one package with one tracking code. An order of a bundle
    takes its whole bundle along."""

    refs: tuple[str, ...]
    tracking: str
    carrier: str = ""
    line: int | None = None  # the line of a tracking file it came from, for errors


@dataclass(frozen=True, slots=True)
class ShipOrders:
    """Parcels handed to the carrier: their orders become fulfilled, buyers are told."""

    parcels: tuple[Parcel, ...]
    actor: str = "operator"  # cli, dashboard, csv:<file>


@dataclass(frozen=True, slots=True)
class ListToShip:
    """Paid packages not shipped yet, oldest payment first."""

    limit: int = 500


@dataclass(frozen=True, slots=True)
class PackingList:
    """What to pack: the paid packages of one show, or paid in [since, until)."""

    show: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class AddSeller:
    identity: str
    role: str = "owner"


@dataclass(frozen=True, slots=True)
class CheckInvoice:
    """A platform's native invoice is about to be paid (Telegram's pre_checkout_query): may
    it? The handler answers None, or a short reason to show the buyer."""

    order_ref: str  # the invoice's payload
    identity: str  # who is paying
    amount_minor: int
    currency: str


@dataclass(frozen=True, slots=True)
class InvoicePaid:
    """A platform's native invoice was paid (Telegram's successful_payment)."""

    order_ref: str
    identity: str
    amount_minor: int
    currency: str
    provider_charge_id: str  # the payment provider's charge (Stripe: ch_...), for refunds
    telegram_charge_id: str  # the platform's own id of the payment
    ship_to: str | None = None  # the address typed on the invoice (domain.shipping.ship_to)


@dataclass(frozen=True, slots=True)
class AddZone:
    zone: Zone


@dataclass(frozen=True, slots=True)
class RemoveZone:
    name: str


@dataclass(frozen=True, slots=True)
class ListZones:
    """The shop's shipping zones, in the order they were added."""


@dataclass(frozen=True, slots=True)
class KeepRoomLines:
    """Public lines said in web chat rooms, (room, line as the page draws it), in order."""

    lines: tuple[tuple[str, dict[str, Any]], ...]


@dataclass(frozen=True, slots=True)
class ShowOpenOrders:
    """A buyer's open orders with the pay link of each unpaid one, as `/orders` answers: a
    web chat page opened on a worker that has not seen its viewer (after a restart) shows
    them without being asked."""

    identity: str


Command = (
    AddProduct
    | UpdateProduct
    | SetStock
    | StartDrop
    | EndDrop
    | Claim
    | ChatMessage
    | PassHold
    | CancelOrder
    | SettlePayment
    | ApplyPaymentEvent
    | StorePaymentEvent
    | KeepMalformedEvent
    | MarkPaymentEvent
    | ProcessPaymentEvent
    | ClaimPaymentEvent
    | ReceivePaymentEvent
    | IdentifyPayer
    | PaymentEventFailed
    | RefundOrder
    | Reconcile
    | CheckPayment
    | ExpireHolds
    | StartAuction
    | PlaceBid
    | EndAuction
    | CloseDueAuctions
    | ConfirmPurchase
    | CreateShow
    | AddLot
    | AddLots
    | NextLot
    | PauseShow
    | SkipLot
    | EndShow
    | TickShows
    | StartGiveaway
    | EnterGiveaway
    | DrawDueGiveaways
    | StartPoll
    | CastVote
    | PressButton
    | EndPoll
    | ListOrders
    | ShipOrders
    | ListToShip
    | PackingList
    | AddSeller
    | CheckInvoice
    | InvoicePaid
    | OpenPayment
    | AddZone
    | RemoveZone
    | ListZones
    | CountThrottled
    | IssueWebViewer
    | RecogniseWebViewer
    | AdmitWebLine
    | KeepRoomLines
    | ShowOpenOrders
    | SignIn
    | AskEmailSignIn
    | RedeemEmailSignIn
)
