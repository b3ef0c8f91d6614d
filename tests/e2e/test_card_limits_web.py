"""#18 item 3, as the attacker of the issue, end to end: 25 fresh browser sessions against a
limit-2 drop of 20 in the web chat (LIVEBUY_WEB_CLAIMS=first-paid) hold nothing, and paying
for more than the limit with one card (or one email) does not work: the built-in Stripe
emulator's checkout page takes the card and the email, Stripe's real library asks for the
card's fingerprint, and the payment over the limit is refunded (or left for review with
LIVEBUY_LIMIT_BREACH=review). On SQLite and PostgreSQL."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import ClientSession
from aiohttp.test_utils import TestServer
from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.domain import commands as c
from commerce.domain.orders import OrderStatus
from commerce.service_layer.messagebus import MessageBus
from commerce.service_layer.results import OrderView
from tests.conftest import test_settings
from tests.e2e.conftest import checkout_page, free_port
from tests.e2e.test_web_claims import claim_from_fresh_browsers, drop_state
from tests.integration.helpers import add_product, start_drop
from webhooks.app import create_app
from webhooks.keys import BUS

# Test cards the emulator's page takes (webhooks/devtools/emulator/state.py TEST_CARDS).
VISA = "4242424242424242"
SECOND = "4000000000000341"
THIRD = "4000002760003184"


async def pay(http: ClientSession, order: OrderView, card: str, email: str) -> None:
    """The buyer opens their pay link and pays on the checkout page with `card`."""
    assert order.checkout_url is not None
    checkout = await checkout_page(http, order.checkout_url)
    page = await (await http.get(checkout)).text()
    assert 'name="email"' in page  # the page asks for an email, as Stripe's does
    paid = await http.post(checkout, data={"card": card, "email": email}, allow_redirects=False)
    assert paid.status == 303, await paid.text()


async def settled(bus: MessageBus, orders: list[OrderView], *want: str) -> list[str]:
    """The orders' states once their webhooks are applied (refunds come back by webhook)."""
    found: list[str] = []
    for _ in range(200):
        found = [str((await bus.deps.store.order(o.ref)).status) for o in orders]
        if found == list(want):
            break
        await asyncio.sleep(0.05)
    return found


@contextlib.asynccontextmanager
async def attacked_shop(
    database_url: str, engine: AsyncEngine, **settings: Any
) -> AsyncIterator[tuple[MessageBus, list[OrderView]]]:
    """The whole app in local mode (the emulator mounted), web claims first-paid, after 25
    fresh sessions claimed 2 units each of a limit-2 drop of 20: nothing is held. Yields the
    50 orders, oldest first."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    chosen = {"public_base_url": base, "livebuy_web_claims": "first-paid"} | settings
    app = create_app(test_settings(database_url, **chosen), engine=engine, sweep_every=3600)
    async with TestServer(app, host="127.0.0.1", port=port) as server:
        bus: MessageBus = server.app[BUS]
        await add_product(bus, "MUG", stock=20)
        await start_drop(bus, "MUG", quantity=20, limit=2, channels=("web:demo",))
        statuses = await claim_from_fresh_browsers(base, 25, 2)
        assert set(statuses) == {200}
        assert await drop_state(engine) == (20, 50)  # 50 orders, no unit held
        orders = await bus.handle(c.ListOrders())
        assert len(orders) == 50 and all(not o.holds_stock for o in orders)
        yield bus, list(reversed(orders))


async def test_one_card_pays_for_the_limit_once_whatever_the_sessions(
    database_url: str, engine: AsyncEngine
) -> None:
    async with attacked_shop(database_url, engine) as (bus, orders), ClientSession() as http:
        # Three sessions' orders (one unit each), paid with one card and three emails.
        for n, order in enumerate(orders[:3]):
            await pay(http, order, VISA, f"sock{n}@example.com")
        # The third is over the limit: refunded at once (Stripe's refund webhook follows).
        assert await settled(bus, orders[:3], "paid", "paid", "refunded") == [
            "paid", "paid", "refunded"
        ]  # fmt: skip
        history = await bus.deps.store.history(orders[2].ref)
        assert any(e.cause.endswith(":over_limit") for e in history)
        # Another card is another buyer.
        await pay(http, orders[3], SECOND, "honest@example.com")
        assert await settled(bus, orders[3:4], "paid") == ["paid"]
        assert (await drop_state(engine))[0] == 20 - 3


async def test_one_email_with_different_cards_pays_for_the_limit_once(
    database_url: str, engine: AsyncEngine
) -> None:
    async with attacked_shop(database_url, engine) as (bus, orders), ClientSession() as http:
        for order, card in zip(orders[:3], (VISA, SECOND, THIRD), strict=True):
            await pay(http, order, card, "Mallory@Example.com")
        assert await settled(bus, orders[:3], "paid", "paid", "refunded") == [
            "paid", "paid", "refunded"
        ]  # fmt: skip


async def test_review_mode_leaves_the_third_payment_to_the_seller(
    database_url: str, engine: AsyncEngine
) -> None:
    async with (
        attacked_shop(database_url, engine, livebuy_limit_breach="review") as (bus, orders),
        ClientSession() as http,
    ):
        for n, order in enumerate(orders[:3]):
            await pay(http, order, VISA, f"sock{n}@example.com")
        states = await settled(bus, orders[:3], "paid", "paid", "needs_review")
        assert states == ["paid", "paid", "needs_review"]
        await asyncio.sleep(0.3)  # no refund follows
        third = await bus.deps.store.order(orders[2].ref)
        assert third.status is OrderStatus.NEEDS_REVIEW
        assert third.refunded is None or third.refunded.minor == 0
