"""The chat grammar: one parser for every platform's messages.

`parse(text)` finds the first command anywhere in a message ("omg want it #buy") and returns a
typed command, a typed `ParseError` the adapters turn into a helpful reply, or None for
ordinary chat. It never raises, and runs in linear time on any input (whitespace tokens and
anchored regular expressions only, no backtracking over the whole message).
"""

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from enum import StrEnum

from commerce.domain.drops import format_duration, parse_duration
from commerce.domain.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class Buy:
    code: str | None = None
    quantity: int = 1
    variant: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Bid:
    amount: Decimal


@dataclass(frozen=True, slots=True)
class MaxBid:
    amount: Decimal


@dataclass(frozen=True, slots=True)
class Pass:
    code: str | None = None


@dataclass(frozen=True, slots=True)
class Cancel:
    order: str | None = None


@dataclass(frozen=True, slots=True)
class Orders:
    pass


@dataclass(frozen=True, slots=True)
class WhoAmI:
    """Asks for the sender's id and the chat's, in the form LIVEBUY_SELLERS and --channel take."""


@dataclass(frozen=True, slots=True)
class Queue:
    """`/queue [CODE]`: the buyer's places in waitlists."""

    code: str | None = None


@dataclass(frozen=True, slots=True)
class Help:
    pass


@dataclass(frozen=True, slots=True)
class Start:
    payload: str | None = None  # a Telegram deep link: "/start buy_TEE"


@dataclass(frozen=True, slots=True)
class StartDrop:
    sku: str
    quantity: int
    price: Decimal  # 0 for a promo drop (`/drop SAMPLE 50 free`)
    duration: timedelta | None = None
    limit: int | None = None
    confirm: str | None = None  # always | trusted | "above 25" (buyers with a saved card)

    @property
    def promo(self) -> bool:
        return self.price == 0


@dataclass(frozen=True, slots=True)
class Next:
    """`/next`: the show's next lot goes live."""


@dataclass(frozen=True, slots=True)
class Pause:
    """`/pause`: a break in the show."""


@dataclass(frozen=True, slots=True)
class Skip:
    """`/skip`: leave out the show's next lot."""


@dataclass(frozen=True, slots=True)
class ShowInfo:
    """`/show`: the show's board here; `/show end` (sellers) closes the show."""

    end: bool = False


@dataclass(frozen=True, slots=True)
class Card:
    """`/card`: show the saved card and a link to add or replace it (private chat)."""


@dataclass(frozen=True, slots=True)
class Unlink:
    """`/unlink`: forget the saved card (detached at the payment provider too)."""


@dataclass(frozen=True, slots=True)
class Link:
    """`/link` gives a one-time code; `/link CODE` on another platform joins both."""

    code: str | None = None


@dataclass(frozen=True, slots=True)
class Confirm:
    """`#confirm` / `/confirm [ORDER]`: pay a held order with the saved card."""

    order: str | None = None


@dataclass(frozen=True, slots=True)
class StartAuction:
    sku: str
    start: Decimal
    duration: timedelta | None = None
    close: str | None = None  # "sudden" | "soft"
    reserve: Decimal | None = None
    step: Decimal | None = None


@dataclass(frozen=True, slots=True)
class EndDrop:
    code: str | None = None


@dataclass(frozen=True, slots=True)
class Stats:
    code: str | None = None


@dataclass(frozen=True, slots=True)
class Refund:
    order: str
    amount: Decimal | None = None


@dataclass(frozen=True, slots=True)
class StartGiveaway:
    """`/giveaway SKU [for 60s]`: one unit given to a drawn entrant."""

    sku: str
    duration: timedelta | None = None


@dataclass(frozen=True, slots=True)
class Enter:
    """`#enter`: join the giveaway live in this chat."""


@dataclass(frozen=True, slots=True)
class StartPoll:
    """`/poll "Cards or sneakers next?" cards sneakers`: 2 to 6 options."""

    question: str
    options: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class EndPoll:
    """`/poll end`: close the poll live in this chat."""


@dataclass(frozen=True, slots=True)
class Vote:
    """`#1` ... `#6`: a vote for that option of the poll live in this chat."""

    option: int


Command = (
    Buy
    | Bid
    | MaxBid
    | Pass
    | Cancel
    | Orders
    | WhoAmI
    | Queue
    | Help
    | Start
    | StartDrop
    | StartAuction
    | EndDrop
    | Stats
    | Refund
    | Next
    | Pause
    | Skip
    | ShowInfo
    | Card
    | Unlink
    | Link
    | Confirm
    | StartGiveaway
    | Enter
    | StartPoll
    | EndPoll
    | Vote
)
SELLER_COMMANDS: frozenset[type] = frozenset(
    {StartDrop, StartAuction, EndDrop, Stats, Refund, Next, Pause, Skip}
)

# Giveaways and polls are the sellers' too.
SELLER_COMMANDS |= {StartGiveaway, StartPoll, EndPoll}


class ParseErrorKind(StrEnum):
    MISSING_SKU = "missing_sku"
    MISSING_QUANTITY = "missing_quantity"
    BAD_QUANTITY = "bad_quantity"
    MISSING_PRICE = "missing_price"
    BAD_PRICE = "bad_price"
    BAD_DURATION = "bad_duration"
    BAD_LIMIT = "bad_limit"
    MISSING_AMOUNT = "missing_amount"
    BAD_AMOUNT = "bad_amount"
    MISSING_ORDER = "missing_order"
    UNKNOWN_OPTION = "unknown_option"
    BAD_POLL = "bad_poll"  # no question, an unclosed quote, or not 2 to 6 options


@dataclass(frozen=True, slots=True)
class ParseError:
    kind: ParseErrorKind
    command: str  # the canonical verb: "buy", "drop", "bid", ...
    detail: str = ""  # the offending word


@dataclass(frozen=True)
class Keywords:
    """The words for each verb, in every supported language plus the seller's own."""

    aliases: dict[str, frozenset[str]]
    _verbs: dict[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        verbs = {a.casefold(): verb for verb, words in self.aliases.items() for a in words}
        object.__setattr__(self, "_verbs", verbs)

    def verb(self, word: str) -> str | None:
        return self._verbs.get(word.casefold())

    def with_buy_aliases(self, *words: str) -> "Keywords":
        extra = {w.strip().lstrip("#/!").casefold() for w in words if w.strip().lstrip("#/!")}
        return Keywords({**self.aliases, "buy": self.aliases["buy"] | extra})


DEFAULT_KEYWORDS = Keywords(
    {
        "buy": frozenset({"buy", "kaufen", "acheter", "comprar", "compro"}),
        "bid": frozenset({"bid", "biete", "gebot", "enchère", "enchere", "puja", "oferta"}),
        "maxbid": frozenset({"maxbid"}),
        "pass": frozenset({"pass"}),
        "cancel": frozenset({"cancel", "stornieren", "annuler", "cancelar"}),
        "orders": frozenset({"orders", "bestellungen", "commandes", "pedidos"}),
        "whoami": frozenset({"whoami"}),
        "queue": frozenset({"queue", "warteliste", "attente", "cola"}),
        "help": frozenset({"help", "hilfe", "aide", "ayuda"}),
        "start": frozenset({"start"}),
        "drop": frozenset({"drop"}),
        "auction": frozenset({"auction", "auktion"}),
        "end": frozenset({"end"}),
        "stats": frozenset({"stats"}),
        "refund": frozenset({"refund"}),
        "next": frozenset({"next", "weiter", "suivant", "siguiente"}),
        "pause": frozenset({"pause", "pausa"}),
        "skip": frozenset({"skip"}),
        "show": frozenset({"show"}),
        "card": frozenset({"card", "karte", "carte", "tarjeta"}),
        "unlink": frozenset({"unlink"}),
        "link": frozenset({"link", "verknüpfen", "lier", "vincular"}),
        "confirm": frozenset({"confirm", "bestätigen", "confirmer", "confirmar"}),
        "giveaway": frozenset({"giveaway", "verlosung", "concours", "sorteo"}),
        "enter": frozenset({"enter", "teilnehmen", "participer", "participar"}),
        "poll": frozenset({"poll", "umfrage", "sondage", "encuesta"}),
    }
)

_PREFIXES = "#/!"
_TRIM = ".,;:!?)]}\"'»“”"  # punctuation that may cling to the end of a word
_LEAD = "([{\"'«“"  # and to its start
_QUANTITY = re.compile(r"(?:x?([0-9]{1,6})|([0-9]{1,6})x)", re.IGNORECASE)
_CODE = re.compile(r"[^\W_][\w-]{0,31}")
_MONEY = re.compile(r"[€$£]?([0-9]{1,7})(?:[.,]([0-9]{1,2}))?[€$£]?")
_INT = re.compile(r"[0-9]{1,7}")
_NEGATIVE = re.compile(r"[-−][0-9]+")
MAX_QUANTITY = 999
MAX_DROP_QUANTITY = 100_000
MAX_VOTE = 6  # a poll's options: #1 ... #6
_OPEN_QUOTES = '"“„«'
_CLOSE_QUOTES = '"”“»'


def parse(text: str, keywords: Keywords = DEFAULT_KEYWORDS) -> Command | ParseError | None:
    """The first command in a chat message, a parse error, or None for ordinary chat."""
    lines = [line.split() for line in text.splitlines()]
    first_line = next((words for words in lines if words), [])
    # A bare SOLD counts only as the first word, and not in "sold out": "it sold out" and
    # "sold out already?" are chatter, "SOLD AA 2" is a purchase (CommentSold's convention).
    if (
        first_line
        and _clean(first_line[0]).casefold() == "sold"
        and _clean(first_line[1] if len(first_line) > 1 else "").casefold() != "out"
    ):
        return _ARGUMENTS["buy"](_arguments(first_line[1:], keywords))
    vote: Vote | None = None
    for words in lines:
        for index, word in enumerate(words):
            verb = _command_verb(word, keywords)
            if verb == "poll":  # the question keeps its words and punctuation
                return _poll(words[index + 1 :])
            if verb is not None:
                return _ARGUMENTS[verb](_arguments(words[index + 1 :], keywords))
            vote = vote or _vote(word)
    # A vote only when the message holds no command: "Lot #2 looks great #bid 5" is a bid.
    return vote


def _vote(word: str) -> Vote | None:
    """'#2', '#2!' -> Vote(2); '#12', '#2nd', '#7', '#5€', '#1-' are chatter."""
    word = word.lstrip(_LEAD)
    if len(word) < 2 or word[0] != "#" or not "1" <= word[1] <= str(MAX_VOTE):
        return None
    return Vote(int(word[1])) if all(ch in _TRIM for ch in word[2:]) else None


def _command_verb(word: str, keywords: Keywords) -> str | None:
    """'#buy', '/buy@livebuy_bot', '!BUY,' -> 'buy'; anything else -> None."""
    word = word.lstrip(_LEAD)
    if len(word) < 2 or word[0] not in _PREFIXES:
        return None
    name = _clean(word[1:]).split("@", 1)[0]
    return keywords.verb(name) if name.isalpha() else None


def _arguments(words: Iterable[str], keywords: Keywords) -> list[str]:
    """The words after a command, up to the next command, without clinging punctuation."""
    out = []
    for word in words:
        if _command_verb(word, keywords) is not None:
            break
        cleaned = _clean(word.lstrip(_LEAD))
        if any(ch.isalnum() for ch in cleaned):  # emoji and lone punctuation are chatter
            out.append(cleaned)
    return out


def _clean(word: str) -> str:
    return word.rstrip(_TRIM)


def _quantity(word: str) -> int | None:
    match = _QUANTITY.fullmatch(word)
    return int(match.group(1) or match.group(2)) if match else None


def _money(word: str) -> Decimal | None:
    match = _MONEY.fullmatch(word)
    if match is None:
        return None
    value = Decimal(f"{match.group(1)}.{match.group(2)}" if match.group(2) else match.group(1))
    return value if 0 < value < 1_000_000 else None


def _duration(word: str) -> timedelta | None:
    try:
        return parse_duration(word)
    except InvalidInput:
        return None


def _ref(word: str) -> str:
    return word.lstrip("#").upper()


def _buy(args: list[str]) -> Buy | ParseError:
    code = None
    if args and _quantity(args[0]) is None and _CODE.fullmatch(args[0]):
        code, args = args[0].upper(), args[1:]
    quantity = 1
    if args and _NEGATIVE.fullmatch(args[0]):  # "-1" is refused as "0" is, not read as a size
        return ParseError(ParseErrorKind.BAD_QUANTITY, "buy", args[0])
    if args and (found := _quantity(args[0])) is not None:
        if not 1 <= found <= MAX_QUANTITY:
            return ParseError(ParseErrorKind.BAD_QUANTITY, "buy", args[0])
        quantity, args = found, args[1:]
    return Buy(code, quantity, tuple(args))


def _amount(
    verb: str, make: Callable[[Decimal], Command]
) -> Callable[[list[str]], Command | ParseError]:
    def parse_amount(args: list[str]) -> Command | ParseError:
        if not args:
            return ParseError(ParseErrorKind.MISSING_AMOUNT, verb)
        amount = _money(args[0])
        if amount is None:
            return ParseError(ParseErrorKind.BAD_AMOUNT, verb, args[0])
        return make(amount)

    return parse_amount


def _drop(args: list[str]) -> StartDrop | ParseError:
    if not args or not _CODE.fullmatch(args[0]):
        return ParseError(ParseErrorKind.MISSING_SKU, "drop", args[0] if args else "")
    if len(args) < 2:
        return ParseError(ParseErrorKind.MISSING_QUANTITY, "drop")
    if not _INT.fullmatch(args[1]) or not 1 <= int(args[1]) <= MAX_DROP_QUANTITY:
        return ParseError(ParseErrorKind.BAD_QUANTITY, "drop", args[1])
    if len(args) < 3:
        return ParseError(ParseErrorKind.MISSING_PRICE, "drop")
    price = Decimal(0) if args[2].casefold() in _FREE else _money(args[2])
    if price is None:
        return ParseError(ParseErrorKind.BAD_PRICE, "drop", args[2])
    duration: timedelta | None = None
    limit: int | None = None
    confirm: str | None = None
    rest = args[3:]
    while rest:
        word = rest[0].casefold()
        if word == "confirm":
            taken = _confirm_rule(rest[1:])
            if taken is None:
                return ParseError(ParseErrorKind.UNKNOWN_OPTION, "drop", " ".join(rest[:3]))
            confirm, rest = " ".join(rest[1 : 1 + taken]).casefold(), rest[1 + taken :]
        elif word in ("for", "limit"):
            if len(rest) < 2:
                kind = ParseErrorKind.BAD_DURATION if word == "for" else ParseErrorKind.BAD_LIMIT
                return ParseError(kind, "drop", rest[0])
            value, rest = rest[1], rest[2:]
            if word == "for":
                if (duration := _duration(value)) is None:
                    return ParseError(ParseErrorKind.BAD_DURATION, "drop", value)
            elif not _INT.fullmatch(value) or int(value) < 1:
                return ParseError(ParseErrorKind.BAD_LIMIT, "drop", value)
            else:
                limit = int(value)
        elif (bare := _duration(rest[0])) is not None:
            duration, rest = bare, rest[1:]
        else:
            return ParseError(ParseErrorKind.UNKNOWN_OPTION, "drop", rest[0])
    return StartDrop(args[0].upper(), int(args[1]), price, duration, limit, confirm)


_FREE = ("free", "gratis", "gratuit", "kostenlos")


def _confirm_rule(words: list[str]) -> int | None:
    """How many words after `confirm` make its rule: always | trusted | above AMOUNT."""
    if words and words[0].casefold() in ("always", "trusted"):
        return 1
    if len(words) >= 2 and words[0].casefold() == "above" and _money(words[1]) is not None:
        return 2
    return None


def _auction(args: list[str]) -> StartAuction | ParseError:
    if not args or not _CODE.fullmatch(args[0]) or _money(args[0]) is not None:
        return ParseError(ParseErrorKind.MISSING_SKU, "auction", args[0] if args else "")
    sku, rest = args[0].upper(), args[1:]
    if rest and rest[0].casefold() == "start":
        rest = rest[1:]
    if not rest:
        return ParseError(ParseErrorKind.MISSING_PRICE, "auction")
    start = _money(rest[0])
    if start is None:
        return ParseError(ParseErrorKind.BAD_PRICE, "auction", rest[0])
    found: dict[str, object] = {}
    rest = rest[1:]
    while rest:
        word = rest[0].casefold()
        if word in ("sudden", "soft"):
            found["close"], rest = word, rest[1:]
        elif word in ("for", "reserve", "step"):
            if len(rest) < 2:
                kind = ParseErrorKind.BAD_DURATION if word == "for" else ParseErrorKind.BAD_PRICE
                return ParseError(kind, "auction", rest[0])
            value = _duration(rest[1]) if word == "for" else _money(rest[1])
            if value is None:
                kind = ParseErrorKind.BAD_DURATION if word == "for" else ParseErrorKind.BAD_PRICE
                return ParseError(kind, "auction", rest[1])
            found["duration" if word == "for" else word], rest = value, rest[2:]
        elif (bare := _duration(rest[0])) is not None:
            found["duration"], rest = bare, rest[1:]
        else:
            return ParseError(ParseErrorKind.UNKNOWN_OPTION, "auction", rest[0])
    return StartAuction(sku, start, **found)  # type: ignore[arg-type]


def _giveaway(args: list[str]) -> StartGiveaway | ParseError:
    if not args or not _CODE.fullmatch(args[0]):
        return ParseError(ParseErrorKind.MISSING_SKU, "giveaway", args[0] if args else "")
    duration, rest = None, args[1:]
    if rest and rest[0].casefold() == "for":
        if len(rest) < 2 or (duration := _duration(rest[1])) is None:
            return ParseError(ParseErrorKind.BAD_DURATION, "giveaway", " ".join(rest[:2]))
        rest = rest[2:]
    elif rest and (duration := _duration(rest[0])) is not None:
        rest = rest[1:]
    if rest:
        return ParseError(ParseErrorKind.UNKNOWN_OPTION, "giveaway", rest[0])
    return StartGiveaway(args[0].upper(), duration)


def _phrase(words: list[str], start: int) -> tuple[str, int, bool] | None:
    """The text at `words[start]`: a phrase in quotes ("..." or “...”) or one word; the
    index after it; whether it was quoted. None when the quote is never closed."""
    if words[start][0] not in _OPEN_QUOTES:
        return words[start], start + 1, False
    for end in range(start, len(words)):
        last = words[end].rstrip(",;:")
        if len(last) > (1 if end == start else 0) and last[-1] in _CLOSE_QUOTES:
            text = " ".join([*words[start:end], last])
            return text[1:-1].strip(), end + 1, True
    return None


def _poll(words: list[str]) -> StartPoll | EndPoll | ParseError:
    """`/poll "question" a b c`, `/poll Question? a b`, or `/poll end`."""
    bad = ParseError(ParseErrorKind.BAD_POLL, "poll")
    if not words:
        return bad
    if _clean(words[0]).casefold() == "end":
        return EndPoll()
    found = _phrase(words, 0)
    if found is None:
        return bad
    question, index, quoted = found
    if not quoted:  # unquoted, the question runs up to the word that ends with "?"
        end = next((i for i, w in enumerate(words) if w.endswith(("?", "？"))), None)
        if end is None:
            return bad
        question, index = " ".join(words[: end + 1]), end + 1
    options: list[str] = []
    while index < len(words) and len(options) <= MAX_VOTE:
        found = _phrase(words, index)
        if found is None:
            return bad
        option, index, quoted = found
        option = option if quoted else _clean(option.lstrip(_LEAD))
        if option:
            options.append(option)
    if not question or not 2 <= len(options) <= MAX_VOTE:
        return ParseError(ParseErrorKind.BAD_POLL, "poll", str(len(options)))
    return StartPoll(question, tuple(options))


def _refund(args: list[str]) -> Refund | ParseError:
    if not args:
        return ParseError(ParseErrorKind.MISSING_ORDER, "refund")
    if len(args) < 2:
        return Refund(_ref(args[0]))
    amount = _money(args[1])
    if amount is None:
        return ParseError(ParseErrorKind.BAD_AMOUNT, "refund", args[1])
    return Refund(_ref(args[0]), amount)


def _optional(
    make: Callable[[str | None], Command], ref: bool = False
) -> Callable[[list[str]], Command]:
    def parse_optional(args: list[str]) -> Command:
        if not args:
            return make(None)
        return make(_ref(args[0]) if ref else args[0].upper())

    return parse_optional


_ARGUMENTS: dict[str, Callable[[list[str]], Command | ParseError]] = {
    "buy": _buy,
    "bid": _amount("bid", Bid),
    "maxbid": _amount("maxbid", MaxBid),
    "pass": _optional(Pass),
    "cancel": _optional(Cancel, ref=True),
    "orders": lambda _: Orders(),
    "whoami": lambda _: WhoAmI(),
    "queue": _optional(Queue),
    "help": lambda _: Help(),
    "start": lambda args: Start(" ".join(args) or None),
    "drop": _drop,
    "auction": _auction,
    "end": _optional(EndDrop),
    "stats": _optional(Stats),
    "refund": _refund,
    "giveaway": _giveaway,
    "enter": lambda _: Enter(),
    "next": lambda _: Next(),
    "pause": lambda _: Pause(),
    "skip": lambda _: Skip(),
    "show": lambda args: ShowInfo(bool(args) and args[0].casefold() == "end"),
    "card": lambda _: Card(),
    "unlink": lambda _: Unlink(),
    "link": _optional(Link),
    "confirm": _optional(Confirm, ref=True),
}


def format_command(cmd: Command) -> str:
    """Canonical text of a command: `parse(format_command(cmd)) == cmd`."""
    match cmd:
        case Buy(code=code, quantity=quantity, variant=variant):
            return _join("/buy", code, str(quantity), *variant)
        case Bid(amount=amount):
            return f"#bid {amount}"
        case MaxBid(amount=amount):
            return f"/maxbid {amount}"
        case Pass(code=code):
            return _join("/pass", code)
        case Cancel(order=order):
            return _join("/cancel", order)
        case Orders():
            return "/orders"
        case WhoAmI():
            return "/whoami"
        case Queue(code=code):
            return _join("/queue", code)
        case Help():
            return "/help"
        case Start(payload=payload):
            return _join("/start", payload)
        case StartDrop(sku=sku, quantity=quantity, price=price, duration=duration, limit=limit):
            return _join(
                "/drop",
                sku,
                str(quantity),
                "free" if cmd.promo else str(price),
                f"for {format_duration(duration)}" if duration else None,
                f"limit {limit}" if limit is not None else None,
                f"confirm {cmd.confirm}" if cmd.confirm else None,
            )
        case Next():
            return "/next"
        case Pause():
            return "/pause"
        case Skip():
            return "/skip"
        case ShowInfo(end=end):
            return "/show end" if end else "/show"
        case Card():
            return "/card"
        case Unlink():
            return "/unlink"
        case Link(code=code):
            return _join("/link", code)
        case Confirm(order=order):
            return _join("/confirm", order)
        case StartAuction():
            return _join(
                "/auction",
                cmd.sku,
                "start",
                str(cmd.start),
                f"for {format_duration(cmd.duration)}" if cmd.duration else None,
                cmd.close,
                f"reserve {cmd.reserve}" if cmd.reserve is not None else None,
                f"step {cmd.step}" if cmd.step is not None else None,
            )
        case EndDrop(code=code):
            return _join("/end", code)
        case Stats(code=code):
            return _join("/stats", code)
        case Refund(order=order, amount=amount):
            return _join("/refund", order, str(amount) if amount is not None else None)
        case StartGiveaway(sku=sku, duration=duration):
            period = f"for {format_duration(duration)}" if duration else None
            return _join("/giveaway", sku, period)
        case Enter():
            return "#enter"
        case StartPoll(question=question, options=options):
            return _join("/poll", f'"{question}"', *(_quote(o) for o in options))
        case EndPoll():
            return "/poll end"
        case Vote(option=option):
            return f"#{option}"
    raise TypeError(f"not a command: {cmd!r}")  # pragma: no cover


def _join(*parts: str | None) -> str:
    return " ".join(p for p in parts if p)


def _quote(option: str) -> str:
    """A poll option as typed: in quotes when one bare word would not read back the same."""
    plain = len(option.split()) == 1 and _clean(option.lstrip(_LEAD)) == option
    return option if plain and option[0] not in _OPEN_QUOTES else f'"{option}"'
