"""DiscordSender: the outbox's messages over discord.py (REST), errors turned into the
courier's terms: a 429 is `RetryLater`, a closed DM or a lost channel `Undeliverable`."""

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import aiohttp
import discord

from bots.discord.cogs.buying import BuyButton
from bots.discord.core import BUY_PREFIX
from bots.discord.texts import text
from commerce.domain.media import public_image_url
from commerce.service_layer.outbox import Button, Outgoing, RetryLater, Undeliverable

log = logging.getLogger(__name__)
CLOSED_DMS = 50007  # "Cannot send messages to this user"


class DiscordSender:
    platform = "discord"

    def __init__(
        self,
        client: Callable[[], discord.Client | None],
        locale: str = "en",
        public_base_url: str = "",
    ) -> None:
        self.client = client  # the service's current bot (it is replaced on an intent retry)
        self.locale = locale
        # A media folder picture is shown by address: Discord fetches it from this server's
        # /media/ route (see _content for why not an attachment).
        self.public_base_url = public_base_url

    def interval(self, chat: str) -> float:
        # discord.py paces each route by Discord's bucket headers; this only spreads bursts.
        return 0.2

    async def send(self, message: Outgoing) -> str:
        client = self._client()
        try:
            if message.chat.startswith("dm:"):
                return await self._direct(client, message)
            channel = client.get_partial_messageable(int(message.chat))
            reference = None
            if message.reply_to is not None:
                reference = discord.MessageReference(
                    message_id=int(message.reply_to),
                    channel_id=channel.id,
                    fail_if_not_exists=False,
                )
            sent = await self._post(channel, message, reference)
            return str(sent.id)
        except Exception as exc:
            _alert(exc, message.chat)
            raise _translated(exc) from exc

    async def edit(
        self, message: Outgoing, message_ref: str, shown_image: str | None = None
    ) -> None:
        client = self._client()
        channel = client.get_partial_messageable(int(message.chat))
        partial = channel.get_partial_message(int(message_ref))
        try:
            await partial.edit(**self._content(message))
        except Exception as exc:
            _alert(exc, message.chat)
            raise _translated(exc) from exc

    def _client(self) -> discord.Client:
        client = self.client()
        if client is None or client.is_closed() or client.user is None:
            raise RetryLater(1, "the Discord bot is not logged in yet")
        return client

    async def _direct(self, client: discord.Client, message: Outgoing) -> str:
        _, user_id, fallback = [*message.chat.split(":"), ""][:3]
        try:
            channel = await client.create_dm(discord.Object(id=int(user_id)))
            sent = await self._post(channel, message, None)
        except discord.Forbidden as exc:
            if exc.code != CLOSED_DMS or not fallback:
                raise
            # DMs closed: mention the buyer in the channel, without the private text.
            note = text(self.locale, "dm_closed", who=f"<@{user_id}>")
            partial = client.get_partial_messageable(int(fallback))
            sent = await partial.send(
                note, allowed_mentions=discord.AllowedMentions(users=True, roles=False)
            )
        return str(sent.id)

    async def _post(
        self,
        channel: discord.abc.Messageable,
        message: Outgoing,
        reference: discord.MessageReference | None,
    ) -> discord.Message:
        content = self._content(message)
        if reference is not None:
            content.update(reference=reference, mention_author=False)
        sent: discord.Message = await channel.send(**content)
        return sent

    def _content(self, message: Outgoing) -> dict[str, Any]:
        """An ordinary message is text; the board is an embed. No buttons: none left."""
        view = _view(message.buttons)
        if message.board is not None:
            embed = discord.Embed(description=message.text)
            if message.image is not None:
                # By URL, not as an attachment: an attachment would be uploaded again with
                # every edit of the board (or kept with `attachments=` bookkeeping), while a
                # URL costs nothing per edit and Discord's media proxy caches it. The cost: a
                # media folder picture needs a PUBLIC_BASE_URL Discord can reach; without
                # one the embed just shows no picture (the text is unchanged).
                embed.set_image(url=public_image_url(message.image, self.public_base_url))
            return {"content": None, "embed": embed, "view": view}
        return {"content": message.text, "view": view}


def _view(buttons: tuple[Button, ...]) -> discord.ui.View | None:
    if not buttons:
        return None
    view = discord.ui.View(timeout=None)
    for button in buttons:
        if button.url is not None:
            view.add_item(discord.ui.Button(label=button.label, url=button.url))
        elif button.action is not None and button.action.startswith("buy:"):
            view.add_item(BuyButton(button.action.removeprefix("buy:"), button.label))
        elif button.action is not None:
            view.add_item(
                discord.ui.Button(label=button.label, custom_id=BUY_PREFIX + button.action)
            )
    return view


def _alert(exc: Exception, chat: str) -> None:
    """An error the operator must fix, logged as one: Discord refused the bot's token (401)
    or a permission in a channel (403; a buyer's closed DMs are not the operator's). Such a
    message is not tried again (`_translated`: undeliverable), so a missing permission costs
    one request per message, far below Discord's limit of invalid requests."""
    if not isinstance(exc, discord.HTTPException):
        return
    if exc.status == 401:
        log.error(
            "Discord refused the bot's token (401) sending to %s: check DISCORD_BOT_TOKEN", chat
        )
    elif exc.status == 403 and exc.code != CLOSED_DMS and not chat.startswith("dm:"):
        log.error(
            "Discord refused a permission (403 %s) in channel %s: check the bot's role there",
            exc.text,
            chat,
        )


def _translated(exc: Exception) -> Exception:
    """discord.py's errors in the courier's terms."""
    match exc:
        case RetryLater() | Undeliverable():
            return exc
        case discord.RateLimited():
            return RetryLater(exc.retry_after, "Discord rate limit")
        case discord.Forbidden() | discord.NotFound():
            return Undeliverable(f"{exc.status} {exc.text}")
        case discord.HTTPException() if exc.status == 429:
            retry = exc.response.headers.get("Retry-After", "1")
            return RetryLater(float(retry), "Discord rate limit")
        case discord.HTTPException() if exc.status >= 500:
            return RetryLater(0, f"Discord {exc.status}")
        case discord.HTTPException():
            return Undeliverable(f"{exc.status} {exc.text}")
        case aiohttp.ClientError() | OSError() | asyncio.TimeoutError():
            return RetryLater(0, f"Discord unreachable: {exc}")
    return exc
