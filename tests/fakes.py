"""Fakes for the core's ports: a clock tests move by hand, notifiers and gateways that record."""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from commerce.domain.money import Money
from commerce.service_layer.results import Notice, OrderView


class FakeClock:
    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2026, 11, 24, 20, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


@dataclass
class FakeNotifier:
    notices: list[Notice] = field(default_factory=list)

    async def notify(self, notice: Notice) -> None:
        self.notices.append(notice)

    def of(self, kind: type) -> list[Notice]:
        return [n for n in self.notices if isinstance(n, kind)]


@dataclass
class FakePaymentGateway:
    opened: list[str] = field(default_factory=list)
    expired: list[str] = field(default_factory=list)
    refunds: list[tuple[str, Money | None]] = field(default_factory=list)

    async def open_checkout(self, order: OrderView, expires_at: datetime) -> str:
        self.opened.append(order.ref)
        return f"https://checkout.test/{order.ref}"

    async def expire_checkout(self, order: OrderView) -> None:
        self.expired.append(order.ref)

    async def refund(self, order: OrderView, amount: Money | None) -> str:
        self.refunds.append((order.ref, amount))
        return f"re_{order.ref}"
