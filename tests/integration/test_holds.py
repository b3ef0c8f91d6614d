"""Holds end (expired, passed, cancelled), give their units back once, and promote the waitlist."""

import asyncio
from datetime import timedelta

import pytest

from commerce.domain import commands as c
from commerce.domain.errors import InvalidInput, NotAllowed, NotFound
from commerce.domain.orders import OrderStatus
from commerce.service_layer.messagebus import MessageBus
from commerce.service_layer.results import (
    ClaimOutcome,
    DropEnded,
    DropStarted,
    HoldExpired,
    PromotedFromWaitlist,
    WaitlistClosed,
)
from tests.fakes import FakeClock, FakeNotifier
from tests.integration.helpers import add_product, buy, start_drop


async def test_expired_hold_goes_to_the_first_in_the_waitlist(
    bus: MessageBus, clock: FakeClock, notifier: FakeNotifier
) -> None:
    await add_product(bus)
    await start_drop(bus, quantity=1, hold=timedelta(minutes=5))
    anna = await buy(bus, "web:anna")
    await buy(bus, "web:ben")
    await buy(bus, "web:cleo")
    clock.advance(minutes=4)
    assert await bus.handle(c.ExpireHolds()) == []
    clock.advance(minutes=1)
    [release] = await bus.handle(c.ExpireHolds())
    assert anna.order is not None and release.order.ref == anna.order.ref
    assert release.order.status is OrderStatus.EXPIRED
    [promoted] = release.promoted
    assert promoted.order is not None and promoted.order.identity == "web:ben"
    assert promoted.order.hold_expires_at == clock.now() + timedelta(minutes=5)
    kinds = [type(n) for n in notifier.notices]
    assert kinds == [DropStarted, HoldExpired, PromotedFromWaitlist]
    drop = (await bus.deps.store.drops())[0]
    assert (drop.remaining, drop.waitlist) == (0, 1)
    assert (await bus.deps.store.product("TEE")).stock == 9


async def test_pass_releases_the_buyers_hold(bus: MessageBus, notifier: FakeNotifier) -> None:
    await add_product(bus)
    await start_drop(bus, quantity=1)
    await buy(bus, "web:anna")
    await buy(bus, "web:ben")
    release = await bus.handle(c.PassHold("web:anna", "web:demo"))
    assert release.order.status is OrderStatus.CANCELLED
    assert [p.order.identity for p in release.promoted if p.order] == ["web:ben"]
    with pytest.raises(NotFound):
        await bus.handle(c.PassHold("web:anna", "web:demo"))
    with pytest.raises(NotFound):
        await bus.handle(c.PassHold("web:stranger", "web:demo"))


async def test_cancel_by_reference_only_for_the_owner(bus: MessageBus) -> None:
    await add_product(bus)
    await start_drop(bus, quantity=2)
    won = await buy(bus, "web:anna")
    assert won.order is not None
    with pytest.raises(NotAllowed):
        await bus.handle(c.CancelOrder("web:ben", won.order.ref))
    release = await bus.handle(c.CancelOrder("web:anna", won.order.ref.lower()))
    assert release.order.status is OrderStatus.CANCELLED
    with pytest.raises(InvalidInput, match="cancelled"):
        await bus.handle(c.CancelOrder("web:anna", won.order.ref))
    with pytest.raises(NotFound):
        await bus.handle(c.CancelOrder("web:anna"))  # nothing unpaid left
    with pytest.raises(NotFound):
        await bus.handle(c.CancelOrder(None, "NOSUCHREF"))


async def test_cancel_latest_and_operator_cancel(bus: MessageBus) -> None:
    await add_product(bus)
    await start_drop(bus, quantity=3)
    await buy(bus, "web:anna")
    latest = await buy(bus, "web:anna")
    release = await bus.handle(c.CancelOrder("web:anna"))
    assert latest.order is not None and release.order.ref == latest.order.ref
    other = await buy(bus, "web:ben")
    assert other.order is not None
    by_operator = await bus.handle(c.CancelOrder(None, other.order.ref, cause="operator:cli"))
    assert by_operator.order.status is OrderStatus.CANCELLED
    history = await bus.deps.store.history(other.order.ref)
    assert [(e.from_status, e.to_status) for e in history] == [
        (None, "reserved"),
        ("reserved", "cancelled"),
    ]
    assert history[0].cause.startswith("claim:web:demo:")
    assert history[1].cause == "operator:cli"


async def test_a_hold_released_twice_at_once_gives_its_units_back_once(
    bus: MessageBus, clock: FakeClock
) -> None:
    await add_product(bus)
    await start_drop(bus, quantity=1, hold=timedelta(minutes=1))
    won = await buy(bus, "web:anna")
    assert won.order is not None
    clock.advance(minutes=2)
    outcomes = await asyncio.gather(
        bus.handle(c.ExpireHolds()),
        bus.handle(c.CancelOrder("web:anna", won.order.ref)),
        bus.handle(c.ExpireHolds()),
        return_exceptions=True,
    )
    releases = [o for o in outcomes if not isinstance(o, BaseException)]
    assert sum(len(r) if isinstance(r, list) else 1 for r in releases) == 1
    drop = (await bus.deps.store.drops())[0]
    assert drop.remaining == 1
    assert (await bus.deps.store.product("TEE")).stock == 10
    assert len(await bus.deps.store.history(won.order.ref)) == 2


async def test_released_units_count_again_for_the_buyer_limit(bus: MessageBus) -> None:
    await add_product(bus)
    await start_drop(bus, quantity=5, limit=1)
    await buy(bus, "web:anna")
    await bus.handle(c.PassHold("web:anna", "web:demo"))
    assert (await buy(bus, "web:anna")).outcome is ClaimOutcome.WON


async def test_waitlisted_buyer_over_the_limit_is_skipped(bus: MessageBus) -> None:
    await add_product(bus)
    await start_drop(bus, quantity=1, limit=1)
    await buy(bus, "web:anna")
    await buy(bus, "web:ben")  # waitlisted
    await bus.deps.store.link("web:ben2", "web:ben")  # type: ignore[attr-defined]
    await buy(bus, "web:cleo")  # waitlisted after ben
    # ben's other identity frees nothing, but anna passing offers the unit to ben first.
    release = await bus.handle(c.PassHold("web:anna", "web:demo"))
    assert [p.order.identity for p in release.promoted if p.order] == ["web:ben"]


async def test_ending_a_drop_lets_the_waitlist_go(bus: MessageBus, notifier: FakeNotifier) -> None:
    await add_product(bus)
    await start_drop(bus, quantity=1)
    held = await buy(bus, "web:anna")
    await buy(bus, "web:ben")
    drop = await bus.handle(c.EndDrop("TEE"))
    assert drop.status == "ended" and drop.waitlist == 0
    closed = notifier.of(WaitlistClosed)
    assert [(n.identity, n.chat) for n in closed] == [("web:ben", "web:demo")]  # type: ignore[union-attr]
    assert len(notifier.of(DropEnded)) == 1
    # The hold survives the end of the drop and can still be paid; releasing it promotes nobody.
    assert held.order is not None
    release = await bus.handle(c.CancelOrder("web:anna", held.order.ref))
    assert release.promoted == ()
    assert (await bus.deps.store.product("TEE")).stock == 10
