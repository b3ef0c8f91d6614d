"""Shows: prepare a run sheet, announce it, then put one lot after the other live.

A lot going live becomes what the shop already knows how to sell: an auction, a drop, or a
giveaway, in every chat of the show. The show only remembers which lot is live and what
comes next; the boards of its chats show that with the show's totals.
"""

import contextlib
from datetime import timedelta

from commerce.domain import commands as c
from commerce.domain.drops import DropPolicy, DropTerms
from commerce.domain.errors import InvalidInput, NotAllowed, NotFound
from commerce.domain.identity import ChatRef
from commerce.domain.money import Money
from commerce.domain.shipping import ShippingPolicy
from commerce.domain.shows import (
    MAX_LOTS,
    PDD_START,
    LotMode,
    LotSpec,
    LotStatus,
    ShowStatus,
    show_code,
)
from commerce.service_layer import auctions, giveaways, handlers
from commerce.service_layer.deps import Deps, repos
from commerce.service_layer.ports import ShowStore
from commerce.service_layer.results import LotView, ShowAnnounced, ShowUpdated, ShowView

MAX_TITLE = 120
JUST_STARTED = timedelta(seconds=3)


def show_store(deps: Deps) -> ShowStore:
    """The shows repository (`repos`: the unit of work's inside one, else the shop's own)."""
    if deps.shows is None:
        raise NotAllowed("shows are not available here")
    return repos(deps).shows


async def create_show(cmd: c.CreateShow, deps: Deps) -> ShowView:
    shows = show_store(deps)
    title = " ".join(cmd.title.split())
    if not 1 <= len(title) <= MAX_TITLE:
        raise InvalidInput(f"a show needs a title of at most {MAX_TITLE} characters")
    if not cmd.channels:
        raise InvalidInput("name the chats the show runs in, e.g. telegram:-100123,web:live")
    channels = tuple(str(ChatRef.parse(ch)) for ch in cmd.channels)
    now = deps.clock.now()
    if cmd.starts_at < now - timedelta(minutes=1):
        raise InvalidInput("the show's start is in the past")
    # Every lot is checked (its product, its price) before anything is written.
    priced = [(spec, await _lot_price(spec, deps)) for spec in cmd.lots]
    code = show_code(cmd.code or title)
    policy = (cmd.shipping or ShippingPolicy()).stored()
    show = await shows.create_show(title, code, cmd.starts_at, channels, cmd.actor, now, policy)
    for spec, price in priced:
        show = await shows.add_lot(show.code, spec, price)
    await deps.notifier.notify(ShowAnnounced(show))
    return show


async def add_lot(cmd: c.AddLot, deps: Deps) -> ShowView:
    """A lot at the end of the run sheet."""
    return await show_store(deps).add_lot(cmd.show, cmd.spec, await _lot_price(cmd.spec, deps))


async def add_lots(cmd: c.AddLots, deps: Deps) -> ShowView:
    """Lots of a CSV run sheet: all checked before the first is added."""
    shows = show_store(deps)
    show = await shows.show(cmd.show)
    if len(show.lots) + len(cmd.specs) > MAX_LOTS:
        raise InvalidInput(f"a show has at most {MAX_LOTS} lots")
    priced = [(spec, await _lot_price(spec, deps)) for spec in cmd.specs]
    for spec, price in priced:
        show = await shows.add_lot(show.code, spec, price)
    return show


async def _lot_price(spec: LotSpec, deps: Deps) -> int | None:
    """The lot's price in minor units of its product's currency (auction: the start)."""
    product = await repos(deps).products.product(spec.sku)
    currency = product.price.currency
    if spec.mode is LotMode.FIXED:
        price = product.price if spec.price is None else Money.parse(spec.price, currency)
        if price.minor <= 0:
            raise InvalidInput(f"{spec.sku}: a fixed-price lot needs a price above zero")
        return price.minor
    if spec.mode is LotMode.AUCTION:
        return Money.parse(PDD_START if spec.price is None else spec.price, currency).minor
    return None  # a giveaway is free


async def next_lot(cmd: c.NextLot, deps: Deps) -> ShowView:
    """`/next`: the show opens if it has not, and the next lot goes live in its chats."""
    shows = show_store(deps)
    show = await _running(cmd.show, cmd.chat, deps)
    now = deps.clock.now()
    current = show.current
    if current is not None:
        if current.running and current.mode != LotMode.FIXED:
            raise InvalidInput(
                f"lot {current.position} ({current.sku}) is still live: wait for it, or /end it"
            )
        if current.started_at is not None and now - current.started_at < JUST_STARTED:
            # Two /next typed at once (or one sent twice) move the show on once.
            raise InvalidInput(f"lot {current.position} ({current.sku}) has just gone live")
    # The compare-and-set: only one /next takes the stage from this lot.
    lot = await shows.take_next(show.id, current.position if current else None, now)
    if current is not None:
        await _end_sale(current, cmd.actor, deps)
    try:
        ref = await _go_live(lot, show, cmd.actor, deps)
    except Exception:
        await shows.lot_not_started(show.id, lot.position, now)
        raise
    show = await shows.lot_started(show.id, lot.position, ref, now)
    await deps.notifier.notify(ShowUpdated(show))
    return show


async def _go_live(lot: LotView, show: ShowView, actor: str, deps: Deps) -> tuple[str, int]:
    duration = timedelta(seconds=lot.duration_seconds) if lot.duration_seconds else None
    if lot.mode == LotMode.AUCTION:
        assert lot.price is not None  # set when the lot was added
        start = lot.price.decimal()
        auction = await auctions.start_auction(
            c.StartAuction(
                sku=lot.sku,
                start=start,
                duration=duration,
                close=lot.close,
                channels=show.channels,
                actor=actor,
            ),
            deps,
        )
        return "auction", auction.id
    if lot.mode == LotMode.FIXED:
        assert lot.price is not None
        terms = DropTerms(
            sku=lot.sku,
            quantity=lot.quantity,
            price=lot.price,
            duration=duration,
            per_buyer_limit=None,
            policy=DropPolicy.HOLD,
            hold=deps.hold,
        )
        drop = await handlers.start_drop(c.StartDrop(terms, show.channels, actor=actor), deps)
        return "drop", drop.id
    giveaway = await giveaways.start_giveaway(
        c.StartGiveaway(lot.sku, duration, show.channels, actor, show.id), deps
    )
    return "giveaway", giveaway.id


async def _end_sale(lot: LotView, actor: str, deps: Deps) -> None:
    """A fixed-price lot's drop ends when the show moves on, sold out or not (its waitlist
    is told), so nothing of it sells after its turn."""
    if lot.mode != LotMode.FIXED or lot.drop_id is None:
        return
    with contextlib.suppress(NotFound):  # ended already (its time ran out, or /end)
        await handlers.end_drop(c.EndDrop(lot.sku, actor=actor), deps)


async def pause_show(cmd: c.PauseShow, deps: Deps) -> ShowView:
    """`/pause`: a break; the live lot runs out, /next carries on."""
    show = await _running(cmd.show, cmd.chat, deps)
    if show.status != ShowStatus.LIVE:
        raise InvalidInput(f"show {show.code} is {show.status}")
    show = await show_store(deps).set_status(show.id, ShowStatus.PAUSED, deps.clock.now())
    await deps.notifier.notify(ShowUpdated(show))
    return show


async def skip_lot(cmd: c.SkipLot, deps: Deps) -> ShowView:
    """`/skip`: the next lot is left out (it stays on the run sheet, marked skipped)."""
    shows = show_store(deps)
    show = await _running(cmd.show, cmd.chat, deps)
    lot = show.next
    if lot is None:
        raise NotFound("no lot left to skip")
    show = await shows.lot_ended(show.id, lot.position, LotStatus.SKIPPED, deps.clock.now())
    await deps.notifier.notify(ShowUpdated(show))
    return show


async def end_show(cmd: c.EndShow, deps: Deps) -> ShowView:
    """`/show end`: the live lot closes as /end would (an auction's highest bid wins)."""
    shows = show_store(deps)
    show = await _running(cmd.show, cmd.chat, deps)
    now = deps.clock.now()
    current = show.current
    if current is not None:
        if current.running and current.mode == LotMode.AUCTION:
            await auctions.end_auction(c.EndAuction(current.sku, actor=cmd.actor), deps)
        await _end_sale(current, cmd.actor, deps)
        await shows.lot_ended(show.id, current.position, LotStatus.DONE, now)
    show = await shows.set_status(show.id, ShowStatus.ENDED, now)
    await deps.notifier.notify(ShowUpdated(show))
    return show


async def tick_shows(cmd: c.TickShows, deps: Deps) -> None:
    """The sweeper's pass: a reminder shortly before, and the show opens at its start."""
    if deps.shows is None:
        return
    shows, now = show_store(deps), deps.clock.now()
    remind, opening = await shows.due(now)
    for show in remind:
        if await shows.reminded(show.id, now):
            minutes = max(1, round((show.starts_at - now).total_seconds() / 60))
            await deps.notifier.notify(ShowAnnounced(show, minutes))
    for show in opening:
        opened = await shows.open_due(show.id, now)
        if opened is not None:
            await deps.notifier.notify(ShowUpdated(opened))


async def _running(code: str | None, chat: str | None, deps: Deps) -> ShowView:
    shows = show_store(deps)
    show = await shows.show(code) if code else None
    if show is None and chat is not None:
        show = await shows.show_in_chat(chat)
    if show is None:
        raise NotFound("no show here; sellers create one with `livebuy show create`")
    if show.status == ShowStatus.ENDED:
        raise InvalidInput(f"show {show.code} has ended")
    return show
