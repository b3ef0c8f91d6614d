"""A show board's picture is its live lot's product's (bots.pictures.show_picture), on the
web chat's show card as on the Telegram and Discord boards; none between lots."""

from dataclasses import replace
from datetime import UTC, datetime

from bots.rendering import Renderer
from bots.web.chat import show_event
from commerce.domain.money import Money
from commerce.service_layer.results import LotView, ShowView

NOW = datetime(2026, 12, 7, 20, 0, tzinfo=UTC)
LOT = LotView(1, "TEE", "Tee", "fixed", Money(2500, "eur"), 1, None, None, "pending")
SHOW = ShowView(
    1,
    "SUNDAY",
    "Sunday",
    "live",
    NOW,
    ("web:demo",),
    (
        replace(LOT, image="https://cdn.example.com/tee.jpg", description="Heavy cotton."),
        replace(LOT, position=2, sku="PIN", name="Pin"),
    ),
)


def test_the_web_show_card_shows_the_live_lots_picture() -> None:
    r = Renderer()
    assert show_event(SHOW, r)["image"] == ""  # not started: no lot is on
    first, second = SHOW.lots
    on = replace(SHOW, lots=(replace(first, status="live"), second))
    card = show_event(on, r)
    assert card["image"] == "https://cdn.example.com/tee.jpg"
    assert card["description"] == "Heavy cotton."
    # The next lot has no picture: the card shows none.
    after = replace(SHOW, lots=(replace(first, status="done"), replace(second, status="live")))
    assert show_event(after, r)["image"] == ""
