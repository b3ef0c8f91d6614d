"""TwitchSender: the outbox's lines into a channel's chat (Helix POST /chat/messages), within
Twitch's limits, errors in the courier's terms.

- Pace: a bot that is neither the broadcaster nor a moderator may send 20 messages per 30 s
  in a channel. The courier sends one chat's lines one after the other and waits `interval`
  after each answer, so lines reach Twitch at least 30 s / 20 apart and never more than 20
  fall in any 30 s.
- Duplicates: Twitch drops a message identical to the bot's previous one in that channel
  within 30 s (drop_reason msg_duplicate). A board line that says the same again is skipped
  (nothing new to say); another repeated line (a second "@anna: sold out") gets an invisible
  tag character (U+E0000) appended, as Twitch chat clients do, so it is not the same text.
- A chat message cannot be edited: a board's update is a new line (the outbox merges the
  updates in between, one per BOARD_EVERY).
"""

import logging
import time

import aiohttp

from bots.twitch.api import MAX_TEXT, Helix, TokenRefused, TwitchError
from commerce.service_layer.outbox import Outgoing, RetryLater, Undeliverable

log = logging.getLogger(__name__)
WINDOW = 30.0  # seconds over which Twitch counts a channel's messages
DUPLICATE_WINDOW = 30.0  # seconds in which a repeated text is dropped as msg_duplicate
DIFFERENT = " \U000e0000"  # makes a repeated line differ from the previous one


class TwitchSender:
    platform = "twitch"

    def __init__(self, helix: Helix, per_window: int = 20, window: float = WINDOW) -> None:
        self.helix = helix
        # A hair above window/limit: the clock's rounding never packs one line too many.
        self.gap = window / per_window * 1.01
        self.previous: dict[str, tuple[str, float]] = {}  # per channel: (text, when) last sent

    def interval(self, chat: str) -> float:
        return self.gap

    async def send(self, message: Outgoing) -> str:
        text = message.text[:MAX_TEXT]
        last, at = self.previous.get(message.chat, ("", 0.0))
        if last.removesuffix(DIFFERENT) == text and time.monotonic() - at < DUPLICATE_WINDOW:
            if message.board is not None:
                return "same"  # the board says what the chat saw last: nothing to send
            text = text[: MAX_TEXT - len(DIFFERENT)] + ("" if last != text else DIFFERENT)
        try:
            sent = await self.helix.send_chat(message.chat, text)
        except TokenRefused as exc:
            log.error("Twitch refused TWITCH_BOT_REFRESH_TOKEN (%s); the lines wait", exc.status)
            raise RetryLater(60, "Twitch refused the bot's token") from exc
        except TwitchError as exc:
            raise self._translated(exc, message.chat) from exc
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise RetryLater(0, f"Twitch unreachable: {type(exc).__name__}") from exc
        if not sent.is_sent:
            if sent.drop_code == "msg_duplicate":  # the next try differs from this one
                self.previous[message.chat] = (text, time.monotonic())
                raise RetryLater(0, "Twitch: duplicate message")
            log.warning(
                "Twitch did not send a line in %s: %s %s",
                message.chat,
                sent.drop_code,
                sent.drop_message,
            )
            raise Undeliverable(f"dropped: {sent.drop_code} {sent.drop_message}".strip())
        self.previous[message.chat] = (text, time.monotonic())
        return sent.message_id

    async def edit(
        self, message: Outgoing, message_ref: str, shown_image: str | None = None
    ) -> None:
        await self.send(message)  # no edits in a Twitch chat: the board's new line

    def _translated(self, exc: TwitchError, chat: str) -> Exception:
        if exc.status == 429:
            return RetryLater(exc.retry_after or 5, "Twitch rate limit")
        if exc.transient:
            return RetryLater(0, f"Twitch {exc.status}")
        if exc.status in (401, 403):
            log.error("Twitch refused the bot's line in %s (%s): check its rights", chat, exc)
        return Undeliverable(str(exc))
