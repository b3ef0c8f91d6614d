"""Shows in the dashboard over HTTP: prepare one from the form with an uploaded or pasted CSV
(a bad line or an unknown product refused with nothing created), add a lot, run it with
"Next lot", and the report page with its SVG chart after a scripted show."""

import re
from collections.abc import AsyncIterator

import pytest
from aiohttp import FormData
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.service_layer.messagebus import MessageBus
from tests.conftest import test_settings
from tests.fakes import FakeClock, FakePaymentGateway
from tests.integration.helpers import add_product
from tests.integration.test_show_report import CODE, run_show
from webhooks.app import create_app
from webhooks.keys import BUS

JSON = {"Accept": "application/json"}
CSV = "sku,mode,price,duration,close,quantity\nCARD1,pdd,,,,\nTEE,fixed,20,,,3\n"


@pytest.fixture
def gateway() -> FakePaymentGateway:
    return FakePaymentGateway()


@pytest.fixture
async def client(
    database_url: str, engine: AsyncEngine, clock: FakeClock, gateway: FakePaymentGateway
) -> AsyncIterator[TestClient]:  # type: ignore[type-arg]
    settings = test_settings(database_url, livebuy_admin_token="s3cret-admin-0123456789abc")
    app = create_app(settings, engine=engine, clock=clock, payments=gateway,
                     webhook_secret="whsec_test", sweep_every=3600)  # fmt: skip
    async with TestClient(TestServer(app)) as client:
        yield client


async def sign_in(client: TestClient) -> str:  # type: ignore[type-arg]
    response = await client.post("/dashboard/login", data={"token": "s3cret-admin-0123456789abc"})
    assert response.status == 200
    page = await (await client.get("/dashboard/shows")).text()
    match = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
    assert match is not None
    return match.group(1)


def create_form(csrf: str, csv_text: str | None = None, upload: str | None = None,
                **fields: str) -> FormData:  # fmt: skip
    form = FormData()
    values = {"csrf": csrf, "title": "Sunday cards", "start": "2026-11-24 21:00",
              "chats": "telegram:-100,web:live"} | fields  # fmt: skip
    for name, value in values.items():
        form.add_field(name, value)
    form.add_field("lots_csv", csv_text or "")
    form.add_field("lots_file", (upload or "").encode(), filename="lots.csv",
                   content_type="text/csv")  # fmt: skip
    return form


async def test_prepare_a_show_from_the_dashboard(
    client: TestClient,  # type: ignore[type-arg]
) -> None:
    csrf = await sign_in(client)
    bus: MessageBus = client.server.app[BUS]
    shows = bus.deps.shows
    assert shows is not None
    for sku in ("CARD1", "TEE"):
        await add_product(bus, sku)
    page = await client.get("/dashboard")
    assert 'href="/dashboard/shows"' in await page.text()  # the nav link

    # Refused whole: a bad CSV line, an unknown product, no CSRF token, a past start.
    bad = await client.post("/dashboard/shows", data=create_form(csrf, upload=CSV + "X,raffle\n"))
    assert bad.status == 400 and "line 4" in await bad.text()
    unknown = await client.post("/dashboard/shows", headers=JSON,
                                data=create_form(csrf, csv_text="sku\nCARD1\nNOPE\n"))  # fmt: skip
    assert unknown.status == 404 and "NOPE" in (await unknown.json())["error"]
    forged = await client.post("/dashboard/shows", data=create_form("0" * 64, csv_text=CSV))
    assert forged.status == 403
    past = await client.post("/dashboard/shows", headers=JSON,
                             data=create_form(csrf, start="2020-01-01 20:00"))  # fmt: skip
    assert past.status == 400 and "past" in (await past.json())["error"]
    assert await shows.shows() == []

    # Created from an uploaded CSV: the browser lands on the show's page.
    made = await client.post("/dashboard/shows", data=create_form(csrf, upload=CSV))
    assert made.status == 200 and str(made.url).endswith("/dashboard/shows/SUNDAY-CARDS?msg="
                                                         "Show%20SUNDAY-CARDS%20created%20with"
                                                         "%202%20lots.")  # fmt: skip
    show = await shows.show("SUNDAY-CARDS")
    assert [(lot.sku, lot.mode, lot.quantity) for lot in show.lots] == [
        ("CARD1", "auction", 1), ("TEE", "fixed", 3)
    ]  # fmt: skip
    assert show.channels == ("telegram:-100", "web:live")
    # ... and one from pasted CSV, with its own code.
    later = create_form(csrf, csv_text="sku\nTEE\n", code="later")
    pasted = await client.post("/dashboard/shows", headers=JSON, data=later)
    assert (await pasted.json())["message"] == "Show LATER created with 1 lots."
    listing = await (await client.get("/dashboard/shows")).text()
    assert "SUNDAY-CARDS" in listing and "LATER" in listing

    # A lot added from the list's form, a bad one refused.
    added = await client.post("/dashboard/shows/lots", headers=JSON, data={
        "csrf": csrf, "show": "sunday-cards", "sku": "TEE", "mode": "fixed", "price": "15",
        "quantity": "2"})  # fmt: skip
    assert (await added.json())["message"] == "Lot 3 (TEE) added."
    wrong = await client.post("/dashboard/shows/SUNDAY-CARDS/lots", headers=JSON, data={
        "csrf": csrf, "sku": "CARD1", "mode": "raffle"})  # fmt: skip
    assert wrong.status == 400 and "mode must be" in (await wrong.json())["error"]
    assert len((await shows.show("SUNDAY-CARDS")).lots) == 3

    # "Next lot" puts lot 1 live; while its auction runs, the next press is refused.
    live = await client.post("/dashboard/shows/SUNDAY-CARDS/next", headers=JSON,
                             data={"csrf": csrf})  # fmt: skip
    assert (await live.json())["message"] == "Lot 1 (CARD1) is live."
    again = await client.post("/dashboard/shows/SUNDAY-CARDS/next", headers=JSON,
                              data={"csrf": csrf})  # fmt: skip
    assert again.status == 400 and "still live" in (await again.json())["error"]
    assert (await client.post("/dashboard/shows/NOPE/next", data={"csrf": csrf})).status == 404
    page_text = await (await client.get("/dashboard/shows/SUNDAY-CARDS")).text()
    assert 'id="next-lot"' in page_text and "live: lot 1 (CARD1)" in page_text


async def test_the_report_page_after_a_show(
    client: TestClient,  # type: ignore[type-arg]
    clock: FakeClock,
    gateway: FakePaymentGateway,
) -> None:
    await sign_in(client)
    bus: MessageBus = client.server.app[BUS]
    run = await run_show(bus, clock, gateway)
    response = await client.get(f"/dashboard/shows/{CODE}")
    assert response.status == 200
    page = await response.text()
    assert '<svg id="sales-chart"' in page
    bars = re.findall(r'<rect class="bar( peak)?"', page)
    minutes = int((run.ended_at - run.opened_at).total_seconds() // 60) + 1  # type: ignore[operator]
    assert len(bars) in (minutes, minutes + 1) and bars.count(" peak") == 1
    assert "3 of 3 sold" in page and "no bids" in page and "unpaid" in page
    assert 'id="funnel"' in page and 'id="platforms"' in page and "discord chatters" in page
    assert "1 refunded orders (€40.00)" in page and "1 returns (2 units back in stock)" in page
    assert 'id="next-lot"' not in page  # the show has ended
    data = await (await client.get(f"/dashboard/shows/{CODE}", headers=JSON)).json()
    assert data["code"] == CODE and data["funnel"]["paid"] == sum(s.paid for s in run.sales)
    missing = await client.get("/dashboard/shows/NOPE")
    assert missing.status == 404
