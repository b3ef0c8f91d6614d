"""What fulfilment reads and writes: packages (a bundle, or an order of its own), shipments,
and the private news a buyer gets about them (letters, written to the outbox in the same
transaction as the change they tell of)."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from commerce.domain.orders import OrderStatus
from commerce.service_layer.outbox import Outgoing
from commerce.service_layer.results import OrderView

# Orders that may leave: paid, or paid with part of the money given back.
SHIPPABLE = frozenset({OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED})


@dataclass(frozen=True, slots=True)
class Package:
    """One box for one buyer: a bundle's orders, or an order of its own."""

    key: str  # "B<bundle id>" or the order's ref
    orders: tuple[OrderView, ...]
    buyer: str  # the name the buyer chats under ("" when unknown)
    paid_at: datetime  # its first payment: the ship-within clock starts there
    show: str = ""  # the show it was bought in, if any
    tracking: str = ""  # shipped: its tracking code
    carrier: str = ""
    due: datetime | None = None  # to ship by (LIVEBUY_SHIP_WITHIN business days)
    overdue: bool = False

    @property
    def identity(self) -> str:
        return self.orders[0].identity

    @property
    def ship_to(self) -> str:
        return next((o.ship_to for o in self.orders if o.ship_to), "")

    @property
    def units(self) -> int:
        return sum(o.quantity for o in self.orders)


@dataclass(frozen=True, slots=True)
class Charge:
    """What one order of a package was charged (minor units) and how much went back."""

    ref: str
    status: OrderStatus
    payment_ref: str | None
    currency: str
    items: int  # the order's amount
    shipping: int  # its share of the package's shipping
    tax: int
    refunded: int

    @property
    def paid(self) -> int:
        return self.items + self.shipping + self.tax


@dataclass(frozen=True, slots=True)
class ShipmentPlan:
    """What one shipment does, decided before its transaction: these orders become
    fulfilled, and these letters go out, together or not at all."""

    refs: tuple[str, ...]
    tracking: str
    carrier: str
    link: str | None
    letters: tuple[Outgoing, ...]


@dataclass(frozen=True, slots=True)
class ShipmentView:
    refs: tuple[str, ...]
    tracking: str
    carrier: str
    link: str | None


@dataclass(frozen=True, slots=True)
class OrderShipped:
    """News for a buyer: their package left."""

    orders: tuple[OrderView, ...]
    tracking: str
    carrier: str
    link: str | None
    # The name the buyer chats under: a chat without private messages (Twitch, YouTube)
    # is told in public, naming them (bots/letters.py).
    buyer: str = ""


@dataclass(frozen=True, slots=True)
class OrderCancelled:
    """News for a buyer: the seller cancelled their unpaid order."""

    order: OrderView
    reason: str
    buyer: str = ""  # as OrderShipped's


BuyerNews = OrderShipped | OrderCancelled


class Letters(Protocol):
    """Turns news for a buyer into private messages on the platform they bought on, in the
    shop's language (pure: the caller stores them with the change they tell of)."""

    def write(self, news: BuyerNews) -> list[Outgoing]: ...


class Shipments(Protocol):
    async def packages(self, refs: Sequence[str]) -> list[Package]:
        """The packages of these orders, each once (NotFound names an unknown ref)."""
        ...

    async def ship(
        self, plans: Sequence[ShipmentPlan], actor: str, now: datetime
    ) -> list[ShipmentView]:
        """One transaction: a shipment per plan, its orders fulfilled (each still
        shippable, else Conflict and nothing changed), the audit trail, the letters."""
        ...

    async def charges(self, ref: str) -> list[Charge]:
        """Every order of the package this order ships in (itself first)."""
        ...

    async def to_ship(self, limit: int) -> list[Package]:
        """Paid packages with something to send and nothing sent, oldest payment first."""
        ...

    async def packing_list(
        self, show: str | None, since: datetime | None, until: datetime | None
    ) -> list[Package]:
        """Paid packages not shipped yet, of one show or paid in [since, until)."""
        ...
