"""Inline buttons pressed: Buy and Bid (as if the words were typed), Confirm (a one-message
buy), Enter and the options of a poll. Each press is answered with a short toast."""

import contextlib

from telegram import CallbackQuery
from telegram.error import TelegramError

from bots.telegram import toasts
from bots.telegram.boards import Boards
from bots.telegram.core import PLATFORM, Core, answer_query
from bots.telegram.messages import pay_payload
from bots.telegram.payments import Payments
from commerce.domain.commands import CastVote, ChatMessage, EnterGiveaway, PressButton
from commerce.service_layer import chat

CONFIRM = "confirm:"  # callback data of a Confirm button: confirm:<order ref>
ENTER, VOTE = "enter:", "vote:"  # a giveaway's Enter (enter:<id>), a poll's option (vote:<id>:<n>)


class Buttons:
    def __init__(self, core: Core, boards: Boards, payments: Payments) -> None:
        self.core, self.boards, self.payments = core, boards, payments

    async def pressed(self, query: CallbackQuery) -> None:
        data = query.data or ""
        message = query.message
        if data.startswith(CONFIRM):
            await self._confirm(query, data[len(CONFIRM) :])
            return
        if data.startswith((ENTER, VOTE)) and message is not None:
            await self._engage(query, data, message.chat.id)
            return
        if not data.startswith(("buy:", "bid:")) or message is None:
            await answer_query(query)
            return
        # A Buy button claims the drop it names; a Bid button bids its amount on the auction
        # running in the chat: both as if the words were typed.
        core = self.core
        kind, _, value = data.partition(":")
        text = f"#{kind} {value}"
        sender = core.user(query.from_user)
        chat_id = message.chat.id
        command = ChatMessage(
            key=f"{PLATFORM}:{chat_id}:cb:{query.id}",
            chat=f"{PLATFORM}:{chat_id}",
            identity=sender.identity,
            text=text,
            display_name=sender.name,
        )
        outcome = await core.bus().handle(command)
        reply = core.renderer(sender.language).outcome(outcome, sender.who)
        started = await core.contacts.has_started(PLATFORM, sender.identity)
        out = await self.boards.for_outcome(outcome)
        url = None
        if started:
            private_chat = str(query.from_user.id)
            out += self.payments.privately(outcome, reply, private_chat, sender.language)
        else:
            url = core.deep_link(pay_payload(outcome))
        await core.put(out)
        await answer_query(query, (reply.public or "")[:200] or None, url)

    async def _confirm(self, query: CallbackQuery, ref: str) -> None:
        """A Confirm button: `/confirm <order>` in the presser's private chat; the result
        privately, a short toast on the button."""
        core = self.core
        sender = core.user(query.from_user)
        private_chat = str(query.from_user.id)
        command = ChatMessage(
            key=f"{PLATFORM}:{private_chat}:cb:{query.id}",
            chat=f"{PLATFORM}:{private_chat}",
            identity=sender.identity,
            text=f"/confirm {ref}",
            display_name=sender.name,
            private=True,
        )
        outcome = await core.bus().handle(command)
        reply = core.renderer(sender.language).outcome(outcome, sender.who)
        await core.put(self.payments.privately(outcome, reply, private_chat, sender.language))
        await answer_query(query, toasts.toast(outcome, sender.language))
        if isinstance(outcome, chat.CardPaid):
            # The question is answered (charged, or a link instead): its button goes. Kept
            # after a refusal that asks to try again (the provider unreachable).
            with contextlib.suppress(TelegramError):
                await query.edit_message_reply_markup(reply_markup=None)

    async def _engage(self, query: CallbackQuery, data: str, chat_id: int) -> None:
        """Enter on a giveaway's board, or an option on a poll's: the presser's own entry or
        vote, told in a toast (nothing in the group; the board's count changes)."""
        sender = self.core.user(query.from_user)
        where = f"{PLATFORM}:{chat_id}"
        kind, _, value = data.partition(":")
        outcome: chat.ChatOutcome
        try:
            command: EnterGiveaway | CastVote
            if kind == "enter":
                command = EnterGiveaway(where, sender.identity, sender.name, int(value))
            else:
                poll, _, option = value.partition(":")
                command = CastVote(where, sender.identity, int(option), poll_id=int(poll))
        except ValueError as exc:  # callback data that is not ours
            outcome = chat.Failed("press", str(exc))
        else:
            outcome = await self.core.bus().handle(PressButton(command))
        reply = self.core.renderer(sender.language).outcome(outcome, sender.who)
        toast = reply.private or reply.public or ""
        await answer_query(query, toast[:200] or None)
