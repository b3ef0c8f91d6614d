"""Fulfilment rules without I/O: tracking codes, carriers and their pages, the ship-by time
in business days, and the tracking file read whole or refused with its line."""

from datetime import UTC, datetime

import pytest

from commerce.domain.errors import InvalidInput
from commerce.domain.fulfilment import (
    CARRIERS,
    carrier_name,
    ship_by,
    tracking_code,
    tracking_file,
    tracking_link,
)


def test_tracking_codes() -> None:
    assert tracking_code("  1Z 999 AA1  0123456784 ") == "1Z 999 AA1 0123456784"
    for bad in ("", "abc", "=HYPERLINK(1)", "x" * 65, "AB12;rm", "-ABC123"):
        with pytest.raises(InvalidInput, match="is not a tracking code"):
            tracking_code(bad)


def test_carriers_and_their_pages() -> None:
    assert carrier_name("royal-mail") == "Royal Mail"
    assert carrier_name("  dhl ") == "DHL"
    assert carrier_name("Hermes/Evri") == "Evri"
    assert carrier_name("Poste Italiane") == "Poste Italiane"  # unknown: kept as typed
    assert carrier_name("") == ""
    with pytest.raises(InvalidInput, match="not a carrier's name"):
        carrier_name("=cmd|' /C calc'!A0")
    assert tracking_link("UPS", "1Z 999") == "https://www.ups.com/track?tracknum=1Z999"
    assert tracking_link("La Poste", "6A123") == (
        "https://www.laposte.fr/outils/suivre-vos-envois?code=6A123"
    )
    assert tracking_link("GLS", "123") is None  # named, no page known
    assert tracking_link("Poste Italiane", "123") is None
    assert tracking_link("", "123") is None
    wanted = {"dhl", "ups", "usps", "fedex", "royalmail", "dpd", "gls", "evri", "laposte"}
    assert wanted | {"colissimo", "postnl", "hermes"} == set(CARRIERS)
    assert all(c.link is None or c.link.startswith("https://") for c in CARRIERS.values())


def test_ship_by_counts_business_days() -> None:
    tuesday = datetime(2026, 11, 24, 20, 0, tzinfo=UTC)
    assert ship_by(tuesday, 2) == datetime(2026, 11, 26, 20, 0, tzinfo=UTC)  # Thursday
    friday = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)
    assert ship_by(friday, 2) == datetime(2026, 12, 1, 9, 30, tzinfo=UTC)  # Tuesday
    saturday = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)
    assert ship_by(saturday, 1) == datetime(2026, 12, 1, 0, 0, tzinfo=UTC)  # Monday + 1
    assert ship_by(tuesday, 0) == tuesday


def test_a_tracking_file_is_read_whole() -> None:
    lines = tracking_file("Tracking,x,ORDER , carrier\nAB1234,-,k7p2qx9m,dhl\n\n")
    assert [(t.line, t.order, t.tracking, t.carrier) for t in lines] == [
        (2, "K7P2QX9M", "AB1234", "DHL")
    ]
    refused = {
        "": "the tracking file is empty",
        "order,carrier\nA1B2,DHL\n": "line 1: .* tracking missing",
        "order,tracking,carrier\n": "names no orders",
        "order,tracking,carrier\nA1B2,TRACK1,DHL\nA1B2,TRACK2,UPS\n": "line 3: .*line 2 too",
        "order,tracking,carrier\nA1B2,TRACK1,DHL\n=1+1,TRACK2,UPS\n": "line 3: .*not an order",
        "order,tracking,carrier\nA1B2,TRACK1\n": "line 2: 2 columns",
        "order,tracking,carrier\nA1B2,no,DHL\n": "line 2: 'no' is not a tracking code",
        'order,tracking,carrier\nA1B2,TRACK1,"DHL\n': "line 2: not CSV",
    }
    for text, error in refused.items():
        with pytest.raises(InvalidInput, match=error):
            tracking_file(text)
