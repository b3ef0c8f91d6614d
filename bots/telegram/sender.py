"""TelegramSender: the outbox's messages, posted and edited through the Bot API."""

from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    InputMediaPhoto,
    LabeledPrice,
    LinkPreviewOptions,
    ReplyParameters,
)
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
)

from commerce.domain.media import is_media_name
from commerce.service_layer.outbox import (
    Button,
    ChatMoved,
    Invoice,
    Outgoing,
    RetryLater,
    Undeliverable,
)

PRIVATE_INTERVAL = 1.0  # Telegram: about one message a second to a chat
GROUP_INTERVAL = 3.0  # and about 20 a minute to a group
MAX_CAPTION = 1024  # a photo's caption (sendPhoto, editMessageCaption), in characters


def retry_seconds(exc: RetryAfter) -> float:
    """RetryAfter.retry_after is an int or a timedelta (python-telegram-bot's PTB_TIMEDELTA)."""
    wait = exc.retry_after
    return wait.total_seconds() if isinstance(wait, timedelta) else float(wait)


class TelegramSender:
    platform = "telegram"

    def __init__(
        self,
        bot: Bot,
        on_blocked: Callable[[str], Awaitable[None]] | None = None,
        provider_token: str | None = None,
        media: Callable[[str], Path | None] = lambda name: None,
    ) -> None:
        self.bot = bot
        self.on_blocked = on_blocked  # a private chat blocked the bot (its user id)
        self.provider_token = provider_token  # Telegram Payments (never logged)
        self.media = media  # the file of a media folder picture, None when it is gone

    async def send(self, message: Outgoing) -> str:
        if message.invoice is not None:
            return await self._send_invoice(message, message.invoice)
        if message.image is not None and (photo := self._photo(message.image)) is not None:
            return await self._send_photo(message, photo)
        reply = None
        if message.reply_to is not None:
            reply = ReplyParameters(int(message.reply_to), allow_sending_without_reply=True)
        try:
            sent = await self.bot.send_message(
                chat_id=int(message.chat),
                text=message.text,
                reply_markup=markup(message.buttons),
                reply_parameters=reply,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )
        except TelegramError as exc:
            raise await self._translate(exc, message.chat) from exc
        return str(sent.message_id)

    def _photo(self, image: str, attach: bool = False) -> str | InputFile | None:
        """What sendPhoto takes: an https URL (Telegram fetches it) or, for a picture of the
        media folder, the file itself, uploaded as multipart/form-data (this server may be
        unreachable from Telegram). None: the file is gone, the board goes out as text.
        `attach`: inside an InputMedia, the file goes as `attach://<name>`."""
        if not is_media_name(image):
            return image
        path = self.media(image)
        return None if path is None else InputFile(path.read_bytes(), image, attach=attach)

    async def _send_photo(self, message: Outgoing, photo: str | InputFile) -> str:
        try:
            sent = await self.bot.send_photo(
                chat_id=int(message.chat),
                photo=photo,
                caption=caption(message.text),
                reply_markup=markup(message.buttons),
            )
        except TelegramError as exc:
            raise await self._translate(exc, message.chat) from exc
        return str(sent.message_id)

    async def _send_invoice(self, message: Outgoing, invoice: Invoice) -> str:
        if not self.provider_token:  # the token was removed since the invoice was queued
            raise Undeliverable("no TELEGRAM_PAYMENT_PROVIDER_TOKEN: invoice not sent")
        try:
            sent = await self.bot.send_invoice(
                chat_id=int(message.chat),
                title=invoice.title,
                description=invoice.description,
                payload=invoice.payload,
                currency=invoice.currency.upper(),
                prices=[LabeledPrice(label, amount) for label, amount in invoice.prices],
                provider_token=self.provider_token,
                need_shipping_address=invoice.need_shipping_address or None,
                need_name=invoice.need_shipping_address or None,
            )
        except TelegramError as exc:
            raise await self._translate(exc, message.chat) from exc
        return str(sent.message_id)

    async def edit(
        self, message: Outgoing, message_ref: str, shown_image: str | None = None
    ) -> None:
        """A text board's text is edited; a photo board's caption, or its media when the
        picture changed (editMessageMedia also turns a text board into a photo). A photo
        stays when the product lost its picture: a message's media cannot be removed."""
        chat, ref, buttons = int(message.chat), int(message_ref), markup(message.buttons)
        changed = message.image is not None and message.image != shown_image
        photo = self._photo(message.image, attach=True) if changed and message.image else None
        try:
            if photo is not None:
                await self.bot.edit_message_media(
                    chat_id=chat,
                    message_id=ref,
                    media=InputMediaPhoto(photo, caption=caption(message.text)),
                    reply_markup=buttons,
                )
            elif shown_image is not None:
                await self.bot.edit_message_caption(
                    chat_id=chat,
                    message_id=ref,
                    caption=caption(message.text),
                    reply_markup=buttons,
                )
            else:
                await self.bot.edit_message_text(
                    chat_id=chat,
                    message_id=ref,
                    text=message.text,
                    reply_markup=buttons,
                    link_preview_options=LinkPreviewOptions(is_disabled=True),
                )
        except BadRequest as exc:
            if "not modified" in exc.message.lower():
                return  # the board already says this: done
            if "no caption" in exc.message.lower():
                # A text board after all (its picture's file was gone when it was posted):
                # edited as text.
                await self.edit(message, message_ref, None)
                return
            raise await self._translate(exc, message.chat) from exc
        except TelegramError as exc:
            raise await self._translate(exc, message.chat) from exc

    def interval(self, chat: str) -> float:
        return GROUP_INTERVAL if chat.startswith("-") else PRIVATE_INTERVAL

    async def _translate(self, exc: TelegramError, chat: str) -> Exception:
        """The Bot API's error as the courier's: wait, retry, or give up on this chat."""
        if isinstance(exc, RetryAfter):
            seconds = retry_seconds(exc)
            return RetryLater(seconds, f"429: retry after {seconds:g}s")
        if isinstance(exc, ChatMigrated):  # 400 with parameters.migrate_to_chat_id
            return ChatMoved(str(exc.new_chat_id))
        if isinstance(exc, Forbidden):
            if not chat.startswith("-") and self.on_blocked:
                await self.on_blocked(chat)
            return Undeliverable(f"{type(exc).__name__}: {exc.message}")
        if isinstance(exc, BadRequest):  # chat not found, message to edit not found, ...
            return Undeliverable(f"BadRequest: {exc.message}")
        if isinstance(exc, NetworkError):  # includes TimedOut
            return RetryLater(0, f"{type(exc).__name__}: {exc.message}")
        return RetryLater(0, f"{type(exc).__name__}: {exc.message}")


def caption(text: str) -> str:
    """A photo's caption: Telegram refuses more than 1024 characters."""
    return text if len(text) <= MAX_CAPTION else text[: MAX_CAPTION - 1] + "…"


def markup(buttons: tuple[Button, ...]) -> InlineKeyboardMarkup | None:
    if not buttons:
        return None
    row = [
        InlineKeyboardButton(b.label, url=b.url)
        if b.url
        else InlineKeyboardButton(b.label, callback_data=b.action)
        for b in buttons
    ]
    return InlineKeyboardMarkup([row])
