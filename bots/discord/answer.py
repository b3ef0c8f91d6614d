"""Interactions: acknowledged at once (Discord allows 3 seconds), then answered ephemerally;
the Confirm button of a one-message buy."""

import asyncio
import contextlib
import dataclasses
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

import discord

from bots.discord.core import BUY_PREFIX, PLATFORM, Core, Work, dm
from bots.discord.core import buttons as outbox_buttons
from commerce.domain.commands import CastVote, EnterGiveaway, PressButton
from commerce.service_layer import chat
from commerce.service_layer.outbox import Outgoing

log = logging.getLogger(__name__)


def core_of(client: discord.Client) -> Core:
    core = getattr(client, "livebuy_core", None)
    if not isinstance(core, Core):  # pragma: no cover (only our bot registers the buttons)
        raise RuntimeError("livebuy's buttons need the livebuy bot")
    return core


async def answer(
    core: Core,
    interaction: discord.Interaction,
    words: str,
    private: bool | None = None,
    pressed_confirm: bool = False,
) -> None:
    """Hands an interaction to the core as grammar text (`/buy TEE 2 M`) and follows up
    ephemerally: a checkout link is for the buyer's eyes only. Drop boards change through
    the outbox. `private`: the core may answer personal things (an ephemeral reply is
    private); by default only in a DM with the bot. `pressed_confirm`: the interaction is
    a press of a question's Confirm button, which goes once the question is answered.

    The interaction is stored first and acknowledged at once (Discord allows 3 seconds);
    the core decides it in its channel's turn (commerce.service_layer.inbox)."""
    private = interaction.guild_id is None if private is None else private
    payload = _payload(interaction, kind="words", words=words, private=private)

    async def work() -> None:
        async def send(text: str, view: discord.ui.View | None) -> None:
            if view is None:
                await interaction.followup.send(text, ephemeral=True)
            else:
                await interaction.followup.send(text, ephemeral=True, view=view)

        async def answered(outcome: chat.ChatOutcome) -> None:
            if pressed_confirm and isinstance(outcome, chat.CardPaid):
                # Charged, or a link instead: the question is answered, before the answer
                # shows. Kept after a refusal that asks to try again (the provider down).
                with contextlib.suppress(discord.HTTPException):
                    await interaction.edit_original_response(view=None)

        await decide(core, interaction.id, payload, send, answered)

    async def deferred() -> None:
        if pressed_confirm:
            # Deferred as an update of the question's message (not "thinking" in a new one),
            # so that its button can be taken away once answered.
            await interaction.response.defer()
        else:
            await interaction.response.defer(ephemeral=True, thinking=True)

    await _take(core, interaction, payload, work, deferred)


async def decide(
    core: Core,
    update_id: int,
    payload: dict[str, Any],
    send: Callable[[str, discord.ui.View | None], Awaitable[None]],
    first: Callable[[chat.ChatOutcome], Awaitable[None]] | None = None,
) -> chat.ChatOutcome | None:
    """Stored words (`answer`) decided by the core and answered by `send` (after `first`)."""
    try:
        outcome = await core.handle(
            update_id,
            int(payload["channel"]),
            int(payload["user"]),
            str(payload["words"]),
            str(payload["name"]),
            private=bool(payload["private"]),
        )
    except Exception:
        # Never leave the buyer looking at "thinking..." until the token runs out.
        log.exception("interaction %s (%s) failed", update_id, payload["words"])
        await follow_up(core, update_id, payload, send, core.t("error"))
        return None
    if first is not None:
        await first(outcome)
    reply = core.renderer.outcome(outcome, str(payload["mention"]))
    # A question with buttons (a one-message buy's confirm) is the whole answer: "check your
    # messages" is for the channel, and this is the message.
    view = buttons(reply.actions)
    parts = [reply.private] if view is not None else [reply.public, reply.private]
    answer = "\n".join(p for p in parts if p) or core.t("done")
    await follow_up(core, update_id, payload, send, answer, view, reply.actions)
    await core.show(outcome)
    return outcome


# Discord's answers to a follow-up whose interaction token ran out (15 minutes after the
# interaction): 401 "Invalid Webhook Token", 404 "Unknown Webhook".
EXPIRED_TOKEN = (401, 404)


async def follow_up(
    core: Core,
    update_id: int,
    payload: dict[str, Any],
    send: Callable[[str, discord.ui.View | None], Awaitable[None]],
    text: str,
    view: discord.ui.View | None = None,
    actions: tuple[tuple[str, str], ...] = (),
) -> None:
    """Answers an interaction by its token; once the token expired (the update waited over
    15 minutes, e.g. behind a stopped worker), by a direct message through the outbox
    instead, or a mention in the interaction's channel when the buyer's DMs are closed."""
    try:
        await send(text, view)
    except discord.HTTPException as exc:
        if exc.status not in EXPIRED_TOKEN:
            raise
        log.warning(
            "interaction %s: its token expired (%s %s); answered by direct message instead",
            update_id,
            exc.status,
            exc.text,
        )
        await core.put(
            Outgoing(
                PLATFORM, dm(payload["user"], payload["channel"]), text, outbox_buttons(actions)
            )
        )


def _payload(interaction: discord.Interaction, **values: object) -> dict[str, Any]:
    """What processing needs of an interaction, stored: also without it (a worker taking
    over answers by the interaction's token, valid 15 minutes)."""
    user = interaction.user
    return {
        "channel": interaction.channel_id or user.id,
        "user": user.id,
        "name": user.display_name,
        "mention": user.mention,
        "application": interaction.application_id,
        "token": interaction.token,
        **values,
    }


async def _take(
    core: Core,
    interaction: discord.Interaction,
    payload: dict[str, Any],
    work: Work,
    defer: Work,
) -> None:
    """Stores the interaction, acknowledges it, and lets the inbox runner process it once
    the acknowledgement went out (a follow-up needs it)."""
    acknowledged = asyncio.Event()

    async def when_acknowledged() -> None:
        await acknowledged.wait()
        await work()

    new = await core.receive(interaction.id, int(payload["channel"]), payload, when_acknowledged)
    try:
        await defer()
    finally:
        acknowledged.set()
    if new:
        core.wake_inbox()


def buttons(actions: tuple[tuple[str, str], ...]) -> discord.ui.View | None:
    """A reply's actions as buttons: Confirm (the only one so far)."""
    view = discord.ui.View(timeout=None)
    for label, action in actions:
        if action.startswith("confirm:"):
            view.add_item(ConfirmButton(action.removeprefix("confirm:"), label))
    return view if view.children else None


class ConfirmButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=re.escape(BUY_PREFIX) + r"confirm:(?P<ref>[A-Za-z0-9]{1,32})",
):
    """Confirm under a one-message buy's question (ephemeral, or a DM): the presser's own
    `/confirm ORDER`, answered ephemerally. Persistent: it works after a restart too."""

    def __init__(self, ref: str, label: str = "Confirm") -> None:
        button: discord.ui.Button[discord.ui.View] = discord.ui.Button(
            label=label, style=discord.ButtonStyle.success, custom_id=f"{BUY_PREFIX}confirm:{ref}"
        )
        super().__init__(button)
        self.ref = ref

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction,
        item: discord.ui.Item[Any],
        match: re.Match[str],
    ) -> "ConfirmButton":
        return cls(match["ref"], getattr(item, "label", None) or "Confirm")

    async def callback(self, interaction: discord.Interaction) -> None:
        # The presser is the buyer or nobody: the core only confirms the presser's own order.
        core = core_of(interaction.client)
        await answer(core, interaction, f"/confirm {self.ref}", True, pressed_confirm=True)


async def admit_seller(core: Core, interaction: discord.Interaction) -> None:
    """Records a member Discord calls a seller (Manage Server, or the seller role)."""
    user = interaction.user
    roles = [r.name for r in user.roles] if isinstance(user, discord.Member) else []
    await core.admit_seller(user.id, interaction.permissions.manage_guild, roles)


async def press(
    core: Core, interaction: discord.Interaction, command: EnterGiveaway | CastVote
) -> None:
    """Enter on a giveaway's board, or an option on a poll's: the presser's own entry or
    vote (the identity is Discord's, never the button's), confirmed ephemerally, once per
    interaction id."""
    kind = "enter" if isinstance(command, EnterGiveaway) else "vote"
    payload = _payload(interaction, kind=kind, command=dataclasses.asdict(command))

    async def work() -> None:
        await pressed(core, interaction.id, payload, interaction.followup.send)

    async def deferred() -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)

    await _take(core, interaction, payload, work, deferred)


async def pressed(
    core: Core, update_id: int, payload: dict[str, Any], send: Callable[..., Awaitable[object]]
) -> None:
    """A stored press (`press`) decided by the core and confirmed by `send`."""
    fields = payload["command"]
    command = EnterGiveaway(**fields) if payload["kind"] == "enter" else CastVote(**fields)
    try:
        outcome = await core.bus.handle(PressButton(command))
    except Exception:
        log.exception("interaction %s (%s) failed", update_id, command)
        text = core.t("error")
    else:
        reply = core.renderer.outcome(outcome, str(payload["mention"]))
        text = "\n".join(p for p in (reply.public, reply.private) if p) or core.t("done")

    async def confirm(words: str, view: discord.ui.View | None) -> None:
        await send(words, ephemeral=True)

    await follow_up(core, update_id, payload, confirm, text)
