"""What a chat message says, read once: the grammar's parse of a text, remembered.

A message is looked at before it is handled (may it share its chat's turn with its
neighbours? is it personal, answered in a private lane?) and then handled; all of these ask
here, so the text is parsed once whoever asks first. Parses are immutable values.
"""

import threading
from collections import OrderedDict

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
    """The first command in a chat message, a parse error, or None for ordinary chat."""
    return _memo.parse(text, keywords)


def side_by_side(text: str, keywords: g.Keywords) -> bool:
    return type(parse(text, keywords)) in SIDE_BY_SIDE


def claim(text: str, keywords: g.Keywords) -> bool:
    return type(parse(text, keywords)) is g.Buy


def bid(text: str, keywords: g.Keywords) -> bool:
    """A bid (#bid or /maxbid): decided in arrival order (service_layer/bid_turns.py)."""
    return isinstance(parse(text, keywords), g.Bid | g.MaxBid)


def personal(text: str, keywords: g.Keywords) -> bool:
    return type(parse(text, keywords)) in PERSONAL
