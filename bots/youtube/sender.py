"""YouTubeSender: the outbox's lines into the live chat (liveChatMessages.insert), errors in
the courier's terms. A live chat message cannot be edited, so a board's update is a new line;
the outbox merges the updates in between (one per BOARD_EVERY)."""

import logging

import aiohttp

from bots.youtube.api import MAX_TEXT, TokenRefused, YouTubeApi, YouTubeError
from bots.youtube.core import short_id
from commerce.service_layer.outbox import Outgoing, RetryLater, Undeliverable

log = logging.getLogger(__name__)
QUOTA_WAIT = 900.0  # seconds: the daily quota resets at midnight Pacific time


class YouTubeSender:
    platform = "youtube"

    def __init__(self, api: YouTubeApi, every: float = 1.0, quota_wait: float = QUOTA_WAIT):
        self.api, self.every, self.quota_wait = api, every, quota_wait

    def interval(self, chat: str) -> float:
        # Each line costs quota; a second apart keeps a busy drop's answers readable too.
        return self.every

    async def send(self, message: Outgoing) -> str:
        try:
            return short_id(await self.api.insert(message.chat, message.text[:MAX_TEXT]))
        except YouTubeError as exc:
            raise self._translated(exc, message.chat) from exc
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise RetryLater(0, f"YouTube unreachable: {type(exc).__name__}") from exc

    async def edit(
        self, message: Outgoing, message_ref: str, shown_image: str | None = None
    ) -> None:
        await self.send(message)  # no edits in a live chat: the board's new line (no pictures)

    def _translated(self, exc: YouTubeError, chat: str) -> Exception:
        if isinstance(exc, TokenRefused):  # the poller logs it; the lines wait for a fix
            return RetryLater(60, "YouTube refused the refresh token")
        if exc.quota:
            log.error("YouTube: the API quota is used up; the chat's lines wait (%s)", chat)
            return RetryLater(self.quota_wait, "YouTube quota exceeded")
        if exc.rate_limited:
            return RetryLater(5, "YouTube rate limit")
        if exc.transient:
            return RetryLater(0, f"YouTube {exc.status}")
        if exc.status in (401, 403) and not exc.chat_gone:
            log.error("YouTube refused the bot's line in %s (%s): check its rights", chat, exc)
        return Undeliverable(str(exc))
