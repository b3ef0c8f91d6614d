"""Private news for a buyer (shipped, cancelled by the seller) as outbox messages on the
platform they bought on, in the shop's language. Pure: the core stores them in the same
transaction as the change they tell of, and each platform's courier delivers them, even
when the change was made by the CLI in another process.

The addresses are each platform's private lane: a Telegram user's private chat (its id is
the user's), a Discord DM (`dm:<user>:<channel>`: the channel is where a buyer with closed
DMs is mentioned instead), and a web chat viewer's own streams.
"""

from bots.discord.core import dm
from bots.rendering import Renderer
from commerce.service_layer.outbox import Outgoing
from commerce.service_layer.packages import BuyerNews, OrderCancelled


class PlatformLetters:
    def __init__(self, locale: str = "en") -> None:
        self.renderer = Renderer(locale)

    def write(self, news: BuyerNews) -> list[Outgoing]:
        order = news.order if isinstance(news, OrderCancelled) else news.orders[0]
        address = private_address(order.identity, order.chat)
        if address is None:
            return []
        platform, chat = address
        return [Outgoing(platform, chat, self.renderer.buyer_news(news))]


def private_address(identity: str, chat: str) -> tuple[str, str] | None:
    """(platform, outbox chat) of the buyer's private lane; None for a platform without one."""
    platform, _, user = identity.partition(":")
    if not user:
        return None
    if platform == "telegram" and user.lstrip("-").isdigit():
        return platform, user
    if platform == "discord" and user.isdigit():
        chat_platform, _, channel = chat.partition(":")
        return platform, dm(user, channel if chat_platform == "discord" and channel else None)
    if platform == "web":
        return platform, identity
    return None
