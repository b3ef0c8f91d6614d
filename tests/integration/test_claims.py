"""Claims on SQLite and PostgreSQL: what a #buy wins, in arrival order, never oversold."""

import asyncio
from datetime import timedelta

import pytest

from commerce.domain import commands as c
from commerce.domain.errors import InvalidInput, NotFound
from commerce.domain.money import Money
from commerce.domain.orders import OrderStatus
from commerce.service_layer.messagebus import MessageBus
from commerce.service_layer.results import ClaimOutcome, RefusalReason
from tests.fakes import FakeClock
from tests.integration.helpers import add_product, buy, start_drop

WON, WAITLISTED, REFUSED = ClaimOutcome.WON, ClaimOutcome.WAITLISTED, ClaimOutcome.REFUSED


async def test_claim_wins_an_order_at_the_drop_price(bus: MessageBus, clock: FakeClock) -> None:
    await add_product(bus, stock=10)
    await start_drop(bus, quantity=3, price=1999, hold=timedelta(minutes=7))
    result = await buy(bus, "telegram:1", quantity=2)
    assert result.outcome is WON
    assert result.order is not None
    assert result.order.amount.minor == 2 * 1999  # from the drop, never from the message
    assert result.order.status is OrderStatus.RESERVED
    assert result.order.hold_expires_at == clock.now() + timedelta(minutes=7)
    assert result.drop is not None and result.drop.remaining == 1
    product = await bus.deps.store.product("TEE")
    assert product.stock == 8


async def test_sold_out_claims_join_the_waitlist_in_order(bus: MessageBus) -> None:
    await add_product(bus)
    await start_drop(bus, quantity=1)
    results = [await buy(bus, f"web:u{i}") for i in range(4)]
    assert [r.outcome for r in results] == [WON, WAITLISTED, WAITLISTED, WAITLISTED]
    assert [r.position for r in results[1:]] == [1, 2, 3]
    again = await buy(bus, "web:u2")
    assert again.outcome is REFUSED
    assert again.reason is RefusalReason.ALREADY_WAITLISTED and again.position == 2


async def test_asking_for_more_than_is_left_says_how_many_are_left(bus: MessageBus) -> None:
    await add_product(bus)
    await start_drop(bus, quantity=3)
    await buy(bus, "web:a", quantity=2)
    result = await buy(bus, "web:b", quantity=2)
    assert (result.outcome, result.reason, result.remaining) == (
        REFUSED,
        RefusalReason.NOT_ENOUGH_LEFT,
        1,
    )


async def test_per_buyer_limit(bus: MessageBus) -> None:
    await add_product(bus)
    await start_drop(bus, quantity=5, limit=2)
    assert (await buy(bus, "web:a")).outcome is WON
    assert (await buy(bus, "web:a")).outcome is WON
    third = await buy(bus, "web:a")
    assert (third.outcome, third.reason) == (REFUSED, RefusalReason.LIMIT_REACHED)
    too_many = await buy(bus, "web:b", quantity=3)
    assert (too_many.outcome, too_many.reason) == (REFUSED, RefusalReason.LIMIT_REACHED)
    drop = (await bus.deps.store.drops())[0]
    assert drop.remaining == 3


async def test_limit_holds_across_linked_identities(bus: MessageBus) -> None:
    await add_product(bus)
    await start_drop(bus, quantity=5, limit=1, channels=())
    assert (await buy(bus, "telegram:7", chat="telegram:-100")).outcome is WON
    await bus.deps.store.link("discord:7", "telegram:7")  # type: ignore[attr-defined]
    second = await buy(bus, "discord:7", chat="discord:55")
    assert (second.outcome, second.reason) == (REFUSED, RefusalReason.LIMIT_REACHED)


async def test_same_message_twice_makes_one_claim(bus: MessageBus) -> None:
    await add_product(bus)
    await start_drop(bus, quantity=5)
    first = await buy(bus, "web:a", key="web:demo:msg-42")
    second = await buy(bus, "web:a", key="web:demo:msg-42")
    assert first.outcome is WON and second.outcome is WON
    assert second.duplicate and not first.duplicate
    assert first.order is not None and second.order is not None
    assert second.order.ref == first.order.ref
    assert len(await bus.handle(c.ListOrders())) == 1


async def test_concurrent_redelivery_of_one_message_claims_once(bus: MessageBus) -> None:
    await add_product(bus)
    await start_drop(bus, quantity=5)
    results = await asyncio.gather(*(buy(bus, "web:a", key="web:demo:m1") for _ in range(10)))
    refs = {r.order.ref for r in results if r.order}
    assert len(refs) == 1
    assert sum(not r.duplicate for r in results) == 1
    assert (await bus.deps.store.drops())[0].remaining == 4


async def test_variants(bus: MessageBus) -> None:
    await add_product(bus, stock=1, variants=("S", "M", "L"))
    await start_drop(bus, quantity=3)
    needs = await buy(bus, "web:a")
    assert (needs.reason, needs.variants) == (RefusalReason.VARIANT_REQUIRED, ("S", "M", "L"))
    unknown = await buy(bus, "web:a", variant=("XXL",))
    assert unknown.reason is RefusalReason.UNKNOWN_VARIANT
    won = await buy(bus, "web:a", variant=("size:m",))
    assert won.outcome is WON and won.order is not None and won.order.variant == "M"
    gone = await buy(bus, "web:b", variant=("M",))
    assert (gone.outcome, gone.reason) == (REFUSED, RefusalReason.VARIANT_SOLD_OUT)
    drop = (await bus.deps.store.drops())[0]
    assert drop.remaining == 2  # the refused variant claim gave its drop unit back
    assert {v.label: v.stock for v in (await bus.deps.store.product("TEE")).variants} == {
        "S": 1,
        "M": 0,
        "L": 1,
    }


async def test_drops_are_found_by_chat_and_code(bus: MessageBus) -> None:
    await add_product(bus, "TEE")
    await add_product(bus, "CAP")
    await start_drop(bus, "TEE", channels=("telegram:-1",))
    await start_drop(bus, "CAP", channels=())  # live everywhere
    here = await buy(bus, chat="telegram:-1")
    assert here.drop is not None and here.drop.code == "CAP"  # the newest drop in this chat
    by_code = await buy(bus, chat="telegram:-1", code="tee")
    assert by_code.drop is not None and by_code.drop.code == "TEE"
    elsewhere = await buy(bus, chat="discord:9", code="TEE")  # TEE is not live there, CAP is
    assert (elsewhere.outcome, elsewhere.reason) == (REFUSED, RefusalReason.UNKNOWN_CODE)
    assert elsewhere.live == ("CAP",)
    await bus.handle(c.EndDrop("CAP"))
    nothing = await buy(bus, chat="discord:9", code="TEE")  # nothing live there at all
    assert (nothing.outcome, nothing.reason) == (REFUSED, RefusalReason.NO_LIVE_DROP)


async def test_no_drop_and_ended_drops_are_refused(bus: MessageBus, clock: FakeClock) -> None:
    none = await buy(bus)
    assert (none.outcome, none.reason) == (REFUSED, RefusalReason.NO_LIVE_DROP)
    await add_product(bus)
    await start_drop(bus, duration=timedelta(minutes=1))
    clock.advance(minutes=2)
    late = await buy(bus)
    assert (late.outcome, late.reason) == (REFUSED, RefusalReason.DROP_ENDED)
    await bus.handle(c.ExpireHolds())  # the sweeper ends the drop for good
    assert (await bus.deps.store.drops())[0].status == "ended"
    assert (await buy(bus)).reason is RefusalReason.NO_LIVE_DROP


async def test_claims_are_validated_before_the_database(bus: MessageBus) -> None:
    with pytest.raises(InvalidInput):
        await buy(bus, who="nobody")
    with pytest.raises(InvalidInput):
        await buy(bus, quantity=0)


async def test_many_claims_in_one_process_are_batched(bus: MessageBus) -> None:
    await add_product(bus, stock=100)
    await start_drop(bus, quantity=30, limit=1)
    results = await asyncio.gather(*(buy(bus, f"web:b{i}") for i in range(200)))
    winners = [r for r in results if r.outcome is WON]
    assert len(winners) == 30
    # Arrival order decides: the winners are exactly the 30 earliest claims.
    ids = sorted(r.claim_id for r in results if r.claim_id is not None)
    assert sorted(r.claim_id for r in winners) == ids[:30]  # type: ignore[type-var]
    assert bus.deps.store.claims.batches < 200  # type: ignore[attr-defined]
    assert (await bus.deps.store.drops())[0].remaining == 0


async def test_repricing_a_product_leaves_live_drops_alone(bus: MessageBus) -> None:
    await add_product(bus)
    await start_drop(bus, quantity=2)
    product = await bus.handle(c.UpdateProduct("tee", name=" New tee ", price=Money(3000, "eur")))
    assert (product.name, product.price.minor) == ("New tee", 3000)
    won = await buy(bus)
    assert won.order is not None and won.order.amount.minor == 2500
    with pytest.raises(InvalidInput):
        await bus.handle(c.UpdateProduct("TEE", price=Money(100, "usd")))
    with pytest.raises(InvalidInput):
        await bus.handle(c.UpdateProduct("TEE", name="  "))
    with pytest.raises(NotFound):
        await bus.handle(c.UpdateProduct("NOPE", name="x"))
