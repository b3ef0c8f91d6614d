"""The dashboard's To ship, Ship, packing list and Cancel over plain HTTP, on SQLite and
PostgreSQL: sign-in and CSRF required, every bad input a 4xx that changes nothing, the
packing list's CSV formula-safe."""

import csv
import io

from aiohttp.test_utils import TestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.domain import commands as c
from commerce.domain.orders import OrderStatus
from tests.e2e.test_dashboard_http import JSON, client, gateway, post, sign_in  # noqa: F401
from tests.fakes import FakeClock
from tests.integration.helpers import add_product, buy, start_drop
from webhooks.keys import BUS


async def test_to_ship_ship_packing_list_and_cancel(
    client: TestClient,  # type: ignore[type-arg]  # noqa: F811
    engine: AsyncEngine,
    clock: FakeClock,
) -> None:
    bus = client.server.app[BUS]
    await add_product(bus, stock=5)
    await start_drop(bus, quantity=5, channels=())
    mallory = await buy(bus, "telegram:7", "telegram:-100", key="m1")
    held = await buy(bus, "telegram:8", "telegram:-100", key="h1")
    assert mallory.order is not None and held.order is not None
    await bus.handle(c.SettlePayment(mallory.order.ref, "pi_m", "evt"))
    async with engine.begin() as conn:  # what a buyer may type on the payment page
        await conn.execute(
            text("UPDATE orders SET ship_to = '=HYPERLINK(\"x\")' WHERE ref = :ref"),
            {"ref": mallory.order.ref},
        )
    paid, unpaid = mallory.order.ref, held.order.ref
    day = clock.now().strftime("%Y-%m-%d")  # the day it was paid

    assert (await client.get("/dashboard/shipping", allow_redirects=False)).status == 303
    csrf = await sign_in(client)
    page = await (await client.get("/dashboard/shipping")).text()
    assert f'data-package="{paid}"' in page and f'data-package="{unpaid}"' not in page
    assert 'class="overdue"' not in page
    clock.advance(days=2, minutes=1)  # paid on a Tuesday evening: Thursday evening is late
    csrf = await sign_in(client)  # the idle session ended meanwhile
    page = await (await client.get("/dashboard/shipping")).text()
    assert f'<tr data-package="{paid}" class="overdue">' in page and "1 overdue" in page
    # No CSRF token: refused.
    forged = await client.post(f"/dashboard/packages/{paid}/ship", data={"tracking": "AB1234"})
    assert forged.status == 403

    ship = f"/dashboard/packages/{paid}/ship"
    assert "no order NOPE" in await post(client, "/dashboard/packages/NOPE/ship", csrf, 404,
                                         tracking="AB1234")  # fmt: skip
    assert "not paid yet" in await post(
        client, f"/dashboard/packages/{unpaid}/ship", csrf, 400, tracking="AB1234"
    )
    assert "not a tracking code" in await post(client, ship, csrf, 400, tracking="x")
    assert "not a carrier" in await post(client, ship, csrf, 400, tracking="AB1234", carrier="=1")

    # The packing list: refused without a show or a day; a bad day; an unknown show.
    for query, status in (("", 400), ("?day=12/06/2026", 400), ("?show=NOSHOW", 404)):
        assert (await client.get(f"/dashboard/packing{query}", headers=JSON)).status == status
    listing = await client.get(f"/dashboard/packing?day={day}&format=csv")
    assert listing.status == 200 and listing.content_type == "text/csv"
    body = await listing.text()
    rows = list(csv.DictReader(io.StringIO(body)))
    assert [(r["order"], r["address"]) for r in rows] == [(paid, '\'=HYPERLINK("x")')]
    printable = await (await client.get(f"/dashboard/packing?day={day}")).text()
    assert f"Package {paid}" in printable and "=HYPERLINK(&#34;x&#34;)" in printable

    assert "Shipped" in await post(client, ship, csrf, tracking="AB 1234", carrier="usps")
    assert (await bus.deps.store.order(paid)).status is OrderStatus.FULFILLED
    assert "shipped already" in await post(client, ship, csrf, 400, tracking="CD5678")

    # Cancel: the paid order is refused, the unpaid one released.
    assert "refund it instead" in await post(client, f"/dashboard/orders/{paid}/cancel", csrf, 400)
    assert "no order NOPE" in await post(client, "/dashboard/orders/NOPE/cancel", csrf, 404)
    done = await post(client, f"/dashboard/orders/{unpaid}/cancel", csrf, reason="typo")
    assert done == f"Order {unpaid} cancelled; its units went to stock."
    assert (await bus.deps.store.order(unpaid)).status is OrderStatus.CANCELLED
    history = await bus.deps.store.history(unpaid)
    assert history[-1].cause == "cancel:dashboard (typo)"
