"""Buyers: /buy (with autocomplete of live drops), the Buy button, /orders, /cancel, /pass,
/help."""

import re
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bots.discord.answer import admit_seller, answer, core_of
from bots.discord.core import BUY_PREFIX, Core
from commerce.service_layer import queries


class BuyButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=re.escape(BUY_PREFIX) + r"buy:(?P<code>[A-Za-z0-9_-]{1,32})",
):
    """The board's Buy button. Its custom id carries the drop code, so it keeps working
    after a restart (a persistent, dynamic item: no view has to be remembered)."""

    def __init__(self, code: str, label: str = "Buy") -> None:
        button: discord.ui.Button[discord.ui.View] = discord.ui.Button(
            label=label, style=discord.ButtonStyle.success, custom_id=f"{BUY_PREFIX}buy:{code}"
        )
        super().__init__(button)
        self.code = code

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction,
        item: discord.ui.Item[Any],
        match: re.Match[str],
    ) -> "BuyButton":
        return cls(match["code"], getattr(item, "label", None) or "Buy")

    async def callback(self, interaction: discord.Interaction) -> None:
        await answer(core_of(interaction.client), interaction, f"/buy {self.code}")


class Buying(commands.Cog):
    def __init__(self, core: Core) -> None:
        self.core = core

    @app_commands.command(name="buy", description="Claim units of the live drop")
    @app_commands.describe(
        sku="Which drop (when several are live)",
        quantity="How many",
        variant="Size or colour, e.g. M",
    )
    async def buy(
        self,
        interaction: discord.Interaction,
        sku: str | None = None,
        quantity: app_commands.Range[int, 1, 99] | None = None,
        variant: str | None = None,
    ) -> None:
        words = ["/buy", sku or "", str(quantity) if quantity else "", variant or ""]
        await answer(self.core, interaction, " ".join(w for w in words if w))

    @buy.autocomplete("sku")
    async def live_drops(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        here = f"discord:{interaction.channel_id}"
        drops = await queries.live_drops(self.core.bus.reads, here)
        return [
            app_commands.Choice(name=f"{d.code}: {d.name}"[:100], value=d.code)
            for d in drops
            if d.code.casefold().startswith(current.casefold())
        ][:25]

    @app_commands.command(name="bid", description="Bid in the live auction")
    @app_commands.describe(amount="Your bid, e.g. 30.00")
    async def bid(self, interaction: discord.Interaction, amount: str) -> None:
        await answer(self.core, interaction, f"/bid {amount}")

    @app_commands.command(name="maxbid", description="Bid up to a maximum, automatically")
    @app_commands.describe(amount="The most you would pay (nobody sees it)")
    async def maxbid(self, interaction: discord.Interaction, amount: str) -> None:
        await answer(self.core, interaction, f"/maxbid {amount}")

    @app_commands.command(name="orders", description="Your orders")
    async def orders(self, interaction: discord.Interaction) -> None:
        await answer(self.core, interaction, "/orders")

    @app_commands.command(name="whoami", description="Your id and this channel's, for sellers")
    async def whoami(self, interaction: discord.Interaction) -> None:
        await answer(self.core, interaction, "/whoami")

    @app_commands.command(name="cancel", description="Cancel an unpaid order")
    @app_commands.describe(order="The order (your latest unpaid one if left out)")
    async def cancel(self, interaction: discord.Interaction, order: str | None = None) -> None:
        await answer(self.core, interaction, f"/cancel {order or ''}".strip())

    @app_commands.command(name="pass", description="Give back the units you hold")
    @app_commands.describe(sku="Which drop (when several are live)")
    async def pass_(self, interaction: discord.Interaction, sku: str | None = None) -> None:
        await answer(self.core, interaction, f"/pass {sku or ''}".strip())

    @app_commands.command(name="help", description="How to buy here")
    async def help(self, interaction: discord.Interaction) -> None:
        await admit_seller(self.core, interaction)  # sellers see their commands too
        await answer(self.core, interaction, "/help")
