"""`#buy` typed as text (needs the privileged message-content intent): a short public reply
in the channel, the checkout link (or a one-message buy's question with its Confirm button) by
DM, both through the outbox. `#confirm` works the same way."""

import logging

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
        if not await self.core.first_time(message.id):
            return
        private = message.guild is None
        channel_id, user = message.channel.id, message.author
        outcome = await self.core.handle(
            message.id, channel_id, user.id, message.content, user.display_name, private
        )
        if isinstance(outcome, chat.Ignored):
            return
        reply = self.core.renderer.outcome(outcome, user.mention)
        if isinstance(outcome, BOARDED):  # the board (and its buttons) says it in the channel
            reply = Reply(private=reply.private)
        out: list[Outgoing] = []
        actions = buttons(reply.actions)  # a one-message buy's Confirm, under its question
        if private:  # a DM with the bot: everything is private already
            text = "\n".join(p for p in (reply.public, reply.private) if p)
            out.append(Outgoing(PLATFORM, dm(user.id), text, actions))
        else:
            if reply.public:
                ref = str(message.id)
                out.append(Outgoing(PLATFORM, str(channel_id), reply.public, reply_to=ref))
            if reply.private:
                out.append(Outgoing(PLATFORM, dm(user.id, channel_id), reply.private, actions))
        await self.core.put(*out)
        await self.core.show(outcome)
