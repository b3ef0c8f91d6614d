"""Shows: a run sheet of lots a seller (or a co-host) puts live one after the other.

A lot is an auction (most often "PDD 1 €": from 1 € for 50 s, sudden death), a fixed-price
drop, or a giveaway. Lots come one by one or from a CSV with the columns
`sku, mode, price, duration, close, quantity` (only `sku` is required; `mode` may be the preset
`pdd`).
"""

import csv
import io
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from commerce.domain.drops import parse_duration
from commerce.domain.errors import InvalidInput


class ShowStatus(StrEnum):
    SCHEDULED = "scheduled"
    LIVE = "live"
    PAUSED = "paused"
    ENDED = "ended"


class LotMode(StrEnum):
    AUCTION = "auction"
    FIXED = "fixed"
    GIVEAWAY = "giveaway"


class LotStatus(StrEnum):
    PENDING = "pending"
    STARTING = "starting"  # claimed by a /next whose sale is being started
    LIVE = "live"
    DONE = "done"
    SKIPPED = "skipped"


# "PDD 1 €" ("prix de départ 1 €"): Whatnot's usual quick auction.
PDD_START = Decimal(1)
PDD_DURATION = timedelta(seconds=50)
GIVEAWAY_DURATION = timedelta(seconds=60)
REMIND_BEFORE = timedelta(minutes=10)
MAX_LOTS = 500


@dataclass(frozen=True, slots=True)
class LotSpec:
    """A lot as the seller describes it; prices in the product's currency."""

    sku: str
    mode: LotMode = LotMode.AUCTION
    price: Decimal | None = None  # auction: start price; fixed: unit price (the product's)
    quantity: int = 1
    duration: timedelta | None = None
    close: str | None = None  # soft | sudden, auctions only

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}", self.sku):
            raise InvalidInput(f"{self.sku!r} is not a product code")
        if self.price is not None and self.price < 0:
            raise InvalidInput("a price cannot be negative")
        if not 1 <= self.quantity <= 100_000:
            raise InvalidInput("quantity must be between 1 and 100,000")
        if self.mode is not LotMode.FIXED and self.quantity != 1:
            raise InvalidInput("auctions and giveaways are of one unit")
        if self.close not in (None, "soft", "sudden") or (
            self.close and self.mode is not LotMode.AUCTION
        ):
            raise InvalidInput("close is 'soft' or 'sudden', for auctions")

    @classmethod
    def preset(
        cls,
        sku: str,
        mode: str = "pdd",
        price: Decimal | None = None,
        quantity: int | None = None,
        duration: timedelta | None = None,
        close: str | None = None,
    ) -> "LotSpec":
        """`pdd`: an auction from 1 for 50 s, sudden death (each part may be overridden);
        `auction`, `fixed`, `giveaway` as given."""
        name = (mode or "pdd").strip().casefold()
        if name == "pdd":
            price = PDD_START if price is None else price
            duration, close = duration or PDD_DURATION, close or "sudden"
            return cls(sku.upper(), LotMode.AUCTION, price, quantity or 1, duration, close)
        try:
            lot_mode = LotMode(name)
        except ValueError:
            raise InvalidInput(
                f"mode must be pdd, auction, fixed or giveaway, not {mode!r}"
            ) from None
        return cls(sku.upper(), lot_mode, price, quantity or 1, duration, close)


def parse_lots_csv(text: str) -> list[LotSpec]:
    """All lots of a CSV run sheet, or InvalidInput naming the first bad line."""
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    if not rows:
        raise InvalidInput("the CSV has no lots (a header line with 'sku' comes first)")
    if len(rows) > MAX_LOTS:
        raise InvalidInput(f"at most {MAX_LOTS} lots in one show")
    lots = []
    for line, row in enumerate(rows, start=2):
        cells = {(k or "").strip().casefold(): (v or "").strip() for k, v in row.items()}
        try:
            lots.append(
                LotSpec.preset(
                    cells.get("sku", ""),
                    cells.get("mode") or "pdd",
                    price=_decimal(cells.get("price") or cells.get("start")),
                    quantity=int(cells["quantity"]) if cells.get("quantity") else None,
                    duration=parse_duration(cells["duration"]) if cells.get("duration") else None,
                    close=cells.get("close") or None,
                )
            )
        except (InvalidInput, ValueError) as exc:
            raise InvalidInput(f"line {line}: {exc}") from None
    return lots


def _decimal(text: str | None) -> Decimal | None:
    if not text:
        return None
    try:
        return Decimal(text.replace(",", ".").strip("€$£ "))
    except InvalidOperation:
        raise InvalidInput(f"{text!r} is not a price") from None


def parse_start(text: str) -> datetime:
    """'2026-12-06 20:00' (UTC) or with an offset ('2026-12-06T20:00+01:00')."""
    try:
        when = datetime.fromisoformat(text.strip().replace(" ", "T", 1))
    except ValueError:
        raise InvalidInput(f"{text!r} is not a time like 2026-12-06 20:00") from None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC)


def show_code(title: str) -> str:
    """What sellers type to name a show: 'Sunday cards' -> SUNDAY-CARDS."""
    words = re.findall(r"[A-Za-z0-9]+", title.upper())
    return "-".join(words)[:24].strip("-") or "SHOW"
