"""`#buy` typed as text (needs the privileged message-content intent): a short public reply
in the channel, the checkout link (or a one-message buy's question with its Confirm button) by
DM, both through the outbox. `#confirm` works the same way."""

import logging
from typing import Any

import discord
from discord.ext import commands

from bots.discord.core import PLATFORM, Core, buttons, dm
from bots.rendering import Reply
from commerce.service_layer import chat
from commerce.service_layer.outbox import Outgoing

log = logging.getLogger(__name__)
# Outcomes whose news the channel gets as a board (shows, giveaways, polls): no echo.
BOARDED = (chat.ShowChanged, chat.GiveawayOpened, chat.PollOpened, chat.PollEnded)


class TextBuying(commands.Cog):
    def __init__(self, core: Core) -> None:
        self.core = core

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        if message.author.bot or not message.content:
            return
        user = message.author
        payload: dict[str, Any] = {
            "kind": "text",
            "channel": message.channel.id,
            "user": user.id,
            "name": user.display_name,
            "mention": user.mention,
            "text": message.content,
            "private": message.guild is None,
        }

        async def work() -> None:
            await said(self.core, message.id, payload)

        # Stored first, decided in the channel's turn (commerce.service_layer.inbox).
        if await self.core.receive(message.id, message.channel.id, payload, work):
            self.core.wake_inbox()


async def said(core: Core, message_id: int, payload: dict[str, Any]) -> None:
    """A stored `#buy` (or other words) typed in a channel or a DM, decided and answered."""
    private, channel_id, user_id = bool(payload["private"]), payload["channel"], payload["user"]
    outcome = await core.handle(
        message_id, channel_id, user_id, payload["text"], payload["name"], private
    )
    if isinstance(outcome, chat.Ignored):
        return
    reply = core.renderer.outcome(outcome, payload["mention"])
    if isinstance(outcome, BOARDED):  # the board (and its buttons) says it in the channel
        reply = Reply(private=reply.private)
    out: list[Outgoing] = []
    actions = buttons(reply.actions)  # a one-message buy's Confirm, under its question
    if private:  # a DM with the bot: everything is private already
        text = "\n".join(p for p in (reply.public, reply.private) if p)
        out.append(Outgoing(PLATFORM, dm(user_id), text, actions))
    else:
        if reply.public:
            ref = str(message_id)
            out.append(Outgoing(PLATFORM, str(channel_id), reply.public, reply_to=ref))
        if reply.private:
            out.append(Outgoing(PLATFORM, dm(user_id, channel_id), reply.private, actions))
    await core.put(*out)
    await core.show(outcome)
