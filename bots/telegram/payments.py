"""Telegram Payments: with a payment provider token, buyers pay with Telegram's own invoices.

A won claim (or a saved card's charge that fell back) gets its invoice in the buyer's private
chat; the pre-checkout question is answered at once (Telegram waits 10 seconds at most) and a
successful payment, never delivered again, is recorded with a few retries."""

import asyncio
import logging

from telegram import Message, PreCheckoutQuery
from telegram.constants import ChatType
from telegram.error import TelegramError

from bots.rendering import Reply
from bots.telegram import invoices
from bots.telegram.core import HELD, PLATFORM, Core, buttons
from commerce.domain.commands import CheckInvoice, InvoicePaid
from commerce.domain.errors import CommerceError
from commerce.service_layer import chat, queries
from commerce.service_layer.outbox import Outgoing
from commerce.service_layer.results import ClaimOutcome, ClaimResult, OrderView, PaymentOutcome

log = logging.getLogger(__name__)
PRE_CHECKOUT_BUDGET = 6.0  # seconds to decide; Telegram gives up on the payment after 10
PAYMENT_RETRIES = (0.5, 2.0, 5.0)  # a successful_payment is never delivered again: retry


class Payments:
    def __init__(self, core: Core) -> None:
        self.core = core

    @property
    def invoices(self) -> bool:
        """Buyers pay with Telegram's invoices (a payment provider token is set)."""
        return queries.pays_with_invoices(self.core.bus().reads, PLATFORM)

    def privately(
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
        invoice = self.invoice_for(outcome, chat_id, language)
        if invoice:
            return invoice
        if both and not reply.actions:
            texts = [t for t in (reply.public, reply.private) if t]
        else:
            texts = [t for t in (reply.private or reply.public,) if t]
        under = buttons(reply.actions) if reply.private else ()
        last = len(texts) - 1
        return [
            Outgoing(PLATFORM, chat_id, text, under if i == last else ())
            for i, text in enumerate(texts)
        ]

    def invoice_for(
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
        now = self.core.clock.now()
        return invoices.pay_messages(order, chat_id, language, now, kind, reason)

    def invoice_to(
        self, order: OrderView, kind: str, claim: ClaimResult | None = None
    ) -> list[Outgoing]:
        """The invoice in a buyer's private chat (they started the bot), unless the won
        `claim` is paid otherwise (a saved card's question or charge)."""
        claimed = chat.Claimed(claim or ClaimResult(ClaimOutcome.WON, order=order))
        language = self.core.language_of(order.identity)
        return self.invoice_for(claimed, order.identity.partition(":")[2], language, kind)

    async def pre_checkout(self, query: PreCheckoutQuery) -> None:
        """Answered here, not through the outbox: Telegram waits 10 seconds at most."""
        sender = self.core.user(query.from_user)
        check = CheckInvoice(
            order_ref=query.invoice_payload,
            identity=sender.identity,
            amount_minor=query.total_amount,
            currency=query.currency.lower(),
        )
        try:
            async with asyncio.timeout(PRE_CHECKOUT_BUDGET):
                reason = await self.core.bus().handle(check)
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

    async def paid(self, message: Message) -> None:
        """An invoice was paid. Telegram reports it once: the core is asked again a few times
        if it cannot record it at once (it settles idempotently)."""
        payment = message.successful_payment
        user = message.from_user
        if payment is None or user is None or message.chat.type != ChatType.PRIVATE:
            return
        sender = self.core.user(user)
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
                await self.core.bus().handle(paid)
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
