"""What the Twitch chat is told when other platforms would answer privately: the whole chat
reads it, so a one-message buy's question names neither the saved card nor the address."""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bots.twitch.core import Core, Options
from bots.twitch.notifier import TwitchNotifier
from commerce.domain.money import Money
from commerce.domain.orders import OrderStatus
from commerce.service_layer import chat
from commerce.service_layer.outbox import Outgoing
from commerce.service_layer.results import (
    CardView,
    ClaimOutcome,
    ClaimResult,
    OrderView,
    PaymentFellBack,
    PaymentOutcome,
    PaymentResult,
    PromotedFromWaitlist,
)
from tests.fakes import FakeClock

CHAT = "141981764"
CARD = CardView("visa", "4242", ship_to="Anna Buyer, Street 1, 10115 Berlin, DE")


@dataclass
class Outbox:
    put_: list[Outgoing] = field(default_factory=list)

    async def put(self, messages: list[Outgoing], now: datetime, done: Any = None) -> None:
        self.put_ += messages


@dataclass
class Bus:
    clock: FakeClock = field(default_factory=FakeClock)


def order() -> OrderView:
    now = datetime.now(UTC)
    return OrderView(
        ref="K7P2QX9M",
        drop_code="TEE",
        sku="TEE",
        name="Logo tee",
        variant="",
        identity="twitch:700000001",
        chat=f"twitch:{CHAT}",
        quantity=1,
        amount=Money(2500, "eur"),
        status=OrderStatus.RESERVED,
        hold_expires_at=now + timedelta(minutes=5),
        created_at=now,
    )


def core() -> tuple[Core, Outbox]:
    outbox = Outbox()
    return Core(Bus(), outbox, None, Options(bot_user_id="900000001")), outbox  # type: ignore[arg-type]


async def test_a_one_message_buy_is_asked_aloud_without_card_or_address() -> None:
    twitch, outbox = core()
    won = ClaimResult(ClaimOutcome.WON, order=order(), confirm=CARD)
    await twitch.answer(chat.Claimed(won), CHAT, "@anna")
    (line,) = [m.text for m in outbox.put_]
    assert line.startswith("@anna: 1 × Logo tee is held for you for €25.00. Type #confirm")
    assert "4242" not in line and "Berlin" not in line


async def test_a_waitlist_turn_with_a_saved_card_is_asked_aloud_without_them() -> None:
    twitch, outbox = core()
    twitch.names["twitch:700000001"] = "@anna"
    notifier = TwitchNotifier()
    notifier.core = twitch
    claim = ClaimResult(ClaimOutcome.WON, order=order(), confirm=CARD)
    await notifier.notify(PromotedFromWaitlist(claim))
    (message,) = outbox.put_
    assert message.chat == CHAT
    assert message.text == "@anna: type #confirm to pay with your saved card."


async def test_a_charge_is_told_aloud_without_the_card() -> None:
    twitch, outbox = core()
    paid = PaymentResult(PaymentOutcome.PAID, order(), CARD)
    await twitch.answer(chat.CardPaid(paid), CHAT, "@anna")
    (line,) = [m.text for m in outbox.put_]
    assert line == "@anna: Charged €25.00 to your saved card for 1 × Logo tee."
    notifier = TwitchNotifier()
    notifier.core = twitch
    fell_back = PaymentResult(PaymentOutcome.FALLBACK, order(), CARD, "card declined")
    await notifier.notify(PaymentFellBack(fell_back))
    assert "4242" not in outbox.put_[-1].text and "Visa" not in outbox.put_[-1].text
