"""Where a paid order goes: the buyer's shipping address as one line, in the same shape
whichever payment page it was typed in (a Telegram invoice, a Stripe Checkout)."""

SHIP_TO_MAX = 300  # a real address is far shorter; the cap keeps a hostile one out of tables


def ship_to(
    name: object,
    line1: object,
    line2: object,
    post_code: object,
    city: object,
    state: object,
    country: object,
) -> str | None:
    """The address in one line, "Name, line1, line2, post code city, state, COUNTRY", with
    the empty parts left out; None when there is no address at all. Takes the provider's
    values as they come: anything that is not text counts as empty, so a malformed payload
    gives no address, not an error."""
    town = _join(" ", _clean(post_code), _clean(city))
    address = [_clean(line1), _clean(line2), town, _clean(state), _clean(country).upper()]
    if not any(address):
        return None
    return _join(", ", _clean(name), *address)[:SHIP_TO_MAX].rstrip(" ,")


def _clean(value: object) -> str:
    """One line of printable text: a newline would break a CSV row or a table, a NUL byte a
    PostgreSQL text column."""
    if not isinstance(value, str):
        return ""
    return " ".join("".join(ch if ch.isprintable() else " " for ch in value).split())


def _join(separator: str, *parts: str) -> str:
    return separator.join(part for part in parts if part)
