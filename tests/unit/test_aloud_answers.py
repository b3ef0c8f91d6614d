"""What a Twitch or a YouTube chat is told when other platforms would answer privately (the
same for both: bots/aloud): the whole chat reads it, so a one-message buy's question names
neither the saved card nor the address, and a charge's news not the card."""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bots.aloud.core import AloudCore
from bots.aloud.notifier import AloudNotifier
from bots.twitch import core as twitch
from bots.twitch.notifier import TwitchNotifier
from bots.youtube import core as youtube
from bots.youtube.notifier import YouTubeNotifier
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

CARD = CardView("visa", "4242", ship_to="Anna Buyer, Street 1, 10115 Berlin, DE")


@dataclass
class Outbox:
    put_: list[Outgoing] = field(default_factory=list)

    async def put(self, messages: list[Outgoing], now: datetime, done: Any = None) -> None:
        self.put_ += messages


@dataclass
class Bus:
    clock: FakeClock = field(default_factory=FakeClock)


@dataclass
class Platform:
    """One of the chats without private messages, as these tests need it."""

    chat: str  # the chat as the platform names it
    buyer: str  # anna's identity there
    core: Callable[[Any, Any], AloudCore]  # (bus, outbox) -> the platform's core
    notifier: Callable[[], AloudNotifier]

    def order(self) -> OrderView:
        now = datetime.now(UTC)
        platform = self.buyer.partition(":")[0]
        return OrderView(
            ref="K7P2QX9M",
            drop_code="TEE",
            sku="TEE",
            name="Logo tee",
            variant="",
            identity=self.buyer,
            chat=f"{platform}:{self.chat}",
            quantity=1,
            amount=Money(2500, "eur"),
            status=OrderStatus.RESERVED,
            hold_expires_at=now + timedelta(minutes=5),
            created_at=now,
        )

    def started(self) -> tuple[AloudCore, Outbox]:
        outbox = Outbox()
        return self.core(Bus(), outbox), outbox


PLATFORMS = {
    "twitch": Platform(
        "141981764",
        "twitch:700000001",
        lambda bus, outbox: twitch.Core(
            bus, outbox, None, twitch.Options(bot_user_id="900000001")
        ),
        TwitchNotifier,
    ),
    "youtube": Platform(
        "Cg0KC2xpdmVidXl0ZXN0",
        "youtube:UCanna",
        lambda bus, outbox: youtube.Core(bus, outbox, None, youtube.Options()),
        YouTubeNotifier,
    ),
}


@pytest.fixture(params=sorted(PLATFORMS))
def platform(request: pytest.FixtureRequest) -> Platform:
    return PLATFORMS[request.param]


async def test_a_one_message_buy_is_asked_aloud_without_card_or_address(
    platform: Platform,
) -> None:
    core, outbox = platform.started()
    won = ClaimResult(ClaimOutcome.WON, order=platform.order(), confirm=CARD)
    await core.answer(chat.Claimed(won), platform.chat, "@anna")
    (line,) = [m.text for m in outbox.put_]
    assert line.startswith("@anna: 1 × Logo tee is held for you for €25.00. Type #confirm")
    assert "4242" not in line and "Berlin" not in line


async def test_a_waitlist_turn_with_a_saved_card_is_asked_aloud_without_them(
    platform: Platform,
) -> None:
    core, outbox = platform.started()
    core.names[platform.buyer] = "@anna"
    notifier = platform.notifier()
    notifier.core = core
    claim = ClaimResult(ClaimOutcome.WON, order=platform.order(), confirm=CARD)
    await notifier.notify(PromotedFromWaitlist(claim))
    (message,) = outbox.put_
    assert message.chat == platform.chat
    assert message.text == "@anna: type #confirm to pay with your saved card."


async def test_a_charge_is_told_aloud_without_the_card(platform: Platform) -> None:
    core, outbox = platform.started()
    paid = PaymentResult(PaymentOutcome.PAID, platform.order(), CARD)
    await core.answer(chat.CardPaid(paid), platform.chat, "@anna")
    (line,) = [m.text for m in outbox.put_]
    assert line == "@anna: Charged €25.00 to your saved card for 1 × Logo tee."
    notifier = platform.notifier()
    notifier.core = core
    fell_back = PaymentResult(PaymentOutcome.FALLBACK, platform.order(), CARD, "card declined")
    await notifier.notify(PaymentFellBack(fell_back))
    assert "4242" not in outbox.put_[-1].text and "Visa" not in outbox.put_[-1].text
