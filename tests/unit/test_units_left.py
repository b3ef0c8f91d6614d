"""UnitsLeftNews (service_layer/units_left.py): claims mark their drop, notices are coalesced
per drop and round, and each round reads the drop afresh."""

import asyncio
import logging
from dataclasses import replace

import pytest

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


async def test_a_drop_whose_read_fails_is_told_later_and_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The database does not answer the first three reads: the drop stays pending and is
    tried again (no further change needed), the failure logged once, then the count told."""
    told: list[Notice] = []
    fails, was_told = 3, asyncio.Event()

    async def read(code: str) -> DropView:
        nonlocal fails
        if fails:
            fails -= 1
            raise ConnectionError("the database is away")
        return replace(DROP, code=code, remaining=7)

    async def notify(notice: Notice) -> None:
        told.append(notice)
        was_told.set()

    news = UnitsLeftNews(read, notify, every=0.001)
    try:
        with caplog.at_level(logging.INFO, logger="commerce.service_layer.units_left"):
            news.changed("tee")  # the last claim of a drop: no change comes after it
            await asyncio.wait_for(was_told.wait(), 2)
        assert [(n.drop.code, n.drop.remaining) for n in told if isinstance(n, UnitsLeft)] == [
            ("TEE", 7)
        ]
        failures = [r for r in caplog.records if r.levelno == logging.ERROR]
        assert len(failures) == 1 and "TEE" in failures[0].getMessage()
    finally:
        await news.close()
