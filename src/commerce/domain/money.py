"""Money as an integer of minor units plus an ISO 4217 currency; never a float."""

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from commerce.domain.errors import InvalidInput

# Currencies whose minor unit is the unit itself (Stripe's "zero-decimal currencies").
ZERO_DECIMAL = frozenset(
    {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv"}
    | {"xaf", "xof", "xpf"}
)
SYMBOLS = {"eur": "€", "usd": "$", "gbp": "£", "jpy": "¥", "chf": "CHF "}


def exponent(currency: str) -> int:
    """Number of decimal places of a currency's minor unit."""
    return 0 if currency.lower() in ZERO_DECIMAL else 2


def normalise_currency(currency: str) -> str:
    code = currency.strip().lower()
    if len(code) != 3 or not code.isascii() or not code.isalpha():
        raise InvalidInput(f"'{currency}' is not a three-letter currency code like eur or usd")
    return code


def parse_amount(amount: str | Decimal) -> Decimal:
    """An amount as people type it ('25', '25.00', '25,5'): finite and not negative."""
    try:
        value = Decimal(str(amount).strip().replace(",", "."))
    except InvalidOperation:
        raise InvalidInput(f"'{amount}' is not an amount like 25.00") from None
    if not value.is_finite() or value < 0:
        raise InvalidInput(f"'{amount}' is not an amount like 25.00")
    return value


@dataclass(frozen=True, slots=True, order=True)
class Money:
    minor: int
    currency: str

    @classmethod
    def parse(cls, amount: str | Decimal, currency: str) -> "Money":
        """Reads '25', '25.00' or '25,5' in the currency's major unit."""
        code = normalise_currency(currency)
        value = parse_amount(amount)
        if value.adjusted() >= 12:  # refused before scaling: "1e999999999" must not overflow
            raise InvalidInput(f"'{amount}' is too large")
        places = exponent(code)
        scaled = value.scaleb(places)
        if scaled != scaled.to_integral_value():
            raise InvalidInput(f"'{amount}' has more than {places} decimals for {code.upper()}")
        minor = int(scaled.to_integral_value(rounding=ROUND_HALF_UP))
        if minor >= 10**12:
            raise InvalidInput(f"'{amount}' is too large")
        return cls(minor, code)

    def __mul__(self, quantity: int) -> "Money":
        return Money(self.minor * quantity, self.currency)

    def decimal(self) -> Decimal:
        return Decimal(self.minor).scaleb(-exponent(self.currency))

    def __str__(self) -> str:
        places = exponent(self.currency)
        number = f"{self.decimal():.{places}f}"
        symbol = SYMBOLS.get(self.currency)
        return f"{symbol}{number}" if symbol else f"{number} {self.currency.upper()}"
