"""One-message buying: /card, /unlink, /link and /confirm. Their answers are ephemeral, so
private: the core shows the saved card, issues a link code, or charges the card here."""

import discord
from discord import app_commands
from discord.ext import commands

from bots.discord.answer import answer
from bots.discord.core import Core


class Cards(commands.Cog):
    def __init__(self, core: Core) -> None:
        self.core = core

    @app_commands.command(name="card", description="Your saved card, and a link to save one")
    async def card(self, interaction: discord.Interaction) -> None:
        await answer(self.core, interaction, "/card", private=True)

    @app_commands.command(name="unlink", description="Forget your saved card")
    async def unlink(self, interaction: discord.Interaction) -> None:
        await answer(self.core, interaction, "/unlink", private=True)

    @app_commands.command(name="link", description="Join your accounts on other platforms")
    @app_commands.describe(code="The code from your other platform (leave out to get one)")
    async def link(self, interaction: discord.Interaction, code: str | None = None) -> None:
        await answer(self.core, interaction, f"/link {code or ''}".strip(), private=True)

    @app_commands.command(name="confirm", description="Pay a held buy with your saved card")
    @app_commands.describe(order="The order (your latest waiting one if left out)")
    async def confirm(self, interaction: discord.Interaction, order: str | None = None) -> None:
        await answer(self.core, interaction, f"/confirm {order or ''}".strip(), private=True)
