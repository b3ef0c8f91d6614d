"""The dashboard's shipping forms over HTTP, on SQLite and PostgreSQL: a product's size
class on add and edit, zones added and removed, bad input a 4xx that changes nothing."""

from aiohttp.test_utils import TestClient

from tests.e2e.test_dashboard_http import client, gateway, post, sign_in  # noqa: F401
from webhooks.keys import BUS


async def test_size_classes_and_zones_from_the_dashboard(
    client: TestClient,  # type: ignore[type-arg]  # noqa: F811
) -> None:
    csrf = await sign_in(client)
    bus = client.server.app[BUS]
    added = await post(client, "/dashboard/products", csrf, sku="HOODIE", name="Hoodie",
                       price="40", ship_units="2")  # fmt: skip
    assert added == "Added HOODIE."
    assert (await bus.deps.store.product("HOODIE")).ship_units == 2
    await post(client, "/dashboard/products/HOODIE", csrf, ship_units="3")
    assert (await bus.deps.store.product("HOODIE")).ship_units == 3
    refused = await post(client, "/dashboard/products/HOODIE", csrf, 400, ship_units="0")
    assert "use 1 to 100" in refused
    assert (await bus.deps.store.product("HOODIE")).ship_units == 3

    for form, why in (
        ({"countries": "DE,XX", "first": "4.90", "each": "1"}, "unknown country code XX"),
        ({"countries": "DE", "first": "-4.90", "each": "1"}, "cannot be negative"),
        ({"countries": "DE", "first": "4.90", "each": "1", "cap": "1,2,3"}, "1,2,3"),
    ):
        assert why in await post(client, "/dashboard/zones", csrf, 400, name="EU", **form)
    assert "No shipping zones" in await (await client.get("/dashboard/zones")).text()
    added = await post(client, "/dashboard/zones", csrf, name="EU", countries="DE,AT",
                       first="4.90", each="1")  # fmt: skip
    assert added == "Zone EU added."
    page = await (await client.get("/dashboard/zones")).text()
    assert "AT,DE" in page and "€4.90" in page
    removed = await client.post(
        "/dashboard/zones/EU/remove", data={"csrf": csrf}, allow_redirects=False
    )
    assert removed.status == 303
    assert "No shipping zones" in await (await client.get("/dashboard/zones")).text()
    gone = await client.post("/dashboard/zones/EU/remove", data={"csrf": csrf})
    assert gone.status == 404
