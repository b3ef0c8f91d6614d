"""Saved cards and off-session charges (one-message buying): the StripePaymentGateway (real
stripe library) against the built-in emulator, over HTTP, with Stripe's own test cards."""

import asyncio
from typing import Any

import pytest

from commerce.adapters.stripe_gateway import StripePaymentGateway
from commerce.domain.money import Money
from commerce.service_layer.ports import (
    ChargeRequest,
    ChargeStatus,
    PaymentError,
    SavedCard,
)
from tests.e2e.conftest import KEY, Stripe, free_port
from tests.e2e.test_emulator_api import request

VISA = "4242424242424242"
DECLINES_LATER = "4000000000000341"
NO_FUNDS = "4000000000009995"
NEEDS_BUYER = "4000002760003184"
AUTH = {"Authorization": f"Bearer {KEY}"}
REMEMBERED = "Your card will be remembered for one-message buys. Type /unlink to forget it."


async def api(stripe: Stripe, path: str) -> Any:
    response = await stripe.http.get(f"{stripe.base}/stripe-emulator{path}", headers=AUTH)
    assert response.status == 200, await response.text()
    return await response.json()


async def pay(stripe: Stripe, session_id: str, card: str | None = None) -> Any:
    response = await stripe.http.post(
        f"{stripe.base}/stripe-emulator/_test/pay/{session_id}",
        headers=AUTH,
        data={"card": card} if card else None,
    )
    return response.status, await response.json()


async def events(stripe: Stripe, type_: str, count: int = 1) -> list[dict[str, Any]]:
    """The delivered events of one type, once there are `count` of them."""
    for _ in range(200):
        found = [e for e in stripe.receiver.events if e["type"] == type_]
        if len(found) >= count:
            return found
        await asyncio.sleep(0.025)
    raise AssertionError(f"{count} × {type_} never came: {stripe.receiver.events}")


async def saved(stripe: Stripe, number: str = VISA, identity: str = "telegram:7") -> SavedCard:
    """A card set up through a setup-mode checkout, as /link does it."""
    session = await stripe.gateway.open_card_setup(identity, None)
    assert (await pay(stripe, session.id, number))[0] == 200
    setup = (await api(stripe, f"/v1/checkout/sessions/{session.id}"))["setup_intent"]
    card = await stripe.gateway.saved_card(setup_intent=setup)
    assert card is not None
    return card


def charge(card: SavedCard, ref: str = "ORD1", minor: int = 2500) -> ChargeRequest:
    return ChargeRequest(ref, "TEE", "telegram:-100", "Logo tee (M)", Money(minor, "eur"), card)


async def test_a_checkout_that_saves_the_card(stripe: Stripe) -> None:
    session = await stripe.gateway.open_checkout(request("S1", save_card=True))
    html = await (await stripe.http.get(session.url)).text()
    assert REMEMBERED in html
    # Four of Stripe's numbers and the emulator's card that stays processing.
    assert html.count('type="radio"') == 5 and f'value="{VISA}" checked' in html
    assert (await pay(stripe, session.id))[0] == 200
    state = await stripe.gateway.session_state(session.id)
    intent = state.payment_intent
    assert intent is not None
    # What reconciliation reads when the webhook was lost: the address the page asked for.
    assert state.ship_to == "Jenny Rosen, Teststraße 1, 10115 Berlin, DE"

    card = await stripe.gateway.saved_card(payment_intent=intent)
    [completed] = await events(stripe, "checkout.session.completed")
    customer = completed["data"]["object"]["customer"]
    assert card is not None and card.payment_method.startswith("pm_")
    assert (card.payment_customer, card.brand, card.last4) == (customer, "visa", "4242")
    listed = await api(stripe, f"/v1/customers/{customer}/payment_methods")
    assert [pm["id"] for pm in listed["data"]] == [card.payment_method]
    raw = await api(stripe, f"/v1/payment_intents/{intent}?expand[]=payment_method")
    assert raw["setup_future_usage"] == "off_session" and raw["status"] == "succeeded"
    assert raw["payment_method"]["card"]["last4"] == "4242"
    [succeeded] = await events(stripe, "payment_intent.succeeded")
    paid = succeeded["data"]["object"]
    assert (paid["id"], paid["amount"], paid["metadata"]["order_ref"]) == (intent, 5000, "S1")
    assert paid["latest_charge"].startswith("ch_")


async def test_a_checkout_without_saving_keeps_no_card(stripe: Stripe) -> None:
    session = await stripe.gateway.open_checkout(request("N1"))
    assert REMEMBERED not in await (await stripe.http.get(session.url)).text()
    assert (await pay(stripe, session.id, NEEDS_BUYER))[0] == 200
    state = await stripe.gateway.session_state(session.id)
    assert state.payment_intent is not None
    assert await stripe.gateway.saved_card(payment_intent=state.payment_intent) is None
    [completed] = await events(stripe, "checkout.session.completed")
    customer = completed["data"]["object"]["customer"]
    assert (await api(stripe, f"/v1/payment_methods?customer={customer}&type=card"))["data"] == []


async def test_a_card_setup_session(stripe: Stripe) -> None:
    session = await stripe.gateway.open_card_setup("telegram:42", None, "de")
    assert session.customer is not None and session.customer.startswith("cus_")
    customer = await api(stripe, f"/v1/customers/{session.customer}")
    assert customer["metadata"] == {"identity": "telegram:42"}
    page = await (await stripe.http.get(session.url)).text()
    assert "<h1>Save card</h1>" in page and REMEMBERED in page and "Total" not in page
    assert "/checkout/cancelled?card=1" in page
    state = await stripe.gateway.session_state(session.id)
    assert (state.status, state.payment_status, state.amount_total) == (
        "open",
        "no_payment_required",
        None,
    )

    assert (await pay(stripe, session.id, DECLINES_LATER))[0] == 200
    [completed] = await events(stripe, "checkout.session.completed")
    [succeeded] = await events(stripe, "setup_intent.succeeded")
    obj = completed["data"]["object"]
    metadata = {"identity": "telegram:42", "purpose": "card_setup"}
    assert (obj["mode"], obj["status"], obj["metadata"]) == ("setup", "complete", metadata)
    assert obj["setup_intent"] == succeeded["data"]["object"]["id"]
    assert succeeded["data"]["object"]["metadata"] == metadata
    card = await stripe.gateway.saved_card(setup_intent=obj["setup_intent"])
    assert card is not None
    assert (card.payment_customer, card.brand, card.last4) == (session.customer, "visa", "0341")

    # The customer is created once per identity; a known customer is reused.
    again = await stripe.gateway.open_card_setup("telegram:42", None)
    assert again.customer == session.customer and again.id != session.id
    given = await stripe.gateway.open_card_setup("telegram:43", session.customer)
    assert given.customer == session.customer


async def test_an_off_session_charge(stripe: Stripe) -> None:
    card = await saved(stripe)
    first = await stripe.gateway.charge_card(charge(card, "C1"))
    assert first.status is ChargeStatus.SUCCEEDED
    assert first.payment_intent is not None and first.payment_intent.startswith("pi_")
    again = await stripe.gateway.charge_card(charge(card, "C1"))
    assert again == first  # one charge per order, however often retried
    [event] = await events(stripe, "payment_intent.succeeded")
    obj = event["data"]["object"]
    assert (obj["id"], obj["amount"], obj["currency"], obj["status"]) == (
        first.payment_intent,
        2500,
        "eur",
        "succeeded",
    )
    assert obj["metadata"] == {
        "order_ref": "C1",
        "drop": "TEE",
        "chat": "telegram:-100",
        "one_message": "1",
    }
    assert (obj["customer"], obj["payment_method"]) == (card.payment_customer, card.payment_method)
    other = await stripe.gateway.charge_card(charge(card, "C2"))
    assert other.status is ChargeStatus.SUCCEEDED and other.payment_intent != first.payment_intent
    assert len(await events(stripe, "payment_intent.succeeded", 2)) == 2  # not 3: no replay

    # Refunded by its charge id, as Telegram's native payments name a payment.
    intent = await api(stripe, f"/v1/payment_intents/{first.payment_intent}")
    assert intent["latest_charge"].startswith("ch_")
    await stripe.gateway.refund(intent["latest_charge"], Money(1000, "eur"), "rf1")
    [refunded] = await events(stripe, "charge.refunded")
    obj = refunded["data"]["object"]
    assert (obj["id"], obj["amount_refunded"], obj["payment_intent"]) == (
        intent["latest_charge"],
        1000,
        first.payment_intent,
    )
    with pytest.raises(PaymentError, match="No such charge"):
        await stripe.gateway.refund("ch_missing", None, "rf2")


@pytest.mark.parametrize(
    ("number", "status", "code", "message"),
    [
        (DECLINES_LATER, ChargeStatus.DECLINED, "card_declined", "Your card was declined."),
        (NO_FUNDS, ChargeStatus.DECLINED, "card_declined", "Your card has insufficient funds."),
        (
            NEEDS_BUYER,
            ChargeStatus.AUTHENTICATION_REQUIRED,
            "authentication_required",
            "requires authentication",
        ),
    ],
)
async def test_an_off_session_charge_that_fails(
    stripe: Stripe, number: str, status: ChargeStatus, code: str, message: str
) -> None:
    card = await saved(stripe, number)
    result = await stripe.gateway.charge_card(charge(card, "F1"))
    assert result.status is status and message in result.message
    assert result.payment_intent is not None and result.payment_intent.startswith("pi_")
    assert await stripe.gateway.charge_card(charge(card, "F1")) == result  # the same error
    [failed] = await events(stripe, "payment_intent.payment_failed")
    obj = failed["data"]["object"]
    assert (obj["id"], obj["status"]) == (result.payment_intent, "requires_payment_method")
    assert obj["last_payment_error"]["code"] == code
    assert obj["metadata"]["order_ref"] == "F1" and obj["latest_charge"] is None
    await asyncio.sleep(0.1)
    assert [e["type"] for e in stripe.receiver.events].count("payment_intent.payment_failed") == 1
    assert "payment_intent.succeeded" not in [e["type"] for e in stripe.receiver.events]


async def test_a_detached_card_cannot_be_charged(stripe: Stripe) -> None:
    card = await saved(stripe)
    await stripe.gateway.detach_card(card.payment_method)
    await stripe.gateway.detach_card(card.payment_method)  # already detached: fine
    await stripe.gateway.detach_card("pm_missing")  # unknown: cannot be charged either
    listed = await api(stripe, f"/v1/customers/{card.payment_customer}/payment_methods")
    assert listed["data"] == []
    result = await stripe.gateway.charge_card(charge(card, "X1"))
    assert (result.status, result.payment_intent) == (ChargeStatus.DECLINED, None)
    assert "detached" in result.message


async def test_declines_on_the_page_leave_the_session_open(stripe: Stripe) -> None:
    session = await stripe.gateway.open_checkout(request("P1", save_card=True))
    declined = await stripe.http.post(session.url, data={"card": NO_FUNDS}, allow_redirects=False)
    html = await declined.text()
    assert declined.status == 402 and "Your card has insufficient funds." in html
    assert f'value="{NO_FUNDS}" checked' in html and REMEMBERED in html
    assert (await stripe.gateway.session_state(session.id)).status == "open"
    status, body = await pay(stripe, session.id, NO_FUNDS)
    assert status == 402 and body["error"]["decline_code"] == "insufficient_funds"
    status, body = await pay(stripe, session.id, "4111111111111111")
    assert status == 402 and body["error"]["code"] == "invalid_number"

    paid = await stripe.http.post(session.url, data={"card": NEEDS_BUYER}, allow_redirects=False)
    assert paid.status == 303  # the buyer is present: authentication passes
    state = await stripe.gateway.session_state(session.id)
    assert (state.status, state.payment_status) == ("complete", "paid")
    assert state.payment_intent is not None
    card = await stripe.gateway.saved_card(payment_intent=state.payment_intent)
    assert card is not None and card.last4 == "3184"
    result = await stripe.gateway.charge_card(charge(card, "P2"))
    assert result.status is ChargeStatus.AUTHENTICATION_REQUIRED


async def test_lookups_that_fail(stripe: Stripe) -> None:
    with pytest.raises(PaymentError, match="No such payment_intent"):
        await stripe.gateway.saved_card(payment_intent="pi_missing")
    with pytest.raises(PaymentError, match="No such setup_intent"):
        await stripe.gateway.saved_card(setup_intent="seti_missing")
    with pytest.raises(ValueError, match="exactly one"):
        await stripe.gateway.saved_card()
    response = await stripe.http.get(
        f"{stripe.base}/stripe-emulator/v1/payment_methods/pm_missing", headers=AUTH
    )
    assert response.status == 404
    assert (await response.json())["error"]["code"] == "resource_missing"
    down = StripePaymentGateway(KEY, f"http://127.0.0.1:{free_port()}", "x", 0)
    card = SavedCard("cus_x", "pm_x", "visa", "4242")
    with pytest.raises(PaymentError, match="cannot be reached"):
        await down.charge_card(charge(card))
    with pytest.raises(PaymentError, match="cannot be reached"):
        await down.detach_card("pm_x")
    await down.close()
