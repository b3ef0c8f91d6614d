"""News after the sale for buyers of the chats without private messages (bots/letters.py):
said in the chat they bought in, naming them, with their claimant link; never the tracking
number, the reason, or a payment provider's link."""

from dataclasses import replace
from datetime import UTC, datetime

from bots.letters import PlatformLetters
from commerce.domain.money import Money
from commerce.domain.orders import OrderStatus
from commerce.service_layer.outbox import Outgoing
from commerce.service_layer.packages import OrderCancelled, OrderShipped
from commerce.service_layer.results import OrderView

PAY = "https://shop.example.com/pay/K7P2QX9M?t=abcDEF123_-="
ORDER = OrderView("K7P2QX9M", "TEE", "TEE", "Tee", "", "youtube:UCbo", "youtube:Cg0KCz", 1,
                  Money(2500, "eur"), OrderStatus.PAID, None, datetime.now(UTC),
                  checkout_url=PAY)  # fmt: skip


def test_a_youtube_buyer_hears_of_the_package_in_the_live_chat() -> None:
    letters = PlatformLetters()
    second = replace(ORDER, ref="AB12CD34")
    news = OrderShipped((ORDER, second), "1Z999AA10123456784", "UPS", None, buyer="Bo")
    assert letters.write(news) == [
        Outgoing(
            "youtube",
            "Cg0KCz",
            "@Bo: your order K7P2QX9M (+1) has shipped. Tracking and details: "
            "https://shop.example.com/p/K7P2QX9M?t=abcDEF123_-=",
        )
    ]
    cancelled = OrderCancelled(replace(ORDER, identity="twitch:42", chat="twitch:7"), "flaw")
    [said] = letters.write(cancelled)  # no name known: the platform's id, still no reason
    assert said.platform == "twitch" and said.chat == "7"
    assert said.text.startswith("@42: the shop cancelled your order K7P2QX9M.")
    assert "flaw" not in said.text and "/p/K7P2QX9M?t=" in said.text
    # A provider's checkout link is nobody's to read in public: the news goes without it.
    stripe = replace(ORDER, checkout_url="https://checkout.stripe.com/c/pay/cs_1")
    [plain] = letters.write(OrderCancelled(stripe, "", buyer="Bo"))
    assert plain.text == "@Bo: the shop cancelled your order K7P2QX9M. Nothing was charged."
    # Bought in another platform's chat (never the case today): nowhere to say it.
    assert PlatformLetters().write(OrderCancelled(replace(ORDER, chat="web:demo"), "")) == []
