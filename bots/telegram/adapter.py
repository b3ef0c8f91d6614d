"""Telegram updates in, outbox messages out.

Group messages and the Buy button become `ChatMessage`s for the core; what the core answers
goes through the outbox: the drop's board (one message, edited in place), short public
replies, and private messages to buyers who have started the bot. A buyer who has not gets a
deep link (`https://t.me/<bot>?start=pay-<order>`) that opens the private chat, where
`/start pay-<order>` delivers the payment link (or, for a buyer with a saved card, the
confirm question). One-message buying: the confirm question comes with a Confirm button whose
press is `/confirm <order>` in the buyer's private chat.
"""

import asyncio
import contextlib
import contextvars
import json
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from telegram import Bot, CallbackQuery, Message, PreCheckoutQuery, Update, User
from telegram.constants import ChatMemberStatus, ChatType, MessageEntityType
from telegram.error import TelegramError

from bots.rendering import Renderer, Reply, plus_five
from bots.telegram import invoices, toasts
from commerce.domain.commands import (
    CastVote,
    ChatMessage,
    CheckInvoice,
    EnterGiveaway,
    InvoicePaid,
    PressButton,
)
from commerce.domain.errors import CommerceError
from commerce.domain.orders import OrderStatus
from commerce.service_layer import chat, queries
from commerce.service_layer.inbox import ChatInbox, InboxItem
from commerce.service_layer.messagebus import MessageBus
from commerce.service_layer.outbox import Button, Outbox, Outgoing
from commerce.service_layer.ports import Clock, Contacts
from commerce.service_layer.results import (
    AuctionEnded,
    AuctionUpdated,
    AuctionWon,
    CardSaved,
    CheckoutReady,
    ClaimOutcome,
    ClaimResult,
    DropEnded,
    DropStarted,
    DropView,
    GiveawayDrawn,
    GiveawayStarted,
    GiveawayUpdated,
    HoldExpired,
    Notice,
    OrderPaid,
    OrderRefunded,
    OrderView,
    Outbid,
    PaymentFellBack,
    PaymentOutcome,
    PaymentResult,
    PaymentStopped,
    PollClosed,
    PollUpdated,
    PromotedFromWaitlist,
    ShowAnnounced,
    ShowUpdated,
    ShowView,
    WaitlistClosed,
)

log = logging.getLogger(__name__)
PLATFORM = "telegram"
ADMIN_TTL = 60.0  # seconds a getChatMember answer is trusted
ADMINS = {ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR}
PAY = "pay-"  # deep-link payload prefix: /start pay-<order ref>
CONFIRM = "confirm:"  # callback data of a Confirm button: confirm:<order ref>
CALLBACK_MAX = 64  # bytes of callback data Telegram accepts
ENTER, VOTE = "enter:", "vote:"  # a giveaway's Enter (enter:<id>), a poll's option (vote:<id>:<n>)
# Outcomes whose news the group gets on a board (shows, giveaways, polls): no echo of them.
BOARDED = (chat.ShowChanged, chat.GiveawayOpened, chat.PollOpened, chat.PollEnded)
BUYERS_SHOWN = 5
HELD = (OrderStatus.RESERVED, OrderStatus.CHECKOUT_OPEN)
PRE_CHECKOUT_BUDGET = 6.0  # seconds to decide; Telegram gives up on the payment after 10
PAYMENT_RETRIES = (0.5, 2.0, 5.0)  # a successful_payment is never delivered again: retry
# The stored update being processed: the replies it causes mark it done in their own
# transaction, so a crash after they were put never answers it twice.
PROCESSING: contextvars.ContextVar[InboxItem | None] = contextvars.ContextVar(
    "telegram_update", default=None
)


@dataclass
class BoardBuyer:
    identity: str
    name: str
    paid: bool = False


@dataclass(frozen=True, slots=True)
class Sender:
    """Who wrote: a user, or a chat speaking as itself (anonymous admin, channel post)."""

    identity: str
    who: str  # how replies name them
    name: str
    language: str
    user_id: int | None  # None for a chat speaking as itself


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
        self.bot, self.bus, self.outbox = bot, bus, outbox
        self.contacts, self.inbox, self.clock = contacts, inbox, clock
        self.locale, self.wake = locale, wake
        self.username = ""
        self.privacy = False  # privacy mode on: ordinary group messages never reach the bot
        self.admins: dict[tuple[int, int], tuple[bool, float]] = {}
        self.buyers: dict[int, deque[BoardBuyer]] = {}  # per drop: the last buyers
        self.board_chats: dict[int, set[str]] = {}  # per drop: chats showing its board
        self.renderers: dict[str, Renderer] = {}
        self.names: dict[str, str] = {}  # identity -> how the chat names them
        self.languages: dict[str, str] = {}  # identity -> their Telegram language, for notices
        self.finished = 0  # updates handled or skipped (tests wait on it)
        self.dirty: set[int] = set()  # drops whose boards need a redraw
        self.refreshing: dict[int, asyncio.Task[None]] = {}

    def started(self, username: str, can_read_all_group_messages: bool) -> None:
        """What getMe said at start-up."""
        self.username = username
        self.privacy = not can_read_all_group_messages
        if self.privacy:
            log.warning(
                "Telegram privacy mode is on for @%s: in groups it only sees commands "
                "(/buy@%s), replies to it and its Buy button, not '#buy' typed as text. "
                "Turn it off in @BotFather: /setprivacy, choose the bot, Disable; then "
                "remove the bot from each group and add it again.",
                username,
                username,
            )

    # --- updates ---------------------------------------------------------------------

    async def intake(self, updates: list[Update]) -> int:
        """Stores updates as they arrive (before Telegram is told so); returns how many were
        new. A redelivered update is stored once and processed once."""
        rows = [
            (str(u.update_id), _chat_of(u), u.update_id, json.dumps(u.to_dict())) for u in updates
        ]
        new = await self.inbox.store(PLATFORM, rows, self.clock.now())
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
            return queries.side_by_side(self.bus().reads, text)
        query = data.get("callback_query")
        return query is not None and str(query.get("data", "")).startswith(("buy:", "bid:"))

    async def process(self, item: InboxItem) -> None:
        """One stored update, in its chat's turn (commerce.service_layer.inbox)."""
        update = Update.de_json(json.loads(item.payload), self.bot)
        token = PROCESSING.set(item)
        try:
            await self._on_update(update)
        finally:
            PROCESSING.reset(token)
            self.finished += 1

    async def _on_update(self, update: Update) -> None:
        if update.callback_query is not None:
            await self._button(update.callback_query)
            return
        if update.pre_checkout_query is not None:
            await self._pre_checkout(update.pre_checkout_query)
            return
        message = update.message or update.channel_post
        if message is not None and (message.migrate_to_chat_id or message.migrate_from_chat_id):
            await self._migrated(message)
            return
        if message is not None and message.successful_payment is not None:
            await self._paid(message)
            return
        if message is None or not (message.text or message.caption):
            return
        if message.chat.type == ChatType.PRIVATE:
            await self._private(message)
        else:
            await self._group(message)

    async def _migrated(self, message: Message) -> None:
        """The group became a supergroup with a new id (Telegram says so in both: the old
        group's last message names the new id, the supergroup's first the old one): drops,
        shows, auctions, giveaways, polls and waiting messages follow it."""
        if message.migrate_to_chat_id:
            old, new = message.chat.id, message.migrate_to_chat_id
        else:
            old, new = message.migrate_from_chat_id or 0, message.chat.id
        moved = await self.outbox.move_chat(PLATFORM, str(old), str(new))
        log.info("telegram chat %s is now %s (%d rows follow it)", old, new, moved)

    async def _group(self, message: Message) -> None:
        text = message.text or message.caption or ""
        sender = self._sender(message)
        if sender is None or self._for_another_bot(message):
            return
        chat_id, user_id = message.chat.id, sender.user_id

        async def is_admin() -> bool:  # asked by the core for a command admins may run
            return user_id is None or await self.is_admin(chat_id, user_id)

        command = ChatMessage(
            key=f"{PLATFORM}:{chat_id}:{message.message_id}",
            chat=f"{PLATFORM}:{chat_id}",
            identity=sender.identity,
            text=text,
            display_name=sender.name,
            is_admin=is_admin,
        )
        outcome = await self.bus().handle(command)
        await self._answer(outcome, str(chat_id), sender, str(message.message_id))

    async def _private(self, message: Message) -> None:
        user = message.from_user
        if user is None:
            return
        sender = self._user(user)
        await self.contacts.started(PLATFORM, sender.identity, self.clock.now())
        text = message.text or message.caption or ""
        words = text.split()
        renderer = self.renderer(sender.language)
        if len(words) > 1 and words[0].split("@")[0].lower() == "/start":
            if words[1].startswith(PAY):
                ref = words[1][len(PAY) :]
                await self._put(await self._payment_link(ref, sender, renderer))
                return
            text = "/start"
        command = ChatMessage(
            key=f"{PLATFORM}:{user.id}:{message.message_id}",
            chat=f"{PLATFORM}:{user.id}",
            identity=sender.identity,
            text=text,
            display_name=sender.name,
            private=True,
        )
        outcome = await self.bus().handle(command)
        if isinstance(outcome, chat.Ignored):
            outcome = chat.HelpAsked(seller=False)  # a private chat always gets an answer
        reply = renderer.outcome(outcome, sender.who)
        out = self._privately(outcome, reply, str(user.id), sender.language, both=True)
        await self._put(out + await self._boards_for(outcome))

    async def _payment_link(self, ref: str, sender: Sender, renderer: Renderer) -> list[Outgoing]:
        """The deep link's payload: the buyer's own order, with its payment link (or its
        invoice)."""
        private_chat = str(sender.user_id)
        order = await queries.buyers_order(self.bus().reads, ref, sender.identity)
        if order is None:
            return [Outgoing(PLATFORM, private_chat, renderer.t("not_your_link"))]
        asked = await self._confirm_question(order, renderer)
        if asked is not None:
            return [Outgoing(PLATFORM, private_chat, asked.private or "", _buttons(asked.actions))]
        won = ClaimResult(ClaimOutcome.WON, order=order)
        invoice = self._invoice_for(chat.Claimed(won), private_chat, sender.language)
        if invoice:
            return invoice
        if order.status in HELD:
            text = renderer.claim(won, sender.who).private or ""
        else:
            text = renderer.outcome(chat.OrderList((order,)), sender.who).private or ""
        return [Outgoing(PLATFORM, private_chat, text)]

    async def _confirm_question(self, order: OrderView, renderer: Renderer) -> Reply | None:
        """A one-message buy still waiting for its confirm (claimed in a group before the
        buyer started the bot): the question and its Confirm button."""
        confirm = await queries.awaiting_confirm(self.bus().reads, order)
        if confirm is None:
            return None
        return renderer.confirm(ClaimResult(ClaimOutcome.WON, order=order, confirm=confirm))

    def _privately(
        self,
        outcome: chat.ChatOutcome,
        reply: Reply,
        chat_id: str,
        language: str,
        *,
        both: bool = False,
    ) -> list[Outgoing]:
        """What the sender gets in their private chat: the order's invoice (invoices on), or
        the reply (`both`: its public text too, unless it asks a confirm), its buttons under
        the private text."""
        invoice = self._invoice_for(outcome, chat_id, language)
        if invoice:
            return invoice
        if both and not reply.actions:
            texts = [t for t in (reply.public, reply.private) if t]
        else:
            texts = [t for t in (reply.private or reply.public,) if t]
        buttons = _buttons(reply.actions) if reply.private else ()
        last = len(texts) - 1
        return [
            Outgoing(PLATFORM, chat_id, text, buttons if i == last else ())
            for i, text in enumerate(texts)
        ]

    async def _confirm_pressed(self, query: CallbackQuery, ref: str) -> None:
        """A Confirm button: `/confirm <order>` in the presser's private chat; the result
        privately, a short toast on the button."""
        sender = self._user(query.from_user)
        private_chat = str(query.from_user.id)
        command = ChatMessage(
            key=f"{PLATFORM}:{private_chat}:cb:{query.id}",
            chat=f"{PLATFORM}:{private_chat}",
            identity=sender.identity,
            text=f"/confirm {ref}",
            display_name=sender.name,
            private=True,
        )
        outcome = await self.bus().handle(command)
        reply = self.renderer(sender.language).outcome(outcome, sender.who)
        await self._put(self._privately(outcome, reply, private_chat, sender.language))
        await _answer_query(query, toasts.toast(outcome, sender.language))
        if isinstance(outcome, chat.CardPaid):
            # The question is answered (charged, or a link instead): its button goes. Kept
            # after a refusal that asks to try again (the provider unreachable).
            with contextlib.suppress(TelegramError):
                await query.edit_message_reply_markup(reply_markup=None)

    async def _engage_pressed(self, query: CallbackQuery, data: str, chat_id: int) -> None:
        """Enter on a giveaway's board, or an option on a poll's: the presser's own entry or
        vote, told in a toast (nothing in the group; the board's count changes)."""
        sender = self._user(query.from_user)
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
            outcome = await self.bus().handle(PressButton(command))
        reply = self.renderer(sender.language).outcome(outcome, sender.who)
        toast = reply.private or reply.public or ""
        await _answer_query(query, toast[:200] or None)

    # --- Telegram Payments -----------------------------------------------------------

    @property
    def invoices(self) -> bool:
        """Buyers pay with Telegram's invoices (a payment provider token is set)."""
        return queries.pays_with_invoices(self.bus().reads, PLATFORM)

    def _invoice_for(
        self, outcome: chat.ChatOutcome, chat_id: str, language: str, kind: str = "won"
    ) -> list[Outgoing]:
        """With invoices on, a won claim still held, or a saved card's charge that fell back:
        a short text and its invoice. Not for a claim that asks a confirm or was charged."""
        if not self.invoices:
            return []
        reason = ""
        match outcome:
            case chat.Claimed(result=result) if (
                result.outcome is ClaimOutcome.WON and result.confirm is None
            ):
                order = result.order
                if result.payment is not None:
                    if result.payment.outcome is not PaymentOutcome.FALLBACK:
                        return []
                    order, kind, reason = (
                        result.payment.order,
                        "card_fallback",
                        result.payment.reason,
                    )
            case chat.CardPaid(result=payment) if payment.outcome is PaymentOutcome.FALLBACK:
                order, kind, reason = payment.order, "card_fallback", payment.reason
            case _:
                return []
        if order is None or order.status not in HELD:
            return []
        if order.hold_expires_at is None or order.payment_ref is not None:
            return []  # a delayed payment (or a card's charge) is under way for it already
        return invoices.pay_messages(order, chat_id, language, self.clock.now(), kind, reason)

    def _invoice_to(
        self, order: OrderView, kind: str, claim: ClaimResult | None = None
    ) -> list[Outgoing]:
        """The invoice in a buyer's private chat (they started the bot), unless the won
        `claim` is paid otherwise (a saved card's question or charge)."""
        claimed = chat.Claimed(claim or ClaimResult(ClaimOutcome.WON, order=order))
        language = self.languages.get(order.identity, self.locale)
        return self._invoice_for(claimed, order.identity.partition(":")[2], language, kind)

    async def _pre_checkout(self, query: PreCheckoutQuery) -> None:
        """Answered here, not through the outbox: Telegram waits 10 seconds at most."""
        sender = self._user(query.from_user)
        check = CheckInvoice(
            order_ref=query.invoice_payload,
            identity=sender.identity,
            amount_minor=query.total_amount,
            currency=query.currency.lower(),
        )
        try:
            async with asyncio.timeout(PRE_CHECKOUT_BUDGET):
                reason = await self.bus().handle(check)
            error = None if reason is None else invoices.refusal(reason, sender.language)
        except TimeoutError:
            log.warning("pre-checkout of order %s took too long: refused", check.order_ref)
            error = invoices.busy(sender.language)
        except Exception:
            log.exception("pre-checkout of order %s failed: refused", check.order_ref)
            error = invoices.busy(sender.language)
        try:
            await query.answer(ok=error is None, error_message=error)
        except TelegramError as exc:
            log.warning("answerPreCheckoutQuery for order %s failed: %s", check.order_ref, exc)

    async def _paid(self, message: Message) -> None:
        """An invoice was paid. Telegram reports it once: the core is asked again a few times
        if it cannot record it at once (it settles idempotently)."""
        payment = message.successful_payment
        user = message.from_user
        if payment is None or user is None or message.chat.type != ChatType.PRIVATE:
            return
        sender = self._user(user)
        paid = InvoicePaid(
            order_ref=payment.invoice_payload,
            identity=sender.identity,
            amount_minor=payment.total_amount,
            currency=payment.currency.lower(),
            provider_charge_id=payment.provider_payment_charge_id,
            telegram_charge_id=payment.telegram_payment_charge_id,
            ship_to=invoices.ship_to(payment),
        )
        for wait in (*PAYMENT_RETRIES, None):
            try:
                await self.bus().handle(paid)
                return
            except CommerceError as exc:  # no such order: asking again will not help
                log.error(
                    "payment for order %s cannot be applied (charge %s, telegram %s): %s",
                    paid.order_ref,
                    paid.provider_charge_id,
                    paid.telegram_charge_id,
                    exc,
                )
                return
            except Exception:
                if wait is None:
                    # Reconcile by hand: the charge ids are in the log, no card data.
                    log.exception(
                        "payment of order %s could not be recorded (charge %s, telegram %s)",
                        paid.order_ref,
                        paid.provider_charge_id,
                        paid.telegram_charge_id,
                    )
                    raise
                log.warning("payment of order %s not recorded yet; retrying", paid.order_ref)
                await asyncio.sleep(wait)

    async def _button(self, query: CallbackQuery) -> None:
        data = query.data or ""
        message = query.message
        if data.startswith(CONFIRM):
            await self._confirm_pressed(query, data[len(CONFIRM) :])
            return
        if data.startswith((ENTER, VOTE)) and message is not None:
            await self._engage_pressed(query, data, message.chat.id)
            return
        if not data.startswith(("buy:", "bid:")) or message is None:
            await _answer_query(query)
            return
        # A Buy button claims the drop it names; a Bid button bids its amount on the auction
        # running in the chat: both as if the words were typed.
        kind, _, value = data.partition(":")
        text = f"#{kind} {value}"
        sender = self._user(query.from_user)
        chat_id = message.chat.id
        command = ChatMessage(
            key=f"{PLATFORM}:{chat_id}:cb:{query.id}",
            chat=f"{PLATFORM}:{chat_id}",
            identity=sender.identity,
            text=text,
            display_name=sender.name,
        )
        outcome = await self.bus().handle(command)
        reply = self.renderer(sender.language).outcome(outcome, sender.who)
        started = await self.contacts.has_started(PLATFORM, sender.identity)
        out = await self._boards_for(outcome)
        url = None
        if started:
            out += self._privately(outcome, reply, str(query.from_user.id), sender.language)
        else:
            url = self.deep_link(_pay_payload(outcome))
        await self._put(out)
        await _answer_query(query, (reply.public or "")[:200] or None, url)

    async def _answer(
        self, outcome: chat.ChatOutcome, chat_id: str, sender: Sender, reply_to: str
    ) -> None:
        """What a group sees and what the sender gets privately."""
        renderer = self.renderer(sender.language)
        reply = renderer.outcome(outcome, sender.who)
        out = await self._boards_for(outcome)
        if isinstance(outcome, BOARDED):  # the board says it; only a private part is left
            reply = Reply(private=reply.private)
        match outcome:
            case chat.Ignored():
                return
            case chat.DropOpened():
                if self.privacy:
                    warning = self.renderer(self.locale).t("privacy_warning", bot=self.username)
                    out.append(Outgoing(PLATFORM, chat_id, warning, reply_to=reply_to))
                await self._put(out)
                return
        started = sender.user_id is not None and await self.contacts.has_started(
            PLATFORM, sender.identity
        )
        private_chat = str(sender.user_id)
        if started:
            # A busy drop must not flood the group: the board shows the claim publicly.
            if isinstance(outcome, chat.Claimed):
                out += self._privately(outcome, reply, private_chat, sender.language)
            else:
                if reply.public:
                    out.append(Outgoing(PLATFORM, chat_id, reply.public, reply_to=reply_to))
                if reply.private:
                    out.append(Outgoing(PLATFORM, private_chat, reply.private))
        else:
            out += self._public_instead(outcome, reply, renderer, sender, chat_id, reply_to)
        await self._put(out)

    def _public_instead(
        self,
        outcome: chat.ChatOutcome,
        reply: Reply,
        renderer: Renderer,
        sender: Sender,
        chat_id: str,
        reply_to: str,
    ) -> list[Outgoing]:
        """For a sender the bot cannot message privately: public replies and a deep link."""
        payload = _pay_payload(outcome)
        if payload is not None and isinstance(outcome, chat.Claimed):
            order = outcome.result.order
            assert order is not None
            text = renderer.t("won_start", who=sender.who, **_order_values(renderer, order))
            button = Button(renderer.t("private_button"), url=self.deep_link(payload))
            return [Outgoing(PLATFORM, chat_id, text, (button,), reply_to=reply_to)]
        out = []
        if reply.public:
            out.append(Outgoing(PLATFORM, chat_id, reply.public, reply_to=reply_to))
        if reply.private:
            if isinstance(outcome, chat.HelpAsked):
                out.append(Outgoing(PLATFORM, chat_id, reply.private, reply_to=reply_to))
            elif sender.user_id is not None:
                button = Button(renderer.t("private_button"), url=self.deep_link("hi"))
                text = renderer.t("open_private")
                out.append(Outgoing(PLATFORM, chat_id, text, (button,), reply_to=reply_to))
        return out

    # --- admins, names, links --------------------------------------------------------

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

    def _user(self, user: User) -> Sender:
        sender = _user_sender(user)
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

    def _sender(self, message: Message) -> Sender | None:
        speaking_as = message.sender_chat
        if speaking_as is not None:
            if speaking_as.id != message.chat.id:  # a linked channel's automatic forward
                return None
            title = message.chat.title or str(message.chat.id)
            identity = f"{PLATFORM}:{message.chat.id}"
            return Sender(identity, title, title, self.locale, None)
        if message.from_user is None or message.from_user.is_bot:
            return None
        return self._user(message.from_user)

    def _for_another_bot(self, message: Message) -> bool:
        """'/buy@other_bot' is not for us."""
        for entity, text in message.parse_entities([MessageEntityType.BOT_COMMAND]).items():
            del entity
            _, at, name = text.partition("@")
            if at and name.lower() != self.username.lower():
                return True
        return False

    # --- the board and the notices ---------------------------------------------------

    async def _boards_for(self, outcome: chat.ChatOutcome) -> list[Outgoing]:
        """The board of a drop just opened; for any other change, a refresh is scheduled."""
        match outcome:
            case chat.Released(release=release):
                drop = await self._drop(release.order.drop_code)
                if drop is not None:
                    self._forget_buyer(drop.id, release.order.identity)
                    self.board_changed(drop)
            case chat.Claimed(result=result) if result.drop is not None:
                if result.outcome is ClaimOutcome.WON and result.order is not None:
                    self._note_buyer(result.drop, result.order)
                self.board_changed(result.drop)
            case chat.DropOpened(drop=drop):
                return self.boards(drop)
            case chat.DropClosed(drop=drop):
                self.board_changed(drop)
            case chat.ShowChanged(show=show, action="info"):  # the others come as notices
                return self._show_boards(show)
        return []

    def board_changed(self, drop: DropView) -> None:
        """Redraws the drop's boards from a fresh read of the drop, after the change that
        called this. Claims answered concurrently carry snapshots that may arrive out of
        order; one refresher per drop reads again while changes keep coming, so the last
        board put always shows the latest state."""
        if drop.id not in self.board_chats and not any(
            c.startswith(f"{PLATFORM}:") for c in drop.channels
        ):
            return
        self.dirty.add(drop.id)
        if drop.id not in self.refreshing:
            # A context of its own: the redraw belongs to no update (see PROCESSING).
            self.refreshing[drop.id] = asyncio.create_task(
                self._refresh(drop.id), context=contextvars.Context()
            )

    async def _refresh(self, drop_id: int) -> None:
        try:
            while drop_id in self.dirty:
                self.dirty.discard(drop_id)
                drop = await queries.drop(self.bus().reads, drop_id)
                if drop is not None:
                    await self._put(self.boards(drop))
        except Exception:
            log.exception("the board of drop %s could not be redrawn", drop_id)
        finally:
            del self.refreshing[drop_id]

    @property
    def idle(self) -> bool:
        """No board redraw under way (tests wait for it)."""
        return not self.refreshing

    async def close(self) -> None:
        for task in list(self.refreshing.values()):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _forget_buyer(self, drop_id: int, identity: str) -> None:
        buyers = self.buyers.get(drop_id, deque())
        for buyer in list(buyers):
            if buyer.identity == identity and not buyer.paid:
                buyers.remove(buyer)

    def _note_buyer(self, drop: DropView, order: OrderView) -> None:
        buyers = self.buyers.setdefault(drop.id, deque(maxlen=BUYERS_SHOWN))
        name = self.names.get(order.identity, order.identity.partition(":")[2])
        buyers.append(BoardBuyer(order.identity, name))

    def boards(self, drop: DropView) -> list[Outgoing]:
        """The drop's board in each Telegram chat that shows it."""
        chats = {
            c.removeprefix(f"{PLATFORM}:") for c in drop.channels if c.startswith("telegram:")
        }
        chats |= self.board_chats.get(drop.id, set())
        self.board_chats[drop.id] = chats
        text, buttons = self.board_text(drop)
        board = f"drop:{drop.id}"
        return [Outgoing(PLATFORM, c, text, buttons, board=board) for c in sorted(chats)]

    def board_text(self, drop: DropView) -> tuple[str, tuple[Button, ...]]:
        r = self.renderer(self.locale)
        lines = [f"{drop.name} · {drop.price}"]
        buttons: tuple[Button, ...] = ()
        if drop.status != "live":
            sold = drop.quantity - drop.remaining
            lines.append(r.t("drop_closed", code=drop.code, sold=sold, qty=drop.quantity))
        else:
            if drop.remaining > 0:
                line = r.t("board_left", left=drop.remaining, qty=drop.quantity)
            else:
                line = r.t("board_sold_out")
            if drop.ends_at is not None:
                line += " · " + r.t("board_until", time=drop.ends_at.strftime("%H:%M"))
            lines.append(line)
            buttons = (Button(r.t("buy_button"), action=f"buy:{drop.code}"),)
        buyers = self.buyers.get(drop.id)
        if buyers:
            names = ", ".join(b.name + (" ✓" if b.paid else "") for b in buyers)
            lines.append(r.t("board_buyers", names=names))
        return "\n".join(lines), buttons

    async def notify(self, notice: Notice) -> None:
        """The core's notices for Telegram buyers and boards, through the outbox."""
        out: list[Outgoing] = []
        match notice:
            case OrderPaid(order=order):
                drop = await self._drop(order.drop_code)
                for buyer in self.buyers.get(drop.id if drop else 0, ()):
                    if buyer.identity == order.identity:
                        buyer.paid = True
                out += await self._to_buyer(order.identity, notice)
                if drop is not None:
                    self.board_changed(drop)
            case HoldExpired(order=order):
                drop = await self._drop(order.drop_code)
                self._forget_buyer(drop.id if drop else 0, order.identity)
                out += await self._to_buyer(order.identity, notice)
                if drop is not None:
                    self.board_changed(drop)
            case PromotedFromWaitlist(claim=claim) if claim.order is not None:
                out += await self._promoted(notice, claim.order)
                if claim.drop is not None:
                    self._note_buyer(claim.drop, claim.order)
                    self.board_changed(claim.drop)
            case CardSaved(identity=identity):
                out += await self._to_buyer(identity, notice)
            case PaymentFellBack(result=result):
                out += await self._fell_back(notice, result)
            case PaymentStopped(order=order):
                drop = await self._drop(order.drop_code)
                if order.status is not OrderStatus.NEEDS_REVIEW:  # released: the board changes
                    self._forget_buyer(drop.id if drop else 0, order.identity)
                    if drop is not None:
                        self.board_changed(drop)
                out += await self._to_buyer(order.identity, notice)
            case CheckoutReady(order=order) if self.invoices:
                pass  # the buyer got the order's invoice when it was won
            case CheckoutReady(order=order) | OrderRefunded(order=order):
                out += await self._to_buyer(order.identity, notice)
            case WaitlistClosed(identity=identity):
                out += await self._to_buyer(identity, notice)
            case DropEnded(drop=drop):
                self.board_changed(drop)
            case DropStarted(drop=drop):  # started from the dashboard: the board announces it
                out += self.boards(drop)
            case AuctionUpdated() | AuctionEnded():
                out += self._auction_boards(notice)
            case Outbid(identity=identity):
                out += await self._to_buyer(identity, notice)
            case AuctionWon(order=order):
                # Privately, or (never started the bot) in the chat with a deep link.
                out += await self._promoted(notice, order)
            case ShowAnnounced(show=show):
                text = self.renderer(self.locale).notice(notice, "").public or ""
                out += [Outgoing(PLATFORM, c, text) for c in _chats(show.channels)]
            case ShowUpdated(show=show):
                out += self._show_boards(show)
            case GiveawayStarted() | GiveawayUpdated() | GiveawayDrawn():
                out += await self._giveaway(notice)
            case PollUpdated(poll=poll) | PollClosed(poll=poll):
                r = self.renderer(self.locale)
                if isinstance(notice, PollUpdated) and poll.status == "live":
                    reply = r.poll_board(poll)
                    text, buttons = reply.public or "", _buttons(reply.actions)
                else:
                    text, buttons = r.poll_closed(poll), ()
                board = f"poll:{poll.id}"
                out += [
                    Outgoing(PLATFORM, c, text, buttons, board=board)
                    for c in _chats(poll.channels)
                ]
        await self._put(out)

    def _show_boards(self, show: ShowView) -> list[Outgoing]:
        """The show's board (live lot, next, totals) in each Telegram chat, edited in place."""
        text = self.renderer(self.locale).show_board(show)
        board = f"show:{show.id}"
        return [Outgoing(PLATFORM, c, text, board=board) for c in _chats(show.channels)]

    async def _giveaway(
        self, notice: GiveawayStarted | GiveawayUpdated | GiveawayDrawn
    ) -> list[Outgoing]:
        """The giveaway's board with its Enter button while it runs; at the draw the board
        shows the result, a message says it with the seed, and the winner is told privately
        (or, never having started the bot, in the chat with a deep link)."""
        r, giveaway = self.renderer(self.locale), notice.giveaway
        chats, board = _chats(giveaway.channels), f"giveaway:{giveaway.id}"
        if not isinstance(notice, GiveawayDrawn):
            reply = r.notice(notice, "")
            buttons = _buttons(reply.actions)
            text = reply.public or ""
            return [Outgoing(PLATFORM, c, text, buttons, board=board) for c in chats]
        result = r.giveaway_result(giveaway)
        out = [Outgoing(PLATFORM, c, result, board=board) for c in chats]
        out += [Outgoing(PLATFORM, c, result) for c in chats]
        winner, order = notice.winner_identity, notice.order
        if winner is None or order is None or not winner.startswith(f"{PLATFORM}:"):
            return out
        if await self.contacts.has_started(PLATFORM, winner):
            if order.amount.minor and order.checkout_url is None:
                # The shipping's link could not be opened (and no sweeper opens one for an
                # invoice buyer): with invoices on, the invoice is how it is paid.
                invoice = self._invoice_to(order, "won")
                if invoice:
                    return out + invoice
            return out + await self._to_buyer(winner, notice)
        where = notice.winner_chat or ""
        if where.startswith(f"{PLATFORM}:"):
            lr = self.renderer(self.languages.get(winner, self.locale))
            who = self.names.get(winner, giveaway.winner_name)
            text = lr.t("giveaway_won_start", who=who, item=giveaway.name)
            button = Button(lr.t("private_button"), url=self.deep_link(f"{PAY}{order.ref}"))
            out.append(Outgoing(PLATFORM, where.partition(":")[2], text, (button,)))
        return out

    def _auction_boards(self, notice: AuctionUpdated | AuctionEnded) -> list[Outgoing]:
        """The auction's board in each Telegram chat it runs in: price, leader, time left
        and bids while it runs, the result once it ended; edited in place and coalesced."""
        r = self.renderer(self.locale)
        text = r.notice(notice, "").public
        auction = notice.auction
        chats = [c.partition(":")[2] for c in auction.channels if c.startswith(f"{PLATFORM}:")]
        buttons: tuple[Button, ...] = ()
        if isinstance(notice, AuctionUpdated) and auction.status == "live":
            # The smallest bid accepted now, and five steps' worth more (as on Whatnot).
            buttons = tuple(
                Button(r.t("bid_button", amount=amount), action=f"bid:{amount.decimal()}")
                for amount in (auction.minimum, plus_five(auction))
            )
        board = f"auction:{auction.id}"
        return [Outgoing(PLATFORM, c, text, buttons, board=board) for c in chats] if text else []

    async def _to_buyer(self, identity: str, notice: Notice) -> list[Outgoing]:
        if not identity.startswith(f"{PLATFORM}:"):
            return []
        if not await self.contacts.has_started(PLATFORM, identity):
            return []  # they get their link through the deep link; nothing else to say
        language = self.languages.get(identity, self.locale)
        reply = self.renderer(language).notice(notice, "")
        if not reply.private:
            return []
        return [
            Outgoing(PLATFORM, identity.partition(":")[2], reply.private, _buttons(reply.actions))
        ]

    async def _fell_back(self, notice: Notice, result: PaymentResult) -> list[Outgoing]:
        """A saved card's charge declined later (webhook): the link, or the invoice."""
        identity = result.order.identity
        if not identity.startswith(f"{PLATFORM}:"):
            return []
        if not await self.contacts.has_started(PLATFORM, identity):
            return []
        language = self.languages.get(identity, self.locale)
        chat_id = identity.partition(":")[2]
        invoice = self._invoice_for(chat.CardPaid(result), chat_id, language)
        return invoice or await self._to_buyer(identity, notice)

    async def _promoted(
        self, notice: PromotedFromWaitlist | AuctionWon, order: OrderView
    ) -> list[Outgoing]:
        if not order.identity.startswith(f"{PLATFORM}:"):
            return []
        if await self.contacts.has_started(PLATFORM, order.identity):
            if isinstance(notice, AuctionWon):
                kind = "second_chance" if notice.second_chance else "auction_won"
                # A saved card's confirm is the one tap: no invoice besides it.
                invoice = [] if notice.confirm else self._invoice_to(order, kind)
            else:  # promoted: as a won claim (a saved card's question or charge, no invoice;
                # the invoice for a charge that fell back)
                invoice = self._invoice_to(order, "promoted", notice.claim)
            return invoice or await self._to_buyer(order.identity, notice)
        if not order.chat.startswith(f"{PLATFORM}:"):
            return []
        r = self.renderer(self.languages.get(order.identity, self.locale))
        name = self.names.get(order.identity, "")
        text = r.t("won_start", who=name or order.identity, **_order_values(r, order))
        button = Button(r.t("private_button"), url=self.deep_link(f"{PAY}{order.ref}"))
        return [Outgoing(PLATFORM, order.chat.partition(":")[2], text, (button,))]

    async def _drop(self, code: str) -> DropView | None:
        """The latest drop with this code."""
        return await queries.latest_drop(self.bus().reads, code)

    async def _put(self, messages: list[Outgoing]) -> None:
        if messages:
            await self.outbox.put(messages, self.clock.now(), done=PROCESSING.get())
            self.wake()


def _user_sender(user: User) -> Sender:
    who = f"@{user.username}" if user.username else user.full_name
    language = (user.language_code or "").split("-")[0].lower()
    return Sender(f"{PLATFORM}:{user.id}", who, user.full_name, language, user.id)


def _buttons(actions: tuple[tuple[str, str], ...]) -> tuple[Button, ...]:
    """A reply's actions as inline buttons. Telegram refuses callback data over 64 bytes: such
    an action is left out (the text says what to type instead)."""
    return tuple(
        Button(label, action=action)
        for label, action in actions
        if len(action.encode()) <= CALLBACK_MAX
    )


def _chats(channels: tuple[str, ...]) -> list[str]:
    """The Telegram chat ids among a show's (giveaway's, poll's) channels."""
    return [c.partition(":")[2] for c in channels if c.startswith(f"{PLATFORM}:")]


def _pay_payload(outcome: chat.ChatOutcome) -> str | None:
    if isinstance(outcome, chat.Claimed):
        result = outcome.result
        if result.outcome is ClaimOutcome.WON and result.order is not None:
            return f"{PAY}{result.order.ref}"
    return None


def _order_values(renderer: Renderer, order: OrderView) -> dict[str, object]:
    return {"qty": order.quantity, "item": order.description, "amount": order.amount}


async def _answer_query(
    query: CallbackQuery, text: str | None = None, url: str | None = None
) -> None:
    try:
        await query.answer(text=text, url=url)
    except TelegramError as exc:  # the button press was handled; only the toast is lost
        log.warning("answerCallbackQuery failed: %s", exc)


def _chat_of(update: Update) -> str:
    """The chat whose updates are processed in order: a group's messages and its buttons'
    presses together; a private chat's (payments included) together."""
    where = update.effective_chat or update.effective_user
    return str(where.id) if where is not None else "-"
