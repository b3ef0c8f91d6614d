"""The `livebuy` CLI in-process (typer's runner), on SQLite and PostgreSQL: what operators
type, what they see, and one-line errors without tracebacks."""

import asyncio
import json
import socket
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from commerce.adapters.db import create_engine
from commerce.adapters.ledger import SqlLedger
from tests.e2e.conftest import free_port
from webhooks.cli import app

runner = CliRunner()


def test_products_and_stock(cli) -> None:  # type: ignore[no-untyped-def]
    out = cli(
        "product",
        "add",
        "tee",
        "--name",
        "Logo tee",
        "--price",
        "25.00",
        "--stock",
        "10",
        "--variant",
        "size=S,M,L",
    )
    assert "TEE" in out and "S:10, M:10, L:10" in out
    cli(
        "product",
        "add",
        "CAP",
        "--name",
        "Cap",
        "--price",
        "12",
        "--currency",
        "usd",
        "--digital",
        "--stock",
        "0",
    )
    listed = json.loads(cli("product", "list", "--format", "json"))
    assert [(p["sku"], p["price"], p["currency"], p["stock"], p["digital"]) for p in listed] == [
        ("CAP", "12.00", "usd", 0, True),
        ("TEE", "25.00", "eur", 30, False),
    ]
    csv = cli("product", "list", "--format", "csv").splitlines()
    assert csv[0] == "sku,name,price,currency,stock,variants,digital,ship_units,image,description"
    assert "M:7" in cli("product", "stock", "TEE", "7", "--variant", "m")
    assert "error: TEE has variants: name one of S, M, L" in cli(
        "product", "stock", "TEE", "3", ok=False
    )
    assert "no variant 'XL'" in cli("product", "stock", "TEE", "3", "--variant", "XL", ok=False)
    assert "no product with SKU NOPE" in cli("product", "stock", "NOPE", "3", ok=False)
    assert "5" in cli("product", "stock", "CAP", "5")
    edited = cli("product", "edit", "CAP", "--name", "Snapback", "--price", "14.50")
    assert "Snapback" in edited and "14.50" in edited
    assert "exists already" in cli(
        "product", "add", "CAP", "--name", "x", "--price", "1", "--stock", "1", ok=False
    )
    assert "not an amount" in cli(
        "product", "add", "X", "--name", "x", "--price", "abc", "--stock", "1", ok=False
    )
    assert "is not a SKU" in cli(
        "product", "add", "no way", "--name", "x", "--price", "1", "--stock", "1", ok=False
    )
    # Stock is said, never assumed (a product of 0 units made by omission sold nothing).
    assert "Missing option '--stock'" in cli(
        "product", "add", "MUG", "--name", "Mug", "--price", "9", ok=False
    )
    # A typo such as 1e9 is not a price anyone means: it needs --yes.
    big = cli(
        "product", "add", "GOLD", "--name", "Gold", "--price", "1e9", "--stock", "1", ok=False
    )
    assert "--price 1,000,000,000.00 is above LIVEBUY_MAX_PRICE (10,000): add --yes" in big
    assert "GOLD" not in cli("product", "list")
    cli("product", "add", "GOLD", "--name", "Gold", "--price", "12000", "--stock", "1", "--yes")
    assert "above LIVEBUY_MAX_PRICE (20,000)" in cli(
        "product", "edit", "GOLD", "--price", "25000", ok=False, LIVEBUY_MAX_PRICE="20000"
    )
    assert "bad configuration: LIVEBUY_MAX_PRICE" in cli(
        "product", "list", ok=False, LIVEBUY_MAX_PRICE="-5"
    )


def test_drops_orders_and_the_console(cli) -> None:  # type: ignore[no-untyped-def]
    cli("product", "add", "TEE", "--name", "Logo tee", "--price", "25.00", "--stock", "3")
    out = cli(
        "drop",
        "start",
        "TEE",
        "--qty",
        "2",
        "--price",
        "19.99",
        "--for",
        "10m",
        "--limit",
        "1",
        "--channel",
        "telegram:-100123",
    )
    assert "telegram:-100123" in out and "19.99" in out
    [drop] = json.loads(cli("drop", "list", "--format", "json"))
    assert (drop["status"], drop["remaining"], drop["limit"], drop["hold"]) == (
        "live",
        2,
        1,
        "10m",
    )
    assert "is live already" in cli("drop", "start", "TEE", "--qty", "1", "--all-chats", ok=False)
    assert "only 3 units" in cli(
        "drop", "start", "TEE", "--qty", "9", "--code", "X", "--all-chats", ok=False
    )
    assert "not a duration" in cli(
        "drop",
        "start",
        "TEE",
        "--qty",
        "1",
        "--for",
        "10 parsecs",
        "--code",
        "Y",
        "--all-chats",
        ok=False,
    )
    assert "not a chat" in cli(
        "drop", "start", "TEE", "--qty", "1", "--channel", "irc:foo", "--code", "Z", ok=False
    )

    said = cli("say", "--chat", "telegram:-100123", "--as", "telegram:42", "omg #buy")
    assert "[chat] @42: 1 × Logo tee is yours for €19.99" in said
    assert "[private] You have 1 × Logo tee for €19.99. Pay within 10m: http://" in said
    assert "/pay/" in said  # the shop's own link: the checkout is made when it is opened
    assert "limit is 1" in cli("say", "--chat", "telegram:-100123", "--as", "telegram:42", "#buy")
    assert "(no reply" in cli("say", "--chat", "telegram:-100123", "--as", "bob", "hi all")
    assert "is not a chat" in cli("say", "--chat", "nowhere", "#buy", ok=False)
    german = cli("say", "--chat", "telegram:-100123", "--as", "ben", "--locale", "de", "#kaufen")
    assert "gehört dir" in german

    orders = json.loads(cli("orders", "--format", "json"))
    assert [(o["buyer"], o["status"], o["amount"]) for o in orders] == [
        ("telegram:ben", "checkout_open", "19.99"),  # their pay links handed out
        ("telegram:42", "checkout_open", "19.99"),
    ]
    assert json.loads(cli("orders", "--status", "paid", "--format", "json")) == []
    mine = json.loads(cli("orders", "--buyer", "telegram:42", "--format", "json"))
    assert len(mine) == 1
    table = cli("orders")
    assert table.splitlines()[0].split()[:3] == ["ref", "status", "drop"]
    assert cli("orders", "--format", "csv").startswith("ref,status,drop")
    history = cli("order", mine[0]["ref"])
    assert "reserved" in history and "claim:telegram:-100123:console-" in history
    assert "no order NOPE" in cli("order", "NOPE", ok=False)
    assert "nothing to refund" in cli("refund", mine[0]["ref"], ok=False)

    ended = cli("drop", "end", "TEE")
    assert "ended" in ended
    assert "no live drop" in cli("drop", "end", ok=False)
    assert "ended" in cli("drop", "list", "--status", "ended")


def test_where_an_order_ships_to(cli, database_url: str) -> None:  # type: ignore[no-untyped-def]
    cli("product", "add", "TEE", "--name", "Logo tee", "--price", "25.00", "--stock", "3")
    cli("drop", "start", "TEE", "--qty", "2", "--channel", "telegram:-100123")
    cli("say", "--chat", "telegram:-100123", "--as", "telegram:42", "#buy")
    [order] = json.loads(cli("orders", "--format", "json"))
    assert order["ship_to"] is None
    assert "ship to" not in cli("order", order["ref"])

    async def typed_at_payment() -> None:  # as a payment page reports it
        engine = create_engine(database_url)
        line = "Jenny Rosen, Teststraße 1, 10115 Berlin, DE"
        await SqlLedger(engine).record_ship_to(order["ref"], line, datetime.now(UTC))
        await engine.dispose()

    asyncio.run(typed_at_payment())
    assert "ship to: Jenny Rosen, Teststraße 1, 10115 Berlin, DE\n" in cli("order", order["ref"])
    [shown] = json.loads(cli("orders", "--format", "json"))
    assert shown["ship_to"] == "Jenny Rosen, Teststraße 1, 10115 Berlin, DE"
    header, row = cli("orders", "--format", "csv").splitlines()
    assert header.endswith(",hold_expires_at,ship_to")
    assert row.endswith(',"Jenny Rosen, Teststraße 1, 10115 Berlin, DE"')
    assert "Jenny" not in cli("orders")  # the table stays one short line per order


def test_sellers_reconcile_and_upgrade(cli) -> None:  # type: ignore[no-untyped-def]
    assert "telegram:123 is now a seller (cohost)" in cli(
        "seller", "add", "telegram:123", "--role", "cohost"
    )
    assert "role must be one of" in cli("seller", "add", "telegram:1", "--role", "admin", ok=False)
    assert "not an identity" in cli("seller", "add", "bogus", ok=False)
    assert "nothing to repair" in cli("reconcile", "--since", "2h")
    assert "not a duration" in cli("reconcile", "--since", "ages", ok=False)
    assert "up to date" in cli("db", "upgrade")


def test_configuration_and_database_errors(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = cli("product", "list", ok=False, LIVEBUY_CURRENCY="euro")
    assert bad.startswith("error: bad configuration: LIVEBUY_CURRENCY")
    assert "LIVEBUY_HOLD" in cli("product", "list", ok=False, LIVEBUY_HOLD="forever")
    empty = tmp_path / "empty.db"
    assert "run `livebuy db upgrade`" in cli(
        "product", "list", ok=False, DATABASE_URL=f"sqlite:///{empty}"
    )
    unreachable = cli(
        "product",
        "list",
        ok=False,
        DATABASE_URL=f"postgresql://postgres@127.0.0.1:{free_port()}/x",
    )
    assert unreachable.startswith("error: cannot reach the database")
    assert "must be sqlite:// or postgresql://" in cli(
        "product", "list", ok=False, DATABASE_URL="mysql://x/y"
    )
    assert "cannot migrate" in cli(
        "db",
        "upgrade",
        ok=False,
        DATABASE_URL=f"postgresql://postgres@127.0.0.1:{free_port()}/x",
    )
    with_keys = cli("refund", "X", ok=False, STRIPE_SECRET_KEY="sk_test_x")
    assert "STRIPE_WEBHOOK_SECRET must be set" in with_keys


@pytest.mark.parametrize(
    ("command", "options"),
    [
        (["product", "add"], ["--name", "--price", "--currency", "--stock", "--variant"]),
        (["drop", "start"], ["--qty", "--price", "--for", "--limit", "--channel"]),
        (["orders"], ["--status", "--format"]),
        (["say"], ["--chat", "--as"]),
        (["refund"], ["--amount", "--restock"]),
        (["reconcile"], ["--since"]),
        (["run"], ["--host", "--port"]),
    ],
)
def test_help_lists_the_contract_options(command: list[str], options: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for option in options:
        assert option in result.output


def test_the_banner_says_whom_the_emulator_answers() -> None:
    from commerce.config import Settings
    from webhooks.cli.serve import banner

    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    local = banner(settings, "127.0.0.1", 8080)
    assert "WARNING" not in local and "NOTE" not in local
    facing = banner(settings, "0.0.0.0", 8080)  # noqa: S104
    assert "WARNING" not in facing
    assert "the Stripe test emulator (its checkout pages too) answers this machine only" in facing
    public = Settings(_env_file=None, livebuy_emulator_public=True)  # type: ignore[call-arg]
    for host in ("127.0.0.1", "0.0.0.0"):  # noqa: S104
        assert (
            "WARNING: LIVEBUY_EMULATOR_PUBLIC=1: the Stripe test emulator answers ANYONE"
            in banner(public, host, 8080)
        )
    keys = Settings(  # type: ignore[call-arg]
        _env_file=None,
        livebuy_emulator_public=True,
        stripe_secret_key="sk_test_x",
        stripe_webhook_secret="whsec_x",
    )
    assert "WARNING" not in banner(keys, "0.0.0.0", 8080)  # noqa: S104 (no emulator at all)


def test_demo_refuses_what_it_cannot_show(cli) -> None:  # type: ignore[no-untyped-def]
    assert "between 6 and" in cli("demo", "--viewers", "3", ok=False)
    assert "--hold" in cli("demo", "--hold", "soon", ok=False)
    assert "--pace" in cli("demo", "--pace", "-1", ok=False)
    assert "unset STRIPE_SECRET_KEY" in cli("demo", ok=False, STRIPE_SECRET_KEY="sk_test_x")


def test_demo_says_when_the_port_is_taken(cli) -> None:  # type: ignore[no-untyped-def]

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        output = cli("demo", "--port", port, ok=False, PUBLIC_BASE_URL="")
    assert f"cannot listen on 127.0.0.1:{port}" in output and "--port" in output


def test_the_banner_shows_the_dashboard_and_its_token() -> None:
    from commerce.config import Settings
    from webhooks.cli.serve import banner

    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    text = banner(settings, "127.0.0.1", 8080, token="tok123")
    assert "http://127.0.0.1:8080/dashboard   admin token: tok123" in text
    token = "secret!-configured-and-long-enough"
    configured = Settings(_env_file=None, livebuy_admin_token=token)  # type: ignore[call-arg]
    assert token not in banner(configured, "127.0.0.1", 8080)


def test_status_on_a_quiet_shop(cli) -> None:  # type: ignore[no-untyped-def]
    output = cli("status")
    assert "workers (0)\n  none running" in output
    assert "duties\n  none taken yet" in output
    assert "telegram   0 waiting, 0 sent (0 board edits), 0 undeliverable" in output
    assert output.rstrip().endswith("last webhook  none yet")


def test_auctions_from_the_cli(cli) -> None:  # type: ignore[no-untyped-def]
    cli("product", "add", "CARD", "--name", "Rare card", "--price", "5", "--stock", "1")
    assert "is not an amount" in cli("auction", "start", "CARD", "--start", "lots", ok=False)
    assert "auction" in cli("auction", "start", "CARD", "--start", "0", ok=False)
    assert "'soon'" in cli("auction", "start", "CARD", "--start", "1", "--for", "soon", ok=False)
    started = cli("auction", "start", "CARD", "--start", "1", "--for", "2m", "--close", "sudden",
                  "--channel", "web:demo")  # fmt: skip
    assert "CARD" in started and "sudden" in started and "live" in started
    listed = json.loads(cli("auction", "list", "--format", "json"))
    assert [(a["code"], a["bids"], a["status"]) for a in listed] == [("CARD", 0, "live")]
    ended = cli("auction", "end", "CARD")
    assert "no_bids" in ended and "closed" in ended
    assert "error:" in cli("auction", "end", "CARD", ok=False)


def test_the_banner_says_which_chat_platforms_run_and_how() -> None:
    from commerce.config import Settings
    from webhooks.cli.serve import banner

    polling = Settings(_env_file=None, telegram_bot_token="1:x", discord_bot_token="d")  # type: ignore[call-arg]
    text = banner(polling, "127.0.0.1", 8080)
    assert "telegram   on (long polling, Bot API https://api.telegram.org)" in text
    assert "discord    on (gateway; #buy text not read: DISCORD_MESSAGE_CONTENT=0)" in text
    hooked = Settings(  # type: ignore[call-arg]
        _env_file=None,
        telegram_bot_token="1:x",
        telegram_webhook_secret="s3",
        public_base_url="https://shop.example.com",
    )
    assert "on (webhook https://shop.example.com/webhooks/telegram" in banner(hooked, "::", 8080)


def test_the_banner_says_whether_twitch_is_on_and_why_not() -> None:
    from commerce.config import Settings
    from webhooks.cli.serve import banner

    off = banner(Settings(_env_file=None), "127.0.0.1", 8080)  # type: ignore[call-arg]
    assert (
        "  twitch     off (TWITCH_CLIENT_ID, TWITCH_CLIENT_SECRET, TWITCH_BOT_USER_ID,"
        " TWITCH_BOT_REFRESH_TOKEN, TWITCH_CHANNELS not set)" in off
    )
    secret, refresh = "twitch-secret-never-shown", "twitch-refresh-never-shown"
    on = Settings(  # type: ignore[call-arg]
        _env_file=None,
        twitch_client_id="abc",
        twitch_client_secret=secret,
        twitch_bot_user_id="900000001",
        twitch_bot_refresh_token=refresh,
        twitch_channels="#Annas_Cards, 141981764 ,",
    )
    text = banner(on, "127.0.0.1", 8080)
    assert (
        "  twitch     on (EventSub chat of annas_cards, 141981764, 20 lines per 30 s per"
        " channel)" in text
    )
    assert secret not in text and refresh not in text
    half = Settings(_env_file=None, twitch_client_id="abc")  # type: ignore[call-arg]
    assert "TWITCH_CLIENT_ID" not in (half.twitch_off or "")
