"""Drops: a quantity of one product offered in one or more chats at a fixed price."""

import re
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from enum import StrEnum

from commerce.domain.errors import InvalidInput
from commerce.domain.money import Money
from commerce.domain.one_message import ConfirmRule


class DropPolicy(StrEnum):
    # A claim takes the units out of stock for the hold duration; the buyer pays meanwhile.
    HOLD = "hold"
    # A claim takes nothing; the first payments take the units (late payers are refunded).
    FIRST_PAID = "first-paid"


class DropStatus(StrEnum):
    LIVE = "live"
    ENDED = "ended"


_DURATION = re.compile(r"(\d{1,7})(min|sec|d|h|m|s)", re.IGNORECASE)  # longest unit first
_UNITS = {"d": 86400, "h": 3600, "m": 60, "min": 60, "s": 1, "sec": 1}
MAX_DURATION = timedelta(days=7)


def parse_duration(text: str) -> timedelta:
    """Reads '10m', '50s', '1h30m', '2d' (at most seven days)."""
    cleaned = text.strip().lower().replace(" ", "")
    parts = _DURATION.findall(cleaned)
    if not cleaned or "".join(n + u for n, u in parts) != cleaned:
        raise InvalidInput(f"'{text}' is not a duration like 50s, 10m or 1h30m")
    seconds = sum(int(n) * _UNITS[u.lower()] for n, u in parts)
    if not 0 < seconds <= MAX_DURATION.total_seconds():
        raise InvalidInput(f"'{text}' must be between 1s and 7 days")
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    out = ""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            out += f"{seconds // size}{unit}"
            seconds %= size
    return out or "0s"


@dataclass(frozen=True, slots=True)
class DropTerms:
    """What a seller asks for when starting a drop, validated."""

    sku: str
    quantity: int
    price: Money
    duration: timedelta | None
    per_buyer_limit: int | None
    policy: DropPolicy
    hold: timedelta
    confirm: str = "always"  # for buyers with a saved card: see domain/one_message.py
    # A promo drop is paid with the public message itself: free, one per person.
    promo: bool = False

    def __post_init__(self) -> None:
        if not 1 <= self.quantity <= 1_000_000:
            raise InvalidInput("quantity must be between 1 and 1,000,000")
        if self.promo:
            if self.price.minor != 0 or self.per_buyer_limit != 1:
                raise InvalidInput("a promo drop is free and limited to one per person")
        elif self.price.minor <= 0:
            raise InvalidInput("price must be above zero")
        ConfirmRule.parse(self.confirm)
        if self.per_buyer_limit is not None and self.per_buyer_limit < 1:
            raise InvalidInput("limit must be at least 1")
        if self.hold <= timedelta(0):
            raise InvalidInput("hold must be longer than zero")

    @classmethod
    def as_typed(
        cls,
        sku: str,
        quantity: int,
        list_price: Money,
        price: str | Decimal | None,
        duration: timedelta | None,
        limit: int | None,
        policy: DropPolicy,
        hold: timedelta,
        confirm: str | None = None,
        promo: bool = False,
    ) -> "DropTerms":
        """Terms as a seller gives them (chat, CLI, dashboard): the product's price unless
        another is typed, a promo free and one per person, a confirm rule as typed ("above
        30", in the product's currency)."""
        currency = list_price.currency
        if promo:
            unit = Money(0, currency)
        else:
            unit = Money.parse(price, currency) if price not in (None, "") else list_price
        rule = str(ConfirmRule.parse(confirm, currency)) if confirm else "always"
        limit = 1 if promo else limit
        return cls(sku, quantity, unit, duration, limit, policy, hold, rule, promo)
