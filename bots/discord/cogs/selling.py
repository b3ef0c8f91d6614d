"""Sellers: /drop, /end, /stats, /refund and /perk. Sellers are members with Manage Server,
members with the role named in DISCORD_SELLER_ROLE, and the identities in LIVEBUY_SELLERS;
the core refuses anyone else."""

from typing import Literal

import discord
from discord import app_commands
from discord.ext import commands

from bots.discord.answer import admit_seller, answer
from bots.discord.core import PLATFORM, Core
from commerce.domain.errors import CommerceError
from commerce.service_layer import queries


class Selling(commands.Cog):
    def __init__(self, core: Core) -> None:
        self.core = core

    async def _seller(self, interaction: discord.Interaction, words: str) -> None:
        await admit_seller(self.core, interaction)
        await answer(self.core, interaction, words)

    @app_commands.command(name="drop", description="Start a drop (sellers)")
    @app_commands.describe(
        sku="Product SKU",
        quantity="Units for sale",
        price="Unit price, e.g. 25.00",
        duration="How long, e.g. 10m (optional)",
        limit="Units per buyer (optional)",
    )
    async def drop(
        self,
        interaction: discord.Interaction,
        sku: str,
        quantity: app_commands.Range[int, 1, 100000],
        price: str,
        duration: str | None = None,
        limit: app_commands.Range[int, 1, 1000] | None = None,
    ) -> None:
        words = f"/drop {sku} {quantity} {price}"
        words += f" for {duration}" if duration else ""
        words += f" limit {limit}" if limit else ""
        await self._seller(interaction, words)

    @app_commands.command(name="auction", description="Start an auction (sellers)")
    @app_commands.describe(
        sku="Product SKU",
        start="Starting price, e.g. 10.00",
        duration="How long, e.g. 5m (optional)",
        close="soft: a late bid extends it; sudden: it ends on time",
        reserve="Lowest price you sell for (optional)",
        step="Smallest raise (optional)",
    )
    async def auction(
        self,
        interaction: discord.Interaction,
        sku: str,
        start: str,
        duration: str | None = None,
        close: Literal["soft", "sudden"] | None = None,
        reserve: str | None = None,
        step: str | None = None,
    ) -> None:
        words = f"/auction {sku} {start}"
        words += f" for {duration}" if duration else ""
        words += f" {close}" if close else ""
        words += f" reserve {reserve}" if reserve else ""
        words += f" step {step}" if step else ""
        await self._seller(interaction, words)

    @app_commands.command(name="end", description="End the live drop (sellers)")
    @app_commands.describe(sku="Which drop (when several are live)")
    async def end(self, interaction: discord.Interaction, sku: str | None = None) -> None:
        await self._seller(interaction, f"/end {sku or ''}".strip())

    @app_commands.command(name="stats", description="How the drops went (sellers)")
    @app_commands.describe(sku="One drop only")
    async def stats(self, interaction: discord.Interaction, sku: str | None = None) -> None:
        await self._seller(interaction, f"/stats {sku or ''}".strip())

    @app_commands.command(name="refund", description="Refund an order (sellers)")
    @app_commands.describe(order="The order", amount="Part of it only, e.g. 5.00")
    async def refund(
        self, interaction: discord.Interaction, order: str, amount: str | None = None
    ) -> None:
        await self._seller(interaction, f"/refund {order} {amount or ''}".strip())

    @app_commands.command(name="perk", description="A role buyers of a product get (sellers)")
    @app_commands.describe(sku="Product SKU", role="The role to grant on payment")
    @app_commands.guild_only()
    async def perk(self, interaction: discord.Interaction, sku: str, role: discord.Role) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await admit_seller(self.core, interaction)
        user, reads = interaction.user, self.core.bus.reads
        if not await queries.is_seller(reads, f"{PLATFORM}:{user.id}"):
            who = user.mention
            refused = self.core.renderer.t("not_allowed", who=who)
            await interaction.followup.send(refused, ephemeral=True)
            return
        try:
            product = await queries.product(reads, sku)
        except CommerceError as exc:
            failed = self.core.renderer.t("failed", who=user.mention, reason=exc)
            await interaction.followup.send(failed, ephemeral=True)
            return
        await self.core.perks.set_role(product.sku, role.guild.id, role.id, reads.clock.now())
        text = self.core.t("perk_set", sku=product.sku, role=role.mention)
        await interaction.followup.send(text, ephemeral=True)
