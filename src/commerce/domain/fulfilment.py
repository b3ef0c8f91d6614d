"""Fulfilment rules: tracking codes, carriers and their tracking pages, the ship-within
deadline in business days, and the tracking file that label tools export.

Pure: the use cases in service_layer/fulfilment.py apply them.
"""

import csv
import io
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote

from commerce.domain.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class Carrier:
    name: str  # as buyers know it
    link: str | None  # the tracking page, "{code}" for the tracking code; None: no known page


# Tracking pages by carrier. Only pages whose pattern was checked against several public
# integrations carry a link; the others are named without one (their pages want more than
# the code, or differ by country): the buyer still gets the code and the carrier's name.
CARRIERS: dict[str, Carrier] = {
    "dhl": Carrier("DHL", "https://www.dhl.com/global-en/home/tracking.html?tracking-id={code}"),
    "ups": Carrier("UPS", "https://www.ups.com/track?tracknum={code}"),
    "usps": Carrier("USPS", "https://tools.usps.com/go/TrackConfirmAction?tLabels={code}"),
    "fedex": Carrier("FedEx", "https://www.fedex.com/fedextrack/?trknbr={code}"),
    "royalmail": Carrier(
        "Royal Mail", "https://www.royalmail.com/track-your-item#/tracking-results/{code}"
    ),
    # DPD's tracking sites are per country; this is DPD Germany's.
    "dpd": Carrier("DPD", "https://tracking.dpd.de/status/en_US/parcel/{code}"),
    "gls": Carrier("GLS", None),
    "evri": Carrier("Evri", None),
    "hermes": Carrier("Hermes", None),
    "laposte": Carrier("La Poste", "https://www.laposte.fr/outils/suivre-vos-envois?code={code}"),
    "colissimo": Carrier(
        "Colissimo", "https://www.laposte.fr/outils/suivre-vos-envois?code={code}"
    ),
    "postnl": Carrier("PostNL", None),
}
ALIASES = {"dhlparcel": "dhl", "dhlexpress": "dhl", "hermesevri": "evri", "myhermes": "hermes"}

TRACKING = re.compile(r"[A-Za-z0-9][A-Za-z0-9 -]{2,62}[A-Za-z0-9]")
CARRIER_NAME = re.compile(r"[^\W_][\w .&/-]{0,39}")


def tracking_code(text: str) -> str:
    """A tracking code as label tools print it: 4 to 64 letters, digits, spaces, dashes."""
    code = " ".join(text.split())
    if not TRACKING.fullmatch(code):
        shown = code[:30] or "(empty)"
        raise InvalidInput(
            f"'{shown}' is not a tracking code (4 to 64 letters, digits, spaces or dashes)"
        )
    return code


def carrier_key(name: str) -> str:
    """'Royal Mail', 'royal-mail' and 'ROYALMAIL' are one carrier."""
    key = re.sub(r"[^a-z0-9]", "", name.lower())
    return ALIASES.get(key, key)


def carrier_name(text: str) -> str:
    """The carrier as it will be shown: a known one under its own name, another as typed;
    "" when not given."""
    name = " ".join(text.split())
    if not name:
        return ""
    known = CARRIERS.get(carrier_key(name))
    if known is not None:
        return known.name
    if not CARRIER_NAME.fullmatch(name):
        raise InvalidInput(f"'{name[:30]}' is not a carrier's name (up to 40 letters)")
    return name


def tracking_link(carrier: str, code: str) -> str | None:
    """The carrier's tracking page for this code, where known."""
    known = CARRIERS.get(carrier_key(carrier)) if carrier else None
    if known is None or known.link is None:
        return None
    return known.link.format(code=quote(code.replace(" ", ""), safe=""))


def ship_by(paid_at: datetime, business_days: int) -> datetime:
    """When a package paid at `paid_at` is overdue: that many business days later
    (Saturdays and Sundays do not count; a payment at the weekend counts from Monday)."""
    due = paid_at
    while due.weekday() >= 5:  # paid at the weekend: the clock starts on Monday
        due = (due + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    left = business_days
    while left > 0:
        due += timedelta(days=1)
        if due.weekday() < 5:
            left -= 1
    return due


@dataclass(frozen=True, slots=True)
class TrackingLine:
    """One line of a tracking file: the order (any order of a bundle), its code, carrier."""

    line: int  # the line number in the file, for errors
    order: str
    tracking: str
    carrier: str


COLUMNS = ("order", "tracking", "carrier")
MAX_LINES = 10_000


def tracking_file(text: str) -> list[TrackingLine]:
    """Reads a tracking file (CSV with a header naming `order`, `tracking`, `carrier`, in
    any order; other columns ignored). Every line is checked: the first wrong one is an
    error that names it, so a file is applied whole or not at all."""
    rows = csv.reader(io.StringIO(text.lstrip("\ufeff")), strict=True)
    try:
        header = next(rows)
    except StopIteration:
        raise InvalidInput("the tracking file is empty") from None
    except csv.Error as exc:
        raise InvalidInput(f"line 1: not CSV ({exc})") from None
    names = [h.strip().lower() for h in header]
    missing = [c for c in COLUMNS if c not in names]
    if missing:
        raise InvalidInput(
            f"line 1: the header needs the columns order, tracking, carrier; "
            f"{', '.join(missing)} missing"
        )
    where = {c: names.index(c) for c in COLUMNS}
    lines: list[TrackingLine] = []
    seen: dict[str, int] = {}
    number = 1
    try:
        for number, row in enumerate(rows, start=2):
            if not any(cell.strip() for cell in row):
                continue  # blank lines (a trailing one) are no orders
            if len(row) < len(names):
                raise InvalidInput(
                    f"line {number}: {len(row)} columns where the header has {len(names)}"
                )
            order = row[where["order"]].strip().upper()
            if not re.fullmatch(r"[A-Z0-9]{4,12}", order):
                raise InvalidInput(f"line {number}: '{order[:20]}' is not an order reference")
            if order in seen:
                raise InvalidInput(f"line {number}: order {order} is on line {seen[order]} too")
            seen[order] = number
            try:
                tracking = tracking_code(row[where["tracking"]])
                carrier = carrier_name(row[where["carrier"]])
            except InvalidInput as exc:
                raise InvalidInput(f"line {number}: {exc}") from None
            lines.append(TrackingLine(number, order, tracking, carrier))
            if len(lines) > MAX_LINES:
                raise InvalidInput(f"line {number}: at most {MAX_LINES} orders per file")
    except csv.Error as exc:
        raise InvalidInput(f"line {number + 1}: not CSV ({exc})") from None
    if not lines:
        raise InvalidInput("the tracking file names no orders")
    return lines
