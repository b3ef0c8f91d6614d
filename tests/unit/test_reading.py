"""service_layer.reading: a message's text is parsed once per set of keywords, and the
memory of parses stays bounded."""

import pytest

from commerce.domain import grammar as g
from commerce.service_layer import reading


def test_the_same_parse_for_the_same_keywords_and_another_for_other_keywords() -> None:
    shop = g.DEFAULT_KEYWORDS.with_buy_aliases("mine")
    assert reading.parse("#mine 2", g.DEFAULT_KEYWORDS) is None  # chatter for a plain shop
    assert isinstance(reading.parse("#mine 2", shop), g.Buy)  # a claim where "mine" buys
    assert reading.side_by_side("#mine 2", shop)
    assert not reading.side_by_side("#mine 2", g.DEFAULT_KEYWORDS)
    assert reading.parse("#buy 2", shop) is reading.parse("#buy 2", shop)  # remembered


def test_personal_commands() -> None:
    for text in ("/card", "/unlink", "/link", "/link AB12CD", "/confirm A1B2C3", "/orders"):
        assert reading.personal(text, g.DEFAULT_KEYWORDS), text
    for text in ("#buy", "/queue", "hello"):
        assert not reading.personal(text, g.DEFAULT_KEYWORDS), text


def test_the_memory_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    memo = reading._Memo()
    monkeypatch.setattr(reading, "KEPT", 3)
    for n in range(10):
        memo.parse(f"#buy {n + 1}", g.DEFAULT_KEYWORDS)
    assert [text for _, text in memo.parses] == ["#buy 8", "#buy 9", "#buy 10"]
