"""The chat grammar: every form of PRODUCT.md's table, errors, and properties on any input."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from commerce.domain.grammar import (
    DEFAULT_KEYWORDS,
    Bid,
    Buy,
    Cancel,
    Card,
    Command,
    Confirm,
    EndDrop,
    EndPoll,
    Enter,
    Help,
    Link,
    MaxBid,
    Orders,
    ParseError,
    ParseErrorKind,
    Pass,
    Queue,
    Refund,
    Start,
    StartAuction,
    StartDrop,
    StartGiveaway,
    StartPoll,
    Stats,
    Unlink,
    Vote,
    WhoAmI,
    format_command,
    parse,
)

E = ParseErrorKind
D = Decimal

CASES: list[tuple[str, Command | ParseError | None]] = [
    ("#buy", Buy()),
    ("/buy", Buy()),
    ("!buy", Buy()),
    ("SOLD", Buy()),
    ("sold AA 2 blue M", Buy("AA", 2, ("blue", "M"))),
    ("omg want it #buy", Buy()),
    ("ok #buy TEE 2 pls", Buy("TEE", 2, ("pls",))),
    ("#buy TEE", Buy("TEE")),
    ("#buy TEE 2", Buy("TEE", 2)),
    ("#buy TEE x2", Buy("TEE", 2)),
    ("#buy TEE X2", Buy("TEE", 2)),
    ("#buy TEE 2x", Buy("TEE", 2)),
    ("#buy 2", Buy(None, 2)),
    ("/buy TEE 2 size:M", Buy("TEE", 2, ("size:M",))),
    ("#buy TEE M", Buy("TEE", 1, ("M",))),
    ("#BUY tee X2", Buy("TEE", 2)),
    ("/buy@livebuy_bot TEE 2", Buy("TEE", 2)),
    ("#kaufen", Buy()),
    ("#acheter TEE", Buy("TEE")),
    ("#comprar TEE 3", Buy("TEE", 3)),
    ("#COMPRO cap x3", Buy("CAP", 3)),
    ("#buy Ärmel", Buy("ÄRMEL")),
    ("🔥🔥 #buy TEE 🔥", Buy("TEE")),
    ("(#buy TEE!)", Buy("TEE")),
    ("#buy TEE!!!", Buy("TEE")),
    ("hello\n#buy CAP\nthanks", Buy("CAP")),
    ("#buy TEE 2 #bid 5", Buy("TEE", 2)),
    ("#buy 0", ParseError(E.BAD_QUANTITY, "buy", "0")),
    ("#buy TEE 1000", ParseError(E.BAD_QUANTITY, "buy", "1000")),
    ("#buy MUG -1", ParseError(E.BAD_QUANTITY, "buy", "-1")),
    ("/whoami", WhoAmI()),
    ("/whoami@livebuy_bot", WhoAmI()),
    ("#buy -2", ParseError(E.BAD_QUANTITY, "buy", "-2")),
    ("/buy TEE −3 M", ParseError(E.BAD_QUANTITY, "buy", "−3")),
    ("#buying is fun", None),
    ("http://example.com/buy", None),
    ("a#buy", None),
    ("it sold out", None),
    ("sold out already?", None),
    ("hello there", None),
    ("", None),
    ("#", None),
    ("#123", None),
    ("#bid 15", Bid(D("15"))),
    ("/bid 15.50", Bid(D("15.50"))),
    ("!bid 15,50", Bid(D("15.50"))),
    ("#bid €15", Bid(D("15"))),
    ("#bid 15€", Bid(D("15"))),
    ("#gebot 7", Bid(D("7"))),
    ("#bid", ParseError(E.MISSING_AMOUNT, "bid")),
    ("#bid lots", ParseError(E.BAD_AMOUNT, "bid", "lots")),
    ("#bid 0", ParseError(E.BAD_AMOUNT, "bid", "0")),
    ("#bid 1.999", ParseError(E.BAD_AMOUNT, "bid", "1.999")),
    ("/maxbid 40", MaxBid(D("40"))),
    ("/maxbid", ParseError(E.MISSING_AMOUNT, "maxbid")),
    ("/pass", Pass()),
    ("/pass tee", Pass("TEE")),
    ("/cancel", Cancel()),
    ("/cancel #k7p2qx9m", Cancel("K7P2QX9M")),
    ("/annuler K7", Cancel("K7")),
    ("/orders", Orders()),
    ("/orders please", Orders()),
    ("/bestellungen", Orders()),
    ("/queue", Queue()),
    ("/queue tee", Queue("TEE")),
    ("#warteliste", Queue()),
    ("/help", Help()),
    ("/ayuda", Help()),
    ("/start", Start()),
    ("/start buy_TEE", Start("buy_TEE")),
    (
        "/drop TEE 10 25.00 for 10m limit 1",
        StartDrop("TEE", 10, D("25.00"), timedelta(minutes=10), 1),
    ),
    ("/drop tee 10 25", StartDrop("TEE", 10, D("25"))),
    (
        "/drop TEE 10 25,50 limit 2 for 1h30m",
        StartDrop("TEE", 10, D("25.50"), timedelta(minutes=90), 2),
    ),
    ("/drop TEE 10 25 10m", StartDrop("TEE", 10, D("25"), timedelta(minutes=10))),
    ("/drop", ParseError(E.MISSING_SKU, "drop")),
    ("/drop TEE", ParseError(E.MISSING_QUANTITY, "drop")),
    ("/drop TEE ten 25", ParseError(E.BAD_QUANTITY, "drop", "ten")),
    ("/drop TEE 0 25", ParseError(E.BAD_QUANTITY, "drop", "0")),
    ("/drop TEE 10", ParseError(E.MISSING_PRICE, "drop")),
    ("/drop TEE 10 cheap", ParseError(E.BAD_PRICE, "drop", "cheap")),
    ("/drop SAMPLE 50 free", StartDrop("SAMPLE", 50, Decimal(0))),
    ("/drop TEE 10 25 confirm trusted", StartDrop("TEE", 10, Decimal(25), confirm="trusted")),
    (
        "/drop TEE 10 25 confirm above 40 limit 2",
        StartDrop("TEE", 10, Decimal(25), limit=2, confirm="above 40"),
    ),
    (
        "/drop TEE 10 25 confirm sometimes",
        ParseError(E.UNKNOWN_OPTION, "drop", "confirm sometimes"),
    ),
    ("#confirm", Confirm()),
    ("/confirm k7p2qx9m", Confirm("K7P2QX9M")),
    ("/card", Card()),
    ("/unlink", Unlink()),
    ("/link", Link()),
    ("/link ab3k9xzq", Link("AB3K9XZQ")),
    ("/drop TEE 10 25 for ever", ParseError(E.BAD_DURATION, "drop", "ever")),
    ("/drop TEE 10 25 for", ParseError(E.BAD_DURATION, "drop", "for")),
    ("/drop TEE 10 25 limit none", ParseError(E.BAD_LIMIT, "drop", "none")),
    ("/drop TEE 10 25 limit 0", ParseError(E.BAD_LIMIT, "drop", "0")),
    ("/drop TEE 10 25 fast", ParseError(E.UNKNOWN_OPTION, "drop", "fast")),
    (
        "/auction CARD start 1 for 50s sudden reserve 20 step 1",
        StartAuction("CARD", D("1"), timedelta(seconds=50), "sudden", D("20"), D("1")),
    ),
    ("/auction card 1 for 50s soft", StartAuction("CARD", D("1"), timedelta(seconds=50), "soft")),
    ("/auction", ParseError(E.MISSING_SKU, "auction")),
    ("/auction CARD start", ParseError(E.MISSING_PRICE, "auction")),
    ("/auction CARD start x", ParseError(E.BAD_PRICE, "auction", "x")),
    ("/auction CARD 1 reserve", ParseError(E.BAD_PRICE, "auction", "reserve")),
    ("/auction CARD 1 for soon", ParseError(E.BAD_DURATION, "auction", "soon")),
    ("/auction CARD 1 wild", ParseError(E.UNKNOWN_OPTION, "auction", "wild")),
    ("/end", EndDrop()),
    ("/end tee", EndDrop("TEE")),
    ("/stats", Stats()),
    ("/stats TEE", Stats("TEE")),
    ("/refund k7p2", Refund("K7P2")),
    ("/refund #K7P2 5.00", Refund("K7P2", D("5.00"))),
    ("/refund", ParseError(E.MISSING_ORDER, "refund")),
    ("/refund K7P2 some", ParseError(E.BAD_AMOUNT, "refund", "some")),
    ("/giveaway card", StartGiveaway("CARD")),
    ("/giveaway CARD for 60s", StartGiveaway("CARD", timedelta(seconds=60))),
    ("/verlosung CARD 2m", StartGiveaway("CARD", timedelta(minutes=2))),
    ("/giveaway", ParseError(E.MISSING_SKU, "giveaway")),
    ("/giveaway CARD for ever", ParseError(E.BAD_DURATION, "giveaway", "for ever")),
    ("/giveaway CARD now", ParseError(E.UNKNOWN_OPTION, "giveaway", "now")),
    ("#enter", Enter()),
    ("me me me /enter!", Enter()),
    ("#participar", Enter()),
    (
        '/poll "Cards or sneakers next?" cards sneakers',
        StartPoll("Cards or sneakers next?", ("cards", "sneakers")),
    ),
    (
        "/poll “Cards  or sneakers?” cards, sneakers",
        StartPoll("Cards or sneakers?", ("cards", "sneakers")),
    ),
    ("/poll Best set ever? a b c", StartPoll("Best set ever?", ("a", "b", "c"))),
    ('/poll "Which?" "red one" blue', StartPoll("Which?", ("red one", "blue"))),
    ("/poll end", EndPoll()),
    ("/poll END now", EndPoll()),
    ("/poll", ParseError(E.BAD_POLL, "poll")),
    ("/poll no question mark a b", ParseError(E.BAD_POLL, "poll")),
    ('/poll "never closed a b', ParseError(E.BAD_POLL, "poll")),
    ('/poll "Q?" a', ParseError(E.BAD_POLL, "poll", "1")),
    ('/poll "Q?" a b c d e f g', ParseError(E.BAD_POLL, "poll", "7")),
    ("#1", Vote(1)),
    ("Lot #2 looks great #bid 5", Bid(Decimal(5))),  # a command wins over a vote
    ("#3: #buy TEE 2", Buy("TEE", 2)),
    ("#5€", None),
    ("#1-", None),
    ("def #2!", Vote(2)),
    ("(#6)", Vote(6)),
    ("#7", None),
    ("#0", None),
    ("#12", None),
    ("#1st place", None),
    ("1", None),
]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[0][:40] or "empty" for c in CASES])
def test_parse(text: str, expected: Command | ParseError | None) -> None:
    assert parse(text) == expected


def test_seller_configured_buy_keywords() -> None:
    keywords = DEFAULT_KEYWORDS.with_buy_aliases("#mine", "  ", "/nehme")
    assert parse("#mine TEE", keywords) == Buy("TEE")
    assert parse("/NEHME", keywords) == Buy()
    assert parse("#mine TEE") is None  # the default words do not know it


# Properties --------------------------------------------------------------------------------

FRAGMENTS = st.sampled_from(
    [
        "#buy",
        "/buy",
        "!bid",
        "SOLD",
        "sold out",
        "/drop",
        "/auction",
        "x2",
        "15,50",
        "€",
        "@bot",
        "for",
        "limit",
        "\n",
        " ",
        "#",
        "/",
        "!",
        "🔥",
        "\u202e",
        "\x00",
        "size:M",
        "/refund",
        "/giveaway",
        "#enter",
        "/poll",
        '"',
        "“",
        "#1",
        "#2",
    ]
)


@settings(max_examples=500, deadline=None)
@given(st.text())
def test_never_raises_on_any_text(text: str) -> None:
    result = parse(text)
    assert result is None or isinstance(result, (ParseError, *Command.__args__))  # type: ignore[attr-defined]


@settings(max_examples=500, deadline=None)
@given(st.lists(st.one_of(FRAGMENTS, st.text(max_size=8)), max_size=20).map(" ".join))
def test_never_raises_on_command_soup(text: str) -> None:
    parse(text)


CODES = st.from_regex(r"[A-Z][A-Z0-9]{0,7}", fullmatch=True).filter(
    lambda c: not re.fullmatch(r"X[0-9]+", c)  # reads like a quantity: no such SKU exists
)
WORDS = st.from_regex(r"[a-z][a-z0-9]{0,4}(:[a-z0-9]{1,3})?", fullmatch=True).filter(
    lambda w: DEFAULT_KEYWORDS.verb(w) is None and not w.startswith(("x", "sold"))
)
AMOUNTS = st.decimals(min_value=D("0.01"), max_value=D("999999.99"), places=2)
DURATIONS = st.integers(1, 7 * 86400).map(lambda s: timedelta(seconds=s))
REFS = st.from_regex(r"[A-Z2-9]{4,8}", fullmatch=True)

COMMANDS: st.SearchStrategy[Command] = st.one_of(
    st.builds(Buy, st.none() | CODES, st.integers(1, 999), st.lists(WORDS, max_size=3).map(tuple)),
    st.builds(Bid, AMOUNTS),
    st.builds(MaxBid, AMOUNTS),
    st.builds(Pass, st.none() | CODES),
    st.builds(Cancel, st.none() | REFS),
    st.just(Orders()),
    st.builds(Queue, st.none() | CODES),
    st.just(Help()),
    st.builds(Start, st.none() | st.lists(WORDS, min_size=1, max_size=3).map(" ".join)),
    st.builds(
        StartDrop,
        CODES,
        st.integers(1, 100_000),
        AMOUNTS,
        st.none() | DURATIONS,
        st.none() | st.integers(1, 99),
        st.none() | st.sampled_from(["always", "trusted", "above 25", "above 9.50"]),
    ),
    st.builds(
        StartAuction,
        CODES,
        AMOUNTS,
        st.none() | DURATIONS,
        st.none() | st.sampled_from(["sudden", "soft"]),
        st.none() | AMOUNTS,
        st.none() | AMOUNTS,
    ),
    st.builds(EndDrop, st.none() | CODES),
    st.builds(Stats, st.none() | CODES),
    st.builds(Refund, REFS, st.none() | AMOUNTS),
    st.builds(Confirm, st.none() | REFS),
    st.builds(Link, st.none() | REFS),
    st.just(Card()),
    st.just(Unlink()),
    st.builds(StartGiveaway, CODES, st.none() | DURATIONS),
    st.just(Enter()),
    st.builds(
        StartPoll,
        st.lists(WORDS, min_size=1, max_size=6).map(" ".join)
        | st.lists(WORDS, min_size=1, max_size=6).map(lambda w: " ".join(w) + "?"),
        st.lists(
            WORDS | st.lists(WORDS, min_size=2, max_size=3).map(" ".join), min_size=2, max_size=6
        ).map(tuple),
    ),
    st.just(EndPoll()),
    st.builds(Vote, st.integers(1, 6)),
)
CHATTER = st.text(
    st.characters(
        blacklist_characters="#/!\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029",
        blacklist_categories=("Cs",),
    ),
    max_size=30,
).filter(lambda t: not t.strip().casefold().startswith("sold"))


@settings(max_examples=300, deadline=None)
@given(COMMANDS)
def test_round_trip(cmd: Command) -> None:
    assert parse(format_command(cmd)) == cmd


@settings(max_examples=300, deadline=None)
@given(COMMANDS, CHATTER, CHATTER)
def test_round_trip_inside_a_conversation(cmd: Command, before: str, after: str) -> None:
    assert parse(f"{before}\n{format_command(cmd)}\n{after}") == cmd
