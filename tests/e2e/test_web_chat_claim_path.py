"""The web chat's claim path (issue 22: one transaction per use case, the chat path at the
speed of its claim batches). A won chat claim's pay link is handed out in the claim writer's
own transaction: no statement writes the order after its batch, none asks for a saved card
one buyer at a time, and the question every line asks (is its sender a seller?) is read once
for the messages that arrive together. Each buyer still gets a private answer with the link,
and the order reads as the separate hand-out left it (checkout_open, its link, the event)."""

import asyncio
import json
from typing import Any

from aiohttp import ClientSession, CookieJar
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.e2e.conftest import WebShop, base_of
from tests.integration.helpers import add_product, start_drop
from tests.live_events import enter
from webhooks.keys import BUS

BUYERS = 30


async def private_answer(http: ClientSession, base: str, ready: asyncio.Event) -> str:
    """The first private line on this browser's live stream."""
    async with http.get(f"{base}/chat/answers/events") as stream:
        ready.set()
        async for line in stream.content:
            if line.startswith(b"data: ") and b'"private"' in line:
                return str(json.loads(line[6:])["text"])
    raise AssertionError("the stream ended without a private answer")


async def test_concurrent_web_claims_are_linked_in_the_claims_own_transaction(
    web_shop: WebShop, engine: AsyncEngine
) -> None:
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(" ".join(statement.split()))

    async with web_shop() as server:
        base, bus = base_of(server), server.app[BUS]
        await add_product(bus, "MUG", stock=BUYERS)
        await start_drop(bus, "MUG", quantity=BUYERS, channels=("web:demo",))
        browsers = [ClientSession(cookie_jar=CookieJar(unsafe=True)) for _ in range(BUYERS)]
        try:
            for http in browsers:
                await enter(http, base, "answers")
            readies = [asyncio.Event() for _ in browsers]
            answers = [
                asyncio.create_task(private_answer(http, base, ready))
                for http, ready in zip(browsers, readies, strict=True)
            ]
            for ready in readies:
                await ready.wait()
            event.listen(engine.sync_engine, "before_cursor_execute", seen)
            try:

                async def claim(n: int, http: ClientSession) -> int:
                    form = {"name": f"Buyer {n}", "text": "#buy"}
                    async with http.post(f"{base}/chat/demo/messages", data=form) as posted:
                        return posted.status

                statuses = await asyncio.gather(
                    *(claim(n, http) for n, http in enumerate(browsers))
                )
                async with asyncio.timeout(30):
                    texts = await asyncio.gather(*answers)
            finally:
                event.remove(engine.sync_engine, "before_cursor_execute", seen)
        finally:
            for http in browsers:
                await http.close()
    assert statuses == [200] * BUYERS
    async with engine.connect() as conn:
        orders = (
            await conn.execute(text("SELECT id, ref, status, checkout_url FROM orders"))
        ).all()
        events = (
            await conn.execute(
                text(
                    "SELECT order_id, from_status, to_status, cause FROM order_event"
                    " ORDER BY order_id, id"
                )
            )
        ).all()
    assert len(orders) == BUYERS
    # Every buyer was answered privately with their own order's pay link.
    for order_id, ref, status, url in orders:
        assert status == "checkout_open" and f"/pay/{ref}?t=" in url
        assert sum(url in answer for answer in texts) == 1
        mine = [(e.from_status, e.to_status, e.cause) for e in events if e.order_id == order_id]
        assert mine[0][:2] == (None, "reserved") and mine[0][2].startswith("claim:")
        assert mine[1:] == [("reserved", "checkout_open", f"link:{ref}")]
    # Nothing wrote an order, or read a saved card, outside the claim batches.
    assert not [s for s in statements if s.startswith("UPDATE orders") or "saved_card" in s]
    # The sellers' roles of 30 lines arriving together: read together, not once per line.
    roles = [s for s in statements if s.startswith("SELECT identity, role FROM seller")]
    assert 1 <= len(roles) < BUYERS
