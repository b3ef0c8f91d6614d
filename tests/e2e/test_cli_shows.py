"""`livebuy show …` and the drop options of one-message buying, through typer's runner on
SQLite and PostgreSQL: what an operator types and sees, errors in one line."""

import json
from pathlib import Path


def test_drop_options_for_saved_cards_and_promos(cli) -> None:  # type: ignore[no-untyped-def]
    cli("product", "add", "TEE", "--name", "Tee", "--price", "25", "--stock", "10")
    cli("product", "add", "SAMPLE", "--name", "Sample", "--price", "5", "--stock", "50")
    out = cli("drop", "start", "TEE", "--qty", "5", "--confirm", "above 30", "--all-chats")
    assert "above:3000" in out
    promo = json.loads(cli("drop", "list", "--format", "json"))
    assert promo[0]["confirm"] == "above:3000"
    out = cli("drop", "start", "SAMPLE", "--qty", "20", "--promo", "--all-chats")
    assert "promo" in out
    listed = {d["code"]: d for d in json.loads(cli("drop", "list", "--format", "json"))}
    assert listed["SAMPLE"]["price"] == "0.00" and listed["SAMPLE"]["limit"] == 1
    bad = cli(
        "drop",
        "start",
        "TEE",
        "--qty",
        "1",
        "--code",
        "T2",
        "--confirm",
        "sometimes",
        "--all-chats",
        ok=False,
    )
    assert "confirm must be" in bad


def test_a_show_from_a_csv_run_sheet(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    for sku in ("CARD1", "CARD2", "TEE"):
        cli("product", "add", sku, "--name", sku.title(), "--price", "20", "--stock", "5")
    sheet = tmp_path / "lots.csv"
    sheet.write_text("sku,mode,price,duration,close,quantity\nCARD1,pdd,,,,\nTEE,fixed,,,,3\n")
    out = cli(
        "show",
        "create",
        "Sunday cards",
        "--at",
        "2030-12-06 20:00",
        "--channels",
        "telegram:-100123,web:live",
        "--lots",
        str(sheet),
    )
    assert "SUNDAY-CARDS" in out and "scheduled" in out
    cli("show", "lot", "SUNDAY-CARDS", "CARD2", "--mode", "auction", "--price", "5", "--for", "2m")
    lots = json.loads(cli("show", "lots", "SUNDAY-CARDS", "--format", "json"))
    assert [(lot["sku"], lot["mode"], lot["price"], lot["duration"]) for lot in lots] == [
        ("CARD1", "auction", "1.00", "50s"),
        ("TEE", "fixed", "20.00", ""),
        ("CARD2", "auction", "5.00", "2m"),
    ]
    shows = json.loads(cli("show", "list", "--format", "json"))
    assert [(s["code"], s["lots"], s["channels"]) for s in shows] == [
        ("SUNDAY-CARDS", 3, "telegram:-100123,web:live")
    ]
    out = cli("show", "next", "SUNDAY-CARDS")
    assert "live" in out and "CARD1" in out

    bad = tmp_path / "bad.csv"
    bad.write_text("sku,mode\nCARD1,raffle\n")
    assert "line 2" in cli("show", "import", "SUNDAY-CARDS", str(bad), ok=False)
    missing = tmp_path / "missing.csv"
    missing.write_text("sku\nCARD1\nNOPE\n")
    assert "NOPE" in cli("show", "import", "SUNDAY-CARDS", str(missing), ok=False)
    assert len(json.loads(cli("show", "lots", "SUNDAY-CARDS", "--format", "json"))) == 3
    assert "not a time" in cli(
        "show", "create", "X", "--at", "soon", "--channels", "web:x", ok=False
    )
    assert "no show" in cli("show", "next", "NOPE", ok=False)
