"""Giveaways on both databases: one entry per person across chats and linked identities, a
draw anyone can recompute from the published seed and entries, the winner's order of 0."""

import hashlib
from datetime import timedelta
from itertools import count

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bots.rendering import LOCALES, Renderer
from commerce.adapters.cards import SqlCards
from commerce.bootstrap import bootstrap
from commerce.domain import commands as c
from commerce.domain.money import Money
from commerce.domain.orders import OrderStatus
from commerce.domain.products import ProductSpec
from commerce.domain.shipping import Zone
from commerce.service_layer import chat
from commerce.service_layer.giveaways import giveaway_record
from commerce.service_layer.messagebus import MessageBus
from commerce.service_layer.results import (
    GiveawayDrawn,
    GiveawayStarted,
    GiveawayUpdated,
    GiveawayView,
    OrderPaid,
    OrderView,
)
from tests.conftest import test_settings
from tests.fakes import FakeClock, FakeNotifier, FakePaymentGateway
from tests.integration.helpers import add_product, give_address, open_link
from webhooks.app import create_app
from webhooks.keys import BUS

SELLER = "telegram:99"
TG, DC = "telegram:-100", "discord:200"
_n = count(1)


async def say(
    bus: MessageBus, text: str, who: str, chat_id: str, name: str = ""
) -> chat.ChatOutcome:
    message = c.ChatMessage(f"{chat_id}:{next(_n)}", chat_id, who, text, name)
    outcome: chat.ChatOutcome = await bus.handle(message)
    return outcome


def recompute(seed: str, entries: list[tuple[int, str]]) -> int:
    """The published algorithm, written out again: the winner's entry number."""
    lines = "\n".join(f"{number}:{name}" for number, name in entries)
    digest = hashlib.sha256((seed + "\n" + lines).encode()).hexdigest()
    return entries[int(digest, 16) % len(entries)][0]


async def start(bus: MessageBus, sku: str = "CARD") -> GiveawayView:
    view: GiveawayView = await bus.handle(
        c.StartGiveaway(sku, timedelta(seconds=60), (TG, DC), SELLER)
    )
    return view


async def test_a_verifiable_giveaway_across_chats_and_linked_identities(
    bus: MessageBus, engine: AsyncEngine, clock: FakeClock, notifier: FakeNotifier
) -> None:
    await add_product(bus, "CARD", stock=3)
    cards = SqlCards(engine)  # anna's Telegram and Discord accounts are one customer
    code = await cards.issue_code("telegram:1", clock.now(), timedelta(minutes=10))
    await cards.redeem_code("discord:1", code, clock.now())

    view = await start(bus)
    [started] = notifier.of(GiveawayStarted)
    assert isinstance(started, GiveawayStarted) and started.giveaway == view
    assert view.seed is None and len(view.commitment) == 64
    assert view.channels == (DC, TG) and view.ends_at == clock.now() + timedelta(seconds=60)

    entered = [
        await say(bus, "#enter", "telegram:1", TG, "anna"),
        await say(bus, "me! /enter", "discord:2", DC, "bob"),
        await say(bus, "#enter", "discord:1", DC, "anna_dc"),  # anna again, linked
        await say(bus, "#ENTER pls", "telegram:3", TG, ""),  # no display name
        await say(bus, "#teilnehmen", "discord:4", DC, "dora"),
        await say(bus, "#enter", "telegram:2", "telegram:-999", "eve"),  # not its chat
    ]
    numbers = [(o.number, o.already) for o in entered[:5] if isinstance(o, chat.Entered)]
    assert numbers == [(1, False), (2, False), (1, True), (3, False), (4, False)]
    assert entered[5] == chat.NothingLive("giveaway")
    assert Renderer().outcome(entered[2], "@anna").private == "You're in already (entry 1)."
    assert len(notifier.of(GiveawayUpdated)) == 4  # one board update per new entry

    record = await giveaway_record(view.id, bus.deps)
    names = [name for _, name in record.entries]
    assert names[:2] == ["anna", "bob"] and names[3] == "dora"
    assert names[2].startswith("viewer-") and len(names[2]) == len("viewer-") + 6
    assert not any("telegram" in n or "discord" in n for n in names)

    clock.advance(seconds=59)
    await bus.handle(c.ExpireHolds())
    assert notifier.of(GiveawayDrawn) == []  # not due yet
    clock.advance(seconds=1)
    await bus.handle(c.ExpireHolds())
    await bus.handle(c.ExpireHolds())  # drawn once
    [drawn] = notifier.of(GiveawayDrawn)
    assert isinstance(drawn, GiveawayDrawn)
    giveaway = drawn.giveaway
    assert giveaway.status == "drawn" and giveaway.outcome == "won" and giveaway.entries == 4
    assert giveaway.seed is not None
    assert hashlib.sha256(giveaway.seed.encode()).hexdigest() == view.commitment
    assert giveaway.winner_number == recompute(giveaway.seed, list(record.entries))
    who = {1: "telegram:1", 2: "discord:2", 3: "telegram:3", 4: "discord:4"}
    assert drawn.winner_identity == who[giveaway.winner_number]
    assert giveaway.winner_name == names[giveaway.winner_number - 1]

    assert drawn.order is not None
    order = await bus.deps.store.order(drawn.order.ref)
    assert order.status is OrderStatus.PAID and order.amount.minor == 0
    assert order.payment_ref == "giveaway" and order.identity == drawn.winner_identity
    history = await bus.deps.store.history(order.ref)
    assert [e.cause for e in history] == [f"giveaway:{view.id}"] * 2
    paid = [n.order.ref for n in notifier.of(OrderPaid) if isinstance(n, OrderPaid)]
    assert paid == [order.ref]
    # The chat sees the sale; the winner hears it once, from the draw.
    sold = Renderer().notice(notifier.of(OrderPaid)[0], "@winner")
    assert sold.public is not None and sold.private is None
    assert (await bus.deps.store.product("CARD")).stock == 2

    reply = Renderer().notice(drawn, "@winner")
    assert reply.public is not None and giveaway.seed in reply.public
    assert giveaway.winner_name in reply.public
    assert reply.private == (
        f"You won the giveaway: CARD product is yours, order {order.ref}. Nothing to pay."
    )
    late = await say(bus, "#enter", "telegram:5", TG, "late")
    assert late == chat.NothingLive("giveaway")


async def test_a_giveaway_without_entries_has_no_winner(
    bus: MessageBus, clock: FakeClock, notifier: FakeNotifier
) -> None:
    await add_product(bus, "CARD", stock=1)
    view = await start(bus)
    clock.advance(seconds=61)
    await bus.handle(c.ExpireHolds())
    [drawn] = notifier.of(GiveawayDrawn)
    assert isinstance(drawn, GiveawayDrawn)
    assert drawn.giveaway.outcome == "no_entries" and drawn.order is None
    assert drawn.winner_identity is None and drawn.giveaway.winner_number is None
    assert drawn.giveaway.seed is not None and drawn.giveaway.commitment == view.commitment
    assert Renderer().notice(drawn, "").public == "🎁 CARD product: nobody entered, no winner."
    assert await bus.deps.store.orders(None, None) == []
    assert (await bus.deps.store.product("CARD")).stock == 1


async def test_no_unit_left_means_no_winner(
    bus: MessageBus, clock: FakeClock, notifier: FakeNotifier
) -> None:
    await add_product(bus, "CARD", stock=1)
    await start(bus)
    await say(bus, "#enter", "telegram:1", TG, "anna")
    await bus.handle(c.SetStock("CARD", 0))
    clock.advance(seconds=61)
    await bus.handle(c.ExpireHolds())
    [drawn] = notifier.of(GiveawayDrawn)
    assert isinstance(drawn, GiveawayDrawn)
    assert drawn.giveaway.outcome == "no_stock" and drawn.order is None
    assert await bus.deps.store.orders(None, None) == []
    assert "none left to give" in (Renderer().notice(drawn, "").public or "")


async def test_sellers_start_giveaways_from_the_chat(
    bus: MessageBus, notifier: FakeNotifier
) -> None:
    bus.deps.sellers = frozenset({SELLER})
    await add_product(bus, "CARD", stock=1)
    refused = await say(bus, "/giveaway CARD", "telegram:1", TG, "anna")
    assert isinstance(refused, chat.Failed) and refused.not_allowed
    assert notifier.of(GiveawayStarted) == []
    bad = await say(bus, "/giveaway", SELLER, TG, "seller")
    assert isinstance(bad, chat.Misunderstood)
    assert Renderer().outcome(bad, "@s").public == "Which product? Try /giveaway CARD for 60s"
    opened = await say(bus, "/giveaway card for 2m", SELLER, TG, "seller")
    assert isinstance(opened, chat.GiveawayOpened)
    giveaway = opened.giveaway
    assert giveaway.channels == (TG,) and giveaway.ends_at - giveaway.starts_at == timedelta(
        minutes=2
    )
    again = await say(bus, "/giveaway CARD", SELLER, TG, "seller")
    assert isinstance(again, chat.Failed) and "running here already" in again.reason
    for locale in LOCALES:
        reply = Renderer(locale).outcome(opened, "@s")
        assert reply.public is not None and giveaway.commitment in reply.public
        assert reply.actions[0][1] == f"enter:{giveaway.id}"
    assert Renderer().outcome(opened, "@s").public == (
        f"🎁 Giveaway: CARD product, free! Type #enter within 2m. Fair draw, commitment "
        f"{giveaway.commitment}"
    )
    # The Enter button: the adapter hands the core the giveaway's id.
    entry = await bus.handle(c.EnterGiveaway("discord:9", "discord:7", "", giveaway.id))
    assert entry is not None and entry.number == 1


async def test_the_public_record_over_http(
    database_url: str, engine: AsyncEngine, clock: FakeClock, notifier: FakeNotifier
) -> None:
    app = create_app(
        test_settings(database_url),
        engine=engine,
        clock=clock,
        notifier=notifier,
        webhook_secret="whsec_test",
        sweep_every=3600,
    )
    async with TestClient(TestServer(app)) as client:
        bus = client.app[BUS]
        await add_product(bus, "CARD", stock=1)
        view = await start(bus)
        await say(bus, "#enter", "telegram:1", TG, "anna")
        await say(bus, "#enter", "discord:2", DC, "bob")
        response = await client.get(f"/giveaways/{view.id}")
        assert response.status == 200
        body = await response.json()
        assert body["commitment"] == view.commitment and body["status"] == "live"
        assert body["entries"] == [[1, "anna"], [2, "bob"]]
        assert body["seed"] is None and body["winner"] is None
        assert "sha256" in body["algorithm"] and body["item"] == "CARD product"
        clock.advance(seconds=61)
        await bus.handle(c.ExpireHolds())
        body = await (await client.get(f"/giveaways/{view.id}")).json()
        assert body["status"] == "drawn" and body["outcome"] == "won"
        assert hashlib.sha256(body["seed"].encode()).hexdigest() == body["commitment"]
        assert body["winner"] == recompute(body["seed"], [tuple(e) for e in body["entries"]])
        assert "telegram:1" not in await (await client.get(f"/giveaways/{view.id}")).text()
        assert (await client.get("/giveaways/999")).status == 404
        # A browser gets the same record as a page (the chat card's link, on a phone).
        browser = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
        page = await client.get(f"/giveaways/{view.id}", headers=browser)
        assert page.content_type == "text/html"
        html = await page.text()
        assert body["seed"] in html and 'name="viewport"' in html and "telegram:1" not in html
        as_json = await client.get(f"/giveaways/{view.id}?format=json", headers=browser)
        assert (await as_json.json())["seed"] == body["seed"]


async def test_linking_after_entering_twice_leaves_one_entry_and_one_vote(
    bus: MessageBus, engine: AsyncEngine, clock: FakeClock
) -> None:
    """Enter (and vote) with both accounts, then link them: still one person, one chance."""
    await add_product(bus, "CARD", stock=3)
    await start(bus)
    await bus.handle(c.StartPoll("Next?", ("cards", "shoes"), (TG, DC), SELLER))
    for who, where in (("telegram:5", TG), ("discord:5", DC), ("telegram:6", TG)):
        assert isinstance(await say(bus, "#enter", who, where, who), chat.Entered)
        assert isinstance(await say(bus, "#1", who, where, who), chat.Voted)
    cards = SqlCards(engine)
    code = await cards.issue_code("telegram:5", clock.now(), timedelta(minutes=10))
    await cards.redeem_code("discord:5", code, clock.now())

    again = await say(bus, "#enter", "discord:5", DC, "x")
    assert isinstance(again, chat.Entered) and again.already and again.number == 1
    clock.advance(seconds=61)
    await bus.handle(c.ExpireHolds())
    record = await giveaway_record(1, bus.deps)
    assert [number for number, _ in record.entries] == [1, 3]  # discord:5's entry 2 is gone
    assert record.giveaway.entries == 2  # and the board counts the entries there are
    assert record.giveaway.winner_number in (1, 3)
    poll = await bus.handle(c.EndPoll(chat=TG, actor=SELLER))
    assert poll.votes == 2 and poll.options[0].votes == 2


async def test_a_prize_that_ships_costs_its_winner_the_shipping_only(
    database_url: str, engine: AsyncEngine, clock: FakeClock, notifier: FakeNotifier
) -> None:
    """LIVEBUY_GIVEAWAY_SHIPPING: the winner of a product that ships gets an order of the
    shipping and its checkout link; unpaid for a day, the unit goes back. A digital prize
    stays free."""
    payments = FakePaymentGateway()
    settings = test_settings(database_url, livebuy_giveaway_shipping="4.90")
    bus = bootstrap(settings, engine, clock=clock, notifier=notifier, payments=payments)
    await add_product(bus, "CARD", stock=2)
    ebook = ProductSpec("EBOOK", "EBOOK product", Money(900, "eur"), "", (), digital=True)
    await bus.handle(c.AddProduct(ebook, 5))

    async def win(sku: str, who: str) -> GiveawayDrawn:
        await start(bus, sku)
        await say(bus, "#enter", who, TG, who)
        clock.advance(seconds=61)
        await bus.handle(c.ExpireHolds())
        drawn = notifier.of(GiveawayDrawn)[-1]
        assert isinstance(drawn, GiveawayDrawn) and drawn.order is not None
        return drawn

    drawn = await win("CARD", "telegram:1")
    order = drawn.order
    assert order is not None and order.status is OrderStatus.CHECKOUT_OPEN
    assert order.amount == Money(490, "eur") and order.checkout_url
    await open_link(bus, order)  # the winner opens the link: Checkout for the shipping
    [request] = payments.opened
    assert request.order_ref == order.ref and request.unit_amount == Money(490, "eur")
    assert request.collect_shipping  # the address is what the shipping is paid for
    assert Renderer().notice(drawn, "").private == (
        f"You won the giveaway: CARD product is yours, order {order.ref}. Only the shipping"
        f" is to pay, €4.90, within 1d: {order.checkout_url}"
    )
    clock.advance(seconds=30)
    await bus.handle(c.ExpireHolds())  # the sweeper pays free prizes only
    assert (await bus.deps.store.order(order.ref)).status is OrderStatus.CHECKOUT_OPEN
    await bus.handle(c.SettlePayment(order.ref, "pi_ship", "evt_ship"))
    assert (await bus.deps.store.order(order.ref)).status is OrderStatus.PAID

    unpaid = (await win("CARD", "telegram:2")).order
    assert unpaid is not None and unpaid.amount == Money(490, "eur")
    assert (await bus.deps.store.product("CARD")).stock == 0
    clock.advance(days=1, seconds=1)
    await bus.handle(c.ExpireHolds())
    assert (await bus.deps.store.order(unpaid.ref)).status is OrderStatus.EXPIRED
    assert (await bus.deps.store.product("CARD")).stock == 1
    async with engine.connect() as conn:  # a gift turned down is no unpaid hold: no strike
        assert (await conn.execute(text("SELECT COUNT(*) FROM strike"))).scalar() == 0

    free = (await win("EBOOK", "telegram:3")).order
    assert free is not None and free.amount.minor == 0
    assert (await bus.deps.store.order(free.ref)).status is OrderStatus.PAID
    # A product priced in another currency than the shop's is given free, not charged €4.90
    # as if it were dollars.
    cap = ProductSpec("CAP", "CAP product", Money(1500, "usd"), "", ())
    await bus.handle(c.AddProduct(cap, 5))
    other = (await win("CAP", "telegram:4")).order
    assert other is not None and other.amount == Money(0, "usd")
    assert (await bus.deps.store.order(other.ref)).status is OrderStatus.PAID
    # The two shipping links (one opened), none for the e-book or the cap.
    assert len(payments.opened) == 1 and unpaid.checkout_url and not other.checkout_url


async def test_with_shipping_zones_the_winners_zone_prices_the_prize(
    database_url: str, engine: AsyncEngine, clock: FakeClock, notifier: FakeNotifier
) -> None:
    """Shipping zones replace LIVEBUY_GIVEAWAY_SHIPPING (kept for shops without zones): a
    winner whose address is known pays a package in its zone, one whose address is not yet
    known the dearest zone's; the prize's checkout offers no second shipping on top."""
    payments = FakePaymentGateway()
    settings = test_settings(database_url, livebuy_giveaway_shipping="4.90")
    bus = bootstrap(settings, engine, clock=clock, notifier=notifier, payments=payments)
    await bus.handle(c.AddZone(Zone.parse("EU", "DE,AT", "3.50", "1.00", None, "eur")))
    await bus.handle(c.AddZone(Zone.parse("World", "*", "9.90", "2.00", None, "eur")))
    await add_product(bus, "CARD", stock=5)

    async def win(who: str, address: bool = False) -> OrderView:
        await start(bus, "CARD")
        await say(bus, "#enter", who, TG, who)
        if address:  # where an earlier paid order of theirs shipped
            await give_address(engine, who)
        clock.advance(seconds=61)
        await bus.handle(c.ExpireHolds())
        drawn = notifier.of(GiveawayDrawn)[-1]
        assert isinstance(drawn, GiveawayDrawn) and drawn.order is not None
        return drawn.order

    known = await win("telegram:1", address=True)
    assert known.amount == Money(350, "eur")  # the EU package
    unknown = await win("telegram:2")
    assert unknown.amount == Money(990, "eur")  # the dearest zone while unknown
    await open_link(bus, known)
    (request,) = payments.opened
    assert request.unit_amount == Money(350, "eur") and request.shipping_options == ()
