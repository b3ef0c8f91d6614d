"""The dashboard's money: revenue today, in a show and all time, with refunds taken off, the
orders, the units sold and the average order (SqlReports.sales), on SQLite and PostgreSQL."""

from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.adapters.reports import Sales, SqlReports
from commerce.bootstrap import bootstrap
from commerce.domain import commands as c
from commerce.domain.payments import PaymentEvent, PaymentEventKind
from commerce.domain.shows import LotMode, LotSpec
from commerce.service_layer.messagebus import MessageBus
from tests.conftest import test_settings
from tests.fakes import FakeClock, FakeNotifier, FakePaymentGateway
from tests.integration.helpers import add_product, buy, start_drop

FIXED = LotMode.FIXED


async def paid(bus: MessageBus, who: str, quantity: int = 1, code: str | None = None) -> str:
    won = await buy(bus, who, quantity=quantity, code=code)
    assert won.order is not None, won
    await bus.handle(c.SettlePayment(won.order.ref, f"pi_{won.order.ref}", f"evt_{won.order.ref}"))
    return won.order.ref


async def refund(bus: MessageBus, ref: str, amount: int, refunded: int) -> None:
    """What the provider says once a refund went through (charge.refunded)."""
    kind = PaymentEventKind.CHARGE_REFUNDED
    event = PaymentEvent(
        f"evt_r_{ref}", kind, "charge.refunded", ref, None, f"pi_{ref}", amount=amount,
        amount_refunded=refunded,
    )  # fmt: skip
    await bus.handle(c.ApplyPaymentEvent(event))


async def test_revenue_today_in_a_show_and_all_time(
    database_url: str, engine: AsyncEngine, clock: FakeClock, notifier: FakeNotifier
) -> None:
    bus = bootstrap(
        test_settings(database_url),
        engine,
        clock=clock,
        notifier=notifier,
        payments=FakePaymentGateway(),
    )
    reports = SqlReports(engine)
    try:
        assert await reports.sales("eur") == Sales("eur")  # nothing yet: zeros, not an error
        await add_product(bus, "TEE", stock=20)  # €25.00 each
        await add_product(bus, "MUG", stock=20)
        await start_drop(bus, "TEE", quantity=10, channels=())
        await paid(bus, "web:anna", quantity=2)  # yesterday's: €50.00
        clock.advance(days=1)
        midnight = clock.now().replace(hour=0, minute=0, second=0, microsecond=0)
        await paid(bus, "web:ben")  # €25.00
        refunded = await paid(bus, "web:cleo")  # refunded in full: no sale
        await refund(bus, refunded, 2500, 2500)
        part = await paid(bus, "web:dan", quantity=2)  # €50.00 less €5.00 refunded
        await refund(bus, part, 5000, 500)
        await buy(bus, "web:eve")  # claimed, never paid: no sale

        assert await reports.sales("eur") == Sales("eur", 3, 5, 5000 + 2500 + 4500)
        today = await reports.sales("EUR", since=midnight)
        assert today == Sales("eur", 2, 3, 2500 + 4500) and today.average == 3500
        assert await reports.sales("usd") == Sales("usd")  # another currency: nothing

        show = await bus.handle(
            c.CreateShow(
                "Sunday", clock.now(), ("web:demo",), lots=(LotSpec("MUG", FIXED, None, 5),)
            )
        )
        assert await reports.sales("eur", show_id=show.id) == Sales("eur")
        await bus.handle(c.NextLot(show=show.code))  # the MUG lot: a drop of the show's
        await paid(bus, "web:anna", quantity=3, code="MUG")
        assert await reports.sales("eur", show_id=show.id) == Sales("eur", 1, 3, 7500)
        assert (await reports.sales("eur")).orders == 4
    finally:
        await bus.deps.store.close()
