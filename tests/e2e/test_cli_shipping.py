"""`livebuy shipping zone …`, a product's size class and a show's shipping policy, through
typer's runner on SQLite and PostgreSQL: bad input is one line and changes nothing."""

import asyncio
import csv
import io
import json

import pytest
from sqlalchemy import text

from commerce.adapters.db import create_engine


def test_zones_added_listed_and_removed(cli) -> None:  # type: ignore[no-untyped-def]
    assert "(none)" in cli("shipping", "zone", "list")
    out = cli(
        "shipping", "zone", "add", "EU", "--countries", "de, at", "--first", "4.90",
        "--each", "1.00", "--cap", "12.00",
    )  # fmt: skip
    assert "AT,DE" in out and "4.90" in out and "12.00" in out
    cli("shipping", "zone", "add", "World", "--countries", "*", "--first", "9.90", "--each", "2")
    zones = json.loads(cli("shipping", "zone", "list", "--format", "json"))
    assert zones == [
        {"name": "EU", "countries": "AT,DE", "first": "4.90", "each": "1.00", "cap": "12.00",
         "currency": "eur"},
        {"name": "World", "countries": "*", "first": "9.90", "each": "2.00", "cap": None,
         "currency": "eur"},
    ]  # fmt: skip
    rows = list(csv.DictReader(io.StringIO(cli("shipping", "zone", "list", "--format", "csv"))))
    assert [r["name"] for r in rows] == ["EU", "World"] and rows[1]["cap"] == ""
    assert "removed zone World" in cli("shipping", "zone", "remove", "world")
    assert "no shipping zone World" in cli("shipping", "zone", "remove", "World", ok=False)
    assert [
        z["name"] for z in json.loads(cli("shipping", "zone", "list", "--format", "json"))
    ] == ["EU"]


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("--countries", "DE,QQ", "--first", "4.90", "--each", "1"), "unknown country code QQ"),
        (("--countries", "FR", "--first", "-4.90", "--each", "1"), "cannot be negative"),
        (("--countries", "FR", "--first", "4.90", "--each", "1", "--cap", "12,00x"), "12,00x"),
        (("--countries", "DE", "--first", "4.90", "--each", "1"), "DE ships in zone EU"),
        (("--countries", "", "--first", "4.90", "--each", "1"), "country list"),
    ],
)
def test_bad_zones_are_one_line_and_change_nothing(cli, args: tuple[str, ...], error: str) -> None:  # type: ignore[no-untyped-def]
    cli("shipping", "zone", "add", "EU", "--countries", "DE", "--first", "4.90", "--each", "1")
    out = cli("shipping", "zone", "add", "Z", *args, ok=False)
    assert out.startswith("error: ") and error in out and len(out.strip().splitlines()) == 1
    assert [
        z["name"] for z in json.loads(cli("shipping", "zone", "list", "--format", "json"))
    ] == ["EU"]


def test_size_class_and_show_policy(cli) -> None:  # type: ignore[no-untyped-def]
    cli(
        "product",
        "add",
        "HOODIE",
        "--name",
        "Hoodie",
        "--price",
        "40",
        "--ship-units",
        "2",
        "--stock",
        "0",
    )
    cli("product", "add", "CODE", "--name", "Code", "--price", "5", "--digital", "--stock", "0")
    products = {p["sku"]: p for p in json.loads(cli("product", "list", "--format", "json"))}
    assert (products["HOODIE"]["ship_units"], products["CODE"]["ship_units"]) == (2, 0)
    assert "use 1 to 100" in cli("product", "edit", "HOODIE", "--ship-units", "0", ok=False)
    assert "not a size class" in cli("product", "edit", "HOODIE", "--ship-units", "x", ok=False)
    cli("product", "edit", "HOODIE", "--ship-units", "3")
    products = {p["sku"]: p for p in json.loads(cli("product", "list", "--format", "json"))}
    assert products["HOODIE"]["ship_units"] == 3
    for title, policy in (("Free one", "free"), ("Capped", "cap:9.90"), ("Plain", "buyer")):
        cli("show", "create", title, "--at", "2030-12-06 20:00", "--channels", "web:live",
            "--shipping", policy)  # fmt: skip
    bad = cli("show", "create", "Bad", "--at", "2030-12-06 20:00", "--channels", "web:live",
              "--shipping", "cap:-1", ok=False)  # fmt: skip
    assert "cannot be negative" in bad
    shows = {s["code"]: s for s in json.loads(cli("show", "list", "--format", "json"))}
    assert {code: s["shipping"] for code, s in shows.items()} == {
        "FREE-ONE": "free", "CAPPED": "cap:9.90", "PLAIN": "buyer"
    }  # fmt: skip


def test_an_order_shows_items_shipping_and_tax(cli, database_url: str) -> None:  # type: ignore[no-untyped-def]
    cli("product", "add", "TEE", "--name", "Logo tee", "--price", "25.00", "--stock", "3")
    cli("drop", "start", "TEE", "--qty", "2", "--channel", "telegram:-100123")
    cli("say", "--chat", "telegram:-100123", "--as", "telegram:42", "#buy")
    [order] = json.loads(cli("orders", "--format", "json"))

    async def charged() -> None:  # as a paid checkout with shipping and tax leaves it
        engine = create_engine(database_url)
        async with engine.begin() as conn:
            await conn.execute(
                text("UPDATE orders SET shipping_amount = 490, tax_amount = 299 WHERE ref = :r"),
                {"r": order["ref"]},
            )
        await engine.dispose()

    asyncio.run(charged())
    [shown] = json.loads(cli("orders", "--format", "json"))
    assert (shown["amount"], shown["shipping"], shown["tax"], shown["total"]) == (
        "25.00", "4.90", "2.99", "32.89",
    )  # fmt: skip
    header = cli("orders", "--format", "csv").splitlines()[0]
    assert ",amount,shipping,tax,total,currency," in header
    assert "items €25.00 + shipping €4.90 + tax €2.99 = €32.89" in cli("order", order["ref"])
