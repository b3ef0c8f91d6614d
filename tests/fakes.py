"""Fakes for the core's ports: a clock tests move by hand, notifiers and gateways that record."""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from commerce.domain.money import Money
from commerce.domain.payments import NO_PAYER, Payer, PaymentEvent
from commerce.service_layer.ports import (
    Charge,
    ChargeRequest,
    ChargeStatus,
    CheckoutRequest,
    CheckoutSession,
    PaymentError,
    PaymentState,
    SavedCard,
    SessionState,
)
from commerce.service_layer.results import Notice
from webhooks.devtools.emulator.state import card_fingerprint


class FakeClock:
    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2026, 11, 24, 20, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


class ShiftedClock:
    """Real time plus an offset the test moves: time flows (the chat libraries, the
    courier's polls) and the test can still jump over pacing delays and hold expiries."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, **delta: float) -> None:
        self.offset += timedelta(**delta)


@dataclass
class FakeNotifier:
    notices: list[Notice] = field(default_factory=list)

    async def notify(self, notice: Notice) -> None:
        self.notices.append(notice)

    def of(self, kind: type) -> list[Notice]:
        return [n for n in self.notices if isinstance(n, kind)]


@dataclass
class FakePaymentGateway:
    opened: list[CheckoutRequest] = field(default_factory=list)
    expired: list[str] = field(default_factory=list)
    refunds: list[tuple[str, Money | None, str]] = field(default_factory=list)
    states: dict[str, SessionState] = field(default_factory=dict)  # what session_state says
    down: bool = False  # every call fails as if the provider were unreachable
    card_setups: list[tuple[str, str | None, str]] = field(default_factory=list)
    # What saved_card says, by payment intent or setup intent id.
    cards: dict[str, SavedCard] = field(default_factory=dict)
    charges: list[ChargeRequest] = field(default_factory=list)  # every call, replays included
    # How a payment method's off-session charges end (SUCCEEDED when not listed).
    outcomes: dict[str, ChargeStatus] = field(default_factory=dict)
    detached: list[str] = field(default_factory=list)
    intents: dict[str, PaymentState] = field(default_factory=dict)  # what payment_state says
    failure: PaymentError | None = None  # every call fails so (a refusal, a 429, ...)
    # What missed_events lists (event, payload, created) and completed_sessions (id, created).
    undelivered: list[tuple[PaymentEvent, str, datetime]] = field(default_factory=list)
    completed: list[tuple[str, datetime]] = field(default_factory=list)
    listed_since: list[datetime] = field(default_factory=list)  # every listing's start
    # Who paid each payment intent, as the checkout page took it: (card number, email). What
    # `payer` answers: the card's fingerprint (the same number, the same fingerprint, as
    # Stripe's) and the email; unknown payments have no card charge (NO_PAYER).
    paid_with: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    payer_asks: list[str] = field(default_factory=list)

    def _check(self) -> None:
        if self.down:
            raise PaymentError("the payment provider is unreachable")
        if self.failure is not None:
            raise self.failure

    async def open_checkout(self, request: CheckoutRequest) -> CheckoutSession:
        self._check()
        self.opened.append(request)
        ref = request.order_ref
        session = f"cs_{ref}" + (f"_{len(self.opened)}" if request.replaces else "")
        url = f"https://checkout.test/{ref}"
        # Open until a test says otherwise (states), as Stripe's session is.
        self.states.setdefault(
            session, SessionState(session, ref, "open", "unpaid", None, None, None, url=url)
        )
        return CheckoutSession(session, url, request.expires_at)

    async def expire_checkout(self, session_id: str) -> None:
        self._check()
        self.expired.append(session_id)

    async def refund(self, payment_intent: str, amount: Money | None, key: str) -> str:
        self._check()
        self.refunds.append((payment_intent, amount, key))
        return f"re_{len(self.refunds)}"

    async def session_state(self, session_id: str) -> SessionState:
        self._check()
        return self.states[session_id]

    async def payment_state(self, payment_intent: str) -> PaymentState:
        self._check()
        return self.intents[payment_intent]

    async def missed_events(self, since: datetime) -> list[tuple[PaymentEvent, str]]:
        self._check()
        self.listed_since.append(since)
        return [(e, payload) for e, payload, at in self.undelivered if at >= since]

    async def completed_sessions(self, since: datetime) -> list[str]:
        self._check()
        self.listed_since.append(since)
        return [session for session, at in self.completed if at >= since]

    async def open_card_setup(
        self, identity: str, customer: str | None, locale: str = "en"
    ) -> CheckoutSession:
        self._check()
        self.card_setups.append((identity, customer, locale))
        n = len(self.card_setups)
        return CheckoutSession(
            f"cs_setup_{n}",
            f"https://checkout.test/setup/{n}",
            datetime.now(UTC) + timedelta(hours=24),
            customer or f"cus_{identity}",
        )

    async def saved_card(
        self, payment_intent: str | None = None, setup_intent: str | None = None
    ) -> SavedCard | None:
        self._check()
        return self.cards.get(payment_intent or setup_intent or "")

    async def charge_card(self, request: ChargeRequest) -> Charge:
        """One payment intent per order (pi_<order ref>), as the idempotency key makes it."""
        self._check()
        self.charges.append(request)
        method = request.card.payment_method
        if method in self.detached:
            return Charge(ChargeStatus.DECLINED, None, "This card was removed.")
        status = self.outcomes.get(method, ChargeStatus.SUCCEEDED)
        message = "Your card was declined." if status is ChargeStatus.DECLINED else ""
        return Charge(status, f"pi_{request.order_ref}", message)

    async def detach_card(self, payment_method: str) -> None:
        self._check()
        self.detached.append(payment_method)

    async def payer(self, payment_intent: str) -> Payer:
        self._check()
        self.payer_asks.append(payment_intent)
        if payment_intent not in self.paid_with:
            return NO_PAYER
        number, email = self.paid_with[payment_intent]
        return Payer.of(card_fingerprint(number), email)
