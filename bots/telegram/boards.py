"""Boards: one message per drop (show, auction) and chat, edited in place as things change.

A drop's board names its last buyers (a tick once paid); it is redrawn from a fresh read of
the drop after each change, one refresher per drop, so the last board put is the latest."""

import asyncio
import contextlib
import contextvars
import logging
from collections import deque
from dataclasses import dataclass

from bots.pictures import described, show_picture
from bots.rendering import plus_five
from bots.telegram.core import PLATFORM, Core, chats
from bots.telegram.sender import MAX_CAPTION
from commerce.service_layer import chat, queries
from commerce.service_layer.outbox import Button, Outgoing
from commerce.service_layer.results import (
    AuctionEnded,
    AuctionUpdated,
    ClaimOutcome,
    DropView,
    OrderView,
    ShowView,
)
from commerce.service_layer.unit_of_work import after_commit

log = logging.getLogger(__name__)
BUYERS_SHOWN = 5


@dataclass
class BoardBuyer:
    identity: str
    name: str
    paid: bool = False


class Boards:
    def __init__(self, core: Core) -> None:
        self.core = core
        self.buyers: dict[int, deque[BoardBuyer]] = {}  # per drop: the last buyers
        self.board_chats: dict[int, set[str]] = {}  # per drop: chats showing its board
        self.dirty: set[int] = set()  # drops whose boards need a redraw
        self.refreshing: dict[int, asyncio.Task[None]] = {}

    async def for_outcome(self, outcome: chat.ChatOutcome) -> list[Outgoing]:
        """The board of a drop just opened; for any other change, a refresh is scheduled."""
        match outcome:
            case chat.Released(release=release):
                drop = await self.latest(release.order.drop_code)
                if drop is not None:
                    self.forget_buyer(drop.id, release.order.identity)
                    self.changed(drop)
            case chat.Claimed(result=result) if result.drop is not None:
                if result.outcome is ClaimOutcome.WON and result.order is not None:
                    self.note_buyer(result.drop, result.order)
                self.changed(result.drop)
            case chat.DropOpened(drop=drop):
                return self.drop_boards(drop)
            case chat.DropClosed(drop=drop):
                self.changed(drop)
            case chat.ShowChanged(show=show, action="info"):  # the others come as notices
                return self.show_boards(show)
        return []

    async def latest(self, code: str) -> DropView | None:
        """The latest drop with this code."""
        return await queries.latest_drop(self.core.bus().reads, code)

    def changed(self, drop: DropView) -> None:
        """Redraws the drop's boards from a fresh read of the drop, after the change that
        called this. Claims answered concurrently carry snapshots that may arrive out of
        order; one refresher per drop reads again while changes keep coming, so the last
        board put always shows the latest state."""
        if drop.id not in self.board_chats and not any(
            c.startswith(f"{PLATFORM}:") for c in drop.channels
        ):
            return
        self.dirty.add(drop.id)
        # Once the change is committed: a unit of work still open holds it, and a redraw
        # started now would read the drop as it was (on PostgreSQL) and stay so.
        after_commit(lambda: self._start_refresh(drop.id))

    def _start_refresh(self, drop_id: int) -> None:
        self.dirty.add(drop_id)
        if drop_id not in self.refreshing:
            # A context of its own: the redraw belongs to no update (see PROCESSING).
            self.refreshing[drop_id] = asyncio.create_task(
                self._refresh(drop_id), context=contextvars.Context()
            )

    async def _refresh(self, drop_id: int) -> None:
        try:
            while drop_id in self.dirty:
                self.dirty.discard(drop_id)
                drop = await queries.drop(self.core.bus().reads, drop_id)
                if drop is not None:
                    await self.core.put(self.drop_boards(drop))
        except Exception:
            log.exception("the board of drop %s could not be redrawn", drop_id)
        finally:
            del self.refreshing[drop_id]

    @property
    def idle(self) -> bool:
        return not self.refreshing

    async def close(self) -> None:
        for task in list(self.refreshing.values()):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def forget_buyer(self, drop_id: int, identity: str) -> None:
        buyers = self.buyers.get(drop_id, deque())
        for buyer in list(buyers):
            if buyer.identity == identity and not buyer.paid:
                buyers.remove(buyer)

    def note_buyer(self, drop: DropView, order: OrderView) -> None:
        buyers = self.buyers.setdefault(drop.id, deque(maxlen=BUYERS_SHOWN))
        name = self.core.names.get(order.identity, order.identity.partition(":")[2])
        buyers.append(BoardBuyer(order.identity, name))

    def paid(self, drop_id: int, identity: str) -> None:
        for buyer in self.buyers.get(drop_id, ()):
            if buyer.identity == identity:
                buyer.paid = True

    def drop_boards(self, drop: DropView) -> list[Outgoing]:
        """The drop's board in each Telegram chat that shows it."""
        shown = {
            c.removeprefix(f"{PLATFORM}:") for c in drop.channels if c.startswith("telegram:")
        }
        shown |= self.board_chats.get(drop.id, set())
        self.board_chats[drop.id] = shown
        text, buttons = self.board_text(drop)
        # A photo's caption when it has a picture: 1024 characters at most.
        text = described(text, drop.description, MAX_CAPTION if drop.image else None)
        board, image = f"drop:{drop.id}", drop.image
        return [
            Outgoing(PLATFORM, c, text, buttons, board=board, image=image) for c in sorted(shown)
        ]

    def board_text(self, drop: DropView) -> tuple[str, tuple[Button, ...]]:
        r = self.core.renderer(self.core.locale)
        lines = [f"{drop.name} · {drop.price}"]
        buttons: tuple[Button, ...] = ()
        # The countdown as of this edit: the outbox paces and coalesces a board's edits
        # (SqlOutbox.board_every), so it moves on when the board does, never on a timer.
        ends = r.drop_ends(drop, self.core.clock.now())
        if drop.status != "live":
            sold = drop.quantity - drop.remaining
            closed = r.t("drop_closed", code=drop.code, sold=sold, qty=drop.quantity)
            lines.append(f"{closed} · {ends}" if ends else closed)
        else:
            if drop.remaining > 0:
                line = r.t("board_left", left=drop.remaining, qty=drop.quantity)
            else:
                line = r.t("board_sold_out")
            if ends:
                line += " · " + ends
            lines.append(line)
            buttons = (Button(r.t("buy_button"), action=f"buy:{drop.code}"),)
        buyers = self.buyers.get(drop.id)
        if buyers:
            names = ", ".join(b.name + (" ✓" if b.paid else "") for b in buyers)
            lines.append(r.t("board_buyers", names=names))
        return "\n".join(lines), buttons

    def show_boards(self, show: ShowView) -> list[Outgoing]:
        """The show's board (live lot, next, totals) in each Telegram chat, edited in place."""
        text = self.core.renderer(self.core.locale).show_board(show)
        board, image = f"show:{show.id}", show_picture(show)
        where = chats(show.channels)
        return [Outgoing(PLATFORM, c, text, board=board, image=image) for c in where]

    def auction_boards(self, notice: AuctionUpdated | AuctionEnded) -> list[Outgoing]:
        """The auction's board in each Telegram chat it runs in: price, leader, time left
        and bids while it runs, the result once it ended; edited in place and coalesced."""
        r = self.core.renderer(self.core.locale)
        text = r.notice(notice, "").public
        auction = notice.auction
        buttons: tuple[Button, ...] = ()
        if isinstance(notice, AuctionUpdated) and auction.status == "live":
            # The smallest bid accepted now, and five steps' worth more (as on Whatnot).
            buttons = tuple(
                Button(r.t("bid_button", amount=amount), action=f"bid:{amount.decimal()}")
                for amount in (auction.minimum, plus_five(auction))
            )
        if not text:
            return []
        board, image = f"auction:{auction.id}", auction.image
        text = described(text, auction.description, MAX_CAPTION if image else None)
        where = chats(auction.channels)
        return [Outgoing(PLATFORM, c, text, buttons, board=board, image=image) for c in where]
