"""Interactions: acknowledged at once (Discord allows 3 seconds), then answered ephemerally."""

import logging

import discord

from bots.discord.core import Core

log = logging.getLogger(__name__)


async def answer(core: Core, interaction: discord.Interaction, words: str) -> None:
    """Hands an interaction to the core as grammar text (`/buy TEE 2 M`) and follows up
    ephemerally: a checkout link is for the buyer's eyes only. Drop boards change through
    the outbox."""
    await interaction.response.defer(ephemeral=True, thinking=True)
    if not await core.first_time(interaction.id):
        log.info("interaction %s delivered again; answered before", interaction.id)
        return
    channel_id = interaction.channel_id or interaction.user.id
    user = interaction.user
    try:
        outcome = await core.handle(
            interaction.id,
            channel_id,
            user.id,
            words,
            user.display_name,
            private=interaction.guild_id is None,
        )
    except Exception:
        # Never leave the buyer looking at "thinking..." until the token runs out.
        log.exception("interaction %s (%s) failed", interaction.id, words)
        await interaction.followup.send(core.t("error"), ephemeral=True)
        return
    reply = core.renderer.outcome(outcome, user.mention)
    parts = [p for p in (reply.public, reply.private) if p]
    await interaction.followup.send("\n".join(parts) or core.t("done"), ephemeral=True)
    await core.show(outcome)


async def admit_seller(core: Core, interaction: discord.Interaction) -> None:
    """Records a member Discord calls a seller (Manage Server, or the seller role)."""
    user = interaction.user
    roles = [r.name for r in user.roles] if isinstance(user, discord.Member) else []
    await core.admit_seller(user.id, interaction.permissions.manage_guild, roles)
