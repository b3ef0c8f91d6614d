"""Reads the live chat: liveChatMessages.list, page after page, as often as YouTube says.

Each answer carries `nextPageToken` (where the next read starts) and `pollingIntervalMillis`
(how long to wait first). The messages are stored in the chat inbox before the token moves
on, and the token is kept in the database with the count of messages read, so a restarted (or
another) worker resumes where the last one stopped: a message read twice is the same inbox row
(its YouTube id), answered once. The first read of a chat, without a token, returns recent
history: that is the past, and is not answered.

Failures are logged once per kind until the chat reads again: quotaExceeded waits
`quota_backoff`, an ended or missing chat `chat_gone_backoff`, 5xx, timeouts and a refused
token back off up to `error_backoff`. Nothing here stops the application.
"""

import asyncio
import json
import logging
from typing import Any, Protocol

import aiohttp

from bots.youtube.api import TokenRefused, YouTubeApi, YouTubeError
from bots.youtube.core import Core, Options, message_text, short_id

log = logging.getLogger(__name__)
FIRST_BACKOFF = 1.0


class PageTokens(Protocol):
    """Where the reading of each live chat stands (kept in the database)."""

    async def load(self, live_chat_id: str) -> tuple[str | None, int]:
        """(the next page token, messages read so far); (None, 0) for a new chat."""
        ...

    async def save(self, live_chat_id: str, token: str | None, seq: int) -> None: ...

    async def ours(self, live_chat_id: str, text: str) -> bool:
        """Whether the bot posted this line (as the owner: its lines come back as theirs)."""
        ...


class Poller:
    def __init__(self, api: YouTubeApi, core: Core, pages: PageTokens, options: Options) -> None:
        self.api, self.core, self.pages, self.options = api, core, pages, options
        self.live_chat_id: str | None = options.live_chat_id or None
        self.failing: str | None = None  # the kind of failure already logged
        self.backoff = FIRST_BACKOFF
        self.reads = 0  # list calls made (tests and the quota arithmetic)

    async def run(self) -> None:
        while True:
            try:
                wait = await self.step()
            except Exception:  # the database, or a bug: reading goes on after a pause
                log.exception("YouTube: reading the live chat failed; trying again")
                wait = self._later()
            await asyncio.sleep(wait)

    async def step(self) -> float:
        """One read (or a failed try); returns the seconds to wait before the next."""
        try:
            chat_id = await self._chat()
            if chat_id is None:
                self._failed("no_chat", "the broadcast has no live chat (yet); looking again")
                return self.options.chat_gone_backoff
            wait = await self._read(chat_id)
        except YouTubeError as exc:
            return self._refused(exc)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            self._failed("network", f"YouTube cannot be reached ({type(exc).__name__}: {exc})")
            return self._later()
        if self.failing is not None:
            log.info("YouTube: reading the live chat again")
        self.failing, self.backoff = None, FIRST_BACKOFF
        return max(wait, self.options.min_poll)

    async def _chat(self) -> str | None:
        if self.live_chat_id is None and self.options.broadcast_id:
            self.live_chat_id = await self.api.broadcast_chat(self.options.broadcast_id)
            if self.live_chat_id:
                log.info(
                    "YouTube: broadcast %s has live chat %s",
                    self.options.broadcast_id,
                    self.live_chat_id,
                )
        return self.live_chat_id

    async def _read(self, chat_id: str) -> float:
        token, seq = await self.pages.load(chat_id)
        self.reads += 1
        page = await self.api.messages(chat_id, token)
        rows: list[tuple[str, int, str]] = []
        for number, item in enumerate(page.items, start=seq + 1):
            snippet = item.get("snippet") or {}
            if snippet.get("type") != "textMessageEvent" or await self._ours(chat_id, item):
                continue  # Super Chats, joins, deletions, and the bot's own lines
            rows.append((short_id(str(item["id"])), number, json.dumps(item)))
        if token is not None:  # a first read is history: the past is not answered
            await self.core.receive(chat_id, rows)
        # Stored first, then the token moves on: a crash in between reads the page again.
        await self.pages.save(chat_id, page.next_page_token, seq + len(page.items))
        if page.offline:
            log.info("YouTube: the stream of live chat %s is offline", chat_id)
        return page.polling_interval

    async def _ours(self, chat_id: str, item: dict[str, Any]) -> bool:
        """The bot posts as the channel, so its lines come back as the owner's: posted by
        this process (their ids), or before a restart (their texts in the outbox). A line
        such as "Type #buy TEE" must never be read as the owner's #buy."""
        if not (item.get("authorDetails") or {}).get("isChatOwner"):
            return False
        if item.get("id") in self.api.posted:
            return True
        return await self.pages.ours(chat_id, message_text(item))

    def _refused(self, exc: YouTubeError) -> float:
        if isinstance(exc, TokenRefused):
            self._failed(
                "token",
                f"Google refused YOUTUBE_REFRESH_TOKEN ({exc.status} {exc.reason}); check the"
                " OAuth client and the token (README, YouTube Live)",
            )
            return self._later()
        if exc.quota:
            self._failed(
                "quota",
                "the YouTube API quota is used up (quotaExceeded); reading again in"
                f" {self.options.quota_backoff:.0f}s (README: YouTube Live, quota)",
            )
            return self.options.quota_backoff
        if exc.chat_gone or exc.status == 403:
            self._failed("chat", f"the live chat cannot be read ({exc}); looking again later")
            if self.options.broadcast_id:
                self.live_chat_id = None  # the broadcast may have a new chat by then
            return self.options.chat_gone_backoff
        if exc.rate_limited:
            self._failed("rate", f"YouTube asks to read less often ({exc})")
            return self._later()
        self._failed(f"http{exc.status}", f"YouTube answered {exc}")
        return self._later()

    def _later(self) -> float:
        wait = self.backoff
        self.backoff = min(self.backoff * 2, self.options.error_backoff)
        return min(wait, self.options.error_backoff)

    def _failed(self, kind: str, message: str) -> None:
        """Logged once per kind of failure in a row, not on every retry."""
        if self.failing != kind:
            log.error("YouTube: %s", message)
            self.failing = kind
