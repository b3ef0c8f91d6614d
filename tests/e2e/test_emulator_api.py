"""The StripePaymentGateway (real stripe library) against the built-in emulator, over HTTP."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from commerce.adapters.stripe_events import SignatureError, to_payment_event, verify
from commerce.adapters.stripe_gateway import StripePaymentGateway
from commerce.domain.money import Money
from commerce.domain.payments import PaymentEventKind
from commerce.service_layer.ports import CheckoutRequest, PaymentError
from tests.e2e.conftest import KEY, SECRET, Stripe, free_port

# One value for the whole module: a retry must ask for exactly the same session.
EXPIRES = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)


def request(ref: str = "ORDER1", **changes: Any) -> CheckoutRequest:
    values: dict[str, Any] = {
        "order_ref": ref,
        "drop_code": "TEE",
        "chat": "telegram:-100",
        "description": "Logo tee (M)",
        "unit_amount": Money(2500, "eur"),
        "quantity": 2,
        "expires_at": EXPIRES,
    }
    return CheckoutRequest(**(values | changes))


async def pay(stripe: Stripe, session_id: str) -> None:
    response = await stripe.http.post(
        f"{stripe.base}/stripe-emulator/_test/pay/{session_id}",
        headers={"Authorization": f"Bearer {KEY}"},
    )
    assert response.status == 200


async def test_checkout_carries_the_order(stripe: Stripe) -> None:
    session = await stripe.gateway.open_checkout(request())
    assert session.url == f"{stripe.base}/stripe-emulator/pay/{session.id}"
    state = await stripe.gateway.session_state(session.id)
    assert (state.order_ref, state.status, state.payment_status) == ("ORDER1", "open", "unpaid")
    assert (state.amount_total, state.currency, state.payment_intent) == (5000, "eur", None)
    again = await stripe.gateway.open_checkout(request())
    assert again.id == session.id  # the idempotency key: one session per order
    with pytest.raises(PaymentError, match="same parameters"):
        await stripe.gateway.open_checkout(request(quantity=3))


async def test_short_holds_get_stripes_minimum(stripe: Stripe) -> None:
    soon = datetime.now(UTC) + timedelta(minutes=2)
    session = await stripe.gateway.open_checkout(request(expires_at=soon))
    assert session.expires_at >= datetime.now(UTC) + timedelta(minutes=29)


async def test_expire_pay_refund(stripe: Stripe) -> None:
    first = await stripe.gateway.open_checkout(request("A1"))
    await stripe.gateway.expire_checkout(first.id)
    await stripe.gateway.expire_checkout(first.id)  # already expired: fine
    assert (await stripe.gateway.session_state(first.id)).status == "expired"

    second = await stripe.gateway.open_checkout(request("A2"))
    await pay(stripe, second.id)
    state = await stripe.gateway.session_state(second.id)
    assert (state.status, state.payment_status) == ("complete", "paid")
    assert state.payment_intent is not None
    await stripe.gateway.expire_checkout(second.id)  # complete: left as it is
    assert (await stripe.gateway.session_state(second.id)).status == "complete"

    await stripe.gateway.refund(state.payment_intent, Money(1000, "eur"), "r1")
    replay = await stripe.gateway.refund(state.payment_intent, Money(1000, "eur"), "r1")
    await stripe.gateway.refund(state.payment_intent, None, "r2")  # the rest: 4000
    with pytest.raises(PaymentError, match="greater than unrefunded"):
        await stripe.gateway.refund(state.payment_intent, Money(1, "eur"), "r3")
    assert replay.startswith("re_")

    events = await stripe.receiver.wait_for(5)
    assert [e["type"] for e in events].count("payment_intent.succeeded") == 1
    events = [e for e in events if not e["type"].startswith("payment_intent.")]
    kinds = [to_payment_event(e).kind for e in events]
    assert kinds == [
        PaymentEventKind.CHECKOUT_EXPIRED,
        PaymentEventKind.CHECKOUT_COMPLETED,
        PaymentEventKind.CHARGE_REFUNDED,
        PaymentEventKind.CHARGE_REFUNDED,
    ]
    completed = to_payment_event(events[1])
    assert (completed.order_ref, completed.paid, completed.amount) == ("A2", True, 5000)
    assert completed.payment_customer is not None
    refunds = [to_payment_event(e) for e in events[2:]]
    assert [(r.order_ref, r.amount_refunded) for r in refunds] == [("A2", 1000), ("A2", 5000)]


async def test_disputes(stripe: Stripe) -> None:
    session = await stripe.gateway.open_checkout(request("D1"))
    await pay(stripe, session.id)
    intent = (await stripe.gateway.session_state(session.id)).payment_intent
    auth = {"Authorization": f"Bearer {KEY}"}
    url = f"{stripe.base}/stripe-emulator/_test/disputes/{intent}"
    assert (await stripe.http.post(url, headers=auth)).status == 200
    assert (await stripe.http.post(f"{url}/close?status=lost", headers=auth)).status == 200
    received = await stripe.receiver.wait_for(4)  # with payment_intent.succeeded
    events = [to_payment_event(e) for e in received if not e["type"].startswith("payment_")]
    assert [(e.kind, e.order_ref, e.dispute_outcome) for e in events[1:]] == [
        (PaymentEventKind.DISPUTE_CREATED, "D1", None),
        (PaymentEventKind.DISPUTE_CLOSED, "D1", "lost"),
    ]


async def test_provider_errors_become_payment_errors(stripe: Stripe) -> None:
    wrong_key = StripePaymentGateway("sk_live_nope", f"{stripe.base}/stripe-emulator", "x", 0)
    with pytest.raises(PaymentError, match="refused our API key"):
        await wrong_key.open_checkout(request())
    await wrong_key.close()
    down = StripePaymentGateway(KEY, f"http://127.0.0.1:{free_port()}", "x", 0)
    with pytest.raises(PaymentError, match="cannot be reached"):
        await down.session_state("cs_x")
    await down.close()
    with pytest.raises(PaymentError, match=r"No such checkout\.session"):
        await stripe.gateway.session_state("cs_missing")
    with pytest.raises(PaymentError, match="No such payment_intent"):
        await stripe.gateway.refund("pi_missing", None, "k")
    with pytest.raises(PaymentError, match="expires_at"):
        raw = {"Authorization": f"Bearer {KEY}"}
        response = await stripe.http.post(
            f"{stripe.base}/stripe-emulator/v1/checkout/sessions",
            headers=raw,
            data={
                "line_items[0][price_data][currency]": "eur",
                "line_items[0][price_data][unit_amount]": "100",
                "line_items[0][price_data][product_data][name]": "x",
                "line_items[0][quantity]": "1",
                "success_url": "http://a",
                "cancel_url": "http://b",
                "expires_at": "1",
            },
        )
        body = await response.json()
        assert response.status == 400
        raise PaymentError(body["error"]["message"])


async def test_the_hosted_page(stripe: Stripe) -> None:
    session = await stripe.gateway.open_checkout(request("P1"))
    page = await stripe.http.get(session.url)
    html = await page.text()
    assert page.status == 200
    assert "TEST MODE" in html and "2 × Logo tee (M)" in html and "€50.00" in html
    assert "Pay with test card 4242" in html and "/checkout/cancelled?order=P1" in html
    paid = await stripe.http.post(session.url, allow_redirects=False)
    assert paid.status == 303
    assert paid.headers["Location"] == "x/checkout/done?order=P1".replace("x", stripe.base)
    assert (await stripe.http.post(session.url, allow_redirects=False)).status == 409
    assert (await stripe.http.get(session.url)).status == 410
    expired = await stripe.gateway.open_checkout(request("P2"))
    await stripe.gateway.expire_checkout(expired.id)
    assert (await stripe.http.post(expired.url, allow_redirects=False)).status == 410
    missing = f"{stripe.base}/stripe-emulator/pay/cs_nope"
    assert (await stripe.http.get(missing)).status == 404
    # completed once (and its payment_intent.succeeded), expired once
    assert len(await stripe.receiver.wait_for(3)) == 3


async def test_deliveries_are_retried_and_signed(stripe: Stripe) -> None:
    stripe.receiver.fail_first = 2
    session = await stripe.gateway.open_checkout(request("R1"))
    await pay(stripe, session.id)
    event, succeeded = await stripe.receiver.wait_for(2)  # one after the other
    assert (event["type"], succeeded["type"]) == (
        "checkout.session.completed",
        "payment_intent.succeeded",
    )
    assert stripe.receiver.calls == 4
    deliveries = f"{stripe.base}/stripe-emulator/_test/deliveries"
    auth = {"Authorization": f"Bearer {KEY}"}
    log = await (await stripe.http.get(deliveries, headers=auth)).json()
    assert log == [
        {"event_id": event["id"], "attempts": 3, "last_status": 200, "delivered": True},
        {"event_id": succeeded["id"], "attempts": 1, "last_status": 200, "delivered": True},
    ]
    listed = await stripe.http.get(
        f"{stripe.base}/stripe-emulator/v1/events?type=checkout.session.completed",
        headers={"Authorization": f"Bearer {KEY}"},
    )
    assert [e["id"] for e in (await listed.json())["data"]] == [event["id"]]
    with pytest.raises(SignatureError):
        import json

        verify(json.dumps(event).encode(), "t=1,v1=00", SECRET)


async def test_api_needs_a_test_key(stripe: Stripe) -> None:
    response = await stripe.http.get(f"{stripe.base}/stripe-emulator/v1/events")
    assert response.status == 401
    assert (await response.json())["error"]["type"] == "invalid_request_error"


async def test_the_payer_of_a_payment_stripe_does_not_know_is_unknown(stripe: Stripe) -> None:
    # A signed event naming a payment this key cannot see (another account's, another mode's):
    # no payer to check, rather than a lookup failing at every retry.
    assert not (await stripe.gateway.payer("pi_unknown")).known
    wrong_key = StripePaymentGateway("sk_live_nope", f"{stripe.base}/stripe-emulator", "x", 0)
    with pytest.raises(PaymentError, match="refused our API key"):  # retried, not unknown
        await wrong_key.payer("pi_unknown")
    await wrong_key.close()
