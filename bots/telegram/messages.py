"""Messages typed in a group or in the private chat with the bot, handed to the core as text
with who and where; the answer goes to the group (short), privately (the details), or, for a
sender the bot cannot message privately, as a deep link that opens the private chat."""

from telegram import Message

from bots.rendering import Renderer, Reply
from bots.telegram.boards import Boards
from bots.telegram.core import HELD, PAY, PLATFORM, Core, Sender, buttons, order_values
from bots.telegram.payments import Payments
from commerce.domain.commands import ChatMessage
from commerce.service_layer import chat, queries
from commerce.service_layer.outbox import Button, Outgoing
from commerce.service_layer.results import ClaimOutcome, ClaimResult

# Outcomes whose news the group gets on a board (shows, giveaways, polls): no echo of them.
BOARDED = (chat.ShowChanged, chat.GiveawayOpened, chat.PollOpened, chat.PollEnded)


class Messages:
    def __init__(self, core: Core, boards: Boards, payments: Payments) -> None:
        self.core, self.boards, self.payments = core, boards, payments

    async def group(self, message: Message) -> None:
        core = self.core
        text = message.text or message.caption or ""
        sender = core.sender(message)
        if sender is None or core.for_another_bot(message):
            return
        chat_id, user_id = message.chat.id, sender.user_id

        async def is_admin() -> bool:  # asked by the core for a command admins may run
            return user_id is None or await core.is_admin(chat_id, user_id)

        command = ChatMessage(
            key=f"{PLATFORM}:{chat_id}:{message.message_id}",
            chat=f"{PLATFORM}:{chat_id}",
            identity=sender.identity,
            text=text,
            display_name=sender.name,
            is_admin=is_admin,
        )
        outcome = await core.bus().handle(command)
        await self._answer(outcome, str(chat_id), sender, str(message.message_id))

    async def private(self, message: Message) -> None:
        core, user = self.core, message.from_user
        if user is None:
            return
        sender = core.user(user)
        await core.contacts.started(PLATFORM, sender.identity, core.clock.now())
        text = message.text or message.caption or ""
        words = text.split()
        renderer = core.renderer(sender.language)
        if len(words) > 1 and words[0].split("@")[0].lower() == "/start":
            if words[1].startswith(PAY):
                ref = words[1][len(PAY) :]
                await core.put(await self._payment_link(ref, sender, renderer))
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
        outcome = await core.bus().handle(command)
        if isinstance(outcome, chat.Ignored):
            outcome = chat.HelpAsked(seller=False)  # a private chat always gets an answer
        reply = renderer.outcome(outcome, sender.who)
        out = self.payments.privately(outcome, reply, str(user.id), sender.language, both=True)
        await core.put(out + await self.boards.for_outcome(outcome))

    async def _payment_link(self, ref: str, sender: Sender, renderer: Renderer) -> list[Outgoing]:
        """The deep link's payload: the buyer's own order, with its payment link (or its
        invoice)."""
        private_chat, reads = str(sender.user_id), self.core.bus().reads
        order = await queries.buyers_order(reads, ref, sender.identity)
        if order is None:
            return [Outgoing(PLATFORM, private_chat, renderer.t("not_your_link"))]
        # A one-message buy still waiting for its confirm (claimed in a group before the
        # buyer started the bot): the question and its Confirm button.
        confirm = await queries.awaiting_confirm(reads, order)
        won = ClaimResult(ClaimOutcome.WON, order=order, confirm=confirm)
        if confirm is not None:
            asked = renderer.confirm(won)
            return [Outgoing(PLATFORM, private_chat, asked.private or "", buttons(asked.actions))]
        invoice = self.payments.invoice_for(chat.Claimed(won), private_chat, sender.language)
        if invoice:
            return invoice
        if order.status in HELD:
            text = renderer.claim(won, sender.who).private or ""
        else:
            text = renderer.outcome(chat.OrderList((order,)), sender.who).private or ""
        return [Outgoing(PLATFORM, private_chat, text)]

    async def _answer(
        self, outcome: chat.ChatOutcome, chat_id: str, sender: Sender, reply_to: str
    ) -> None:
        """What a group sees and what the sender gets privately."""
        core = self.core
        renderer = core.renderer(sender.language)
        reply = renderer.outcome(outcome, sender.who)
        out = await self.boards.for_outcome(outcome)
        if isinstance(outcome, BOARDED):  # the board says it; only a private part is left
            reply = Reply(private=reply.private)
        match outcome:
            case chat.Ignored():
                return
            case chat.DropOpened():
                if core.privacy:
                    warning = core.renderer(core.locale).t("privacy_warning", bot=core.username)
                    out.append(Outgoing(PLATFORM, chat_id, warning, reply_to=reply_to))
                await core.put(out)
                return
        started = sender.user_id is not None and await core.contacts.has_started(
            PLATFORM, sender.identity
        )
        private_chat = str(sender.user_id)
        if started:
            # A busy drop must not flood the group: the board shows the claim publicly.
            if isinstance(outcome, chat.Claimed):
                out += self.payments.privately(outcome, reply, private_chat, sender.language)
            else:
                if reply.public:
                    out.append(Outgoing(PLATFORM, chat_id, reply.public, reply_to=reply_to))
                if reply.private:
                    out.append(Outgoing(PLATFORM, private_chat, reply.private))
        else:
            out += self._public_instead(outcome, reply, renderer, sender, chat_id, reply_to)
        await core.put(out)

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
        payload = pay_payload(outcome)
        if payload is not None and isinstance(outcome, chat.Claimed):
            order = outcome.result.order
            assert order is not None
            text = renderer.t("won_start", who=sender.who, **order_values(order))
            button = Button(renderer.t("private_button"), url=self.core.deep_link(payload))
            return [Outgoing(PLATFORM, chat_id, text, (button,), reply_to=reply_to)]
        out = []
        if reply.public:
            out.append(Outgoing(PLATFORM, chat_id, reply.public, reply_to=reply_to))
        if reply.private:
            if isinstance(outcome, chat.HelpAsked):
                out.append(Outgoing(PLATFORM, chat_id, reply.private, reply_to=reply_to))
            elif sender.user_id is not None:
                button = Button(renderer.t("private_button"), url=self.core.deep_link("hi"))
                text = renderer.t("open_private")
                out.append(Outgoing(PLATFORM, chat_id, text, (button,), reply_to=reply_to))
        return out


def pay_payload(outcome: chat.ChatOutcome) -> str | None:
    if isinstance(outcome, chat.Claimed):
        result = outcome.result
        if result.outcome is ClaimOutcome.WON and result.order is not None:
            return f"{PAY}{result.order.ref}"
    return None
