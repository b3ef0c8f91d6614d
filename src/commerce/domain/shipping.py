"""Where a paid order goes: the buyer's shipping address as one line, in the same shape
whichever payment page it was typed in (a Telegram invoice, a Stripe Checkout); shipping
zones, the shows' shipping policies and the arithmetic of bundles (one package per buyer,
address and show)."""

from dataclasses import dataclass
from enum import StrEnum

from commerce.domain.countries import ISO_COUNTRIES
from commerce.domain.errors import InvalidInput
from commerce.domain.money import Money

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


# ---------------------------------------------------------------------------------------------
# Shipping rates and bundles.
#
# A shop has zones (a name, ISO countries or `*` for the rest of the world, the price of a
# package's first unit, of each further unit, and an optional cap per package). A buyer's
# paid orders that ship to one address within one show (or within LIVEBUY_BUNDLE_WINDOW)
# are one bundle = one package of n units, whose shipping is
#
#     total(n) = 0 when n = 0, else min(cap, first + each * (n - 1))
#
# with the show's policy applied (free: 0; cap:X: the buyer pays at most X, the seller the
# rest). An order adding k units to a bundle that holds u units and was charged c so far pays
# `increment` = max(0, total(u + k) - c): the charges telescope to total(N) whatever the order
# in which the bundle's orders arrive, and an order that left the bundle unpaid (its units and
# its charge gone) makes the next one pay what the bundle still owes.
# ---------------------------------------------------------------------------------------------

WORLD = "*"  # a zone for every country no other zone names
ZONE_NAME_MAX = 40
MAX_OPTIONS = 5  # Stripe Checkout offers at most five shipping options


def parse_countries(spec: str) -> frozenset[str]:
    """'DE,AT' (any case, spaces allowed) or '*' into a set of ISO codes; '*' is the empty
    set (the rest of the world). An unknown code is named in the error."""
    words = [w.strip().upper() for w in spec.replace(";", ",").split(",") if w.strip()]
    if words == [WORLD]:
        return frozenset()
    if not words or WORLD in words:
        raise InvalidInput(f"'{spec}' is not a country list like DE,AT (or * for the rest)")
    unknown = [w for w in words if w not in ISO_COUNTRIES]
    if unknown:
        raise InvalidInput(f"unknown country code {', '.join(unknown)}: use ISO codes like DE")
    return frozenset(words)


@dataclass(frozen=True, slots=True)
class Zone:
    """Where a package goes and what it costs: `countries` empty means the rest of the
    world. Amounts in minor units of `currency`."""

    name: str
    countries: frozenset[str]
    currency: str
    first: int
    each: int
    cap: int | None = None

    def __post_init__(self) -> None:
        if not self.name.strip() or len(self.name) > ZONE_NAME_MAX:
            raise InvalidInput(f"a zone needs a name of 1 to {ZONE_NAME_MAX} characters")
        if min(self.first, self.each) < 0 or (self.cap is not None and self.cap < 0):
            raise InvalidInput("shipping prices cannot be negative")
        if self.each > self.first:
            # A package's later units never cost more than its first: that keeps a bundle
            # whose order left unpaid from charging the others more than the package costs.
            raise InvalidInput("--each cannot be above --first: the first unit costs the most")
        unknown = sorted(self.countries - ISO_COUNTRIES)
        if unknown:
            raise InvalidInput(f"unknown country code {', '.join(unknown)}")

    @classmethod
    def parse(
        cls, name: str, countries: str, first: str, each: str, cap: str | None, currency: str
    ) -> "Zone":
        """A zone as sellers type it (`--countries DE,AT --first 4.90 --each 1.00`)."""
        for label, value in (("first", first), ("each", each), ("cap", cap)):
            if value is not None and value.strip().startswith("-"):
                raise InvalidInput(f"--{label} {value}: shipping prices cannot be negative")
        return cls(
            name=name.strip(),
            countries=parse_countries(countries),
            currency=Money.parse("0", currency).currency,
            first=Money.parse(first, currency).minor,
            each=Money.parse(each, currency).minor,
            cap=None if cap is None else Money.parse(cap, currency).minor,
        )

    @property
    def world(self) -> bool:
        return not self.countries

    def countries_text(self) -> str:
        return WORLD if self.world else ",".join(sorted(self.countries))

    def total(self, units: int) -> int:
        """The shipping of one package of `units` units in this zone (no show policy)."""
        if units <= 0:
            return 0
        price = self.first + self.each * (units - 1)
        return price if self.cap is None else min(self.cap, price)


def zone_for(zones: "list[Zone] | tuple[Zone, ...]", country: str | None) -> Zone | None:
    """The zone that ships to `country`: one naming it, else the rest-of-the-world zone;
    None when no zone ships there (or the country is unknown)."""
    if not country:
        return None
    code = country.strip().upper()
    named = [z for z in zones if code in z.countries]
    if named:
        return named[0]
    return next((z for z in zones if z.world), None)


def country_of(ship_to_line: str | None) -> str | None:
    """The country of an address line made by `ship_to` (its last part, an ISO code)."""
    if not ship_to_line:
        return None
    last = ship_to_line.rsplit(",", 1)[-1].strip()
    return last if len(last) == 2 and last.isalpha() and last.isupper() else None


class PolicyKind(StrEnum):
    BUYER = "buyer"  # the buyer pays the zone's price
    FREE = "free"  # the seller pays all of it
    CAP = "cap"  # the buyer pays up to the cap per package, the seller the rest


@dataclass(frozen=True, slots=True)
class ShippingPolicy:
    """Who pays a show's shipping: `buyer`, `free` or `cap:9.90` (per package)."""

    kind: PolicyKind = PolicyKind.BUYER
    cap: int | None = None  # minor units, for CAP

    @classmethod
    def parse(cls, text: str | None, currency: str) -> "ShippingPolicy":
        spec = (text or "buyer").strip().lower()
        if spec in (PolicyKind.BUYER, PolicyKind.FREE):
            return cls(PolicyKind(spec))
        kind, sep, amount = spec.partition(":")
        if kind != PolicyKind.CAP or not sep:
            raise InvalidInput(f"'{text}' is not a shipping policy: buyer, free or cap:9.90")
        if amount.strip().startswith("-"):
            raise InvalidInput(f"'{text}': the cap cannot be negative")
        return cls(PolicyKind.CAP, Money.parse(amount, currency).minor)

    def stored(self) -> str:
        """The policy as the database keeps it: 'buyer', 'free' or 'cap:<minor units>'."""
        return f"cap:{self.cap}" if self.kind is PolicyKind.CAP else self.kind.value

    @classmethod
    def from_stored(cls, text: str | None) -> "ShippingPolicy":
        if not text or text == PolicyKind.BUYER:
            return cls()
        if text == PolicyKind.FREE:
            return cls(PolicyKind.FREE)
        return cls(PolicyKind.CAP, int(text.removeprefix("cap:")))

    def describe(self, currency: str) -> str:
        if self.kind is PolicyKind.CAP:
            return f"buyer pays up to {Money(self.cap or 0, currency)}"
        return "free shipping" if self.kind is PolicyKind.FREE else "buyer pays"

    def apply(self, price: int) -> int:
        if self.kind is PolicyKind.FREE:
            return 0
        if self.kind is PolicyKind.CAP:
            return min(price, self.cap or 0)
        return price


def package_total(zone: Zone, policy: ShippingPolicy, units: int) -> int:
    """What the buyer pays for one package of `units` units: the zone's price under the
    show's policy."""
    return policy.apply(zone.total(units))


def increment(zone: Zone, policy: ShippingPolicy, units: int, charged: int, adding: int) -> int:
    """What an order adding `adding` units to a bundle of `units` units, charged `charged`
    so far, pays: what takes the bundle's charge to the package's total (never negative:
    a bundle charged more than its total, after an order of it went, charges nothing)."""
    if adding <= 0:
        return 0
    return max(0, package_total(zone, policy, units + adding) - charged)


def ship_units(quantity: int, size: int, digital: bool) -> int:
    """The units an order adds to its package: its quantity times the product's size class
    (a hoodie may count 2); digital goods never ship."""
    return 0 if digital else quantity * max(1, size)


def parse_size(text: str | int) -> int:
    """A product's size class: how many units one piece counts as (1 to 100)."""
    try:
        size = int(str(text).strip())
    except ValueError:
        raise InvalidInput(f"'{text}' is not a size class: a whole number like 1 or 2") from None
    if not 1 <= size <= 100:
        raise InvalidInput(f"size class {size}: use 1 to 100 units")
    return size
