"""The outbox keeps each chat's messages in order; update ids are kept only as long as needed."""

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.adapters.outbox import SqlOutbox
from commerce.service_layer.outbox import Outgoing


async def test_a_new_message_never_overtakes_a_paced_one(engine: AsyncEngine) -> None:
    outbox = SqlOutbox(engine)
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    await outbox.put([Outgoing("telegram", "5", "first")], now)
    (first,) = await outbox.take("telegram", now, 10)
    await outbox.retry(first, now + timedelta(seconds=1), "", attempt=False)  # paced
    await outbox.put([Outgoing("telegram", "5", "second"), Outgoing("telegram", "6", "x")], now)
    due_now = await outbox.take("telegram", now, 10)
    assert [q.message.text for q in due_now] == ["x"]  # chat 5 waits for its first message
    later = await outbox.take("telegram", now + timedelta(seconds=1), 10)
    assert [q.message.text for q in later] == ["first", "second"]


async def test_a_board_text_coalesced_into_a_send_under_way_is_not_lost(
    engine: AsyncEngine,
) -> None:
    outbox = SqlOutbox(engine)
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    await outbox.put([Outgoing("telegram", "-1", "3 left", board="drop:1")], now)
    (item,) = await outbox.take("telegram", now, 10)
    # The send takes longer than the lease: a newer board text lands in the same row.
    late = now + timedelta(minutes=2)
    await outbox.put([Outgoing("telegram", "-1", "2 left", board="drop:1")], late)
    await outbox.sent(item, "77", late)  # "3 left" went out, not "2 left"
    (again,) = await outbox.take("telegram", late + timedelta(seconds=3), 10)
    assert (again.message.text, again.message_ref) == ("2 left", "77")  # an edit, next
    counts = await outbox.counts("telegram")
    assert (counts.pending, counts.sent) == (1, 0)


async def test_the_last_board_edit_shows_the_latest_text(engine: AsyncEngine) -> None:
    """A board edit refused with a 429 while a newer text was put: the newer goes out last."""
    outbox = SqlOutbox(engine)
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)

    def board(text: str) -> Outgoing:
        return Outgoing("telegram", "-1", text, board="drop:1")

    await outbox.put([board("3 left")], now)
    (first,) = await outbox.take("telegram", now, 10)
    await outbox.put([board("2 left")], now)  # the first is under way: a row of its own
    await outbox.retry(first, now + timedelta(seconds=2), "429")  # refused: it waits again
    await outbox.put([board("1 left")], now + timedelta(seconds=1))
    sent = []
    at = now
    while (await outbox.counts("telegram")).pending:
        at += timedelta(seconds=5)
        for item in await outbox.take("telegram", at, 10):
            sent.append(item.message.text)
            await outbox.sent(item, "7", at)
    assert sent[-1] == "1 left"
