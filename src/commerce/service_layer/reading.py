"""What a chat message says, read once per delivery: the grammar's parse of its text.

A message is looked at before it is handled (may it share its chat's turn with its
neighbours? is it personal, answered in a private lane? is it a bid, which takes its place
in the bids' queue?) and then handled. The first look takes the message's `Reading` and the
others use that one: the web chat hands it over with the message (`ChatMessage.reading`),
the bus attaches it before the chat's steps, and the inbox hands the reading its turn was
decided by to the update's processing (`ahead`), since the platforms' adapters build the
message deep inside their own code. Adapters hand over text, who and where; only the core
parses.

The grammar's parse of a text is also remembered across messages (a flash drop's thousand
`#buy`s are one parse; a long one costs tens of microseconds). Parses are immutable values.
"""

import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from commerce.domain import commands as c
from commerce.domain import grammar as g

Parsed = g.Command | g.ParseError | None
KEPT = 4096  # texts remembered (the messages of a busy drop's last seconds)

# Buyers' claims and bids may be decided side by side with their neighbours in a chat's inbox
# (the claim writer and the auction keep their own arrival order); any other message changes
# what the next ones mean (a /drop, an /end) and is decided alone, in its place.
SIDE_BY_SIDE: frozenset[type] = frozenset({g.Buy, g.Bid})
# Commands that show or create something personal (a card, a link code, a confirm, one's
# orders with their pay links): a chat that everyone reads answers them in the sender's
# private lane.
PERSONAL: frozenset[type] = frozenset({g.Card, g.Unlink, g.Link, g.Confirm, g.Orders})


@dataclass(frozen=True, slots=True)
class Reading:
    """One message's text as the core read it (with the keywords it was read with)."""

    text: str
    keywords: g.Keywords
    parsed: Parsed  # the first command in the text, a parse error, or None for chatter

    def of(self, text: str, keywords: g.Keywords) -> bool:
        return self.text == text and self.keywords is keywords

    @property
    def side_by_side(self) -> bool:
        """A claim or a bid: it may share its chat's turn with its neighbours."""
        return type(self.parsed) in SIDE_BY_SIDE

    @property
    def bid(self) -> bool:
        """A bid (#bid or /maxbid): decided in arrival order (service_layer/bid_turns.py)."""
        return isinstance(self.parsed, g.Bid | g.MaxBid)

    @property
    def personal(self) -> bool:
        """A command about the sender's own card, link, confirm or orders."""
        return type(self.parsed) in PERSONAL


# The reading an inbox update's turn was decided by, while that update is processed.
_ahead: ContextVar[Reading | None] = ContextVar("reading_ahead", default=None)
# The readings taken while an inbox decides a turn (None: nobody is noting).
_noted: ContextVar[list[Reading] | None] = ContextVar("readings_noted", default=None)


def read(text: str, keywords: g.Keywords) -> Reading:
    """A chat text, read now (or the reading `ahead` of this same text)."""
    known = _ahead.get()
    if known is not None and known.of(text, keywords):
        reading = known
    else:
        reading = Reading(text, keywords, parse(text, keywords))
    noted = _noted.get()
    if noted is not None:
        noted.append(reading)
    return reading


def of(message: c.ChatMessage, keywords: g.Keywords) -> Reading:
    """The message's one reading: the one it came with, else the one its inbox turn was
    decided by, else a new one. A reading of another text or other keywords is not used."""
    known = message.reading
    if isinstance(known, Reading) and known.of(message.text, keywords):
        return known
    return read(message.text, keywords)


@contextmanager
def noting() -> Iterator[list[Reading]]:
    """The readings taken inside the block (an inbox deciding whether an update joins)."""
    noted: list[Reading] = []
    token = _noted.set(noted)
    try:
        yield noted
    finally:
        _noted.reset(token)


@contextmanager
def ahead(reading: Reading | None) -> Iterator[None]:
    """Inside the block, `reading`'s text is not read again (`read`, `of`)."""
    token = _ahead.set(reading)
    try:
        yield
    finally:
        _ahead.reset(token)


class _Memo:
    def __init__(self) -> None:
        # (id of the keywords, text) -> (those keywords, the parse): the keywords are kept,
        # so their id cannot be reused by other keywords while the entry lives.
        self.parses: OrderedDict[tuple[int, str], tuple[g.Keywords, Parsed]] = OrderedDict()
        self.lock = threading.Lock()  # the CLI may run the core in a thread of its own

    def parse(self, text: str, keywords: g.Keywords) -> Parsed:
        key = (id(keywords), text)
        with self.lock:
            found = self.parses.get(key)
            if found is not None and found[0] is keywords:
                self.parses.move_to_end(key)
                return found[1]
        parsed = g.parse(text, keywords)
        with self.lock:
            self.parses[key] = (keywords, parsed)
            if len(self.parses) > KEPT:
                self.parses.popitem(last=False)
        return parsed


_memo = _Memo()


def parse(text: str, keywords: g.Keywords) -> Parsed:
    """The first command in a chat text, a parse error, or None for ordinary chat."""
    return _memo.parse(text, keywords)
