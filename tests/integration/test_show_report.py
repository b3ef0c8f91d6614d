"""The show report, on both databases: a scripted show (CSV run sheet, /next, bids, #buy,
payments, an unpaid auction win expired by the sweeper, a refund with restock) on a fake clock,
and every figure of the report checked against what the script did; the CLI's three formats.

`run_show` is the script; tests/e2e/test_show_dashboard.py and the browser test reuse it."""

import asyncio
import csv
import io
import json
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner

from commerce.adapters.db import create_engine
from commerce.adapters.show_report import MinuteLine, ShowReport, SqlShowReport, mark_peaks
from commerce.bootstrap import bootstrap
from commerce.domain import commands as c
from commerce.domain.errors import NotFound
from commerce.domain.payments import PaymentEvent, PaymentEventKind
from commerce.domain.shows import parse_lots_csv
from commerce.service_layer import chat
from commerce.service_layer.messagebus import MessageBus
from commerce.service_layer.results import OrderView
from tests.conftest import test_settings
from tests.fakes import FakeClock, FakeNotifier, FakePaymentGateway
from tests.integration.helpers import add_product

OWNER = "telegram:1"
TG, WEB, DC = "telegram:-100", "web:live", "discord:500"
CODE = "FRIDAY-CARDS"
RUN_SHEET = """sku,mode,price,duration,close,quantity
CARD1,pdd,,,,
TEE,fixed,20,,,3
CARD2,pdd,,,,
CARD3,auction,5,30s,soft,
CARD3,pdd,,,,
"""
_n = iter(range(1, 1_000_000))


@dataclass
class Sale:
    """An order the script made, and what happened to it."""

    position: int
    identity: str
    amount: int
    quantity: int
    created_at: datetime
    ref: str
    auction: bool
    paid: bool = False
    checkout: bool = True
    status: str = "checkout_open"
    returned: bool = False
    refunded: int = 0

    @property
    def name(self) -> str:
        return self.identity.split(":")[1]


@dataclass
class Script:
    """What the scripted show did, to compute the report's figures from."""

    bus: MessageBus
    clock: FakeClock
    gateway: FakePaymentGateway
    sales: list[Sale] = field(default_factory=list)
    chatters: set[str] = field(default_factory=set)
    lot_starts: dict[int, datetime] = field(default_factory=dict)
    closes: dict[int, datetime] = field(default_factory=dict)
    sold_out_at: dict[int, datetime] = field(default_factory=dict)
    won_claims: int = 0
    opened_at: datetime | None = None
    ended_at: datetime | None = None

    async def say(self, who: str, text: str, chat_ref: str = TG) -> Any:
        show = await self.bus.deps.shows.show(CODE)  # type: ignore[union-attr]
        if show.status in ("live", "paused"):
            self.chatters.add(who)  # the report counts who wrote while the show ran
        key = f"{chat_ref}:{next(_n)}"
        return await self.bus.handle(c.ChatMessage(key, chat_ref, who, text, who.split(":")[1]))

    async def next(self, position: int) -> None:
        changed = await self.say(OWNER, "/next")
        assert isinstance(changed, chat.ShowChanged), changed
        assert changed.show.current is not None and changed.show.current.position == position
        self.opened_at = self.opened_at or self.clock.now()
        self.lot_starts[position] = self.clock.now()

    async def new_orders(self, known: set[str]) -> list[OrderView]:
        """Orders made since `known` (the store's, so any notifier will do)."""
        orders = await self.bus.deps.store.orders(None, None)
        return sorted((o for o in orders if o.ref not in known), key=lambda o: o.created_at)

    async def refs(self) -> set[str]:
        return {o.ref for o in await self.bus.deps.store.orders(None, None)}

    async def close_auction(self, position: int) -> OrderView | None:
        known = await self.refs()
        await self.bus.handle(c.ExpireHolds())
        self.closes[position] = self.clock.now()
        won = await self.new_orders(known)
        if not won:
            return None
        [order] = won
        self.sales.append(
            Sale(position, order.identity, order.amount.minor, 1, self.clock.now(), order.ref,
                 auction=True, checkout=order.checkout_session is not None,
                 status=order.status.value)
        )  # fmt: skip
        return order

    async def buy(self, position: int, who: str, chat_ref: str, quantity: int) -> Sale | None:
        answer = await self.say(who, f"#buy {quantity}", chat_ref)
        assert isinstance(answer, chat.Claimed), answer
        order = answer.result.order
        if order is None:
            return None  # waitlisted
        self.won_claims += 1
        sale = Sale(position, who, order.amount.minor, quantity, self.clock.now(), order.ref,
                    auction=False, status=order.status.value)  # fmt: skip
        self.sales.append(sale)
        return sale

    async def pay(self, ref: str) -> None:
        await self.bus.handle(c.SettlePayment(ref, f"pi_{ref}", f"evt_pay_{ref}"))
        sale = next(s for s in self.sales if s.ref == ref)
        sale.paid, sale.status = True, "paid"


async def run_show(bus: MessageBus, clock: FakeClock, gateway: FakePaymentGateway) -> Script:
    """A show of five lots over 14 minutes; see the comments for what each lot does."""
    for sku in ("CARD1", "CARD2", "CARD3", "TEE"):
        await add_product(bus, sku, stock=5)
    await bus.handle(c.AddSeller(OWNER, "owner"))
    run = Script(bus, clock, gateway)
    await bus.handle(
        c.CreateShow("Friday cards", clock.now() + timedelta(hours=1), (TG, WEB, DC),
                     lots=tuple(parse_lots_csv(RUN_SHEET)))
    )  # fmt: skip

    # Lot 1, a PDD auction: two bidders, web:ann wins at 4 and pays.
    await run.next(1)
    clock.advance(seconds=5)
    await run.say("telegram:10", "#bid 3")
    await run.say("telegram:99", "what a card!")
    clock.advance(seconds=5)
    await run.say("web:ann", "#bid 4", WEB)
    await run.say("discord:77", "hello", DC)
    clock.advance(seconds=41)
    won = await run.close_auction(1)
    assert won is not None
    clock.advance(seconds=9)
    await run.pay(won.ref)

    # Lot 2, three tees at 20: web:bo takes two, discord:cy the last, telegram:12 waits.
    await run.next(2)
    clock.advance(seconds=10)
    bo = await run.buy(2, "web:bo", WEB, 2)
    clock.advance(seconds=10)
    cy = await run.buy(2, "discord:cy", DC, 1)
    run.sold_out_at[2] = clock.now()
    clock.advance(seconds=5)
    assert await run.buy(2, "telegram:12", TG, 1) is None
    assert bo is not None and cy is not None
    await run.pay(bo.ref)
    await run.pay(cy.ref)
    clock.advance(seconds=35)

    # Lot 3, a PDD auction won by telegram:10, who never opens the pay link (the provider is
    # down besides) and never pays: the sweeper lets the win lapse.
    await run.next(3)
    clock.advance(seconds=5)
    await run.say("telegram:10", "#bid 2")
    clock.advance(seconds=46)
    gateway.down = True  # until the win lapses: the sweeper's retries fail too
    unpaid = await run.close_auction(3)
    assert unpaid is not None and unpaid.checkout_session is None
    clock.advance(seconds=9)

    # Lot 4 is skipped; lot 5 gets no bid.
    assert isinstance(await run.say(OWNER, "/skip"), chat.ShowChanged)
    await run.next(5)
    clock.advance(seconds=51)
    assert await run.close_auction(5) is None

    # The unpaid win lapses (the winner had the hold's 10 minutes to pay).
    clock.current = run.closes[3] + timedelta(minutes=10, seconds=1)
    await bus.handle(c.ExpireHolds())
    lapsed = next(s for s in run.sales if s.ref == unpaid.ref)
    lapsed.status = (await bus.deps.store.order(unpaid.ref)).status.value
    assert lapsed.status == "expired"
    gateway.down = False
    assert isinstance(await run.say(OWNER, "/show end"), chat.ShowChanged)
    run.ended_at = clock.now()

    # After the show, bo sends the tees back: refunded in full, units restocked.
    clock.advance(minutes=2)
    known = await run.refs()
    await bus.handle(c.RefundOrder(bo.ref, restock=True))
    order = await bus.deps.store.order(bo.ref)
    await bus.handle(
        c.ApplyPaymentEvent(
            PaymentEvent(
                id="evt_refund_bo", kind=PaymentEventKind.CHARGE_REFUNDED, type="charge.refunded",
                order_ref=bo.ref, session_id=order.checkout_session, payment_ref=f"pi_{bo.ref}",
                amount=bo.amount, amount_refunded=bo.amount,
            )
        )
    )  # fmt: skip
    bo.status, bo.returned, bo.refunded = "refunded", True, bo.amount
    # The tee drop ended when the show moved on (sold out or not), so the units that came
    # back go to stock, not to telegram:12 who was waiting: no order after the show.
    assert await run.new_orders(known) == []
    assert (await bus.deps.store.order(bo.ref)).status.value == "refunded"
    return run


@pytest.fixture
def gateway() -> FakePaymentGateway:
    return FakePaymentGateway()


@pytest.fixture
async def shop(
    database_url: str,
    engine: AsyncEngine,
    clock: FakeClock,
    notifier: FakeNotifier,
    gateway: FakePaymentGateway,
) -> AsyncIterator[MessageBus]:
    bus = bootstrap(test_settings(database_url), engine, clock=clock, notifier=notifier,
                    payments=gateway)  # fmt: skip
    yield bus
    await bus.deps.store.close()


def per_platform(identities: set[str]) -> dict[str, int]:
    return dict(sorted(Counter(i.split(":")[0] for i in identities).items()))


def check(report: ShowReport, run: Script) -> None:
    """Every figure of the report against what the script did."""
    sales, paid = run.sales, [s for s in run.sales if s.paid]
    assert (report.code, report.status, report.currency) == (CODE, "ended", "eur")
    assert (report.opened_at, report.ended_at) == (run.opened_at, run.ended_at)

    # Per lot.
    by_lot = {lot.position: lot for lot in report.lots}
    assert [lot.sku for lot in report.lots] == ["CARD1", "TEE", "CARD2", "CARD3", "CARD3"]
    first = by_lot[1]
    [ann] = [s for s in sales if s.position == 1]
    assert (first.result, first.price_minor, first.buyers) == ("sold", ann.amount, (ann.name,))
    assert first.seconds_to_sell == (run.closes[1] - run.lot_starts[1]).total_seconds()
    tees = [s for s in sales if s.position == 2]
    units = sum(s.quantity for s in tees if s.paid)
    assert by_lot[2].result == f"{units} of 3 sold" and by_lot[2].price_minor == 2000
    assert by_lot[2].buyers == tuple(s.name for s in tees if s.paid)
    assert by_lot[2].seconds_to_sell == (run.sold_out_at[2] - run.lot_starts[2]).total_seconds()
    assert by_lot[2].revenue_minor == sum(s.amount for s in tees if s.paid)
    [lapsed] = [s for s in sales if s.position == 3]
    assert (by_lot[3].result, by_lot[3].price_minor, by_lot[3].buyers) == (
        "unpaid",
        lapsed.amount,
        (),
    )
    assert by_lot[3].seconds_to_sell is None
    assert (by_lot[4].status, by_lot[4].result) == ("skipped", "skipped")
    assert (by_lot[5].result, by_lot[5].price_minor, by_lot[5].sold) == ("no bids", None, 0)

    # Sales per minute, from the opening to the end, with the peak.
    assert run.opened_at is not None and run.ended_at is not None
    first, last = (t.replace(second=0, microsecond=0) for t in (run.opened_at, run.ended_at))
    minutes = int((last - first).total_seconds() // 60) + 1
    assert len(report.minutes) == minutes
    assert report.minutes[0].minute == run.opened_at.replace(second=0, microsecond=0)

    def minute(s: Sale) -> datetime:
        return s.created_at.replace(second=0, microsecond=0)

    made, got = Counter(map(minute, sales)), Counter(map(minute, paid))
    revenue: Counter[datetime] = Counter()
    for s in paid:
        revenue[minute(s)] += s.amount
    for m in report.minutes:
        assert (m.orders, m.paid, m.revenue_minor) == (made[m.minute], got[m.minute],
                                                       revenue[m.minute])  # fmt: skip
    busiest = max(got.values())
    expected_peaks = sorted(m for m, n in got.items() if n >= 0.8 * busiest)[:3]
    assert [m.minute for m in report.peaks] == expected_peaks

    # Platforms.
    assert report.chatters == per_platform(run.chatters)
    assert report.buyers == per_platform({s.identity for s in paid})

    # Claims → checkouts → paid.
    auction_wins = [s for s in sales if s.auction]
    assert report.funnel.claims == run.won_claims + len(auction_wins)
    assert report.funnel.checkouts == sum(1 for s in sales if s.checkout or s.paid)
    assert report.funnel.paid == len(paid)
    assert report.funnel.checkouts < report.funnel.claims  # one winner never went to pay
    assert report.claims_by_status.get("won") == run.won_claims

    # Unpaid wins, refunds and returns, totals.
    lapsed_wins = [s for s in auction_wins if s.status in ("expired", "cancelled")]
    assert [(u.position, u.buyer, u.amount_minor, u.status) for u in report.unpaid] == [
        (s.position, s.name, s.amount, s.status) for s in lapsed_wins
    ]
    refunded = [s for s in sales if s.refunded]
    assert report.refunds.orders == len(refunded)
    assert report.refunds.refunded_minor == sum(s.refunded for s in refunded)
    assert report.refunds.returns == sum(1 for s in refunded if s.returned)
    assert report.refunds.returned_units == sum(s.quantity for s in refunded if s.returned)
    assert report.orders == len(sales) and report.paid_orders == len(paid)
    assert report.items_sold == sum(s.quantity for s in paid)
    assert report.revenue_minor == sum(s.amount for s in paid)
    assert report.net_minor == report.revenue_minor - report.refunds.refunded_minor


async def test_the_report_counts_what_the_show_did(
    shop: MessageBus, clock: FakeClock, gateway: FakePaymentGateway
) -> None:
    run = await run_show(shop, clock, gateway)
    engine = shop.deps.store.engine  # type: ignore[attr-defined]
    report = await SqlShowReport(engine).report(CODE.lower(), clock.now())
    check(report, run)
    data = json.loads(json.dumps(report.as_dict()))
    assert data["funnel"]["conversion"] == round(report.funnel.paid / report.funnel.claims, 4)
    assert len(data["peaks"]) == len(report.peaks) and data["net_minor"] == report.net_minor
    with pytest.raises(NotFound, match="no show NOPE"):
        await SqlShowReport(engine).report("nope", clock.now())


async def test_a_show_before_it_opens(shop: MessageBus, clock: FakeClock) -> None:
    await add_product(shop, "CARD1")
    await shop.handle(
        c.CreateShow("Later", clock.now() + timedelta(days=1), (TG,),
                     lots=tuple(parse_lots_csv("sku\nCARD1\n")))
    )  # fmt: skip
    engine = shop.deps.store.engine  # type: ignore[attr-defined]
    report = await SqlShowReport(engine).report("LATER", clock.now())
    assert [lot.result for lot in report.lots] == ["pending"]
    assert report.minutes == () and report.peaks == () and report.funnel.claims == 0
    assert report.revenue_minor == 0 and report.chatters == {} and report.unpaid == ()


def test_peaks_are_the_busiest_minutes_at_most_three() -> None:
    start = datetime(2026, 1, 1, 20, 0)
    paid = [0, 5, 4, 1, 5, 4, 5, 0]
    minutes = [MinuteLine(start + timedelta(minutes=i), n, n, 100 * n + i) for i, n in
               enumerate(paid)]  # fmt: skip
    marked = mark_peaks(minutes)
    # 5, 5, 5 and 4, 4 reach 80 % of 5; the three fives win (the latest has most revenue).
    assert [m.minute.minute for m in marked if m.peak] == [1, 4, 6]
    assert not any(m.peak for m in mark_peaks(minutes[:1]))  # nothing paid: no peak


def test_the_cli_report_formats(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from webhooks.cli import app

    async def script() -> Script:
        engine = create_engine(database_url)
        clock, notifier, gateway = FakeClock(), FakeNotifier(), FakePaymentGateway()
        bus = bootstrap(test_settings(database_url), engine, clock=clock, notifier=notifier,
                        payments=gateway)  # fmt: skip
        try:
            return await run_show(bus, clock, gateway)
        finally:
            await bus.deps.store.close()
            await engine.dispose()

    run = asyncio.run(script())
    monkeypatch.chdir(tmp_path)  # no developer .env
    runner = CliRunner()
    env = {"DATABASE_URL": database_url}

    def cli(*args: str, code: int = 0) -> str:
        result = runner.invoke(app, ["show", "report", *args], env=env)
        assert result.exit_code == code, result.output
        assert "Traceback" not in result.output
        return result.output

    data = json.loads(cli(CODE, "--format", "json"))
    assert [lot["result"] for lot in data["lots"]] == [
        "sold", "3 of 3 sold", "unpaid", "skipped", "no bids"
    ]  # fmt: skip
    assert data["revenue_minor"] == sum(s.amount for s in run.sales if s.paid)
    assert data["refunds"]["returns"] == 1 and data["funnel"]["paid"] == 3
    assert data["peaks"] == [m["minute"] for m in data["minutes"] if m["peak"]]

    rows = list(csv.DictReader(io.StringIO(cli(CODE, "--format", "csv"))))
    assert [r["position"] for r in rows] == ["1", "2", "3", "4", "5"]
    assert rows[1]["result"] == "3 of 3 sold" and rows[1]["price"] == "20.00"
    assert rows[1]["buyers"] == "bo; cy" and rows[0]["seconds_to_sell"] == "51"

    md = cli(CODE)
    assert md.startswith("# Friday cards (FRIDAY-CARDS)")
    for heading in ("## Lots", "## Sales per minute", "## Platforms", "## Conversion",
                    "## Unpaid wins", "## Refunds and returns"):  # fmt: skip
        assert heading in md
    assert "▲ peak" in md and "| 3 | CARD2 | 10 | €2.00 | expired |" in md
    assert "1 refunded orders (€40.00); 1 returns (2 units back in stock)" in md

    error = runner.invoke(app, ["show", "report", "NOPE"], env=env)
    assert error.exit_code == 1 and error.output.strip() == "error: no show NOPE"
