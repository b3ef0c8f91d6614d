"""Handler validation that refuses bad input before the store is asked anything."""

import inspect
import typing
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from commerce.domain import commands as c
from commerce.domain.drops import DropPolicy, DropTerms
from commerce.domain.errors import InvalidInput, NotAllowed
from commerce.domain.money import Money
from commerce.domain.payments import PaymentEvent, PaymentEventKind
from commerce.domain.products import ProductSpec
from commerce.domain.shipping import Zone
from commerce.domain.shows import LotSpec
from commerce.service_layer import (
    auctions,
    chat,
    checkout,
    fulfilment,
    handlers,
    invoices,
    one_message,
    payment_events,
    payments,
    settlement,
    shipping,
    shows,
    sign_in,
    web_viewers,
)
from commerce.service_layer import giveaways as engage
from commerce.service_layer.deps import Deps
from commerce.service_layer.messagebus import HANDLERS, MessageBus
from commerce.service_layer.results import ClaimOutcome, ClaimResult, ProductView, VariantView
from tests.fakes import FakeClock, FakeNotifier

SPEC = ProductSpec("TEE", "Logo tee", Money(2500, "eur"), "size", ("S", "M"))
REFUSED = ClaimResult(ClaimOutcome.REFUSED)


class FakeStore:
    """Answers only what the tested paths ask; any other store method fails the test."""

    def __init__(self, seller_roles: dict[str, str] | None = None) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.seller_roles = seller_roles or {}

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the store was asked for {name}")

    def _view(self, sku: str, stock: int) -> ProductView:
        return ProductView(sku, "Logo tee", Money(2500, "eur"), "", (VariantView("", stock),))

    async def add_product(self, spec: ProductSpec, stock: int, now: datetime) -> ProductView:
        self.calls.append(("add_product", (spec, stock, now)))
        return self._view(spec.sku, stock)

    async def set_stock(self, sku: str, stock: int, variant: str | None) -> ProductView:
        self.calls.append(("set_stock", (sku, stock, variant)))
        return self._view(sku, stock)

    async def claim(
        self, claim: c.Claim, now: datetime, link: Callable[[str], str] | None = None
    ) -> ClaimResult:
        self.calls.append(("claim", (claim, now)))
        return REFUSED

    async def add_seller(self, identity: str, role: str, now: datetime) -> None:
        self.calls.append(("add_seller", (identity, role, now)))

    async def seller_role(self, identity: str) -> str | None:
        self.calls.append(("seller_role", (identity,)))
        return self.seller_roles.get(identity)

    async def customer_id(self, identity: str) -> int | None:
        self.calls.append(("customer_id", (identity,)))
        return None


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def deps(store: FakeStore, clock: FakeClock) -> Deps:
    return Deps(
        store=store,  # type: ignore[arg-type]
        clock=clock,
        notifier=FakeNotifier(),
        sellers=frozenset({"telegram:1"}),
    )


def buy(**changes: Any) -> c.Claim:
    fields: dict[str, Any] = {
        "key": "telegram:-100:1",
        "chat": "telegram:-100",
        "identity": "telegram:42",
    }
    fields.update(changes)
    return c.Claim(**fields)


def test_fake_store_refuses_unexpected_calls(store: FakeStore) -> None:
    with pytest.raises(AssertionError, match="the store was asked for release"):
        _ = store.release


# claim ----------------------------------------------------------------------------------


@pytest.mark.parametrize("quantity", [0, -1, 1000, 10**6])
async def test_claim_quantity_out_of_range(quantity: int, deps: Deps, store: FakeStore) -> None:
    with pytest.raises(InvalidInput) as exc:
        await handlers.claim(buy(quantity=quantity), deps)
    assert str(exc.value) == "quantity must be between 1 and 999"
    assert store.calls == []


@pytest.mark.parametrize("identity", ["x", "irc:1", "telegram:", ""])
async def test_claim_bad_identity(identity: str, deps: Deps, store: FakeStore) -> None:
    with pytest.raises(InvalidInput) as exc:
        await handlers.claim(buy(identity=identity), deps)
    assert str(exc.value).startswith(f"'{identity}' is not an identity like")
    assert store.calls == []


@pytest.mark.parametrize("chat_ref", ["x", "irc:1", "web:"])
async def test_claim_bad_chat(chat_ref: str, deps: Deps, store: FakeStore) -> None:
    with pytest.raises(InvalidInput) as exc:
        await handlers.claim(buy(chat=chat_ref), deps)
    assert str(exc.value) == f"'{chat_ref}' is not a chat like telegram:-100123 or web:demo"
    assert store.calls == []


@pytest.mark.parametrize("code", ["x2", "t e", "a" * 33])
async def test_claim_bad_code(code: str, deps: Deps, store: FakeStore) -> None:
    with pytest.raises(InvalidInput):
        await handlers.claim(buy(code=code), deps)
    assert store.calls == []


@pytest.mark.parametrize("quantity", [1, 999])
async def test_valid_claim_reaches_the_store(
    quantity: int, deps: Deps, store: FakeStore, clock: FakeClock
) -> None:
    result = await handlers.claim(buy(quantity=quantity, code="tee"), deps)
    assert result is REFUSED
    expected = buy(quantity=quantity, code="TEE", received_at=clock.now())
    assert store.calls == [("claim", (expected, clock.now()))]


async def test_claim_keeps_its_arrival_time(
    deps: Deps, store: FakeStore, clock: FakeClock
) -> None:
    arrived = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    clock.advance(minutes=5)
    await handlers.claim(buy(received_at=arrived), deps)
    assert store.calls == [("claim", (buy(received_at=arrived), arrived))]


async def test_claim_passes_normalised_identity_and_chat(deps: Deps, store: FakeStore) -> None:
    await handlers.claim(buy(identity="Telegram:42", chat="TELEGRAM:-100"), deps)
    sent: c.Claim = store.calls[0][1][0]
    assert (sent.identity, sent.chat) == ("telegram:42", "telegram:-100")


# products and stock ---------------------------------------------------------------------


@pytest.mark.parametrize("stock", [-1, 1_000_001])
async def test_add_product_stock_out_of_range(stock: int, deps: Deps, store: FakeStore) -> None:
    with pytest.raises(InvalidInput) as exc:
        await handlers.add_product(c.AddProduct(SPEC, stock), deps)
    assert str(exc.value) == "stock must be between 0 and 1,000,000"
    assert store.calls == []


@pytest.mark.parametrize("stock", [0, 1_000_000])
async def test_add_product_stock_bounds_accepted(
    stock: int, deps: Deps, store: FakeStore, clock: FakeClock
) -> None:
    view = await handlers.add_product(c.AddProduct(SPEC, stock), deps)
    assert view.stock == stock
    assert store.calls == [("add_product", (SPEC, stock, clock.now()))]


@pytest.mark.parametrize("stock", [-1, 1_000_001])
async def test_set_stock_out_of_range(stock: int, deps: Deps, store: FakeStore) -> None:
    with pytest.raises(InvalidInput) as exc:
        await handlers.set_stock(c.SetStock("TEE", stock, "M"), deps)
    assert str(exc.value) == "stock must be between 0 and 1,000,000"
    assert store.calls == []


async def test_set_stock_reaches_the_store(deps: Deps, store: FakeStore) -> None:
    view = await handlers.set_stock(c.SetStock("TEE", 7, "M"), deps)
    assert view.stock == 7
    assert store.calls == [("set_stock", ("TEE", 7, "M"))]


@pytest.mark.parametrize(
    ("command", "message"),
    [
        (c.UpdateProduct("TEE", name="  "), "a product needs a name"),
        (c.UpdateProduct("TEE", price=Money(0, "eur")), "price must be above zero"),
    ],
)
async def test_update_product_refuses(
    command: c.UpdateProduct, message: str, deps: Deps, store: FakeStore
) -> None:
    with pytest.raises(InvalidInput) as exc:
        await handlers.update_product(command, deps)
    assert str(exc.value) == message
    assert store.calls == []


async def test_start_drop_refuses_a_bad_channel(deps: Deps, store: FakeStore) -> None:
    terms = DropTerms(
        "TEE", 5, Money(2500, "eur"), None, None, DropPolicy.HOLD, timedelta(minutes=10)
    )
    command = c.StartDrop(terms, channels=("telegram:-100", "irc:#shop"))
    with pytest.raises(InvalidInput) as exc:
        await handlers.start_drop(command, deps)
    assert str(exc.value) == "'irc:#shop' is not a chat like telegram:-100123 or web:demo"
    assert store.calls == []


async def test_operator_cancel_needs_an_order(deps: Deps, store: FakeStore) -> None:
    with pytest.raises(InvalidInput) as exc:
        await handlers.cancel_order(c.CancelOrder(identity=None), deps)
    assert str(exc.value) == "name the order to cancel"
    assert store.calls == []


async def test_orders_of_an_unknown_buyer_are_none(deps: Deps, store: FakeStore) -> None:
    assert await handlers.list_orders(c.ListOrders(identity="web:nobody"), deps) == []
    assert store.calls == [("customer_id", ("web:nobody",))]


# sellers --------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["admin", "", "Owner", "seller"])
async def test_add_seller_refuses_unknown_roles(role: str, deps: Deps, store: FakeStore) -> None:
    with pytest.raises(InvalidInput) as exc:
        await handlers.add_seller(c.AddSeller("telegram:7", role), deps)
    assert str(exc.value) == "role must be one of owner, cohost"
    assert store.calls == []


@pytest.mark.parametrize("identity", ["x", "irc:7", "telegram:"])
async def test_add_seller_refuses_bad_identity(
    identity: str, deps: Deps, store: FakeStore
) -> None:
    with pytest.raises(InvalidInput) as exc:
        await handlers.add_seller(c.AddSeller(identity, "owner"), deps)
    assert str(exc.value).startswith(f"'{identity}' is not an identity like")
    assert store.calls == []


@pytest.mark.parametrize("role", ["owner", "cohost"])
async def test_add_seller_stores_the_normalised_identity(
    role: str, deps: Deps, store: FakeStore, clock: FakeClock
) -> None:
    await handlers.add_seller(c.AddSeller(" Telegram:7 ", role), deps)
    assert store.calls == [("add_seller", ("telegram:7", role, clock.now()))]


async def test_configured_seller_needs_no_store(deps: Deps, store: FakeStore) -> None:
    assert await handlers.is_seller("telegram:1", deps) is True
    await handlers.require_seller("telegram:1", deps)
    assert store.calls == []


async def test_seller_added_later_is_asked_of_the_store(deps: Deps, store: FakeStore) -> None:
    store.seller_roles["discord:9"] = "cohost"
    assert await handlers.is_seller("discord:9", deps) is True
    assert await handlers.is_seller("discord:8", deps) is False
    assert store.calls == [("seller_role", ("discord:9",)), ("seller_role", ("discord:8",))]


async def test_seller_identities_are_compared_normalised(deps: Deps, store: FakeStore) -> None:
    assert await handlers.is_seller("Telegram:1", deps) is True  # configured as telegram:1
    assert await handlers.is_seller("not an identity", deps) is False
    assert store.calls == []


async def test_require_seller_refuses_buyers(deps: Deps) -> None:
    with pytest.raises(NotAllowed) as exc:
        await handlers.require_seller("web:anna", deps)
    assert str(exc.value) == "only sellers can do that"


# the message bus ------------------------------------------------------------------------

COMMAND_TYPES = set(typing.get_args(c.Command))

EXPECTED_HANDLERS = {
    c.AddProduct: handlers.add_product,
    c.UpdateProduct: handlers.update_product,
    c.SetStock: handlers.set_stock,
    c.StartDrop: handlers.start_drop,
    c.EndDrop: handlers.end_drop,
    c.Claim: handlers.claim,
    c.ChatMessage: chat.handle_chat_message,
    c.PassHold: handlers.pass_hold,
    c.CancelOrder: handlers.cancel_order,
    c.SettlePayment: settlement.settle_payment,
    c.ApplyPaymentEvent: payments.apply_payment_event,
    c.StorePaymentEvent: payment_events.store_event,
    c.KeepMalformedEvent: payment_events.keep_malformed,
    c.MarkPaymentEvent: payment_events.mark_event,
    c.ProcessPaymentEvent: payment_events.process_event,
    c.ClaimPaymentEvent: payment_events.claim_event,
    c.ReceivePaymentEvent: payment_events.receive_payment_event,
    c.IdentifyPayer: payment_events.identify_payer,
    c.PaymentEventFailed: payment_events.payment_event_failed,
    c.RefundOrder: payments.refund_order,
    c.Reconcile: payments.reconcile,
    c.CheckPayment: payments.check_payment,
    c.ExpireHolds: handlers.expire_holds,
    c.StartAuction: auctions.start_auction,
    c.PlaceBid: auctions.place_bid,
    c.EndAuction: auctions.end_auction,
    c.CloseDueAuctions: auctions.close_due_auctions,
    c.ListOrders: handlers.list_orders,
    c.AddSeller: handlers.add_seller,
    c.CheckInvoice: invoices.check_invoice,
    c.InvoicePaid: invoices.invoice_paid,
    c.ConfirmPurchase: one_message.confirm,
    c.CreateShow: shows.create_show,
    c.AddLot: shows.add_lot,
    c.AddLots: shows.add_lots,
    c.NextLot: shows.next_lot,
    c.PauseShow: shows.pause_show,
    c.SkipLot: shows.skip_lot,
    c.EndShow: shows.end_show,
    c.TickShows: shows.tick_shows,
    c.StartGiveaway: engage.start_giveaway,
    c.EnterGiveaway: engage.enter_giveaway,
    c.DrawDueGiveaways: engage.draw_due_giveaways,
    c.StartPoll: engage.start_poll,
    c.CastVote: engage.cast_vote,
    c.PressButton: chat.press_button,
    c.EndPoll: engage.end_poll,
    c.OpenPayment: checkout.open_payment,
    c.ShipOrders: fulfilment.ship_orders,
    c.ListToShip: fulfilment.list_to_ship,
    c.PackingList: fulfilment.packing_list,
    c.AddZone: shipping.add_zone,
    c.RemoveZone: shipping.remove_zone,
    c.ListZones: shipping.list_zones,
    c.CountThrottled: chat.count_throttled,
    c.IssueWebViewer: web_viewers.issue_web_viewer,
    c.RecogniseWebViewer: web_viewers.recognise_web_viewer,
    c.AdmitWebLine: web_viewers.admit_web_line,
    c.KeepRoomLines: handlers.keep_room_lines,
    c.SignIn: sign_in.sign_in,
    c.AskEmailSignIn: sign_in.ask_email_sign_in,
    c.RedeemEmailSignIn: sign_in.redeem_email_sign_in,
    c.ShowOpenOrders: chat.show_open_orders,
}

SAMPLES: list[Any] = [
    c.AddProduct(SPEC, 3),
    c.UpdateProduct("TEE", name="Tee"),
    c.SetStock("TEE", 3),
    c.StartDrop(
        DropTerms("TEE", 5, Money(2500, "eur"), None, None, DropPolicy.HOLD, timedelta(1))
    ),
    c.EndDrop("TEE"),
    buy(),
    c.ChatMessage("web:demo:1", "web:demo", "web:anna", "#buy"),
    c.PassHold("web:anna", "web:demo"),
    c.CancelOrder("web:anna"),
    c.SettlePayment("A1", "pi_1", "evt_1"),
    c.ApplyPaymentEvent(PaymentEvent("evt_1", PaymentEventKind.OTHER, "ping")),
    c.StorePaymentEvent("evt_1", "ping", "{}"),
    c.KeepMalformedEvent(b"{}", "not an event"),
    c.MarkPaymentEvent("evt_1", "applied"),
    c.ProcessPaymentEvent(
        PaymentEvent("evt_1", PaymentEventKind.OTHER, "ping"), timedelta(minutes=10)
    ),
    c.ClaimPaymentEvent("evt_1"),
    c.ReceivePaymentEvent(PaymentEvent("evt_1", PaymentEventKind.OTHER, "ping"), "{}"),
    c.IdentifyPayer(PaymentEvent("evt_1", PaymentEventKind.OTHER, "ping")),
    c.PaymentEventFailed(PaymentEvent("evt_1", PaymentEventKind.OTHER, "ping"), "{}", "boom"),
    c.RefundOrder("A1"),
    c.Reconcile(),
    c.CheckPayment("A1"),
    c.ExpireHolds(),
    c.StartAuction("CARD", Decimal(1)),
    c.PlaceBid("web:demo:2", "web:demo", "web:anna", Decimal(2)),
    c.EndAuction("CARD"),
    c.CloseDueAuctions(),
    c.ListOrders(),
    c.AddSeller("web:anna"),
    c.CheckInvoice("A1", "telegram:1", 2500, "eur"),
    c.InvoicePaid("A1", "telegram:1", 2500, "eur", "ch_1", "tg_1"),
    c.ConfirmPurchase("web:anna"),
    c.CreateShow("Sunday cards", datetime(2026, 12, 6, 20, tzinfo=UTC), ("web:live",)),
    c.AddLot("SUNDAY-CARDS", LotSpec("CARD")),
    c.AddLots("SUNDAY-CARDS", (LotSpec("CARD"),)),
    c.NextLot("web:live"),
    c.PauseShow("web:live"),
    c.SkipLot("web:live"),
    c.EndShow("web:live"),
    c.TickShows(),
    c.StartGiveaway("CARD"),
    c.EnterGiveaway("web:demo", "web:anna"),
    c.DrawDueGiveaways(),
    c.StartPoll("Next?", ("cards", "sneakers")),
    c.CastVote("web:demo", "web:anna", 1),
    c.PressButton(c.CastVote("web:demo", "web:anna", 1)),
    c.EndPoll("web:demo"),
    c.OpenPayment("A1", "token"),
    c.ShipOrders((c.Parcel(("A1",), "TRACK1234"),)),
    c.ListToShip(),
    c.PackingList(show="SUNDAY-CARDS"),
    c.AddZone(Zone.parse("EU", "DE", "4.90", "1.00", None, "eur")),
    c.RemoveZone("EU"),
    c.ListZones(),
    c.CountThrottled(),
    c.IssueWebViewer(),
    c.RecogniseWebViewer("x.y"),
    c.AdmitWebLine("web:v_1", "Anna"),
    c.KeepRoomLines((("demo", {"kind": "said", "text": "hi"}),)),
    c.SignIn("web:v_1", "telegram:1"),
    c.AskEmailSignIn("anna@example.com", "demo"),
    c.RedeemEmailSignIn("token", "web:v_1"),
    c.ShowOpenOrders("web:v_1"),
]


def test_every_command_has_a_handler() -> None:
    assert len(COMMAND_TYPES) == len(EXPECTED_HANDLERS)
    assert set(HANDLERS) == COMMAND_TYPES


def test_handlers_are_the_use_cases() -> None:
    assert HANDLERS == EXPECTED_HANDLERS
    assert all(inspect.iscoroutinefunction(handler) for handler in HANDLERS.values())


def test_samples_cover_every_command() -> None:
    assert [type(sample) for sample in SAMPLES] == list(EXPECTED_HANDLERS)


@pytest.mark.parametrize("command", SAMPLES, ids=lambda cmd: type(cmd).__name__)
async def test_bus_hands_each_command_to_its_handler(
    command: Any, deps: Deps, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[Any, Deps, str]] = []

    def recorder(name: str) -> Any:
        async def handle(cmd: Any, got: Deps) -> str:
            seen.append((cmd, got, name))
            return f"handled by {name}"

        return handle

    for kind in list(HANDLERS):
        monkeypatch.setitem(HANDLERS, kind, recorder(kind.__name__))
    name = type(command).__name__
    assert await MessageBus(deps).handle(command) == f"handled by {name}"
    assert seen == [(command, deps, name)]


async def test_bus_runs_the_real_handler(deps: Deps, store: FakeStore, clock: FakeClock) -> None:
    bus = MessageBus(deps)
    view = await bus.handle(c.AddProduct(SPEC, 4))
    assert view.stock == 4
    with pytest.raises(InvalidInput):
        await bus.handle(buy(quantity=0))
    assert await bus.handle(c.ApplyPaymentEvent(SAMPLES[10].event)) == (
        "ignored: not an event livebuy uses"
    )
    assert store.calls == [("add_product", (SPEC, 4, clock.now()))]
