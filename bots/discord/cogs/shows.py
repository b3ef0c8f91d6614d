"""Shows, giveaways and polls: the sellers' /next, /pause, /skip, /show, /giveaway and /poll,
everyone's /enter and /vote, and the Enter and vote buttons on the boards (persistent
dynamic items: `livebuy:enter:<giveaway id>`, `livebuy:vote:<poll id>:<option>`)."""

import re
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bots.discord.answer import admit_seller, answer, core_of, press
from bots.discord.core import BUY_PREFIX, PLATFORM, Core
from commerce.domain.commands import CastVote, EnterGiveaway


class EnterButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=re.escape(BUY_PREFIX) + r"enter:(?P<id>[0-9]{1,12})",
):
    """Enter on a giveaway's board."""

    def __init__(self, giveaway_id: int, label: str = "Enter") -> None:
        button: discord.ui.Button[discord.ui.View] = discord.ui.Button(
            label=label,
            style=discord.ButtonStyle.success,
            custom_id=f"{BUY_PREFIX}enter:{giveaway_id}",
        )
        super().__init__(button)
        self.giveaway_id = giveaway_id

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction,
        item: discord.ui.Item[Any],
        match: re.Match[str],
    ) -> "EnterButton":
        return cls(int(match["id"]), getattr(item, "label", None) or "Enter")

    async def callback(self, interaction: discord.Interaction) -> None:
        core = core_of(interaction.client)
        user = interaction.user
        chat = f"{PLATFORM}:{interaction.channel_id or user.id}"
        enter = EnterGiveaway(chat, f"{PLATFORM}:{user.id}", user.display_name, self.giveaway_id)
        await press(core, interaction, enter)


class VoteButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=re.escape(BUY_PREFIX) + r"vote:(?P<poll>[0-9]{1,12}):(?P<option>[1-6])",
):
    """One option on a poll's board."""

    def __init__(self, poll_id: int, option: int, label: str = "") -> None:
        button: discord.ui.Button[discord.ui.View] = discord.ui.Button(
            label=label or str(option), custom_id=f"{BUY_PREFIX}vote:{poll_id}:{option}"
        )
        super().__init__(button)
        self.poll_id, self.option = poll_id, option

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction,
        item: discord.ui.Item[Any],
        match: re.Match[str],
    ) -> "VoteButton":
        label = getattr(item, "label", None) or ""
        return cls(int(match["poll"]), int(match["option"]), label)

    async def callback(self, interaction: discord.Interaction) -> None:
        core = core_of(interaction.client)
        user = interaction.user
        chat = f"{PLATFORM}:{interaction.channel_id or user.id}"
        vote = CastVote(chat, f"{PLATFORM}:{user.id}", self.option, poll_id=self.poll_id)
        await press(core, interaction, vote)


class Shows(commands.Cog):
    def __init__(self, core: Core) -> None:
        self.core = core

    async def _seller(self, interaction: discord.Interaction, words: str) -> None:
        await admit_seller(self.core, interaction)
        await answer(self.core, interaction, words)

    @app_commands.command(name="next", description="Put the show's next lot live (sellers)")
    async def next(self, interaction: discord.Interaction) -> None:
        await self._seller(interaction, "/next")

    @app_commands.command(name="pause", description="A break in the show (sellers)")
    async def pause(self, interaction: discord.Interaction) -> None:
        await self._seller(interaction, "/pause")

    @app_commands.command(name="skip", description="Leave out the show's next lot (sellers)")
    async def skip(self, interaction: discord.Interaction) -> None:
        await self._seller(interaction, "/skip")

    @app_commands.command(name="show", description="The show's board (end: close the show)")
    @app_commands.describe(end="Close the show (sellers)")
    async def show(self, interaction: discord.Interaction, end: bool = False) -> None:
        await self._seller(interaction, "/show end" if end else "/show")

    @app_commands.command(name="giveaway", description="Give one unit away (sellers)")
    @app_commands.describe(sku="Product SKU", duration="How long, e.g. 60s (optional)")
    async def giveaway(
        self, interaction: discord.Interaction, sku: str, duration: str | None = None
    ) -> None:
        await self._seller(
            interaction, f"/giveaway {sku}" + (f" for {duration}" if duration else "")
        )

    @app_commands.command(name="poll", description="Ask the chat (sellers)")
    @app_commands.describe(
        question="The question", options="2 to 6 options, separated by spaces or commas"
    )
    async def poll(self, interaction: discord.Interaction, question: str, options: str) -> None:
        choices = [o.strip() for o in re.split(r"[,\s]+", options) if o.strip()]
        quoted = question.replace('"', "'")
        await self._seller(interaction, f'/poll "{quoted}" ' + " ".join(choices))

    @app_commands.command(name="endpoll", description="Close the poll (sellers)")
    async def endpoll(self, interaction: discord.Interaction) -> None:
        await self._seller(interaction, "/poll end")

    @app_commands.command(name="enter", description="Enter the giveaway")
    async def enter(self, interaction: discord.Interaction) -> None:
        await answer(self.core, interaction, "#enter")

    @app_commands.command(name="vote", description="Vote in the poll")
    @app_commands.describe(option="The option's number")
    async def vote(
        self, interaction: discord.Interaction, option: app_commands.Range[int, 1, 6]
    ) -> None:
        await answer(self.core, interaction, f"#{option}")
