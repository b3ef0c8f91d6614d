"""Shows, giveaways and polls in a Telegram group: the announcement, the show's board edited in
place on /next, a poll voted on by buttons (toasts) with live counts, a giveaway entered by
its button and by #enter, drawn by the sweeper with the seed, the winner told privately or by
deep link."""

from datetime import timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.adapters.show_report import SqlShowReport
from commerce.domain import commands as c
from commerce.domain.shows import LotMode, LotSpec
from tests.integration.helpers import add_product
from tests.telegram.conftest import GROUP, Shop, ShopFactory
from tests.telegram.fake_bot_api import FakeBotApi, FakeUser, Posted

SELLER = FakeUser(1, "Sam", "sam")
ANNA = FakeUser(11, "Anna", "anna")
BOB = FakeUser(12, "Bob", "bob")


def posted(api: FakeBotApi, start: str) -> list[Posted]:
    return [m for m in api.messages_in(GROUP) if m.text.startswith(start)]


def toasts(api: FakeBotApi) -> list[str]:
    return [str(call.params.get("text", "")) for call in api.of("answerCallbackQuery")]


async def seller(shop: Shop, api: FakeBotApi) -> None:
    api.admins[GROUP] = {SELLER.id}
    await shop.bus.handle(c.AddSeller(f"telegram:{SELLER.id}"))


async def test_a_show_announced_and_its_board_edited_on_next(
    shop_factory: ShopFactory, api: FakeBotApi, engine: AsyncEngine
) -> None:
    shop = await shop_factory()
    await seller(shop, api)
    await add_product(shop.bus, "CARD", stock=5)
    await add_product(shop.bus, "PIN", stock=5)
    lots = (
        LotSpec("CARD", LotMode.FIXED, Decimal(4), quantity=2),
        LotSpec("PIN", LotMode.FIXED, Decimal(3)),
    )
    starts = shop.clock.now() + timedelta(minutes=30)
    await shop.bus.handle(c.CreateShow("Sunday cards", starts, (f"telegram:{GROUP}",), lots=lots))
    await shop.settle()
    assert len(posted(api, "📅 Sunday cards starts")) == 1

    await shop.processed(api.message(GROUP, SELLER, "/next"))
    await shop.settle()
    (board,) = posted(api, "🔴 Sunday cards")
    assert "lot 1/2" in board.text and "Next: 1 × PIN product at €3.00" in board.text
    # Plain chatter during the show counts for the report, without being answered.
    await shop.processed(api.message(GROUP, ANNA, "hello everyone 👋"))
    await shop.processed(api.message(GROUP, BOB, "nice cards"))
    report = await SqlShowReport(engine).report("SUNDAY-CARDS", shop.clock.now())
    assert report.chatters == {"telegram": 2}  # Anna and Bob (the show opened with /next)

    await shop.processed(api.message(GROUP, SELLER, "/next"))
    await shop.settle()
    (edited,) = posted(api, "🔴 Sunday cards")  # the same message, edited
    assert edited is board and board.edits >= 1
    assert "lot 2/2" in board.text and "Next: nothing more" in board.text


async def test_a_poll_by_buttons_with_live_counts(
    shop_factory: ShopFactory, api: FakeBotApi
) -> None:
    shop = await shop_factory()
    await seller(shop, api)
    await shop.processed(api.message(GROUP, SELLER, '/poll "Cards or sneakers?" cards sneakers'))
    await shop.settle()
    (board,) = posted(api, "📊 Cards or sneakers?")
    labels = [b["text"] for b in board.buttons]
    data = [b["callback_data"] for b in board.buttons]
    assert labels == ["1 · cards", "2 · sneakers"]
    assert all(d.startswith("vote:") and len(d.encode()) <= 64 for d in data)

    await shop.processed(api.press(board, ANNA, data=data[1]))
    await shop.processed(api.press(board, BOB, data=data[0]))
    await shop.processed(api.press(board, BOB, data=data[1]))
    await shop.settle()
    assert toasts(api) == [
        "Your vote for sneakers counts.",
        "Your vote for cards counts.",
        "You voted already (cards).",
    ]
    assert "#1 cards: 1\n#2 sneakers: 1" in board.text
    assert posted(api, "📊") == [board]  # no message per vote

    await shop.processed(api.message(GROUP, SELLER, "/poll end"))
    await shop.settle()
    assert board.text.startswith("📊 Poll closed") and not board.buttons


async def test_a_giveaway_by_button_and_typing_drawn_with_the_seed(
    shop_factory: ShopFactory, api: FakeBotApi
) -> None:
    shop = await shop_factory()
    await seller(shop, api)
    await add_product(shop.bus, "PIN", stock=2)
    await shop.processed(api.message(ANNA.id, ANNA, "/start"))
    await shop.processed(api.message(GROUP, SELLER, "/giveaway PIN for 60s"))
    await shop.settle()
    (board,) = posted(api, "🎁 Giveaway: PIN product")
    [(label, data)] = [(b["text"], b["callback_data"]) for b in board.buttons]
    assert label == "Enter" and data.startswith("enter:")

    await shop.processed(api.press(board, ANNA, data=data))
    await shop.processed(api.message(GROUP, BOB, "me please #enter"))
    await shop.processed(api.press(board, ANNA, data=data))
    await shop.settle()
    assert toasts(api) == [
        "You're in: entry 1 for PIN product.",
        "You're in already (entry 1).",
    ]
    assert "2 entered" in board.text and [b["text"] for b in board.buttons] == ["Enter"]

    await shop.later(seconds=61)
    (draw,) = await shop.bus.handle(c.DrawDueGiveaways())  # the sweeper's pass
    await shop.settle()
    seed = draw.giveaway.seed
    assert seed and seed in board.text and not board.buttons
    assert len([m for m in posted(api, "🎉") if seed in m.text]) == 2  # the board, a message
    if draw.winner_identity == f"telegram:{ANNA.id}":  # she started the bot: privately
        assert any(t.startswith("You won the giveaway") for t in api.texts_to(ANNA.id))
    else:  # Bob never did: in the group, with a deep link to his order
        assert draw.order is not None
        (deep,) = posted(api, "@bob: you won PIN product!")
        assert deep.buttons[0]["url"] == f"https://t.me/livebuy_bot?start=pay-{draw.order.ref}"
        assert not any("You won" in t for t in api.texts_to(ANNA.id))


async def test_a_prize_s_shipping_is_paid_by_invoice_when_no_link_could_be_opened(
    shop_factory: ShopFactory, api: FakeBotApi
) -> None:
    """Invoices on, shipping charged for prizes, and the provider down at the draw: the
    winner gets the invoice (no sweeper would ever send an invoice buyer a link)."""
    shop = await shop_factory(
        livebuy_giveaway_shipping="4.90",
        telegram_payment_provider_token="284685063:TEST:provider-token",
    )
    await seller(shop, api)
    await add_product(shop.bus, "PIN", stock=2)
    await shop.processed(api.message(ANNA.id, ANNA, "/start"))
    await shop.processed(api.message(GROUP, SELLER, "/giveaway PIN for 60s"))
    await shop.processed(api.message(GROUP, ANNA, "#enter"))
    await shop.later(seconds=61)
    shop.payments.down = True
    (draw,) = await shop.bus.handle(c.DrawDueGiveaways())
    await shop.settle()
    assert draw.order is not None and draw.order.checkout_url is None
    (invoice,) = api.invoices
    assert invoice["payload"] == draw.order.ref and int(invoice["chat_id"]) == ANNA.id
    assert [p["amount"] for p in invoice["prices"]] == [490]
