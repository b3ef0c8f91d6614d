"""#18 item 1, names: a seller who signed in (or linked, /link) to the web chat with their
Telegram or Discord account is a seller there, and the name they chat under cannot be taken
by a viewer, in any spelling a reader would take for it. On SQLite and PostgreSQL."""

from aiohttp import ClientSession, CookieJar

from commerce.domain import commands as c
from commerce.domain.display_names import refused
from commerce.service_layer import chat
from tests.e2e.conftest import WebShop, base_of
from tests.live_events import enter
from webhooks.keys import BUS


async def test_a_signed_in_sellers_web_name_cannot_be_taken(web_shop: WebShop) -> None:
    async with (
        web_shop() as server,
        ClientSession(cookie_jar=CookieJar(unsafe=True)) as sam,
        ClientSession(cookie_jar=CookieJar(unsafe=True)) as eve,
    ):
        base, bus = base_of(server), server.app[BUS]
        await bus.handle(c.AddSeller("telegram:9"))  # the seller, by their Telegram account
        await enter(sam, base, "demo")
        await enter(eve, base, "demo")
        issued = await bus.handle(
            c.ChatMessage("tg:1", "telegram:9", "telegram:9", "/link", "Sam", private=True)
        )
        assert isinstance(issued, chat.LinkCodeIssued)
        link = {"name": "Sam", "text": f"/link {issued.code}"}
        assert (await sam.post(f"{base}/chat/demo/messages", data=link)).status == 200
        said = await sam.post(
            f"{base}/chat/demo/messages", data={"name": "Sam Shop", "text": "hi"}
        )
        assert said.status == 200
        for name in ("Sam Shop", "sam shop!", "5am Sh0p", "ＳＡＭ ＳＨＯＰ"):
            answer = await eve.post(f"{base}/chat/demo/messages", data={"name": name, "text": "x"})
            assert answer.status == 400, name
            assert "seller's name" in (await answer.json())["error"]
        other = await eve.post(f"{base}/chat/demo/messages", data={"name": "Eve", "text": "x"})
        assert other.status == 200


def test_symbols_are_read_as_letters_and_as_punctuation() -> None:
    assert refused("Sam Shop!", ["Sam Shop"]) is not None  # '!' as punctuation
    assert refused("$am $hop", ["Sam Shop"]) is not None  # '$' as a letter
    assert refused("L!vebuy") is not None and refused("live|buy") is not None
    assert refused("Sam Shopper", ["Sam Shop"]) is None
