"""service_layer.reading: a message's text is read once per delivery and parsed once per set
of keywords, and the memory of parses stays bounded."""

import pytest

from commerce.domain import commands as c
from commerce.domain import grammar as g
from commerce.service_layer import reading


def test_the_same_parse_for_the_same_keywords_and_another_for_other_keywords() -> None:
    shop = g.DEFAULT_KEYWORDS.with_buy_aliases("mine")
    assert reading.parse("#mine 2", g.DEFAULT_KEYWORDS) is None  # chatter for a plain shop
    assert isinstance(reading.parse("#mine 2", shop), g.Buy)  # a claim where "mine" buys
    assert reading.read("#mine 2", shop).side_by_side
    assert not reading.read("#mine 2", g.DEFAULT_KEYWORDS).side_by_side
    assert reading.parse("#buy 2", shop) is reading.parse("#buy 2", shop)  # remembered


def test_personal_commands() -> None:
    for text in ("/card", "/unlink", "/link", "/link AB12CD", "/confirm A1B2C3", "/orders"):
        assert reading.read(text, g.DEFAULT_KEYWORDS).personal, text
    for text in ("#buy", "/queue", "hello"):
        assert not reading.read(text, g.DEFAULT_KEYWORDS).personal, text


def test_a_message_keeps_the_reading_it_came_with_only_for_its_own_text() -> None:
    keywords = g.DEFAULT_KEYWORDS
    read = reading.read("#buy 2", keywords)
    message = c.ChatMessage("web:a:1", "web:a", "web:v_1", "#buy 2", reading=read)
    assert reading.of(message, keywords) is read
    other = c.ChatMessage("web:a:2", "web:a", "web:v_1", "#bid 30", reading=read)
    assert isinstance(reading.of(other, keywords).parsed, g.Bid)  # not the #buy's reading
    shop = keywords.with_buy_aliases("mine")
    assert reading.of(message, shop) is not read  # read with other keywords: read again
    with reading.ahead(read):  # an inbox's turn was decided by this reading
        plain = c.ChatMessage("telegram:-1:7", "telegram:-1", "telegram:5", "#buy 2")
        assert reading.of(plain, keywords) is read
        assert reading.of(other, keywords) is not read


def test_the_memory_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    memo = reading._Memo()
    monkeypatch.setattr(reading, "KEPT", 3)
    for n in range(10):
        memo.parse(f"#buy {n + 1}", g.DEFAULT_KEYWORDS)
    assert [text for _, text in memo.parses] == ["#buy 8", "#buy 9", "#buy 10"]
