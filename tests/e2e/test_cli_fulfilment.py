"""`livebuy ship`, `packing-list` and `cancel` as operators type them, on SQLite and
PostgreSQL: every bad input is one line on stderr, exit status 1, and changes nothing; a
tracking file is checked whole before anything ships."""

import asyncio
import json
from pathlib import Path

from sqlalchemy import text
from typer.testing import CliRunner

from commerce.adapters.db import create_engine
from commerce.bootstrap import bootstrap
from commerce.domain import commands as c
from tests.conftest import test_settings
from tests.e2e.conftest import free_port
from tests.integration.helpers import add_product, buy, start_drop
from webhooks.cli import app


def orders(database_url: str) -> tuple[str, str, str]:
    """Two paid orders and an unpaid one, bought in a Telegram group."""

    async def run() -> tuple[str, str, str]:
        engine = create_engine(database_url)
        bus = bootstrap(test_settings(database_url), engine)
        try:
            await add_product(bus, stock=5)
            await start_drop(bus, quantity=5, channels=())
            refs = []
            for who in ("telegram:1", "telegram:2", "telegram:3"):
                won = await buy(bus, who, "telegram:-100")
                assert won.order is not None
                refs.append(won.order.ref)
            for ref in refs[:2]:
                await bus.handle(c.SettlePayment(ref, f"pi_{ref}", "evt"))
            return refs[0], refs[1], refs[2]
        finally:
            await bus.deps.store.close()
            await engine.dispose()

    return asyncio.run(run())


def shipped_letters(database_url: str) -> list[str]:
    async def run() -> list[str]:
        engine = create_engine(database_url)
        try:
            async with engine.connect() as conn:
                rows = await conn.execute(
                    text("SELECT text FROM outbox WHERE text LIKE 'Shipped:%' ORDER BY id")
                )
                return [r[0] for r in rows]
        finally:
            await engine.dispose()

    return asyncio.run(run())


def statuses(cli, refs: tuple[str, ...]) -> list[str]:  # type: ignore[no-untyped-def]
    found = {o["ref"]: o["status"] for o in json.loads(cli("orders", "--format", "json"))}
    return [found[r] for r in refs]


def test_ship_refuses_bad_input_and_changes_nothing(  # type: ignore[no-untyped-def]
    cli, database_url: str, tmp_path: Path
) -> None:
    one, two, unpaid = orders(database_url)

    def refused(*args: str) -> str:
        out = cli(*args, ok=False)
        assert out.startswith("error: ") and out.count("\n") == 1, out
        return out

    assert "no order NOPE1234" in refused("ship", "NOPE1234", "--tracking", "TRACK1234")
    assert f"order {unpaid} is not paid yet" in refused(
        "ship", one, unpaid, "--tracking", "TRACK1234"
    )
    assert "--tracking is required" in refused("ship", one)
    assert "name the orders" in refused("ship")
    assert "is not a tracking code" in refused("ship", one, "--tracking", "=1+2")
    table = tmp_path / "labels.csv"
    table.write_text(f"order,tracking,carrier\n{one},TRACK1234,DHL\n")
    assert "not both" in refused("ship", one, "--csv", str(table))
    assert "cannot read" in refused("ship", "--csv", str(tmp_path / "missing.csv"))

    files = {
        "order,tracking\n{one},TRACK1234\n": "line 1: the header needs the columns order,"
        " tracking, carrier; carrier missing; nothing was shipped",
        "order,tracking,carrier\n{one},TRACK1234,DHL\n{two},x,DHL\n": "line 3: 'x' is not a"
        " tracking code",
        "order,tracking,carrier\n{one},TRACK1234,DHL\nNOPE1234,TRACK5678,DHL\n": "line 3: no"
        " order NOPE1234",
        "order,tracking,carrier\n{one},TRACK1234,DHL\n{unpaid},TRACK5678,\n": "line 3: order"
        " {unpaid} is not paid yet",
        "order,tracking,carrier\n{one},TRACK1234,DHL\n{one},TRACK5678,UPS\n": "line 3: order"
        " {one} is on line 2 too",
        "order,tracking,carrier\n{one},TRACK1234\n": "line 2: 2 columns where the header has 3",
        "order,tracking,carrier\n": "the tracking file names no orders",
        "": "the tracking file is empty",
    }
    for content, error in files.items():
        table.write_text(content.format(one=one, unpaid=unpaid, two=two))
        assert error.format(one=one, unpaid=unpaid) in refused("ship", "--csv", str(table))
    table.write_bytes(b"order,tracking,carrier\n\xff\xfe,1,2\n")
    assert "is not UTF-8 text" in refused("ship", "--csv", str(table))

    assert statuses(cli, (one, two, unpaid)) == ["paid", "paid", "reserved"]
    assert shipped_letters(database_url) == []


def test_a_tracking_file_ships_every_line(  # type: ignore[no-untyped-def]
    cli, database_url: str, tmp_path: Path
) -> None:
    one, two, _ = orders(database_url)
    table = tmp_path / "labels.csv"
    # As a label tool exports it: a BOM, columns in its own order, one more column, CRLF.
    table.write_text(
        f"\ufeffCarrier,Order,Tracking,Weight\r\nRoyal Mail,{one},AB123456789GB,0.4\r\n"
        f"Evri,{two.lower()},H01ABC2345678901,0.2\r\n"
    )
    out = cli("ship", "--csv", str(table))
    assert out.splitlines() == [
        f"shipped {one}: tracking AB123456789GB (Royal Mail)"
        " https://www.royalmail.com/track-your-item#/tracking-results/AB123456789GB",
        f"shipped {two}: tracking H01ABC2345678901 (Evri)",  # no tracking page known
    ]
    assert statuses(cli, (one, two)) == ["fulfilled", "fulfilled"]
    history = cli("order", one)
    assert f"ship:csv:{table.name} tracking AB123456789GB (Royal Mail)" in history
    assert len(shipped_letters(database_url)) == 2
    assert "is shipped already" in cli("ship", one, "--tracking", "TRACK1234", ok=False)


def test_packing_list_and_cancel(cli, database_url: str) -> None:  # type: ignore[no-untyped-def]
    one, two, unpaid = orders(database_url)
    lines = cli("packing-list").splitlines()
    assert lines[0] == "package,buyer,address,order,sku,item,variant,quantity"
    assert sorted(line.split(",")[0] for line in lines[1:]) == sorted([one, two])
    page = cli("packing-list", "--since", "2d", "--format", "html")
    assert f"Package {one}" in page and "2 packages" in page and "<script" not in page
    assert "no show NOSHOW" in cli("packing-list", "--show", "noshow", ok=False)
    assert "is not a duration" in cli("packing-list", "--since", "yesterday", ok=False)
    assert "Invalid value" in cli("packing-list", "--format", "pdf", ok=False)

    assert "refunded in full" in cli("refund", one, "--bundle", "--amount", "1", ok=False)
    assert "refund it instead" in cli("cancel", one, ok=False)
    assert "no order NOPE1234" in cli("cancel", "NOPE1234", ok=False)
    out = cli("cancel", unpaid, "--reason", "sold elsewhere")
    assert out == f"order {unpaid} cancelled; its units went back to stock\n"
    assert "cancel:cli (sold elsewhere)" in cli("order", unpaid)
    assert "only unpaid orders" in cli("cancel", unpaid, ok=False)


async def livebuy(database_url: str, *args: str) -> str:
    """The CLI in a terminal next to the running service: its own thread and event loop,
    the same database. Its messages reach buyers through the service's couriers."""
    env = {"DATABASE_URL": database_url, "PUBLIC_BASE_URL": f"http://127.0.0.1:{free_port()}"}
    result = await asyncio.to_thread(CliRunner().invoke, app, list(args), env=env)
    assert result.exit_code == 0, result.output
    return result.output
