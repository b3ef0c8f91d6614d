"""StripePaymentGateway: the only module that calls Stripe (Checkout, saved cards, refunds).

It uses the official library's async client over aiohttp, pointed at `STRIPE_API_BASE`, so
the real API, the built-in emulator and test servers are all spoken to the same way.
"""

import json
import logging
import math
import typing
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import stripe
from stripe.params.checkout import SessionCreateParamsShippingAddressCollection

from commerce.adapters.db import active
from commerce.adapters.stripe_events import (
    KINDS,
    MalformedEvent,
    session_amount,
    session_ship_to,
    session_shipping,
    session_tax,
    to_payment_event,
)
from commerce.adapters.stripe_version import API_VERSION
from commerce.domain.backoff import retry_after_seconds, should_retry_header
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
    ShippingOption,
)

log = logging.getLogger(__name__)

# Stripe refuses a Checkout Session that expires sooner than 30 minutes from its creation.
MIN_SESSION = timedelta(minutes=30, seconds=30)
MAX_SESSION = timedelta(hours=23, minutes=59)
STRIPE_MINIMUM = timedelta(minutes=30, seconds=5)
RETRY_STEP = timedelta(minutes=10)


class StripePaymentGateway:
    page_size = 100  # of the listings (Stripe's largest page)

    def __init__(
        self,
        api_key: str,
        api_base: str,
        public_base_url: str,
        network_retries: int = 2,
        currency: str = "eur",
    ) -> None:
        self._http = stripe.AIOHTTPClient(timeout=20)
        self._client = stripe.StripeClient(
            api_key,
            base_addresses={"api": api_base.rstrip("/")},
            http_client=self._http,
            max_network_retries=network_retries,
            # Every request names the version its parameters and the objects read are of.
            stripe_version=API_VERSION,
        )
        self._public = public_base_url.rstrip("/")
        self._currency = currency  # the shop's: a saved card is later charged in it

    async def close(self) -> None:
        await self._http.close_async()  # type: ignore[no-untyped-call]

    async def open_checkout(self, request: CheckoutRequest) -> CheckoutSession:
        expires_at = session_expiry(request, datetime.now(UTC))
        metadata = {
            "order_ref": request.order_ref,
            "drop": request.drop_code,
            "chat": request.chat,
        }
        params: Any = {
            "mode": "payment",
            "line_items": [
                {
                    "price_data": {
                        "currency": request.unit_amount.currency,
                        "unit_amount": request.unit_amount.minor,
                        "product_data": {"name": request.description},
                    },
                    "quantity": request.quantity,
                }
            ],
            "client_reference_id": request.order_ref,
            "metadata": metadata,
            # The same metadata on the payment: charges, refunds and disputes name the order.
            "payment_intent_data": {"metadata": metadata},
            "success_url": f"{self._public}/checkout/done?order={request.order_ref}",
            "cancel_url": f"{self._public}/checkout/cancelled?order={request.order_ref}",
            "expires_at": int(expires_at.timestamp()),
        }
        if request.customer:
            params["customer"] = request.customer
        else:
            params["customer_creation"] = "always"
        if request.save_card:
            # The card stays on the customer for off-session charges (one-message buys).
            params["payment_intent_data"]["setup_future_usage"] = "off_session"
        if request.collect_shipping:
            countries = stripe_countries(request.ship_countries) or SHIPPING_COUNTRIES
            params["shipping_address_collection"] = {"allowed_countries": countries}
        if request.shipping_options:
            params["shipping_options"] = [
                {"shipping_rate_data": _shipping_rate(option, request.automatic_tax)}
                for option in request.shipping_options
            ]
        if request.automatic_tax:
            # Stripe Tax adds the tax on top of the prices (exclusive), items and shipping.
            params["automatic_tax"] = {"enabled": True}
            for item in params["line_items"]:
                item["price_data"]["tax_behavior"] = "exclusive"
        # One session per order (and one successor per expired one), however often asked.
        key = f"checkout-{request.order_ref}"
        options: Any = {
            "idempotency_key": f"{key}-after-{request.replaces}" if request.replaces else key
        }
        session = await self._call(self._client.v1.checkout.sessions.create_async(params, options))
        return CheckoutSession(
            id=session.id,
            url=str(session.url),
            expires_at=datetime.fromtimestamp(session.expires_at, UTC),
            customer=_id(getattr(session, "customer", None)),
        )

    async def expire_checkout(self, session_id: str) -> None:
        outside_unit_of_work()
        try:
            await self._client.v1.checkout.sessions.expire_async(session_id)
        except stripe.InvalidRequestError as exc:
            # Already complete or expired: there is nothing left to close.
            log.info("checkout %s not expired: %s", session_id, exc.user_message)
        except stripe.StripeError as exc:
            raise _error(exc) from None

    async def refund(self, payment_intent: str, amount: Money | None, key: str) -> str:
        # A charge id (Telegram's native payments give one) is refunded as a charge.
        by = "charge" if payment_intent.startswith("ch_") else "payment_intent"
        params: Any = {by: payment_intent}
        if amount is not None:
            params["amount"] = amount.minor
        options: Any = {"idempotency_key": key}
        refund = await self._call(self._client.v1.refunds.create_async(params, options))
        return str(refund.id)

    async def session_state(self, session_id: str) -> SessionState:
        session = await self._call(self._client.v1.checkout.sessions.retrieve_async(session_id))
        return SessionState(
            id=session.id,
            order_ref=getattr(session, "client_reference_id", None),
            status=str(session.status),
            payment_status=str(session.payment_status),
            payment_intent=_id(getattr(session, "payment_intent", None)),
            amount_total=session_amount(session.to_dict()),
            currency=getattr(session, "currency", None),
            ship_to=session_ship_to(session.to_dict()),
            url=getattr(session, "url", None),
            shipping=session_shipping(session.to_dict()),
            tax=session_tax(session.to_dict()),
        )

    async def payment_state(self, payment_intent: str) -> PaymentState:
        intent = await self._call(self._client.v1.payment_intents.retrieve_async(payment_intent))
        metadata = getattr(intent, "metadata", None)
        order_ref = metadata.to_dict().get("order_ref") if metadata is not None else None
        amount = getattr(intent, "amount", None)
        currency = getattr(intent, "currency", None)
        return PaymentState(
            id=str(intent.id),
            status=str(intent.status),
            amount=amount if isinstance(amount, int) else None,
            currency=currency if isinstance(currency, str) else None,
            order_ref=order_ref if isinstance(order_ref, str) else None,
        )

    async def missed_events(self, since: datetime) -> list[tuple[PaymentEvent, str]]:
        # Stripe lists newest first: the pages are read until one reaches back to `since`
        # (Stripe keeps 30 days of events).
        params: Any = {"types": sorted(KINDS), "delivery_success": False}
        params["limit"] = self.page_size
        found: list[tuple[PaymentEvent, str]] = []
        while True:
            page = await self._call(self._client.v1.events.list_async(params))
            for listed in page.data:
                if listed.created < since.timestamp():
                    return found
                raw = listed.to_dict()
                try:
                    found.append((to_payment_event(raw), json.dumps(raw)))
                except MalformedEvent as exc:
                    log.warning("listed event %s not read: %s", listed.id, exc)
            if not page.has_more or not page.data:
                return found
            params["starting_after"] = page.data[-1].id

    async def completed_sessions(self, since: datetime) -> list[str]:
        params: Any = {"status": "complete", "limit": self.page_size}
        found: list[str] = []
        while True:  # newest first, until one is older than `since`
            page = await self._call(self._client.v1.checkout.sessions.list_async(params))
            for session in page.data:
                if session.created < since.timestamp():
                    return found
                found.append(str(session.id))
            if not page.has_more or not page.data:
                return found
            params["starting_after"] = page.data[-1].id

    async def open_card_setup(
        self, identity: str, customer: str | None, locale: str = "en"
    ) -> CheckoutSession:
        if customer is None:
            created = await self._call(
                self._client.v1.customers.create_async(
                    {"metadata": {"identity": identity}},
                    {"idempotency_key": f"customer-{identity}"},
                )
            )
            customer = str(created.id)
        metadata = {"identity": identity, "purpose": "card_setup"}
        params: Any = {
            "mode": "setup",
            "customer": customer,
            # Cards only: a one-message buy charges the saved card off-session.
            # (`payment_method_types` is gone from Checkout at the pinned API version.)
            "allowed_payment_method_types": ["card"],
            "currency": self._currency,
            "metadata": metadata,
            "setup_intent_data": {"metadata": metadata},
            "success_url": f"{self._public}/checkout/done?card=1",
            "cancel_url": f"{self._public}/checkout/cancelled?card=1",
            "locale": locale if locale in CHECKOUT_LOCALES else "auto",
        }
        session = await self._call(self._client.v1.checkout.sessions.create_async(params))
        return CheckoutSession(
            id=session.id,
            url=str(session.url),
            expires_at=datetime.fromtimestamp(session.expires_at, UTC),
            customer=_id(getattr(session, "customer", None)) or customer,
        )

    async def saved_card(
        self, payment_intent: str | None = None, setup_intent: str | None = None
    ) -> SavedCard | None:
        if (payment_intent is None) == (setup_intent is None):
            raise ValueError("saved_card needs exactly one of payment_intent, setup_intent")
        params: Any = {"expand": ["payment_method"]}
        if payment_intent is not None:
            intent = await self._call(
                self._client.v1.payment_intents.retrieve_async(payment_intent, params)
            )
            if getattr(intent, "setup_future_usage", None) != "off_session":
                return None  # paid, but the buyer's card was not kept
        else:
            intent = await self._call(
                self._client.v1.setup_intents.retrieve_async(str(setup_intent), params)
            )
            if getattr(intent, "status", None) != "succeeded":
                return None
        method = getattr(intent, "payment_method", None)
        card = getattr(method, "card", None)
        customer = _id(getattr(method, "customer", None))
        if method is None or isinstance(method, str) or card is None or customer is None:
            return None  # no card, or one not attached to a customer: it cannot be reused
        fingerprint = Payer.of(getattr(card, "fingerprint", None), None).card
        return SavedCard(customer, str(method.id), str(card.brand), str(card.last4), fingerprint)

    async def payer(self, payment_intent: str) -> Payer:
        # PaymentIntentRetrieveParams: expand; the latest charge (stripe.Charge) carries
        # payment_method_details.card.fingerprint and billing_details.email.
        params: Any = {"expand": ["latest_charge"]}
        outside_unit_of_work()
        try:
            intent = await self._client.v1.payment_intents.retrieve_async(payment_intent, params)
        except stripe.InvalidRequestError as exc:
            if exc.code != "resource_missing":
                raise _error(exc) from None
            # A signed event about a payment this account's key cannot see (another account's
            # or mode's key): asking again will not help, and the buyer paid. Applied as a
            # payment of an unknown card rather than kept failing for ever.
            log.warning("payment %s unknown to Stripe: its payer is not checked", payment_intent)
            return NO_PAYER
        except stripe.StripeError as exc:
            raise _error(exc) from None
        charge = getattr(intent, "latest_charge", None)
        if charge is None or isinstance(charge, str):
            return NO_PAYER  # no charge (yet): nothing paid by card
        details = getattr(charge, "payment_method_details", None)
        card = getattr(details, "card", None)
        billing = getattr(charge, "billing_details", None)
        return Payer.of(getattr(card, "fingerprint", None), getattr(billing, "email", None))

    async def charge_card(self, request: ChargeRequest) -> Charge:
        outside_unit_of_work()
        params: Any = {
            "amount": request.amount.minor,
            "currency": request.amount.currency,
            "customer": request.card.payment_customer,
            "payment_method": request.card.payment_method,
            "off_session": True,
            "confirm": True,
            "description": request.description,
            "metadata": {
                "order_ref": request.order_ref,
                "drop": request.drop_code,
                "chat": request.chat,
                "one_message": "1",
            },
        }
        # One charge per order, however often this is retried (a replay answers the same,
        # a decline included).
        options: Any = {"idempotency_key": f"charge-{request.order_ref}"}
        try:
            intent = await self._client.v1.payment_intents.create_async(params, options)
        except stripe.CardError as exc:
            status = (
                ChargeStatus.AUTHENTICATION_REQUIRED
                if exc.code == "authentication_required"
                else ChargeStatus.DECLINED
            )
            return Charge(status, _id(getattr(exc.error, "payment_intent", None)), _decline(exc))
        except stripe.InvalidRequestError as exc:
            if exc.param == "payment_method":  # detached or unknown: this card is gone
                return Charge(ChargeStatus.DECLINED, None, _message(exc))
            raise _error(exc) from None
        except stripe.StripeError as exc:
            raise _error(exc) from None
        return Charge(INTENT_STATUSES.get(str(intent.status), ChargeStatus.PROCESSING), intent.id)

    async def detach_card(self, payment_method: str) -> None:
        outside_unit_of_work()
        try:
            await self._client.v1.payment_methods.detach_async(payment_method)
        except stripe.InvalidRequestError as exc:
            # Already detached (or never known): it cannot be charged either way.
            log.info("card %s not detached: %s", payment_method, exc.user_message)
        except stripe.StripeError as exc:
            raise _error(exc) from None

    async def _call(self, request: Any) -> Any:
        try:
            outside_unit_of_work()
        except RuntimeError:
            request.close()  # the request's coroutine, never awaited
            raise
        try:
            return await request
        except stripe.StripeError as exc:
            raise _error(exc) from None


def _shipping_rate(option: ShippingOption, taxed: bool) -> dict[str, Any]:
    rate: dict[str, Any] = {
        "type": "fixed_amount",
        "fixed_amount": {"amount": option.amount.minor, "currency": option.amount.currency},
        "display_name": option.name[:100],
    }
    if taxed:
        rate["tax_behavior"] = "exclusive"
    return rate


def stripe_countries(countries: tuple[str, ...]) -> list[str]:
    """The countries Checkout can collect an address in (Stripe's own list, read from the
    library's typed parameters: a few ISO codes such as CU or KP are not among them)."""
    return sorted(set(countries) & STRIPE_COUNTRIES)


def outside_unit_of_work() -> None:
    """Stripe is never called inside a unit of work: the call (up to Stripe's timeout and
    retries) would hold the transaction, on SQLite the write lock of every other writer. A
    use case that calls Stripe commits first and goes on in a unit of its own."""
    if active() is not None:
        raise RuntimeError("Stripe is called inside a unit of work")


def session_expiry(request: CheckoutRequest, now: datetime) -> datetime:
    """When the session ends: the hold's end, but at least Stripe's 30 minutes.

    Counted from when the order was made, not from now, so that a retry for the same order
    asks for the same session (Stripe refuses an idempotency key reused with other
    parameters). A retry too late for that moves the end on in whole steps, so retries close
    together still agree.
    """
    anchor = (request.ordered_at or now).replace(microsecond=0)
    # Ten minutes of headroom: every retry in the first ten minutes finds it long enough.
    expires_at = max(request.expires_at.replace(microsecond=0), anchor + MIN_SESSION + RETRY_STEP)
    if expires_at < now + STRIPE_MINIMUM:
        steps = math.ceil((now + STRIPE_MINIMUM - expires_at) / RETRY_STEP)
        expires_at += steps * RETRY_STEP
    return min(expires_at, now + MAX_SESSION)


def _error(exc: stripe.StripeError) -> PaymentError:
    """Stripe's refusal as the core's error: its message, status and retry advice."""
    headers = {k.lower(): v for k, v in (exc.headers or {}).items()}
    status = None if isinstance(exc, stripe.APIConnectionError) else exc.http_status
    return PaymentError(
        _message(exc),
        status=status,
        retry_after=retry_after_seconds(headers.get("retry-after"), datetime.now(UTC)),
        should_retry=should_retry_header(headers.get("stripe-should-retry")),
    )


def _message(exc: stripe.StripeError) -> str:
    """A short, safe message: Stripe's own words, never a key or a request body."""
    if isinstance(exc, stripe.APIConnectionError):
        return "the payment provider cannot be reached; try again shortly"
    if isinstance(exc, stripe.AuthenticationError):
        return "the payment provider refused our API key"
    return (exc.user_message or "the payment provider refused the request")[:200]


def _decline(exc: stripe.CardError) -> str:
    """Why a card was declined, in Stripe's words for the buyer."""
    reason = exc.user_message or getattr(exc.error, "decline_code", None) or "card declined"
    return str(reason)[:200]


def _id(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    return getattr(value, "id", None) if value else None


def _stripe_countries() -> frozenset[str]:
    hints = typing.get_type_hints(SessionCreateParamsShippingAddressCollection)
    (allowed,) = typing.get_args(hints["allowed_countries"])  # List[Literal[...] | str]
    literal = next(a for a in typing.get_args(allowed) if typing.get_origin(a) is Literal)
    return frozenset(str(code) for code in typing.get_args(literal)) - {"ZZ"}


STRIPE_COUNTRIES = _stripe_countries()

# Where physical goods may be shipped when the shop has no shipping zones.
SHIPPING_COUNTRIES = ["AT", "BE", "CH", "DE", "ES", "FR", "GB", "IE", "IT", "LU", "NL", "PT", "US"]

INTENT_STATUSES = {
    "succeeded": ChargeStatus.SUCCEEDED,
    "processing": ChargeStatus.PROCESSING,
    "requires_action": ChargeStatus.AUTHENTICATION_REQUIRED,
    "requires_confirmation": ChargeStatus.AUTHENTICATION_REQUIRED,
    "requires_payment_method": ChargeStatus.DECLINED,
    "canceled": ChargeStatus.DECLINED,
}

# The languages Stripe Checkout speaks; any other is sent as "auto" (the browser's).
# fmt: off
CHECKOUT_LOCALES = frozenset({
    "bg", "cs", "da", "de", "el", "en", "en-GB", "es", "es-419", "et", "fi", "fil", "fr",
    "fr-CA", "hr", "hu", "id", "it", "ja", "ko", "lt", "lv", "ms", "mt", "nb", "nl", "pl", "pt",
    "pt-BR", "ro", "ru", "sk", "sl", "sv", "th", "tr", "vi", "zh", "zh-HK", "zh-TW",
})
# fmt: on
