"""SQLModel tables: the database schema (migrations in migrations/ create the same).

No `from __future__ import annotations` here: SQLModel reads the annotations at runtime.
Timestamps are stored as timezone-aware UTC.
"""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

metadata = SQLModel.metadata


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every database (SQLite stores them naive, as UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: the core only uses aware UTC times")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def _utc(nullable: bool = False) -> Any:
    return Column(UTCDateTime(), nullable=nullable)


# A chat as the core names it ("youtube:<liveChatId>": a YouTube live chat id runs to about 80
# characters), and as the outbox and the inbox address it (the platform's own id).
CHAT_LENGTH = 160


def _chat(sqlite_length: int) -> Any:
    """A chat column of CHAT_LENGTH characters (migration 0026 widened them on PostgreSQL).
    SQLite does not enforce a length, and rebuilding its tables to declare the new one would
    fail on the foreign keys of existing rows: there the declaration stays as it was."""
    return String(CHAT_LENGTH).with_variant(String(sqlite_length), "sqlite")


class Product(SQLModel, table=True):
    __tablename__ = "product"
    id: int | None = Field(default=None, primary_key=True)
    sku: str = Field(max_length=32, unique=True)
    name: str = Field(max_length=200)
    price_minor: int = Field(sa_type=BigInteger)
    currency: str = Field(max_length=3)
    option: str = Field(default="", max_length=32)  # the variant dimension, e.g. "size"
    digital: bool = Field(default=False)  # nothing to ship
    # The units one piece counts as in a package (a hoodie may count 2): see
    # domain/shipping.py ship_units. Digital products never ship, whatever this says.
    ship_units: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    # Its picture: an https URL or a file of the media folder (domain/media.py), and what
    # drop and lot cards say about it.
    image: str | None = Field(default=None, max_length=500)
    description: str = Field(default="", sa_column_kwargs={"server_default": ""})
    created_at: datetime = Field(sa_column=_utc())


class Variant(SQLModel, table=True):
    """Stock lives per variant; a product without sizes has one variant labelled ''."""

    __tablename__ = "variant"
    __table_args__ = (
        UniqueConstraint("product_id", "label"),
        CheckConstraint("stock >= 0", name="ck_variant_stock"),
    )
    id: int | None = Field(default=None, primary_key=True)
    product_id: int = Field(foreign_key="product.id", index=True)
    label: str = Field(default="", max_length=64)
    stock: int = Field(default=0)  # never negative: only conditional updates change it


class Drop(SQLModel, table=True):
    __tablename__ = "drops"
    __table_args__ = (
        Index("ix_drops_code_status", "code", "status"),
        CheckConstraint("remaining >= 0", name="ck_drops_remaining"),
    )
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32)
    product_id: int = Field(foreign_key="product.id")
    price_minor: int = Field(sa_type=BigInteger)
    currency: str = Field(max_length=3)
    quantity: int
    remaining: int  # units not held or sold; decided by `UPDATE ... WHERE remaining >= n`
    per_buyer_limit: int | None = None
    policy: str = Field(max_length=16)
    hold_seconds: int
    status: str = Field(max_length=16)
    waitlist_len: int = Field(default=0)  # active waitlist entries, gives positions in O(1)
    started_by: str = Field(default="", max_length=80)
    starts_at: datetime = Field(sa_column=_utc())
    ends_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    ended_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    # When a buyer with a saved card must confirm: always | trusted | above:<minor units>.
    confirm: str = Field(
        default="always", max_length=24, sa_column_kwargs={"server_default": "always"}
    )
    promo: bool = Field(
        default=False, sa_column_kwargs={"server_default": "0"}
    )  # paid by the post


class DropChannel(SQLModel, table=True):
    """The chats a drop is live in; a drop without channels is live everywhere."""

    __tablename__ = "drop_channel"
    drop_id: int = Field(foreign_key="drops.id", primary_key=True)
    chat: str = Field(sa_type=_chat(80), primary_key=True, index=True)


class Customer(SQLModel, table=True):
    __tablename__ = "customer"
    id: int | None = Field(default=None, primary_key=True)
    display_name: str = Field(default="", max_length=100)
    # The identity this customer was first seen as: lets a batch create customers by name.
    origin_key: str = Field(max_length=80, unique=True)
    # The payment provider's customer, reused by every identity linked to this customer.
    payment_customer: str | None = Field(default=None, max_length=80)
    # Chargebacks this customer opened: sellers see the flag on every later order.
    disputes: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    # Where the buyer's last paid order shipped to: one-message buys ship there too.
    ship_to: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = Field(sa_column=_utc())


class Identity(SQLModel, table=True):
    """A platform account ('telegram:123'); linked identities share one customer."""

    __tablename__ = "identity"
    key: str = Field(max_length=80, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)


class DropBuyer(SQLModel, table=True):
    """Units a customer holds or bought in a drop: the per-buyer limit is checked on it."""

    __tablename__ = "drop_buyer"
    drop_id: int = Field(foreign_key="drops.id", primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", primary_key=True)
    units: int = Field(default=0)


class Claim(SQLModel, table=True):
    """One buy message. Its id is the arrival order; its key makes redelivery harmless."""

    __tablename__ = "claim"
    __table_args__ = (
        Index("ix_claim_waitlist", "drop_id", "status", "id"),
        # Whether a buyer already waits in a drop, asked for every sold-out claim.
        Index("ix_claim_buyer", "drop_id", "customer_id", "status"),
    )
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=200, unique=True)  # platform + chat + message id
    drop_id: int | None = Field(default=None, foreign_key="drops.id")
    customer_id: int = Field(foreign_key="customer.id")
    identity: str = Field(max_length=80)
    chat: str = Field(sa_type=_chat(80))
    quantity: int
    variant_id: int | None = Field(default=None, foreign_key="variant.id")
    status: str = Field(max_length=16)  # pending | won | waitlisted | refused | dropped
    reason: str = Field(default="", max_length=32)
    position: int | None = None
    order_id: int | None = Field(default=None, foreign_key="orders.id")
    created_at: datetime = Field(sa_column=_utc())


class Order(SQLModel, table=True):
    __tablename__ = "orders"
    __table_args__ = (
        Index("ix_orders_status_hold", "status", "hold_expires_at"),
        Index("ix_orders_shipment_id", "shipment_id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    ref: str = Field(max_length=12, unique=True)  # what buyers type: /cancel K7P2QX9M
    drop_id: int = Field(foreign_key="drops.id", index=True)
    product_id: int = Field(foreign_key="product.id")
    variant_id: int = Field(foreign_key="variant.id")
    customer_id: int = Field(foreign_key="customer.id", index=True)
    identity: str = Field(max_length=80)
    chat: str = Field(sa_type=_chat(80))
    quantity: int
    unit_price_minor: int = Field(sa_type=BigInteger)
    amount_minor: int = Field(sa_type=BigInteger)
    currency: str = Field(max_length=3)
    status: str = Field(max_length=20)
    # Whether the order has its units out of stock: from the claim under the `hold` policy,
    # from the payment under `first-paid`; false again once they went back (expired, ...).
    holds_stock: bool = True
    hold_expires_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    payment_ref: str | None = Field(default=None, max_length=80, index=True)  # payment intent
    paid_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    # Who paid (#18): the card's fingerprint and the Checkout email, recorded with the payment.
    # A drop's per-buyer limit counts the units paid with either, across identities, and
    # strikes follow the card.
    card_fingerprint: str | None = Field(default=None, max_length=64, index=True)
    payer_email: str | None = Field(default=None, max_length=254, index=True)
    checkout_session: str | None = Field(default=None, max_length=80, index=True, unique=True)
    checkout_url: str | None = Field(default=None, max_length=500)
    # Refunds and disputes may be reported before the payment itself (webhooks come in any
    # order): they are kept here and applied once the order is paid.
    refunded_minor: int = Field(default=0, sa_type=BigInteger)
    dispute: str | None = Field(default=None, max_length=20)  # open | won | lost
    # One-message buying: the buyer is asked to confirm a charge of their saved card until
    # then; `charge_attempt` is the off-session payment under way (cleared when it fails).
    confirm_until: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    charge_attempt: str | None = Field(default=None, max_length=80)
    # Where a paid order goes, as the buyer typed it on the payment page (one line); the
    # first address recorded stays.
    ship_to: str | None = Field(default=None, sa_type=Text)
    # The package the order ships in (None: nothing to ship, or no zone charged it yet), and
    # what the buyer pays on top of amount_minor: shipping (the order's share of its bundle's,
    # domain/shipping.py increment) and tax (as the provider computed it). Minor units.
    bundle_id: int | None = Field(default=None, foreign_key="bundles.id", index=True)
    shipping_amount: int = Field(
        default=0, sa_type=BigInteger, sa_column_kwargs={"server_default": "0"}
    )
    tax_amount: int = Field(
        default=0, sa_type=BigInteger, sa_column_kwargs={"server_default": "0"}
    )
    created_at: datetime = Field(sa_column=_utc())
    updated_at: datetime = Field(sa_column=_utc())
    # A delayed payment (SEPA, or an off-session charge that answered `processing`) is under
    # way since then: reconciliation asks the provider about it, and once
    # LIVEBUY_ASYNC_PAYMENT_WAIT has passed the order is paid or released.
    payment_pending_since: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    # Calls to the provider made in the background for this order (its checkout, asking where
    # its payment stands) that failed in a row; none is made again before payment_retry_at
    # (domain/backoff.py), whichever worker sweeps.
    payment_attempts: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    payment_retry_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    # The package it left in (`livebuy ship`): tracking code and carrier; None: not shipped.
    shipment_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer, ForeignKey("shipment.id", name="fk_orders_shipment"), nullable=True
        ),
    )


class Shipment(SQLModel, table=True):
    """A package that left: its orders point here (orders.shipment_id)."""

    __tablename__ = "shipment"
    id: int | None = Field(default=None, primary_key=True)
    tracking: str = Field(max_length=64)
    carrier: str = Field(max_length=40)  # as the seller named it; "" when not given
    shipped_by: str = Field(max_length=80)  # cli, dashboard, csv:<file>
    shipped_at: datetime = Field(sa_column=_utc())


class OrderEvent(SQLModel, table=True):
    """The audit trail: every transition with its cause (message, webhook event, operator)."""

    __tablename__ = "order_event"
    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="orders.id", index=True)
    from_status: str | None = Field(default=None, max_length=20)
    to_status: str = Field(max_length=20)
    cause: str = Field(max_length=200)
    at: datetime = Field(sa_column=_utc())


class PaymentRefund(SQLModel, table=True):
    """Each refund of an order's payment, by the provider's id: reported by several events
    (charge.refunded, refund.updated, ...) it is counted once; one that failed stays failed."""

    __tablename__ = "payment_refund"
    id: str = Field(max_length=80, primary_key=True)  # Stripe: re_...
    order_id: int = Field(foreign_key="orders.id", index=True)
    amount_minor: int
    status: str = Field(max_length=20)  # pending, succeeded, failed, canceled, ...
    updated_at: datetime = Field(sa_column=_utc())


class Seller(SQLModel, table=True):
    __tablename__ = "seller"
    identity: str = Field(max_length=80, primary_key=True)
    role: str = Field(default="owner", max_length=16)
    created_at: datetime = Field(sa_column=_utc())


class PaymentEvent(SQLModel, table=True):
    """Every payment webhook, stored once (by its id) before it is processed."""

    __tablename__ = "payment_event"
    id: str = Field(max_length=80, primary_key=True)
    type: str = Field(max_length=80)
    payload: str  # the verified JSON body, kept for replays and audits
    received_at: datetime = Field(sa_column=_utc())
    processed_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    outcome: str = Field(default="", max_length=200)
    attempts: int = Field(default=0)
    # One delivery at a time processes it: a redelivery to another worker meanwhile is told
    # "duplicate"; if the processing worker dies, the claim runs out and `reprocess` takes it.
    claimed_until: datetime | None = Field(default=None, sa_column=_utc(nullable=True))


class OutboxMessage(SQLModel, table=True):
    """A message for a chat platform, kept until it is sent (see service_layer/outbox.py)."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "platform", "status", "not_before"),
        # A chat's older waiting messages, looked up for each due one (adapters/outbox.py).
        Index("ix_outbox_chat_order", "platform", "chat", "status", "id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=16)
    chat: str = Field(sa_type=_chat(64))
    text: str
    buttons: str = Field(default="[]")  # JSON list of {label, url, action}
    board: str | None = Field(default=None, max_length=64)
    reply_to: str | None = Field(default=None, max_length=64)
    invoice: str | None = None  # JSON of a native invoice (service_layer/outbox.py Invoice)
    image: str | None = Field(default=None, max_length=500)  # a board's picture (Outgoing.image)
    status: str = Field(default="pending", max_length=16)  # pending, sent, undeliverable
    attempts: int = Field(default=0)
    not_before: datetime = Field(sa_column=_utc())
    lease_until: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    message_ref: str | None = Field(default=None, max_length=64)
    edit: bool = Field(default=False)  # sent as an edit of a board already posted
    error: str = Field(default="", max_length=300)
    created_at: datetime = Field(sa_column=_utc())
    sent_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))


class BoardMessage(SQLModel, table=True):
    """The one message per drop and chat that is edited in place."""

    __tablename__ = "board_message"
    platform: str = Field(max_length=16, primary_key=True)
    chat: str = Field(sa_type=_chat(64), primary_key=True)
    board: str = Field(max_length=64, primary_key=True)
    message_ref: str = Field(max_length=64)
    last_sent_at: datetime = Field(sa_column=_utc())
    # The picture the posted message shows (None: a text message): an edit with another
    # picture replaces the media, one with the same only the caption.
    image: str | None = Field(default=None, max_length=500)


class ChatPace(SQLModel, table=True):
    """When a chat may get its next message: the platforms' per-chat limits, kept in the
    database so that they hold across workers."""

    __tablename__ = "chat_pace"
    platform: str = Field(max_length=16, primary_key=True)
    chat: str = Field(sa_type=_chat(64), primary_key=True)
    next_at: datetime = Field(sa_column=_utc())


class ChatInbox(SQLModel, table=True):
    """Chat updates stored before the platform is told they arrived (commerce.adapters
    .chat_inbox): one chat's are processed in the platform's order, one at a time, by any
    worker; a row taken by a worker that died is taken again."""

    __tablename__ = "chat_inbox"
    __table_args__ = (
        Index("ix_chat_inbox_pending", "platform", "done", "chat", "seq"),
        Index("ix_chat_inbox_received", "received_at"),
    )
    platform: str = Field(max_length=16, primary_key=True)
    update_id: str = Field(max_length=64, primary_key=True)
    chat: str = Field(sa_type=_chat(64))  # one chat's updates run in `seq` order, one at a time
    seq: int = Field(sa_column=Column(BigInteger, nullable=False))  # the platform's numbering
    payload: str = Field(sa_column=Column(Text, nullable=False))  # the update, as received
    done: bool = Field(default=False)
    taken_by: str | None = Field(default=None, max_length=120)  # a worker id (table worker)
    attempts: int = Field(default=0)
    not_before: datetime = Field(sa_column=_utc())  # a failed attempt is retried later
    received_at: datetime = Field(sa_column=_utc())
    error: str = Field(default="", max_length=300)


class AppSetting(SQLModel, table=True):
    """Values the service generates and keeps (the dashboard's admin token)."""

    __tablename__ = "app_setting"
    key: str = Field(max_length=64, primary_key=True)
    value: str
    updated_at: datetime = Field(sa_column=_utc())


class DashboardSession(SQLModel, table=True):
    """A signed-in dashboard browser. Only the sha256 of the random session id is kept, so a
    database dump gives no live session; deleting the row ends the session."""

    __tablename__ = "dashboard_session"
    id_hash: str = Field(max_length=64, primary_key=True)
    created_at: datetime = Field(sa_column=_utc())
    last_seen_at: datetime = Field(sa_column=_utc())
    ip: str = Field(default="", max_length=64)
    user_agent: str = Field(default="", max_length=200)


class WebViewer(SQLModel, table=True):
    """A web chat viewer the server issued an identity to. The browser's cookie holds a
    random secret; only its sha256 is kept. Everyone else (sellers, exports, logs) sees the
    public id ('web:v_…'), never the secret."""

    __tablename__ = "web_viewer"
    secret_hash: str = Field(max_length=64, primary_key=True)
    public_id: str = Field(max_length=40, unique=True)
    # A seller's name in the web chat (kept so no viewer can chat under it); '' for buyers.
    name: str = Field(default="", max_length=32, sa_column_kwargs={"server_default": ""})
    created_at: datetime = Field(sa_column=_utc())


class EmailSignIn(SQLModel, table=True):
    """A one-time email sign-in link for the web chat. Only the sha256 of the link's token
    is kept (a database dump signs no one in); used once, before `expires_at`."""

    __tablename__ = "email_sign_in"
    token_hash: str = Field(max_length=64, primary_key=True)
    email: str = Field(max_length=64)
    room: str = Field(max_length=32)
    created_at: datetime = Field(sa_column=_utc())
    expires_at: datetime = Field(sa_column=_utc())
    used_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))


class SavedCard(SQLModel, table=True):
    """The card a customer (all their linked identities) buys with in one message: the
    provider's ids plus brand and last four digits, never a card number."""

    __tablename__ = "saved_card"
    customer_id: int = Field(foreign_key="customer.id", primary_key=True)
    payment_customer: str = Field(max_length=80)
    payment_method: str = Field(max_length=80)
    brand: str = Field(max_length=20)
    last4: str = Field(max_length=4)
    fingerprint: str | None = Field(default=None, max_length=64)  # the card's, across customers
    saved_at: datetime = Field(sa_column=_utc())


class LinkCode(SQLModel, table=True):
    """A one-time code from `/link`: typed on another platform, it joins both identities."""

    __tablename__ = "link_code"
    code: str = Field(max_length=12, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id")
    identity: str = Field(max_length=80)
    expires_at: datetime = Field(sa_column=_utc())
    used_by: str | None = Field(default=None, max_length=80)


class Show(SQLModel, table=True):
    """A show: a run sheet of lots announced in its chats, run with /next by a seller."""

    __tablename__ = "show"
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, unique=True)  # what sellers type: SUNDAY-CARDS
    title: str = Field(max_length=120)
    status: str = Field(max_length=16)  # scheduled | live | paused | ended
    starts_at: datetime = Field(sa_column=_utc())
    announced_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    reminded_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    opened_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    ended_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    created_by: str = Field(max_length=80)
    created_at: datetime = Field(sa_column=_utc())
    # Who pays the shipping of the show's packages: buyer | free | cap:<minor units>
    # (domain/shipping.py ShippingPolicy).
    shipping: str = Field(
        default="buyer", max_length=32, sa_column_kwargs={"server_default": "buyer"}
    )


class ShowChannel(SQLModel, table=True):
    __tablename__ = "show_channel"
    show_id: int = Field(foreign_key="show.id", primary_key=True)
    chat: str = Field(sa_type=_chat(80), primary_key=True, index=True)


class Lot(SQLModel, table=True):
    """One item of a show's run sheet; going live makes it a drop, an auction or a
    giveaway, whose id it keeps."""

    __tablename__ = "lot"
    __table_args__ = (UniqueConstraint("show_id", "position"),)
    id: int | None = Field(default=None, primary_key=True)
    show_id: int = Field(foreign_key="show.id")
    position: int
    sku: str = Field(max_length=32)
    mode: str = Field(max_length=16)  # auction | fixed | giveaway
    price_minor: int | None = Field(default=None, sa_type=BigInteger)  # start or fixed price
    quantity: int = Field(default=1)
    duration_seconds: int | None = None
    close: str | None = Field(default=None, max_length=8)  # soft | sudden (auctions)
    status: str = Field(max_length=16)  # pending | live | done | skipped
    drop_id: int | None = Field(default=None, foreign_key="drops.id")
    auction_id: int | None = Field(default=None, foreign_key="auction.id")
    giveaway_id: int | None = None
    started_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    ended_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))


class ShowChatter(SQLModel, table=True):
    """Who wrote in a show's chats while it was live (for the report's engagement)."""

    __tablename__ = "show_chatter"
    show_id: int = Field(foreign_key="show.id", primary_key=True)
    identity: str = Field(max_length=80, primary_key=True)
    first_at: datetime = Field(sa_column=_utc())


class BotContact(SQLModel, table=True):
    """Users who opened a private chat with the bot (Telegram's /start): only they can be
    messaged privately; the others get a deep link that opens that chat."""

    __tablename__ = "bot_contact"
    platform: str = Field(max_length=16, primary_key=True)
    identity: str = Field(max_length=80, primary_key=True)
    started_at: datetime = Field(sa_column=_utc())


class Auction(SQLModel, table=True):
    """A live auction of one unit. The row is the auction's state: bids lock it (PostgreSQL)
    or the database (SQLite) and change it with a guarded UPDATE; `ends_at` is the timer."""

    __tablename__ = "auction"
    __table_args__ = (Index("ix_auction_status_ends", "status", "ends_at"),)
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32)
    product_id: int = Field(foreign_key="product.id")
    variant_id: int = Field(foreign_key="variant.id")
    currency: str = Field(max_length=3)
    start_minor: int = Field(sa_type=BigInteger)
    reserve_minor: int | None = Field(default=None, sa_type=BigInteger)
    ladder: str = Field(max_length=200)  # "0:100,2000:200": band start and step, minor units
    close: str = Field(max_length=8)  # soft | sudden
    soft_seconds: int
    pay_seconds: int  # the winner's time to pay
    status: str = Field(max_length=16)  # live | closed
    outcome: str = Field(default="", max_length=20)  # sold | no_bids | reserve_not_met | ...
    price_minor: int | None = Field(default=None, sa_type=BigInteger)
    leader_customer_id: int | None = Field(default=None, foreign_key="customer.id")
    leader_identity: str = Field(default="", max_length=80)
    leader_chat: str = Field(default="", sa_type=_chat(80))
    leader_max_minor: int = Field(default=0, sa_type=BigInteger)  # never shown
    bid_count: int = Field(default=0)
    last_seq: int = Field(default=0)
    drop_id: int | None = Field(default=None, foreign_key="drops.id")  # the sale, once closed
    order_id: int | None = Field(default=None, foreign_key="orders.id")  # the current offer
    started_by: str = Field(default="", max_length=80)
    starts_at: datetime = Field(sa_column=_utc())
    ends_at: datetime = Field(sa_column=_utc())
    closed_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))


class AuctionChannel(SQLModel, table=True):
    """The chats an auction runs in; bids from all of them count in one auction."""

    __tablename__ = "auction_channel"
    auction_id: int = Field(foreign_key="auction.id", primary_key=True)
    chat: str = Field(sa_type=_chat(80), primary_key=True, index=True)


class Bid(SQLModel, table=True):
    """A bid message (key: redelivery is harmless) or a proxy's answer; accepted visible bids
    carry the auction's sequence number."""

    __tablename__ = "bid"
    __table_args__ = (UniqueConstraint("auction_id", "seq"),)
    id: int | None = Field(default=None, primary_key=True)
    auction_id: int = Field(foreign_key="auction.id", index=True)
    seq: int | None = None
    key: str = Field(max_length=200, unique=True)
    customer_id: int = Field(foreign_key="customer.id")
    identity: str = Field(max_length=80)
    chat: str = Field(sa_type=_chat(80))
    kind: str = Field(max_length=8)  # bid | max | auto
    amount_minor: int = Field(sa_type=BigInteger)  # the visible bid (or the maximum asked)
    status: str = Field(max_length=16)  # accepted | refused
    reason: str = Field(default="", max_length=32)
    created_at: datetime = Field(sa_column=_utc())


class Strike(SQLModel, table=True):
    """An unpaid win (or hold): buyers with too many pay first from then on."""

    __tablename__ = "strike"
    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    order_id: int = Field(foreign_key="orders.id", unique=True)
    cause: str = Field(max_length=80)
    created_at: datetime = Field(sa_column=_utc())


class Lease(SQLModel, table=True):
    """A duty only one worker may do at a time, and who does it until when."""

    __tablename__ = "lease"
    name: str = Field(max_length=40, primary_key=True)
    holder: str = Field(max_length=120)
    expires_at: datetime = Field(sa_column=_utc())
    taken_at: datetime = Field(sa_column=_utc())


class Worker(SQLModel, table=True):
    """A running `livebuy run` process and its last heartbeat."""

    __tablename__ = "worker"
    id: str = Field(max_length=120, primary_key=True)
    host: str = Field(max_length=100)
    pid: int
    started_at: datetime = Field(sa_column=_utc())
    seen_at: datetime = Field(sa_column=_utc())


class Giveaway(SQLModel, table=True):
    """One unit of a product given to an entrant drawn when `ends_at` passes. The seed is
    secret until the draw; `commitment` (its SHA-256) is public from the start."""

    __tablename__ = "giveaway"
    __table_args__ = (Index("ix_giveaway_status_ends", "status", "ends_at"),)
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32)
    product_id: int = Field(foreign_key="product.id")
    seed: str = Field(max_length=64)
    commitment: str = Field(max_length=64)
    status: str = Field(max_length=16)  # live | drawn
    outcome: str = Field(default="", max_length=20)  # won | no_entries | no_stock
    entries: int = Field(default=0)  # entries are numbered 1..entries in arrival order
    winner_number: int | None = None
    winner_name: str = Field(default="", max_length=40)
    winner_identity: str = Field(default="", max_length=80)
    winner_chat: str = Field(default="", sa_type=_chat(80))
    drop_id: int | None = Field(default=None, foreign_key="drops.id")  # the winner's "sale"
    order_id: int | None = Field(default=None, foreign_key="orders.id")
    show_id: int | None = Field(default=None, foreign_key="show.id")
    started_by: str = Field(default="", max_length=80)
    starts_at: datetime = Field(sa_column=_utc())
    ends_at: datetime = Field(sa_column=_utc())
    drawn_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))


class GiveawayChannel(SQLModel, table=True):
    __tablename__ = "giveaway_channel"
    giveaway_id: int = Field(foreign_key="giveaway.id", primary_key=True)
    chat: str = Field(sa_type=_chat(80), primary_key=True, index=True)


class GiveawayEntry(SQLModel, table=True):
    """One entry per customer. `customer_id` has no foreign key: linking identities later
    merges customers, and the entry keeps the customer it was made by (the draw looks the
    winner's customer up by `identity`)."""

    __tablename__ = "giveaway_entry"
    __table_args__ = (UniqueConstraint("giveaway_id", "customer_id"),)
    giveaway_id: int = Field(foreign_key="giveaway.id", primary_key=True)
    number: int = Field(primary_key=True)
    customer_id: int
    identity: str = Field(max_length=80)  # never published
    chat: str = Field(sa_type=_chat(80))
    name: str = Field(max_length=40)  # published: a display name or a random tag
    created_at: datetime = Field(sa_column=_utc())


class Poll(SQLModel, table=True):
    __tablename__ = "poll"
    id: int | None = Field(default=None, primary_key=True)
    question: str = Field(max_length=200)
    status: str = Field(max_length=16, index=True)  # live | closed
    show_id: int | None = Field(default=None, foreign_key="show.id")
    started_by: str = Field(default="", max_length=80)
    started_at: datetime = Field(sa_column=_utc())
    closed_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))


class PollOption(SQLModel, table=True):
    __tablename__ = "poll_option"
    poll_id: int = Field(foreign_key="poll.id", primary_key=True)
    number: int = Field(primary_key=True)  # 1 ... 6: voters type '#number'
    label: str = Field(max_length=40)


class PollChannel(SQLModel, table=True):
    __tablename__ = "poll_channel"
    poll_id: int = Field(foreign_key="poll.id", primary_key=True)
    chat: str = Field(sa_type=_chat(80), primary_key=True, index=True)


class PollVote(SQLModel, table=True):
    """One vote per customer (no foreign key on it, as for giveaway entries)."""

    __tablename__ = "poll_vote"
    poll_id: int = Field(foreign_key="poll.id", primary_key=True)
    customer_id: int = Field(primary_key=True)
    identity: str = Field(max_length=80)
    choice: int
    created_at: datetime = Field(sa_column=_utc())


class ShippingZone(SQLModel, table=True):
    """Where the shop ships and what a package costs there (domain/shipping.py Zone):
    countries as 'AT,DE', or '*' for every country no other zone names."""

    __tablename__ = "shipping_zones"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=40, unique=True)
    countries: str = Field(sa_type=Text)
    currency: str = Field(max_length=3)
    first_minor: int = Field(sa_type=BigInteger)  # the package's first unit
    each_minor: int = Field(sa_type=BigInteger)  # every further unit
    cap_minor: int | None = Field(default=None, sa_type=BigInteger)  # per package, if any
    created_at: datetime = Field(sa_column=_utc())


class Bundle(SQLModel, table=True):
    """One package: a customer's orders that ship to one address within one show (or,
    outside shows, within LIVEBUY_BUNDLE_WINDOW of `window_start`). Its zone's rates and the
    show's policy are copied in when it opens, so that editing a zone later does not change
    what the package's later orders pay.

    `lock_key` names the slot the bundle fills (customer, address, show or window): unique,
    so two first orders paid at once cannot open two bundles. Every order added to or taken
    out of the bundle first bumps `version`, which takes the row's lock (PostgreSQL) or the
    database's (SQLite): units and charge are read and changed under it, so two orders
    cannot both pay the package's first unit."""

    __tablename__ = "bundles"
    id: int | None = Field(default=None, primary_key=True)
    lock_key: str = Field(max_length=160, unique=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    ship_to: str = Field(sa_type=Text)  # the address, one line (domain/shipping.py ship_to)
    show_id: int | None = Field(default=None, foreign_key="show.id", index=True)
    window_start: datetime = Field(sa_column=_utc())  # the bundle's first order
    zone: str | None = Field(default=None, max_length=40)  # None: no zone ships there
    currency: str = Field(max_length=3)
    policy: str = Field(default="buyer", max_length=32)  # the show's, or buyer
    first_minor: int = Field(default=0, sa_type=BigInteger)
    each_minor: int = Field(default=0, sa_type=BigInteger)
    cap_minor: int | None = Field(default=None, sa_type=BigInteger)
    units: int = Field(default=0)  # of the orders in it (awaiting payment or paid)
    charged_minor: int = Field(default=0, sa_type=BigInteger)  # their shipping_amount, summed
    version: int = Field(default=0)
    created_at: datetime = Field(sa_column=_utc())
    updated_at: datetime = Field(sa_column=_utc())


class RoomLine(SQLModel, table=True):
    """A web chat room's public line (what someone said, the bot's public reply) as the page
    draws it (JSON), so that whoever joins after a restart sees the room's latest lines."""

    __tablename__ = "room_line"
    __table_args__ = (Index("ix_room_line_room_id", "room", "id"),)
    id: int | None = Field(default=None, primary_key=True)
    room: str = Field(max_length=64)
    line: str
    at: datetime = Field(sa_column=_utc())
