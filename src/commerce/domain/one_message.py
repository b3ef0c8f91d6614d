"""One-message buying: when a buyer with a saved card must confirm before being charged.

A seller chooses per drop: `always` ask, ask only `above` an amount, or ask nobody who is a
`trusted` repeat buyer (one paid order before). Stored as text: "always", "trusted",
"above:2500" (minor units).
"""

from dataclasses import dataclass

from commerce.domain.errors import InvalidInput
from commerce.domain.money import Money


@dataclass(frozen=True, slots=True)
class ConfirmRule:
    kind: str  # always | above | trusted
    above_minor: int = 0

    @classmethod
    def parse(cls, text: str, currency: str = "eur") -> "ConfirmRule":
        """'always', 'trusted', 'above:2500' (stored) or 'above 25.00' (typed by a seller)."""
        words = text.strip().casefold().replace(":", " ").split()
        if words in (["always"], ["trusted"]):
            return cls(words[0])
        if len(words) == 2 and words[0] == "above":
            try:
                minor = int(words[1]) if ":" in text else Money.parse(words[1], currency).minor
            except (InvalidInput, ValueError):
                minor = -1
            if minor >= 0:
                return cls("above", minor)
        raise InvalidInput("confirm must be 'always', 'trusted' or 'above AMOUNT'")

    def __str__(self) -> str:
        return f"above:{self.above_minor}" if self.kind == "above" else self.kind

    def asks(self, amount: Money, trusted: bool) -> bool:
        """Whether this purchase needs the buyer's confirm before the card is charged."""
        if self.kind == "above":
            return amount.minor > self.above_minor
        if self.kind == "trusted":
            return not trusted
        return True


ALWAYS = ConfirmRule("always")
