"""What one-message buying knows of a buyer: their saved card and where things ship.

Kept apart from `one_message` (which claims and settles through the handlers) so that the
auctions, which the handlers run, can offer a saved card too without an import cycle.
"""

from commerce.domain.errors import NotAllowed, NotFound
from commerce.service_layer.checkout import link_if_paying
from commerce.service_layer.deps import Deps, repos
from commerce.service_layer.ports import Cards, PaymentGateway, SavedCard
from commerce.service_layer.results import CardView, OrderView


def card_ports(deps: Deps) -> tuple[Cards, PaymentGateway]:
    if deps.cards is None or deps.payments is None:
        raise NotAllowed("one-message buying is not set up in this shop")
    return repos(deps).cards, deps.payments


def view(card: SavedCard, ship_to: str | None = None) -> CardView:
    return CardView(card.brand, card.last4, ship_to)


async def ship_to(order: OrderView, deps: Deps) -> str | None:
    """Where a one-message buy of this order goes: the buyer's last address, for a product
    that ships (None for a digital one, or a buyer whose address is not known yet)."""
    if order.digital or deps.cards is None:
        return None
    return await repos(deps).cards.ship_to(order.identity)


async def usable_card(order: OrderView, deps: Deps) -> tuple[SavedCard, str | None] | None:
    """The buyer's saved card, and where the order ships, if the card can pay it with one
    tap: there is one, and the address is known for a product that ships."""
    if deps.cards is None or deps.payments is None:
        return None
    card = await repos(deps).cards.card(order.identity)
    if card is None:
        return None
    address = await ship_to(order, deps)
    if address is None and not order.digital:
        return None  # the link: its Checkout page asks where it goes (and remembers it)
    return card, address


async def pay_for_win(order: OrderView, deps: Deps) -> tuple[OrderView, CardView | None]:
    """A won auction (or a runner-up's second chance): a card holder confirms with one tap
    within the win's own time to pay (the bid was the decision; the tap pays), everybody
    else gets the Checkout link."""
    usable = await usable_card(order, deps)
    if usable is None or deps.cards is None or order.hold_expires_at is None:
        return await link_if_paying(order, deps), None
    try:
        asked = await repos(deps).cards.ask_confirm(
            order.ref, order.hold_expires_at, deps.clock.now()
        )
    except NotFound:  # no longer waiting for a payment (cancelled meanwhile): nothing to ask
        return order, None
    return asked, view(*usable)
