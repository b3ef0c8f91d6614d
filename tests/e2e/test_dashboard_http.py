"""The seller dashboard over plain HTTP: sign-in, CSRF, every form with good and bad input,
the live state, refunds and the CSV export."""

import csv
import io
import json
import re
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.domain import commands as c
from tests.conftest import test_settings
from tests.fakes import FakeClock, FakePaymentGateway
from tests.integration.helpers import buy
from webhooks.app import create_app
from webhooks.keys import ADMIN_TOKEN, BUS

JSON = {"Accept": "application/json"}


@pytest.fixture
def gateway() -> FakePaymentGateway:
    return FakePaymentGateway()


@pytest.fixture
async def client(
    database_url: str, engine: AsyncEngine, clock: FakeClock, gateway: FakePaymentGateway
) -> AsyncIterator[TestClient]:  # type: ignore[type-arg]
    settings = test_settings(database_url, livebuy_admin_token="s3cret-admin-0123456789abc")
    app = create_app(
        settings,
        engine=engine,
        clock=clock,
        payments=gateway,
        webhook_secret="whsec_test",
        sweep_every=3600,
    )
    async with TestClient(TestServer(app)) as client:
        yield client


async def sign_in(client: TestClient) -> str:  # type: ignore[type-arg]
    """Signs in and returns the CSRF token of the session."""
    response = await client.post("/dashboard/login", data={"token": "s3cret-admin-0123456789abc"})
    assert response.status == 200 and str(response.url).endswith("/dashboard")
    match = re.search(r'data-csrf="([0-9a-f]+)"', await response.text())
    assert match is not None
    return match.group(1)


async def post(
    client: TestClient,  # type: ignore[type-arg]
    path: str,
    csrf: str,
    status: int = 200,
    **form: str,
) -> str:
    response = await client.post(path, data={"csrf": csrf, **form}, headers=JSON)
    body = await response.json()
    assert response.status == status, body
    return str(body.get("message") or body.get("error"))


async def test_sign_in_is_required_and_a_wrong_token_is_refused(
    client: TestClient,  # type: ignore[type-arg]
) -> None:
    page = await client.get("/dashboard", allow_redirects=False)
    assert page.status == 303 and page.headers["Location"] == "/dashboard/login"
    assert (await client.get("/dashboard/state", headers=JSON)).status == 401
    assert (await client.get("/dashboard/orders.csv", headers=JSON)).status == 401
    wrong = await client.post("/dashboard/login", data={"token": "guess"})
    assert wrong.status == 403 and "not the admin token" in await wrong.text()
    assert (await client.get("/dashboard/state", headers=JSON)).status == 401

    await sign_in(client)
    assert (await client.get("/dashboard/state", headers=JSON)).status == 200
    await client.post("/dashboard/logout", data={"csrf": "forged"})  # refused: still in
    assert (await client.get("/dashboard/state", headers=JSON)).status == 200


async def test_forms_without_the_csrf_token_change_nothing(
    client: TestClient,  # type: ignore[type-arg]
) -> None:
    await sign_in(client)
    for csrf in ("", "0" * 64):
        message = await post(client, "/dashboard/products", csrf, 403, sku="TEE", name="Tee",
                             price="25")  # fmt: skip
        assert "stale or forged" in message
    assert await client.server.app[BUS].deps.store.products() == []


async def test_a_whole_show_from_the_dashboard(
    client: TestClient,  # type: ignore[type-arg]
    gateway: FakePaymentGateway,
) -> None:
    csrf = await sign_in(client)
    bus = client.server.app[BUS]
    assert await post(client, "/dashboard/products", csrf, sku="tee", name="Logo tee",
                      price="25.00", stock="5", variants="size=S,M") == "Added TEE."  # fmt: skip
    await post(client, "/dashboard/products/TEE", csrf, price="27.50", stock="3", variant=("M",))
    product = await bus.deps.store.product("TEE")
    assert product.price.minor == 2750
    assert [(v.label, v.stock) for v in product.variants] == [("S", 5), ("M", 3)]

    started = await post(client, "/dashboard/drops", csrf, sku="TEE", quantity="2",
                         chat="telegram:-100123", limit="1", duration="10m")  # fmt: skip
    assert started == "Drop TEE is live in telegram:-100123."
    await buy(bus, "telegram:1", chat="telegram:-100123", variant=("M",))
    result = await buy(bus, "telegram:2", chat="telegram:-100123", variant=("S",))
    assert result.order is not None
    await bus.handle(c.SettlePayment(result.order.ref, "pi_1", "test"))
    where = "Jenny Rosen, Teststraße 1, 10115 Berlin, DE"
    await bus.deps.ledger.record_ship_to(result.order.ref, where, bus.deps.clock.now())  # type: ignore[union-attr]

    state = await (await client.get("/dashboard/state", headers=JSON)).json()
    assert {o["buyer"]: o["ship_to"] for o in state["orders"]} == {
        "telegram:1": "",
        "telegram:2": where,
    }
    assert [d["remaining"] for d in state["drops"]] == [0]
    assert {o["buyer"]: o["status"] for o in state["orders"]} == {
        "telegram:1": "checkout_open",
        "telegram:2": "paid",
    }
    names = {o["buyer"]: o["name"] for o in state["orders"]}
    assert names == {"telegram:1": "1", "telegram:2": "2"}  # what they chat under
    assert state["funnel"] == [
        {
            "drop": "TEE",
            "platform": "telegram",
            "claims": 2,
            "checkouts": 1,
            "paid": 1,
            "refunded": 0,
        }
    ]  # fmt: skip  (telegram:1 never opened the pay link: no checkout)
    assert sum(s["orders"] for s in state["sales"]) == 1
    assert "telegram:-100123" in state["chats"]

    refund = await post(client, f"/dashboard/orders/{result.order.ref}/refund", csrf)
    assert refund == f"Refund of order {result.order.ref} requested."
    # Stripe is asked; the order turns refunded when its webhook confirms (tests/e2e/…stripe…).
    asked = gateway.refunds
    refunds = [(pi, amount.minor if amount else None) for pi, amount, _ in asked]
    assert refunds == [("pi_1", 2750)]
    await post(client, f"/dashboard/orders/{result.order.ref}/refund", csrf)
    keys = {key for _, _, key in gateway.refunds}
    assert len(keys) == 1  # a second click is the same idempotent request: no double refund

    ended = await post(client, "/dashboard/drops/TEE/end", csrf)
    assert ended == "Drop TEE ended: 2 of 2 sold."

    export = await client.get("/dashboard/orders.csv")
    assert export.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(await export.text())))
    assert sorted(r["status"] for r in rows) == ["checkout_open", "paid"]
    assert {r["amount"] for r in rows} == {"27.50"}
    assert sorted(r["ship_to"] for r in rows) == ["", where]


async def test_bad_input_is_a_4xx_that_says_why(
    client: TestClient,  # type: ignore[type-arg]
) -> None:
    csrf = await sign_in(client)
    bus = client.server.app[BUS]
    cases = [
        ("/dashboard/products", 400, {"sku": "TEE", "name": "Tee", "price": "lots"}),
        ("/dashboard/products", 400, {"sku": "", "name": "Tee", "price": "5"}),
        ("/dashboard/products", 400, {"sku": "TEE", "name": "Tee", "price": "5", "stock": "-1"}),
        ("/dashboard/products/NOPE", 404, {"price": "5"}),
        ("/dashboard/drops", 404, {"sku": "NOPE", "quantity": "1", "chat": "web:demo"}),
        ("/dashboard/orders/NOPE/refund", 404, {}),
        ("/dashboard/drops/NOPE/end", 404, {}),
    ]
    for path, status, form in cases:
        message = await post(client, path, csrf, status, **form)
        assert message and "Traceback" not in message
    assert await bus.deps.store.products() == []

    await post(client, "/dashboard/products", csrf, sku="TEE", name="Tee", price="5", stock="1")
    for form in (
        {"quantity": "0", "chat": "web:demo"},
        {"quantity": "1", "chat": "nowhere"},
        {"quantity": "1", "chat": "web:demo", "duration": "soon"},
        {"quantity": "1", "chat": "web:demo", "policy": "auction"},
        {"quantity": "x", "chat": "web:demo"},
    ):
        await post(client, "/dashboard/drops", csrf, 400, sku="TEE", **form)
    assert await bus.deps.store.drops() == []

    # Without a script the form gets a page that says what was wrong.
    page = await client.post("/dashboard/products", data={"csrf": csrf, "sku": "TEE"})
    assert page.status == 400 and "required" in await page.text()
    fine = await client.post(
        "/dashboard/products",
        data={"csrf": csrf, "sku": "CAP", "name": "Cap", "price": "9"},
        allow_redirects=False,
    )
    assert fine.status == 303 and fine.headers["Location"].startswith("/dashboard?msg=Added")


async def test_the_event_stream_sends_the_state_when_it_changes(
    client: TestClient,  # type: ignore[type-arg]
) -> None:
    csrf = await sign_in(client)
    stream = await client.get("/dashboard/events")
    assert stream.headers["Content-Type"] == "text/event-stream"
    first = json.loads((await stream.content.readline()).decode().removeprefix("data: "))
    assert first["products"] == []
    await post(client, "/dashboard/products", csrf, sku="TEE", name="Tee", price="5")
    while True:  # pings until the next look at the database, then the new state
        line = (await stream.content.readline()).decode()
        if line.startswith("data: "):
            break
    assert [p["sku"] for p in json.loads(line.removeprefix("data: "))["products"]] == ["TEE"]
    stream.close()


async def test_the_admin_token_is_generated_once_and_kept(
    database_url: str, engine: AsyncEngine
) -> None:
    tokens = []
    for _ in range(2):  # two starts (or two workers) of the same database
        app = create_app(test_settings(database_url), engine=engine, sweep_every=3600)
        async with TestClient(TestServer(app)) as client:
            tokens.append(client.server.app[ADMIN_TOKEN])
    assert tokens[0] == tokens[1] and len(tokens[0]) >= 20


async def test_an_auction_started_from_the_dashboard(
    client: TestClient,  # type: ignore[type-arg]
) -> None:
    csrf = await sign_in(client)
    bus = client.server.app[BUS]
    await post(client, "/dashboard/products", csrf, sku="CARD", name="Rare card", price="5",
               stock="1")  # fmt: skip
    for form in (
        {"start": "abc", "chat": "web:demo"},
        {"start": "1", "chat": "web:demo", "close": "never"},
        {"start": "1", "chat": "web:demo", "duration": "forever"},
        {"start": "0", "chat": "web:demo"},
    ):
        await post(client, "/dashboard/auctions", csrf, 400, sku="CARD", **form)
    started = await post(client, "/dashboard/auctions", csrf, sku="CARD", start="1",
                         chat="web:demo", duration="50s", close="sudden")  # fmt: skip
    assert started.startswith("Auction CARD is live in web:demo until ")
    await bus.handle(c.PlaceBid("web:demo:1", "web:demo", "web:anna", Decimal(3), False, "anna"))
    state = await (await client.get("/dashboard/state", headers=JSON)).json()
    [auction] = state["auctions"]
    assert (auction["code"], auction["bids"], auction["close"], auction["status"]) == (
        "CARD", 1, "sudden", "live")  # fmt: skip
    assert auction["leader"] == "anna"


async def test_a_drop_started_here_is_announced_in_its_web_room(
    client: TestClient,  # type: ignore[type-arg]
) -> None:
    csrf = await sign_in(client)
    await post(client, "/dashboard/products", csrf, sku="TEE", name="Tee", price="5", stock="3")
    await client.get("/chat/live")  # a viewer's cookie
    stream = await client.get("/chat/live/events")
    await post(client, "/dashboard/drops", csrf, sku="TEE", quantity="2", chat="web:live")
    events = []
    while len(events) < 2:
        line = (await stream.content.readline()).decode()
        if line.startswith("data: "):
            events.append(json.loads(line.removeprefix("data: ")))
    stream.close()
    assert events[0] == {"type": "bot", "text": "Tee: 2 at €5.00. Type #buy TEE to get one!"}
    assert (events[1]["type"], events[1]["remaining"]) == ("board", 2)
