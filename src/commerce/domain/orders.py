"""Order states and the one table of transitions between them.

Every state change in the system goes through `TRANSITIONS`: the database adapter turns it
into `WHERE status IN (...)` conditions, so an event that does not apply to the current state
is recorded and ignored instead of being applied twice.
"""

from enum import StrEnum


class OrderStatus(StrEnum):
    RESERVED = "reserved"
    CHECKOUT_OPEN = "checkout_open"
    PAID = "paid"
    FULFILLED = "fulfilled"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"
    PARTIALLY_REFUNDED = "partially_refunded"
    DISPUTED = "disputed"
    NEEDS_REVIEW = "needs_review"


S = OrderStatus

TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    S.RESERVED: frozenset({S.CHECKOUT_OPEN, S.PAID, S.EXPIRED, S.CANCELLED, S.NEEDS_REVIEW}),
    S.CHECKOUT_OPEN: frozenset({S.PAID, S.EXPIRED, S.CANCELLED, S.NEEDS_REVIEW}),
    S.PAID: frozenset({S.FULFILLED, S.REFUNDED, S.PARTIALLY_REFUNDED, S.DISPUTED, S.NEEDS_REVIEW}),
    S.FULFILLED: frozenset({S.REFUNDED, S.PARTIALLY_REFUNDED, S.DISPUTED}),
    S.PARTIALLY_REFUNDED: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED, S.DISPUTED, S.FULFILLED}),
    S.DISPUTED: frozenset({S.PAID, S.REFUNDED, S.NEEDS_REVIEW}),
    # A payment can still arrive for an expired or cancelled hold (the Checkout page was open):
    # it is honoured when stock allows, otherwise refunded; either way the money is accounted.
    S.EXPIRED: frozenset({S.PAID, S.NEEDS_REVIEW, S.REFUNDED}),
    S.CANCELLED: frozenset({S.PAID, S.NEEDS_REVIEW, S.REFUNDED}),
    S.NEEDS_REVIEW: frozenset({S.PAID, S.REFUNDED, S.CANCELLED}),
    S.REFUNDED: frozenset(),
}

# The only way back from a refund: it failed (the money never left), and the order is paid
# again, in full or for what the other refunds left. Kept out of TRANSITIONS so that nothing
# else (a late payment report) ever reopens a refunded order.
REFUND_REVERTS: dict[OrderStatus, frozenset[OrderStatus]] = {
    S.REFUNDED: frozenset({S.PAID, S.PARTIALLY_REFUNDED}),
    S.PARTIALLY_REFUNDED: frozenset({S.PAID, S.PARTIALLY_REFUNDED}),
}

# States in which an order keeps units of a drop out of stock without having paid for them.
HOLDING = frozenset({S.RESERVED, S.CHECKOUT_OPEN})
# States in which the buyer may still release the order with /pass or /cancel.
CANCELLABLE = HOLDING


def sources(target: OrderStatus) -> frozenset[OrderStatus]:
    """The states from which an order may move to `target`."""
    return frozenset(state for state, nexts in TRANSITIONS.items() if target in nexts)


def can_move(current: OrderStatus, target: OrderStatus) -> bool:
    return target in TRANSITIONS[current]
