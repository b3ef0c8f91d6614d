"""What every part of the Telegram adapter shares: the bot, the bus, the outbox, and who is who
(senders, their names and languages, chat admins, deep links)."""

import contextvars
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from telegram import Bot, CallbackQuery, Message, User
from telegram.constants import ChatMemberStatus, MessageEntityType
from telegram.error import TelegramError

from bots.rendering import Renderer
from commerce.domain.orders import OrderStatus
from commerce.service_layer.inbox import ChatInbox, InboxItem
from commerce.service_layer.messagebus import MessageBus
from commerce.service_layer.outbox import Button, Outbox, Outgoing
from commerce.service_layer.ports import Clock, Contacts
from commerce.service_layer.results import OrderView
from commerce.service_layer.unit_of_work import after_commit

log = logging.getLogger(__name__)
PLATFORM = "telegram"
ADMIN_TTL = 60.0  # seconds a getChatMember answer is trusted
ADMINS = {ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR}
PAY = "pay-"  # deep-link payload prefix: /start pay-<order ref>
CALLBACK_MAX = 64  # bytes of callback data Telegram accepts
HELD = (OrderStatus.RESERVED, OrderStatus.CHECKOUT_OPEN)
# The stored update being processed: the replies it causes mark it done in their own
# transaction, so a crash after they were put never answers it twice.
PROCESSING: contextvars.ContextVar[InboxItem | None] = contextvars.ContextVar(
    "telegram_update", default=None
)


@dataclass(frozen=True, slots=True)
class Sender:
    """Who wrote: a user, or a chat speaking as itself (anonymous admin, channel post)."""

    identity: str
    who: str  # how replies name them
    name: str
    language: str
    user_id: int | None  # None for a chat speaking as itself


class Core:
    def __init__(
        self,
        bot: Bot | None,
        bus: Callable[[], MessageBus],
        outbox: Outbox,
        contacts: Contacts,
        inbox: ChatInbox,
        clock: Clock,
        locale: str,
        wake: Callable[[], None],
    ) -> None:
        self.bot, self.bus, self.outbox = bot, bus, outbox
        self.contacts, self.inbox, self.clock = contacts, inbox, clock
        self.locale, self.wake = locale, wake
        self.username = ""
        self.privacy = False  # privacy mode on: ordinary group messages never reach the bot
        self.admins: dict[tuple[int, int], tuple[bool, float]] = {}
        self.renderers: dict[str, Renderer] = {}
        self.names: dict[str, str] = {}  # identity -> how the chat names them
        self.languages: dict[str, str] = {}  # identity -> their Telegram language, for notices

    async def put(self, messages: list[Outgoing]) -> None:
        if messages:
            await self.outbox.put(messages, self.clock.now(), done=PROCESSING.get())
            after_commit(self.wake)  # within a unit of work: the rows are visible after it

    async def is_admin(self, chat_id: int, user_id: int) -> bool:
        """An administrator of the chat (getChatMember, trusted for ADMIN_TTL seconds)."""
        now = time.monotonic()
        cached = self.admins.get((chat_id, user_id))
        if cached is not None and cached[1] > now:
            return cached[0]
        if self.bot is None:
            return False
        try:
            member = await self.bot.get_chat_member(chat_id, user_id)
            admin = member.status in ADMINS
        except TelegramError as exc:
            log.warning("getChatMember %s/%s failed: %s", chat_id, user_id, exc)
            return False
        self.admins[(chat_id, user_id)] = (admin, now + ADMIN_TTL)
        return admin

    def user(self, user: User) -> Sender:
        sender = user_sender(user)
        self.names[sender.identity] = sender.who
        if sender.language:
            self.languages[sender.identity] = sender.language
        return sender

    def deep_link(self, payload: str | None) -> str:
        return f"https://t.me/{self.username}?start={payload or 'hi'}"

    def renderer(self, language: str) -> Renderer:
        if language not in self.renderers:
            self.renderers[language] = Renderer(language or self.locale)
        return self.renderers[language]

    def language_of(self, identity: str) -> str:
        return self.languages.get(identity, self.locale)

    def sender(self, message: Message) -> Sender | None:
        speaking_as = message.sender_chat
        if speaking_as is not None:
            if speaking_as.id != message.chat.id:  # a linked channel's automatic forward
                return None
            title = message.chat.title or str(message.chat.id)
            identity = f"{PLATFORM}:{message.chat.id}"
            return Sender(identity, title, title, self.locale, None)
        if message.from_user is None or message.from_user.is_bot:
            return None
        return self.user(message.from_user)

    def for_another_bot(self, message: Message) -> bool:
        """'/buy@other_bot' is not for us."""
        for entity, text in message.parse_entities([MessageEntityType.BOT_COMMAND]).items():
            del entity
            _, at, name = text.partition("@")
            if at and name.lower() != self.username.lower():
                return True
        return False


def user_sender(user: User) -> Sender:
    who = f"@{user.username}" if user.username else user.full_name
    language = (user.language_code or "").split("-")[0].lower()
    return Sender(f"{PLATFORM}:{user.id}", who, user.full_name, language, user.id)


def buttons(actions: tuple[tuple[str, str], ...]) -> tuple[Button, ...]:
    """A reply's actions as inline buttons. Telegram refuses callback data over 64 bytes: such
    an action is left out (the text says what to type instead)."""
    return tuple(
        Button(label, action=action)
        for label, action in actions
        if len(action.encode()) <= CALLBACK_MAX
    )


def chats(channels: tuple[str, ...]) -> list[str]:
    """The Telegram chat ids among a show's (giveaway's, poll's) channels."""
    return [c.partition(":")[2] for c in channels if c.startswith(f"{PLATFORM}:")]


def order_values(order: OrderView) -> dict[str, object]:
    return {"qty": order.quantity, "item": order.description, "amount": order.amount}


async def answer_query(
    query: CallbackQuery, text: str | None = None, url: str | None = None
) -> None:
    try:
        await query.answer(text=text, url=url)
    except TelegramError as exc:  # the button press was handled; only the toast is lost
        log.warning("answerCallbackQuery failed: %s", exc)
