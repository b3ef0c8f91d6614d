"""A busy drop under Telegram's flood control: nobody's answer is lost, the board stays cheap."""

from collections import Counter

from commerce.adapters.inbound import SqlContacts
from commerce.service_layer.outbox import OutboxCounts
from tests.integration.helpers import add_product
from tests.telegram.conftest import GROUP, ShopFactory
from tests.telegram.fake_bot_api import FakeBotApi, FakeUser
from webhooks.keys import ENGINE, OUTBOX

BUYERS = 200
UNITS = 150


async def test_a_200_claim_drop_through_a_429_storm(
    shop_factory: ShopFactory, api: FakeBotApi
) -> None:
    shop = await shop_factory()
    await add_product(shop.bus, stock=UNITS)
    seller = FakeUser(1, "Sam", "sam")
    api.admins[GROUP] = {seller.id}
    buyers = [FakeUser(1000 + i, f"Buyer{i}", f"buyer{i}") for i in range(BUYERS)]
    contacts = SqlContacts(shop.client.server.app[ENGINE])
    for buyer in buyers:  # they all started the bot before: answers go privately
        await contacts.started("telegram", f"telegram:{buyer.id}", shop.clock.now())
    await shop.processed(api.message(GROUP, seller, f"/drop TEE {UNITS} 25"))
    await shop.settle()
    board = api.board(GROUP)
    assert board is not None

    # Flood control from here on: every third message or edit is refused with retry_after.
    storm = api.flood({"sendMessage", "editMessageText"}, count=80, retry_after=2, every=3)
    updates = []
    for i, buyer in enumerate(buyers):
        if i % 4 == 0:
            updates.append(api.press(board, buyer))
        elif i % 4 == 1:
            updates.append(api.message(GROUP, buyer, "/buy"))
        else:
            updates.append(api.message(GROUP, buyer, "want one #buy"))
    await shop.processed(*updates, within=40)  # a busy machine (CI) takes its time
    await shop.settle(within=40)

    assert storm.remaining < 80  # the storm happened
    # Every buyer got exactly one private answer: a payment link or a waitlist place.
    answers = {b.id: api.texts_to(b.id) for b in buyers}
    assert all(len(texts) == 1 for texts in answers.values()), answers
    kinds = Counter(
        "won" if "/pay/" in t[0] else "waitlist" if "waitlist" in t[0] else t[0]
        for t in answers.values()
    )
    assert kinds == {"won": UNITS, "waitlist": BUYERS - UNITS}
    assert "Sold out" in board.text
    assert len(api.messages_in(GROUP)) == 1  # the group saw only the board
    counts: OutboxCounts = await shop.client.server.app[OUTBOX].counts("telegram")
    assert counts.pending == 0 and counts.undeliverable == 0
    calls = Counter(c.method for c in api.calls)
    refused = 80 - storm.remaining
    print(
        f"\n200-claim drop: {sum(calls.values())} Bot API calls {dict(calls)};"
        f" {refused} answered 429; board edits applied {board.edits},"
        f" board edit calls sent by the outbox {counts.edits}"
    )
    assert board.edits <= 20  # coalesced: a busy drop costs a few edits, not one per claim
