"""StripePaymentGateway: the only module that calls Stripe (Checkout, refunds).

It uses the official library's async client over aiohttp, pointed at `STRIPE_API_BASE`, so
the real API, the built-in emulator and test servers are all spoken to the same way.
"""

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import stripe

from commerce.domain.money import Money
from commerce.service_layer.ports import (
    CheckoutRequest,
    CheckoutSession,
    PaymentError,
    SessionState,
)

log = logging.getLogger(__name__)

# Stripe refuses a Checkout Session that expires sooner than 30 minutes from its creation.
MIN_SESSION = timedelta(minutes=30, seconds=30)
MAX_SESSION = timedelta(hours=23, minutes=59)


class StripePaymentGateway:
    def __init__(
        self, api_key: str, api_base: str, public_base_url: str, network_retries: int = 2
    ) -> None:
        self._http = stripe.AIOHTTPClient(timeout=20)
        self._client = stripe.StripeClient(
            api_key,
            base_addresses={"api": api_base.rstrip("/")},
            http_client=self._http,
            max_network_retries=network_retries,
        )
        self._public = public_base_url.rstrip("/")

    async def close(self) -> None:
        await self._http.close_async()  # type: ignore[no-untyped-call]

    async def open_checkout(self, request: CheckoutRequest) -> CheckoutSession:
        now = datetime.now(UTC)
        expires_at = min(max(request.expires_at, now + MIN_SESSION), now + MAX_SESSION)
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
        if request.collect_shipping:
            params["shipping_address_collection"] = {"allowed_countries": SHIPPING_COUNTRIES}
        # One session per order, however often this is retried.
        options: Any = {"idempotency_key": f"checkout-{request.order_ref}"}
        session = await self._call(self._client.v1.checkout.sessions.create_async(params, options))
        return CheckoutSession(
            id=session.id,
            url=str(session.url),
            expires_at=datetime.fromtimestamp(session.expires_at, UTC),
            customer=_id(getattr(session, "customer", None)),
        )

    async def expire_checkout(self, session_id: str) -> None:
        try:
            await self._client.v1.checkout.sessions.expire_async(session_id)
        except stripe.InvalidRequestError as exc:
            # Already complete or expired: there is nothing left to close.
            log.info("checkout %s not expired: %s", session_id, exc.user_message)
        except stripe.StripeError as exc:
            raise PaymentError(_message(exc)) from None

    async def refund(self, payment_intent: str, amount: Money | None, key: str) -> str:
        params: Any = {"payment_intent": payment_intent}
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
            amount_total=getattr(session, "amount_total", None),
            currency=getattr(session, "currency", None),
        )

    async def _call(self, request: Any) -> Any:
        try:
            return await request
        except stripe.StripeError as exc:
            raise PaymentError(_message(exc)) from None


def _message(exc: stripe.StripeError) -> str:
    """A short, safe message: Stripe's own words, never a key or a request body."""
    if isinstance(exc, stripe.APIConnectionError):
        return "the payment provider cannot be reached; try again shortly"
    if isinstance(exc, stripe.AuthenticationError):
        return "the payment provider refused our API key"
    return (exc.user_message or "the payment provider refused the request")[:200]


def _id(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    return getattr(value, "id", None) if value else None


# Where physical goods may be shipped; a shop that ships elsewhere extends this list.
SHIPPING_COUNTRIES = ["AT", "BE", "CH", "DE", "ES", "FR", "GB", "IE", "IT", "LU", "NL", "PT", "US"]
