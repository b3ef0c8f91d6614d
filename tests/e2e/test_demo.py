"""`livebuy demo`'s show, run against the whole local service (web chat, emulator, sweeper):
it must leave real data behind for the dashboard."""

from aiohttp.test_utils import TestServer
from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.adapters.reports import SqlReports
from commerce.domain.orders import OrderStatus
from tests.conftest import test_settings
from tests.e2e.conftest import free_port
from webhooks.app import create_app
from webhooks.devtools.demo import SKU, UNITS, show
from webhooks.keys import BUS


async def test_the_demo_show_fills_the_dashboard(database_url: str, engine: AsyncEngine) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    # The payers pay one after another within their holds, and one hold must run out: six
    # seconds keep a loaded machine (a full suite in four processes on two cores) from
    # expiring a payer's hold too (a 410 on its pay link), at the cost of a longer wait.
    settings = test_settings(database_url, public_base_url=base, livebuy_hold="6s")
    app = create_app(settings, engine=engine, sweep_every=0.2)
    lines: list[str] = []
    async with TestServer(app, host="127.0.0.1", port=port) as server:
        bus = server.app[BUS]
        report = await show(base, bus, viewers=7, pace=0, say=lines.append)

        assert len(report.passed) == 1 and len(report.expired) == 1
        assert len(report.paid) == UNITS - 1  # two holders left, one came up from the waitlist
        orders = await bus.deps.store.orders(None, None, 100)
        statuses = sorted(o.status for o in orders)
        assert statuses.count(OrderStatus.PAID) == UNITS - 1
        assert OrderStatus.EXPIRED in statuses and OrderStatus.CANCELLED in statuses
        drop = next(d for d in await bus.deps.store.drops() if d.code == SKU)
        assert drop.channels == ("web:show",)
        funnel = await SqlReports(engine).funnel()
        assert [(f.platform, f.claims, f.paid) for f in funnel] == [("web", 7, UNITS - 1)]
        assert lines[0].startswith(f"The seller starts a drop of {UNITS} caps")
