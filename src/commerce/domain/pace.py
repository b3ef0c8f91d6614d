"""How fast one person may write: a rate such as '5/10s' (LIVEBUY_RATE_PER_BUYER)."""

from dataclasses import dataclass

from commerce.domain.drops import parse_duration
from commerce.domain.errors import InvalidInput

OFF = ("off", "0", "")


@dataclass(frozen=True, slots=True)
class Rate:
    count: int  # messages
    seconds: int  # per this many seconds


def parse_rate(text: str) -> Rate | None:
    """'5/10s' -> Rate(5, 10); 'off' (or 0) -> None: no limit."""
    cleaned = text.strip().lower().replace(" ", "")
    if cleaned in OFF:
        return None
    count, slash, per = cleaned.partition("/")
    if not slash or not count.isdigit() or not 0 < int(count) <= 100_000:
        raise InvalidInput(f"'{text}' is not a rate like 5/10s (messages per time), or off")
    seconds = int(parse_duration(per).total_seconds())
    return Rate(int(count), seconds)
