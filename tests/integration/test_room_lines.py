"""A web chat room's latest public lines on disk (room_line), for whoever joins after a
restart: in order, the latest 50 per room, rooms apart; through the bus and the read side."""

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.domain.commands import KeepRoomLines
from commerce.service_layer import queries
from commerce.service_layer.messagebus import MessageBus


async def test_the_latest_lines_of_each_room_are_kept(
    bus: MessageBus, engine: AsyncEngine
) -> None:
    assert await queries.room_lines(bus.reads, "demo") == []
    said = [("demo", {"type": "message", "name": "anna", "text": f"hi {n}"}) for n in range(40)]
    said.insert(3, ("shop", {"type": "bot", "text": "TEE sold to @ben"}))
    await bus.handle(KeepRoomLines(tuple(said)))
    await bus.handle(KeepRoomLines(()))  # nothing new: nothing written
    more = tuple(("demo", {"type": "bot", "text": f"sold {n}", "seller": True}) for n in range(20))
    await bus.handle(KeepRoomLines(more))

    demo = await queries.room_lines(bus.reads, "demo")
    assert len(demo) == 50
    async with engine.connect() as conn:  # older lines are gone from the table, not just unread
        kept = await conn.execute(text("SELECT room, COUNT(*) FROM room_line GROUP BY room"))
        assert sorted(kept.all()) == [("demo", 50), ("shop", 1)]
    assert demo[0] == {"type": "message", "name": "anna", "text": "hi 10"}
    assert demo[-1] == {"type": "bot", "text": "sold 19", "seller": True}
    assert await queries.room_lines(bus.reads, "shop") == [
        {"type": "bot", "text": "TEE sold to @ben"}
    ]
