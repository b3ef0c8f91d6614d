"""Giveaways and polls: the chat's engagement between sales.

A giveaway gives one unit of a product to an entrant drawn when its time is up. The draw is
verifiable: the start notice carries the commitment (SHA-256 of a secret seed), the draw
publishes the seed, and anyone can recompute the winner from the public entry list with
`commerce.domain.giveaways.draw`. The winner's order costs nothing and is paid at once, or
costs the shop's shipping (LIVEBUY_GIVEAWAY_SHIPPING), paid with a checkout link.

A poll asks a question with 2 to 6 options; each person (linked identities count as one)
votes once, and the board shows the counts live.
"""

from dataclasses import replace

from commerce.domain import commands as c
from commerce.domain.errors import InvalidInput, NotAllowed
from commerce.domain.giveaways import (
    DEFAULT_DURATION,
    MAX_DURATION,
    new_seed,
    public_name,
)
from commerce.domain.identity import ChatRef, Identity
from commerce.domain.polls import check_poll
from commerce.domain.products import normalise_sku
from commerce.service_layer.checkout import by_invoice, link_if_paying
from commerce.service_layer.deps import Deps, repos
from commerce.service_layer.ports import GiveawayStore
from commerce.service_layer.results import (
    EntryResult,
    GiveawayDraw,
    GiveawayDrawn,
    GiveawayRecord,
    GiveawayStarted,
    GiveawayUpdated,
    GiveawayView,
    PollClosed,
    PollUpdated,
    PollView,
    VoteResult,
)
from commerce.service_layer.settlement import settle_payment

GIVEAWAY_PAYMENT = "giveaway"  # the payment_ref of a winner's order: nothing was charged


def giveaway_store(deps: Deps) -> GiveawayStore:
    """The giveaways and polls repository (`repos`: the unit of work's inside one, else the
    shop's own)."""
    if deps.giveaways is None:
        raise NotAllowed("giveaways and polls are not configured")
    return repos(deps).giveaways


def _channels(channels: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(sorted({str(ChatRef.parse(ch)) for ch in channels}))


async def start_giveaway(cmd: c.StartGiveaway, deps: Deps) -> GiveawayView:
    """Starts a giveaway in `cmd.channels`; its board (with the commitment) goes out."""
    store = giveaway_store(deps)
    duration = cmd.duration or DEFAULT_DURATION
    if not duration.total_seconds() > 0 or duration > MAX_DURATION:
        raise InvalidInput("a giveaway runs for up to a day")
    now = deps.clock.now()
    seed = new_seed()
    view = await store.start_giveaway(
        normalise_sku(cmd.sku),
        _channels(cmd.channels),
        cmd.actor,
        cmd.show_id,
        seed,
        now + duration,
        now,
    )
    view = _with_record(view, deps)
    await deps.notifier.notify(GiveawayStarted(view))
    return view


async def enter_giveaway(cmd: c.EnterGiveaway, deps: Deps) -> EntryResult | None:
    """One entry per person; a second `#enter` gets the first entry's number back. None
    when no giveaway takes entries in this chat."""
    store = giveaway_store(deps)
    identity, chat = str(Identity.parse(cmd.identity)), str(ChatRef.parse(cmd.chat))
    name = public_name(cmd.display_name)
    now = deps.clock.now()
    entry = await store.enter(chat, identity, cmd.display_name, name, cmd.giveaway_id, now)
    if entry is not None and not entry.already:
        await deps.notifier.notify(GiveawayUpdated(entry.giveaway))
    return entry


async def draw_due_giveaways(cmd: c.DrawDueGiveaways, deps: Deps) -> list[GiveawayDraw]:
    """The sweeper's pass: due giveaways drawn, the seed published, the winner's order of 0
    paid at once (and any such order a crash left unpaid), or the shipping's link sent."""
    if deps.giveaways is None:
        return []
    store = giveaway_store(deps)
    draws = await store.draw_due(deps.clock.now(), deps.giveaway_shipping)
    for drawn in draws:
        order = drawn.order
        if order is not None and order.amount.minor > 0 and not by_invoice(order, deps):
            order = await link_if_paying(order, deps)  # the shipping: a link to pay it
        notice = GiveawayDrawn(
            _with_record(drawn.giveaway, deps),
            drawn.winner_identity,
            drawn.winner_chat,
            order,
        )
        await deps.notifier.notify(notice)
    for giveaway_id, ref in await store.unsettled():
        # The draw's notice tells the winner (answered): not a second "it's yours".
        settle = c.SettlePayment(ref, GIVEAWAY_PAYMENT, f"giveaway:{giveaway_id}", answered=True)
        await settle_payment(settle, deps)
    return draws


async def giveaway_record(giveaway_id: int, deps: Deps) -> GiveawayRecord:
    """The public record of a giveaway: item, commitment, entries, and once drawn the seed."""
    return await giveaway_store(deps).giveaway(giveaway_id)


async def start_poll(cmd: c.StartPoll, deps: Deps) -> PollView:
    """A new poll in `cmd.channels`; a poll live in one of them closes first."""
    store = giveaway_store(deps)
    question, options = check_poll(cmd.question, cmd.options)
    now = deps.clock.now()
    poll, closed = await store.start_poll(
        question, options, _channels(cmd.channels), cmd.actor, cmd.show_id, now
    )
    for old in closed:
        await deps.notifier.notify(PollClosed(old))
    await deps.notifier.notify(PollUpdated(poll))
    return poll


async def cast_vote(cmd: c.CastVote, deps: Deps) -> VoteResult | None:
    """One vote per person (the first counts). None when no poll is live in the chat or it
    has no such option: `#7` is ordinary chat then."""
    store = giveaway_store(deps)
    identity, chat = str(Identity.parse(cmd.identity)), str(ChatRef.parse(cmd.chat))
    result = await store.vote(chat, identity, cmd.option, cmd.poll_id, deps.clock.now())
    if result is not None and not result.already:
        await deps.notifier.notify(PollUpdated(result.poll))
    return result


async def end_poll(cmd: c.EndPoll, deps: Deps) -> PollView:
    """Closes the poll live in the chat (or `cmd.poll_id`): the final counts go out."""
    store = giveaway_store(deps)
    chat = str(ChatRef.parse(cmd.chat)) if cmd.chat else None
    poll = await store.end_poll(chat, cmd.poll_id, deps.clock.now())
    await deps.notifier.notify(PollClosed(poll))
    return poll


def _with_record(giveaway: GiveawayView, deps: Deps) -> GiveawayView:
    """The public record's address, for chats that cannot link it themselves."""
    if not deps.public_url:
        return giveaway
    return replace(giveaway, record_url=f"{deps.public_url}/giveaways/{giveaway.id}")
