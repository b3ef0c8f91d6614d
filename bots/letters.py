"""Private news for a buyer (shipped, cancelled by the seller) as outbox messages on the
platform they bought on, in the shop's language. Pure: the core stores them in the same
transaction as the change they tell of, and each platform's courier delivers them, even
when the change was made by the CLI in another process.

The addresses are each platform's private lane: a Telegram user's private chat (its id is
the user's), a Discord DM (`dm:<user>:<channel>`: the channel is where a buyer with closed
DMs is mentioned instead), and a web chat viewer's own streams. Twitch and YouTube have none
a bot can use (bots/aloud): the chat the buyer bought in is told, naming them ("@anna: your
order K7P2QX9M has shipped. Tracking and details: <link>"), and the details (the tracking
number, the carrier's page) are on the order's claimant link, /p/<ref>, which only the buyer
can open once signed in with that platform (webhooks.signin).
"""

from bots.aloud.texts import text
from bots.discord.core import dm
from bots.rendering import Renderer
from commerce.domain.pay_links import CLAIMANT_PLATFORMS, for_claimant
from commerce.service_layer.outbox import Outgoing
from commerce.service_layer.packages import BuyerNews, OrderCancelled, OrderShipped
from commerce.service_layer.results import OrderView


class PlatformLetters:
    def __init__(self, locale: str = "en") -> None:
        self.renderer, self.locale = Renderer(locale), locale

    def write(self, news: BuyerNews) -> list[Outgoing]:
        order = news.order if isinstance(news, OrderCancelled) else news.orders[0]
        address = private_address(order.identity, order.chat)
        if address is None:
            return []
        platform, chat = address
        if platform in CLAIMANT_PLATFORMS:
            return [Outgoing(platform, chat, self.aloud(news, order))]
        return [Outgoing(platform, chat, self.renderer.buyer_news(news))]

    def aloud(self, news: BuyerNews, order: OrderView) -> str:
        """The news said in the chat, naming the buyer; its details behind their link."""
        who = "@" + (news.buyer.strip().lstrip("@") or order.identity.partition(":")[2])
        url = for_claimant(order.checkout_url or "")
        link = url if "/p/" in url else None  # only the claimant's link: never a provider's
        match news:
            case OrderShipped(orders=orders):
                # One ref (the link's), and how many more ship with it: a line is short.
                refs = order.ref + (f" (+{len(orders) - 1})" if len(orders) > 1 else "")
                return text(
                    self.locale,
                    "shipped" if link else "shipped_no_link",
                    who=who,
                    refs=refs,
                    url=link,
                )
            case OrderCancelled():
                key = "cancelled" if link else "cancelled_no_link"
                return text(self.locale, key, who=who, ref=order.ref, url=link)
        return ""  # pragma: no cover (every news is matched above)


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
    chat_platform, _, where = chat.partition(":")
    if platform in CLAIMANT_PLATFORMS and chat_platform == platform and where:
        return platform, where  # said in the chat they bought in (no private lane)
    return None
