"""The countdown on chat boards: as coarse as a board edited now and then can honestly show,
and an ended drop's time is when it ended (by hand, or at its end time)."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from bots.rendering import Renderer, countdown
from commerce.domain.money import Money
from commerce.service_layer.results import DropView

NOW = datetime(2026, 11, 24, 20, 0, tzinfo=UTC)
DROP = DropView(
    1, "TEE", "TEE", "Tee", Money(2500, "eur"), 3, 3, None, "hold", 600, "live", 0, (),
    NOW, NOW + timedelta(minutes=5),
)  # fmt: skip


def test_countdown_words() -> None:
    assert countdown(-3) == "0 s"
    assert countdown(45.4) == "45 s"
    assert countdown(89) == "1 min"
    assert countdown(269) == "4 min"
    assert countdown(3725) == "1 h 02 min"


def test_a_timed_drop_on_a_board() -> None:
    r = Renderer()
    assert r.drop_ends(DROP, NOW + timedelta(seconds=50)) == "ends in 4 min (20:05 UTC)"
    assert r.drop_ends(DROP, NOW + timedelta(minutes=4, seconds=30)) == "ends in 30 s (20:05 UTC)"
    assert Renderer("de").drop_ends(DROP, NOW) == "endet in 5 min (20:05 UTC)"
    # Swept a moment after its end: it ended at its end time.
    swept = replace(DROP, status="ended", ended_at=NOW + timedelta(minutes=5, seconds=40))
    assert r.drop_ends(swept, NOW + timedelta(hours=1)) == "ended 20:05 UTC"
    # Ended by hand before it.
    by_hand = replace(DROP, status="ended", ended_at=NOW + timedelta(minutes=2))
    assert r.drop_ends(by_hand, NOW + timedelta(hours=1)) == "ended 20:02 UTC"
    # No end time: no countdown, on the board or once ended.
    assert r.drop_ends(replace(DROP, ends_at=None), NOW) == ""
    assert r.drop_ends(replace(by_hand, ends_at=None), NOW) == ""
