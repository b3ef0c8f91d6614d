"""Start-up against the fake Discord: login, slash commands synced, gateway identified."""

from tests.discord.conftest import ShopFactory
from tests.discord.fake_discord import APP_ID, GUILD_ID, MESSAGE_CONTENT


async def test_the_bot_logs_in_syncs_commands_to_the_guild_and_connects(
    open_shop: ShopFactory,
) -> None:
    async with open_shop() as shop:
        fake = shop.fake
        assert fake.calls_to("GET", "/users/@me")
        synced = fake.calls_to("PUT", f"/applications/{APP_ID}/guilds/{GUILD_ID}/commands")
        assert len(synced) == 1
        names = {c["name"] for c in synced[0].body}
        assert {
            "buy",
            "orders",
            "cancel",
            "pass",
            "help",
            "whoami",
            "drop",
            "end",
            "stats",
            "refund",
        } <= (names)
        assert not fake.calls_to("PUT", f"/applications/{APP_ID}/commands")
        (identify,) = fake.identified
        assert identify["token"] == "test-token"
        assert not identify["intents"] & MESSAGE_CONTENT  # not asked for unless configured
