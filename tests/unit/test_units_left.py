"""UnitsLeftNews (service_layer/units_left.py): claims mark their drop, notices are coalesced
per drop and round, and each round reads the drop afresh."""

import asyncio
from dataclasses import replace

from commerce.service_layer.results import DropView, Notice, UnitsLeft
from commerce.service_layer.units_left import UnitsLeftNews
from tests.unit.test_countdown import DROP


async def test_a_thousand_changes_while_a_round_waits_become_one_more_notice() -> None:
    left = {"TEE": 1000, "MUG": 10}
    told: list[Notice] = []

    async def read(code: str) -> DropView:
        return replace(DROP, code=code, remaining=left[code])

    async def notify(notice: Notice) -> None:
        told.append(notice)

    news = UnitsLeftNews(read, notify)
    gate, paused = asyncio.Event(), asyncio.Queue[None]()

    async def pause() -> None:  # each round ends here: the test says when the next may come
        paused.put_nowait(None)
        await gate.wait()

    news.pause = pause
    news.changed("tee")  # the first change is told at once
    await paused.get()
    for _ in range(1000):  # then a burst, while the round after it waits
        left["TEE"] -= 1
        news.changed("TEE")
    news.changed("mug")
    gate.set()
    await paused.get()
    await news.close()
    assert [(n.drop.code, n.drop.remaining) for n in told if isinstance(n, UnitsLeft)] == [
        ("TEE", 1000),
        ("TEE", 0),
        ("MUG", 10),
    ]
