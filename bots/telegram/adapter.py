"""Telegram updates in, outbox messages out.

Group messages and the Buy button become `ChatMessage`s for the core; what the core answers
goes through the outbox: the drop's board (one message, edited in place), short public
replies, and private messages to buyers who have started the bot. A buyer who has not gets a
deep link (`https://t.me/<bot>?start=pay-<order>`) that opens the private chat, where
`/start pay-<order>` delivers the payment link (or, for a buyer with a saved card, the
confirm question). One-message buying: the confirm question comes with a Confirm button whose
press is `/confirm <order>` in the buyer's private chat.

This module takes the updates (stored first, then processed in their chat's turn) and hands
each to its part: messages.py (typed text), buttons.py (inline buttons), payments.py (Telegram
Payments), boards.py and notices.py (what the core announces); core.py is what they share.
"""

import json
import logging
from collections.abc import Callable

from telegram import Bot, Message, Update
from telegram.constants import ChatType

from bots.telegram.boards import Boards
from bots.telegram.buttons import Buttons
from bots.telegram.core import PLATFORM, PROCESSING, Core
from bots.telegram.messages import Messages
from bots.telegram.notices import Notices
from bots.telegram.payments import Payments
from commerce.service_layer import queries
from commerce.service_layer.inbox import ChatInbox, InboxItem
from commerce.service_layer.messagebus import MessageBus
from commerce.service_layer.outbox import Outbox
from commerce.service_layer.ports import Clock, Contacts
from commerce.service_layer.results import Notice

log = logging.getLogger(__name__)


class TelegramAdapter:
    def __init__(
        self,
        bot: Bot | None,  # set once the Bot API answered getMe
        bus: Callable[[], MessageBus],
        outbox: Outbox,
        contacts: Contacts,
        inbox: ChatInbox,
        clock: Clock,
        *,
        locale: str = "en",
        wake: Callable[[], None] = lambda: None,
    ) -> None:
        self.core = Core(bot, bus, outbox, contacts, inbox, clock, locale, wake)
        self.boards = Boards(self.core)
        self.payments = Payments(self.core)
        self.notices = Notices(self.core, self.boards, self.payments)
        self.messages = Messages(self.core, self.boards, self.payments)
        self.buttons = Buttons(self.core, self.boards, self.payments)
        self.contacts, self.inbox = contacts, inbox
        self.finished = 0  # updates handled or skipped (tests wait on it)

    @property
    def bot(self) -> Bot | None:
        return self.core.bot

    @bot.setter
    def bot(self, bot: Bot | None) -> None:
        self.core.bot = bot

    @property
    def wake(self) -> Callable[[], None]:
        return self.core.wake

    @wake.setter
    def wake(self, wake: Callable[[], None]) -> None:
        self.core.wake = wake

    def started(self, username: str, can_read_all_group_messages: bool) -> None:
        """What getMe said at start-up."""
        self.core.username = username
        self.core.privacy = not can_read_all_group_messages
        if self.core.privacy:
            log.warning(
                "Telegram privacy mode is on for @%s: in groups it only sees commands "
                "(/buy@%s), replies to it and its Buy button, not '#buy' typed as text. "
                "Turn it off in @BotFather: /setprivacy, choose the bot, Disable; then "
                "remove the bot from each group and add it again.",
                username,
                username,
            )

    async def intake(self, updates: list[Update]) -> int:
        """Stores updates as they arrive (before Telegram is told so); returns how many were
        new. A redelivered update is stored once and processed once."""
        rows = [
            (str(u.update_id), _chat_of(u), u.update_id, json.dumps(u.to_dict())) for u in updates
        ]
        new = await self.inbox.store(PLATFORM, rows, self.core.clock.now())
        if new < len(rows):
            log.info("%d telegram updates were delivered again: skipped", len(rows) - new)
            self.finished += len(rows) - new
        return new

    def joins(self, item: InboxItem) -> bool:
        """Whether a stored update may share its chat's turn with its neighbours: a claim or
        a bid in a group, typed or by button (commerce.service_layer.inbox)."""
        data = json.loads(item.payload)
        message = data.get("message") or data.get("channel_post")
        if message is not None and message.get("chat", {}).get("type") != ChatType.PRIVATE:
            text = message.get("text") or message.get("caption") or ""
            return queries.side_by_side(self.core.bus().reads, text)
        query = data.get("callback_query")
        return query is not None and str(query.get("data", "")).startswith(("buy:", "bid:"))

    async def process(self, item: InboxItem) -> None:
        """One stored update, in its chat's turn (commerce.service_layer.inbox)."""
        update = Update.de_json(json.loads(item.payload), self.core.bot)
        token = PROCESSING.set(item)
        try:
            await self._on_update(update)
        finally:
            PROCESSING.reset(token)
            self.finished += 1

    async def _on_update(self, update: Update) -> None:
        if update.callback_query is not None:
            await self.buttons.pressed(update.callback_query)
            return
        if update.pre_checkout_query is not None:
            await self.payments.pre_checkout(update.pre_checkout_query)
            return
        message = update.message or update.channel_post
        if message is not None and (message.migrate_to_chat_id or message.migrate_from_chat_id):
            await self._migrated(message)
            return
        if message is not None and message.successful_payment is not None:
            await self.payments.paid(message)
            return
        if message is None or not (message.text or message.caption):
            return
        if message.chat.type == ChatType.PRIVATE:
            await self.messages.private(message)
        else:
            await self.messages.group(message)

    async def _migrated(self, message: Message) -> None:
        """The group became a supergroup with a new id (Telegram says so in both: the old
        group's last message names the new id, the supergroup's first the old one): drops,
        shows, auctions, giveaways, polls and waiting messages follow it."""
        if message.migrate_to_chat_id:
            old, new = message.chat.id, message.migrate_to_chat_id
        else:
            old, new = message.migrate_from_chat_id or 0, message.chat.id
        moved = await self.core.outbox.move_chat(PLATFORM, str(old), str(new))
        log.info("telegram chat %s is now %s (%d rows follow it)", old, new, moved)

    async def notify(self, notice: Notice) -> None:
        """The core's notices for Telegram buyers and boards, through the outbox."""
        await self.notices.notify(notice)

    @property
    def idle(self) -> bool:
        """No board redraw under way (tests wait for it)."""
        return self.boards.idle

    async def close(self) -> None:
        await self.boards.close()


def _chat_of(update: Update) -> str:
    """The chat whose updates are processed in order: a group's messages and its buttons'
    presses together; a private chat's (payments included) together."""
    where = update.effective_chat or update.effective_user
    return str(where.id) if where is not None else "-"
