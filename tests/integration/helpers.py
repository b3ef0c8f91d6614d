"""Small builders shared by the integration tests."""

from datetime import timedelta
from itertools import count
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.domain import commands as c
from commerce.domain.drops import DropPolicy, DropTerms
from commerce.domain.grammar import Keywords
from commerce.domain.money import Money
from commerce.domain.products import ProductSpec
from commerce.service_layer import reading
from commerce.service_layer.messagebus import MessageBus
from commerce.service_layer.results import ClaimResult, DropView, OrderView, PaymentPage

_messages = count(1)


async def open_link(bus: MessageBus, order: OrderView) -> PaymentPage:
    """The buyer opens the pay link the order was given (what /pay/<ref> does)."""
    assert order.checkout_url is not None, f"order {order.ref} has no pay link"
    link = urlsplit(order.checkout_url)
    assert link.path == f"/pay/{order.ref}", order.checkout_url
    page: PaymentPage = await bus.handle(c.OpenPayment(order.ref, parse_qs(link.query)["t"][0]))
    return page


async def add_product(
    bus: MessageBus, sku: str = "TEE", stock: int = 10, variants: tuple[str, ...] = ()
) -> None:
    spec = ProductSpec(
        sku, f"{sku} product", Money(2500, "eur"), "size" if variants else "", variants
    )
    await bus.handle(c.AddProduct(spec, stock))


async def start_drop(
    bus: MessageBus,
    sku: str = "TEE",
    quantity: int = 5,
    limit: int | None = None,
    channels: tuple[str, ...] = ("web:demo",),
    hold: timedelta = timedelta(minutes=10),
    duration: timedelta | None = None,
    price: int = 2500,
    policy: DropPolicy = DropPolicy.HOLD,
) -> DropView:
    terms = DropTerms(sku, quantity, Money(price, "eur"), duration, limit, policy, hold)
    drop: DropView = await bus.handle(c.StartDrop(terms, channels))
    return drop


async def buy(
    bus: MessageBus,
    who: str = "web:anna",
    chat: str = "web:demo",
    code: str | None = None,
    quantity: int = 1,
    variant: tuple[str, ...] = (),
    key: str | None = None,
) -> ClaimResult:
    claim = c.Claim(
        key=key or f"{chat}:{next(_messages)}",
        chat=chat,
        identity=who,
        display_name=who.rpartition(":")[2],
        code=code,
        quantity=quantity,
        variant_words=variant,
    )
    result: ClaimResult = await bus.handle(claim)
    return result


ADDRESS = "Anna Buyer, Street 1, 10115 Berlin, DE"


async def give_address(engine: AsyncEngine, identity: str, ship_to: str = ADDRESS) -> None:
    """What a buyer's paid checkout leaves behind: where their one-message buys ship to."""
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE customer SET ship_to = :ship_to"
                " WHERE id = (SELECT customer_id FROM identity WHERE key = :identity)"
            ),
            {"ship_to": ship_to, "identity": identity},
        )


def count_readings(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The chat texts the core reads from now on (service_layer.reading.parse, whether the
    grammar parses the text again or remembers it), one entry per reading."""
    texts: list[str] = []
    real = reading.parse

    def counting(text: str, keywords: Keywords) -> reading.Parsed:
        texts.append(text)
        return real(text, keywords)

    monkeypatch.setattr(reading, "parse", counting)
    return texts
