"""The CLI's input rules on SQLite and PostgreSQL: what a slip of the keyboard would have put
live in every chat (a price of 1e9, a drop in all chats by omission, ending the wrong drop)
is refused in one line, or asked about on a terminal, and nothing is changed."""

import json

import pytest

from webhooks.cli import common, drops


def live_codes(cli) -> list[str]:  # type: ignore[no-untyped-def]
    listed = json.loads(cli("drop", "list", "--status", "live", "--format", "json"))
    return sorted(d["code"] for d in listed)


def test_a_price_above_the_ceiling_needs_yes_everywhere_it_is_typed(cli) -> None:  # type: ignore[no-untyped-def]
    cli("product", "add", "TEE", "--name", "Tee", "--price", "25", "--stock", "10")
    refused = cli("drop", "start", "TEE", "--qty", "1", "--price", "1e9", "--all-chats", ok=False)
    assert "--price 1,000,000,000 is above LIVEBUY_MAX_PRICE (10,000): add --yes" in refused
    assert live_codes(cli) == []
    started = cli("drop", "start", "TEE", "--qty", "1", "--price", "10001", "--all-chats", "--yes")
    assert "10001.00" in started
    start = cli("auction", "start", "TEE", "--start", "20000", "--channel", "web:x", ok=False)
    assert "--start 20,000 is above LIVEBUY_MAX_PRICE" in start
    reserve = cli(
        "auction",
        "start",
        "TEE",
        "--start",
        "1",
        "--reserve",
        "1e6",
        "--channel",
        "web:x",
        ok=False,
    )
    assert "--reserve 1,000,000 is above" in reserve
    assert json.loads(cli("auction", "list", "--format", "json")) == []
    cli(
        "show", "create", "Sun", "--code", "SUN", "--at", "2030-01-05 20:00", "--channels", "web:x"
    )
    lot = cli("show", "lot", "SUN", "TEE", "--mode", "fixed", "--price", "99999", ok=False)
    assert "above LIVEBUY_MAX_PRICE" in lot
    # The ceiling is the operator's: a shop selling cars sets it higher.
    cli("show", "lot", "SUN", "TEE", "--mode", "fixed", "--price", "99999",
        LIVEBUY_MAX_PRICE="100000")  # fmt: skip


def test_a_drop_in_every_chat_is_said_out_loud(cli) -> None:  # type: ignore[no-untyped-def]
    cli("product", "add", "TEE", "--name", "Tee", "--price", "25", "--stock", "10")
    refused = cli("drop", "start", "TEE", "--qty", "2", ok=False)
    assert "say where the drop of TEE runs: --channel CHAT (repeatable), or --all-chats" in refused
    assert live_codes(cli) == []
    out = cli("drop", "start", "TEE", "--qty", "2", "--all-chats")
    assert "all" in out.splitlines()[-1].split()
    assert live_codes(cli) == ["TEE"]


def test_a_terminal_is_asked_before_a_drop_goes_everywhere(
    cli, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    cli("product", "add", "TEE", "--name", "Tee", "--price", "25", "--stock", "10")
    monkeypatch.setattr(common, "interactive", lambda: True)
    answered_no = cli("drop", "start", "TEE", "--qty", "2", ok=False, input="n\n")
    assert "start the drop of TEE in every chat the shop sells in?" in answered_no
    assert "nothing started" in answered_no and live_codes(cli) == []
    cli("drop", "start", "TEE", "--qty", "2", input="y\n")
    assert live_codes(cli) == ["TEE"]


def test_ending_without_a_code_names_the_live_drops(cli) -> None:  # type: ignore[no-untyped-def]
    for sku in ("TEE", "MUG", "CAP"):
        cli("product", "add", sku, "--name", sku.title(), "--price", "5", "--stock", "5")
        cli("drop", "start", sku, "--qty", "1", "--channel", f"web:{sku.lower()}")
    refused = cli("drop", "end", ok=False)
    assert "3 drops are live (" in refused and "name one to end" in refused
    assert live_codes(cli) == ["CAP", "MUG", "TEE"]
    # Within one chat there is only one: it is ended without asking.
    cli("drop", "end", "--channel", "web:mug")
    assert live_codes(cli) == ["CAP", "TEE"]
    cli("drop", "end", "TEE")
    cli("drop", "end")  # the last one live
    assert live_codes(cli) == []


def test_a_terminal_chooses_which_drop_ends(cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    for sku in ("TEE", "MUG"):
        cli("product", "add", sku, "--name", sku.title(), "--price", "5", "--stock", "5")
        cli("drop", "start", sku, "--qty", "1", "--all-chats")
    monkeypatch.setattr(drops, "interactive", lambda: True)
    assert "'hat' is not one of MUG, TEE" in cli("drop", "end", ok=False, input="hat\n")
    assert live_codes(cli) == ["MUG", "TEE"]
    cli("drop", "end", input="mug\n")
    assert live_codes(cli) == ["TEE"]


def test_ids_are_checked_where_operators_type_them(cli) -> None:  # type: ignore[no-untyped-def]
    cli("product", "add", "TEE", "--name", "Tee", "--price", "25", "--stock", "10")
    refused = cli("drop", "start", "TEE", "--qty", "1", "--channel", "telegram:@myshop", ok=False)
    assert "'telegram:@myshop': a Telegram chat id is a number" in refused and "/whoami" in refused
    assert "a Discord channel id is a number" in cli(
        "auction", "start", "TEE", "--start", "1", "--channel", "discord:general", ok=False
    )
    assert "a web chat room is a word" in cli(
        "show", "create", "Sun", "--at", "2030-01-05 20:00", "--channels", "web:x,web:a b",
        ok=False,
    )  # fmt: skip
    assert live_codes(cli) == [] and json.loads(cli("show", "list", "--format", "json")) == []
    assert "a Telegram user id is a number" in cli("seller", "add", "telegram:anna", ok=False)
    assert "LIVEBUY_SELLERS" in cli("product", "list", ok=False, LIVEBUY_SELLERS="telegram:@anna")
    cli("drop", "start", "TEE", "--qty", "1", "--channel", "telegram:-1001234567890")
    assert live_codes(cli) == ["TEE"]
