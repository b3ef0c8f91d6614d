"""The local Stripe emulator forgets: memory stays flat however many claims local mode
serves (issue 22, item 7). Pure in-memory state: no database is involved."""

import time

from webhooks.devtools.emulator.state import DAY, FORGET_EVERY, State

SESSION = {
    "mode": "payment",
    "line_items": [
        {
            "quantity": "1",
            "price_data": {
                "currency": "eur",
                "unit_amount": "9900",
                "product_data": {"name": "Hyped sneaker"},
            },
        }
    ],
    "success_url": "http://127.0.0.1/paid",
    "cancel_url": "http://127.0.0.1/cancelled",
}


def test_sessions_past_the_bound_are_forgotten_oldest_first() -> None:
    state = State("http://127.0.0.1:8080", keep=50)
    made = [state.create_session(SESSION)["id"] for _ in range(120)]
    assert list(state.sessions) == made[-50:]
    assert set(state.items) == set(state.session_terms) == set(made[-50:])
    for _ in range(120):
        state.event("checkout.session.completed", state.sessions[made[-1]])
    assert len(state.events) == 50


def test_sessions_older_than_a_day_are_forgotten() -> None:
    state = State("http://127.0.0.1:8080")
    old = state.create_session(SESSION)["id"]
    young = state.create_session(SESSION)["id"]
    state.sessions[old]["created"] -= DAY + 1  # as if made yesterday
    state.forget(now=time.time() + FORGET_EVERY)  # the next pass over the ages
    assert list(state.sessions) == [young]
    assert old not in state.items and old not in state.session_terms


def test_every_kind_of_object_is_bounded() -> None:
    state = State("http://127.0.0.1:8080", keep=10)
    for i in range(30):
        customer = state.customer(f"buyer{i}@example.com")
        state.idempotency[f"key-{i}"] = ("fingerprint", 200, {"id": customer["id"]})
        state.forget()
    assert len(state.customers) == len(state.idempotency) == 10
    assert "key-29" in state.idempotency and "key-19" not in state.idempotency
