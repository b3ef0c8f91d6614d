"""A chat message is parsed once, in the core: adapters hand over text, who and where, and
the core asks the platform whether the sender administers the chat only when a command
needs it (both databases)."""

import random
import string

import pytest

from commerce.domain import commands as c
from commerce.service_layer import chat, queries, reading
from commerce.service_layer.messagebus import MessageBus
from tests.integration.helpers import add_product, buy, count_readings

_n = iter(range(1, 10_000))
GROUP = "telegram:-100"


class AdminCheck:
    """The platform's answer, counting how often the core asked."""

    def __init__(self, answer: bool) -> None:
        self.answer, self.asked = answer, 0

    async def __call__(self) -> bool:
        self.asked += 1
        return self.answer


def message(text: str, who: str, check: AdminCheck | None = None, **kw: object) -> c.ChatMessage:
    return c.ChatMessage(f"{GROUP}:{next(_n)}", GROUP, who, text, who, is_admin=check, **kw)  # type: ignore[arg-type]


async def test_the_admin_check_is_asked_only_for_what_admins_may_do(bus: MessageBus) -> None:
    await add_product(bus, "TEE", stock=5)
    no, yes = AdminCheck(False), AdminCheck(True)

    refused = await bus.handle(message("/drop TEE 2 25", "telegram:5", no))
    assert isinstance(refused, chat.Failed) and refused.not_allowed
    assert no.asked == 1
    opened = await bus.handle(message("/drop TEE 2 25", "telegram:6", yes))
    assert isinstance(opened, chat.DropOpened)
    assert yes.asked == 1

    asked_before = yes.asked
    for text in ("#buy", "hello there", "/orders", "/refund NOPE"):
        await bus.handle(message(text, "telegram:6", yes))
    assert yes.asked == asked_before  # a claim, chatter, a buyer's or a seller-only command


async def test_a_private_pass_gives_back_the_hold_claimed_in_a_group(bus: MessageBus) -> None:
    await add_product(bus, "TEE", stock=5)
    bus.deps.sellers = frozenset({"telegram:99"})
    await bus.handle(message("/drop TEE 2 25", "telegram:99"))
    claimed = await buy(bus, "telegram:1", GROUP)
    assert claimed.order is not None
    private = c.ChatMessage("telegram:1:1", "telegram:1", "telegram:1", "/pass", private=True)

    passed = await bus.handle(private)
    assert isinstance(passed, chat.Released) and passed.release.order.ref == claimed.order.ref
    again = await bus.handle(c.ChatMessage("telegram:1:2", "telegram:1", "telegram:1", "/pass"))
    assert isinstance(again, chat.Failed)  # in the private chat itself: nothing held there


async def test_what_a_message_is_comes_from_one_reading(
    bus: MessageBus, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bus reads a message once for its own look (is it a bid, which queues before the
    chat's steps?) and the chat's steps: on the old code every message was read twice."""
    await add_product(bus, "TEE", stock=5)
    bus.deps.sellers = frozenset({"telegram:99"})
    await bus.handle(message("/drop TEE 2 25", "telegram:99"))
    readings = count_readings(monkeypatch)
    texts = ["#buy", "#bid 30", "hello there", "/orders", "#buy 2 please"]
    for text in texts:
        await bus.handle(message(text, "telegram:7"))
    assert readings == texts
    assert bus.deps.bid_turns is not None  # the bid look was made


async def test_a_reading_handed_over_with_the_message_is_its_one_reading(
    bus: MessageBus, monkeypatch: pytest.MonkeyPatch
) -> None:
    parses: list[str] = []
    real = reading.g.parse

    def counting(text: str, keywords: object) -> object:
        parses.append(text)
        return real(text, keywords)  # type: ignore[arg-type]

    monkeypatch.setattr(reading.g, "parse", counting)
    readings = count_readings(monkeypatch)
    text = f"/card {''.join(random.choices(string.ascii_lowercase, k=12))}"  # never seen
    read = queries.read(bus.reads, text)  # as the web chat asks: is it personal?
    assert read.personal and not read.side_by_side
    outcome = await bus.handle(message(text, "web:1", private=True, reading=read))
    assert isinstance(outcome, chat.CardShown | chat.Failed)
    assert parses == [text] and readings == [text]
    claim = queries.read(bus.reads, "#buy 2 please")
    assert claim.side_by_side and not claim.personal
