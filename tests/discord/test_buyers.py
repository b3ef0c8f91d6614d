"""The buyers' other commands: autocomplete, /orders, /pass with the waitlist moving up,
/cancel, /help, a DM to the bot; global command sync; the sender's error translation."""

from types import SimpleNamespace

import aiohttp
import discord
import pytest

from bots.discord.sender import DiscordSender, _translated, _view
from bots.discord.texts import TEXTS
from bots.rendering import LOCALES
from commerce.service_layer.outbox import Button, Outgoing, RetryLater, Undeliverable
from tests.discord.conftest import ShopFactory, until
from tests.discord.fake_discord import APP_ID, CHANNEL_ID, OWNER_ID
from tests.discord.test_drop import LINK, board_text, ephemeral_answer
from tests.integration.helpers import add_product, start_drop

DISCORD_CHAT = (f"discord:{CHANNEL_ID}",)


async def test_whoami_tells_a_seller_the_ids_to_configure(open_shop: ShopFactory) -> None:
    async with open_shop() as shop:
        anna = shop.fake.add_member("anna")
        answer = await ephemeral_answer(shop, await shop.fake.slash(anna, "whoami"))
        assert answer == (
            f"Your id: discord:{anna} (for LIVEBUY_SELLERS or livebuy seller add)\n"
            f"This chat: discord:{CHANNEL_ID} (for livebuy drop start"
            f" --channel discord:{CHANNEL_ID})"
        )


async def test_autocomplete_orders_pass_waitlist_cancel_and_help(open_shop: ShopFactory) -> None:
    async with open_shop() as shop:
        fake = shop.fake
        await add_product(shop.bus)
        await add_product(shop.bus, sku="CAP")
        await start_drop(shop.bus, quantity=1, channels=DISCORD_CHAT)
        await start_drop(shop.bus, sku="CAP", quantity=5, channels=("web:elsewhere",))
        anna, bo = fake.add_member("anna"), fake.add_member("bo")

        token = await fake.autocomplete(anna, "buy", "sku", "t")
        (suggested,) = await until(lambda: fake.responses(token), what="autocomplete")
        assert suggested["type"] == 8
        assert [c["value"] for c in suggested["data"]["choices"]] == ["TEE"]

        assert LINK.search(await ephemeral_answer(shop, await fake.slash(anna, "buy")))
        waiting = await ephemeral_answer(shop, await fake.slash(bo, "buy", sku="TEE"))
        assert "number 1 on the waitlist" in waiting
        await until(lambda: "1 waiting" in board_text(shop), what="the waitlist on the board")
        orders = await ephemeral_answer(shop, await fake.slash(anna, "orders"))
        assert "Your orders" in orders and "checkout_open" in orders

        passed = await ephemeral_answer(shop, await fake.slash(anna, "pass"))
        assert "passed" in passed
        promoted = await until(lambda: fake.dms_to(bo), what="bo's turn, by DM")
        assert "Your turn" in promoted[0]["content"] and LINK.search(promoted[0]["content"])

        cancelled = await ephemeral_answer(shop, await fake.slash(bo, "cancel"))
        assert "cancelled" in cancelled
        helped = await ephemeral_answer(shop, await fake.slash(OWNER_ID, "help"))
        assert "Sellers:" in helped  # the owner manages the server: a seller
        assert "Sellers:" not in await ephemeral_answer(shop, await fake.slash(bo, "help"))


async def test_a_dm_to_the_bot_is_answered_by_dm(open_shop: ShopFactory) -> None:
    async with open_shop(discord_message_content=True, discord_guild_ids="") as shop:
        fake = shop.fake
        assert fake.calls_to("PUT", f"/applications/{APP_ID}/commands")  # synced globally
        anna = fake.add_member("anna")
        await fake.post_message(anna, "/orders", direct=True)
        answer = await until(
            lambda: [m for m in fake.dms_to(anna) if m["author"]["id"] != anna], what="the DM"
        )
        assert "no open orders" in answer[0]["content"]


async def test_the_sender_turns_discord_errors_into_the_couriers(open_shop: ShopFactory) -> None:
    async with open_shop() as shop:
        fake = shop.fake
        sender = DiscordSender(lambda: shop.service.bot)
        assert sender.interval(CHANNEL_ID) > 0
        # A 429 longer than the bot will sleep for goes back to the outbox.
        fake.rate_limit_next("POST", f"/channels/{CHANNEL_ID}/messages", 60)
        with pytest.raises(RetryLater) as waited:
            await sender.send(Outgoing("discord", CHANNEL_ID, "hello"))
        assert waited.value.seconds == 60
        with pytest.raises(Undeliverable):
            await sender.send(Outgoing("discord", "123", "to a channel that is not there"))
        closed = fake.add_member("closed")
        fake.closed_dms.add(closed)
        with pytest.raises(Undeliverable):  # no channel to fall back to
            await sender.send(Outgoing("discord", f"dm:{closed}", "psst"))
        with pytest.raises(Undeliverable):
            await sender.edit(Outgoing("discord", CHANNEL_ID, "x", board="drop:1"), "42")
        assert not DiscordSender(lambda: None).interval("x") < 0
        with pytest.raises(RetryLater):
            await DiscordSender(lambda: None).send(Outgoing("discord", CHANNEL_ID, "x"))
    assert isinstance(_translated(aiohttp.ClientConnectionError()), RetryLater)
    assert isinstance(_translated(TimeoutError()), RetryLater)
    assert isinstance(_translated(ValueError()), ValueError)


def _http_error(status: int, headers: dict[str, str] | None = None) -> discord.HTTPException:
    response = SimpleNamespace(status=status, reason="", headers=headers or {})
    return discord.HTTPException(response, {"message": "no", "code": 0})  # type: ignore[arg-type]


async def test_errors_and_buttons_in_discords_terms() -> None:
    limited = _translated(_http_error(429, {"Retry-After": "2.5"}))  # a 429 from a proxy
    assert isinstance(limited, RetryLater) and limited.seconds == 2.5
    assert isinstance(_translated(_http_error(502)), RetryLater)
    assert isinstance(_translated(_http_error(400)), Undeliverable)
    view = _view((Button("Pay", url="https://pay.test/1"), Button("Pass", action="pass:TEE")))
    assert view is not None
    assert [getattr(i, "url", None) for i in view.children] == ["https://pay.test/1", None]
    assert [getattr(i, "custom_id", None) for i in view.children] == [None, "livebuy:pass:TEE"]


def test_every_locale_has_the_same_discord_texts() -> None:
    keys = {locale: set(texts) for locale, texts in TEXTS.items()}
    assert set(keys) == set(LOCALES)
    assert all(k == keys["en"] for k in keys.values())


async def test_a_failure_in_the_core_is_still_answered(
    open_shop: ShopFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with open_shop() as shop:

        async def broken(command: object) -> object:
            raise RuntimeError("database on fire")

        monkeypatch.setattr(shop.bus, "handle", broken)
        answer = await ephemeral_answer(shop, await shop.fake.slash(OWNER_ID, "orders"))
        assert "Something went wrong" in answer
