"""A Checkout Session's end: the hold's, at least Stripe's 30 minutes, and the same for every
retry of one order close together (Stripe refuses a reused idempotency key with other
parameters)."""

from datetime import UTC, datetime, timedelta

from commerce.adapters.stripe_gateway import MAX_SESSION, MIN_SESSION, session_expiry
from commerce.domain.money import Money
from commerce.service_layer.ports import CheckoutRequest

ORDERED = datetime(2026, 11, 30, 12, 0, 0, 400_000, tzinfo=UTC)


def checkout(hold: timedelta, ordered_at: datetime | None = ORDERED) -> CheckoutRequest:
    return CheckoutRequest(
        "ORDER1", "TEE", "web:demo", "Tee", Money(2500, "eur"), 1, ORDERED + hold,
        ordered_at=ordered_at,
    )  # fmt: skip


def test_a_short_hold_gets_stripes_minimum_counted_from_the_order() -> None:
    request = checkout(timedelta(minutes=10))
    first = session_expiry(request, ORDERED + timedelta(milliseconds=300))
    assert first == (ORDERED + MIN_SESSION + timedelta(minutes=10)).replace(microsecond=0)
    # The sweeper's retry seconds or minutes later asks for the very same session.
    for later in (timedelta(seconds=20), timedelta(minutes=4), timedelta(minutes=10)):
        assert session_expiry(request, ORDERED + later) == first


def test_a_long_hold_is_kept_and_capped_at_a_day() -> None:
    assert session_expiry(checkout(timedelta(hours=2)), ORDERED) == (
        ORDERED + timedelta(hours=2)
    ).replace(microsecond=0)
    assert session_expiry(checkout(timedelta(days=3)), ORDERED) <= ORDERED + MAX_SESSION


def test_a_late_retry_still_gets_thirty_minutes_and_retries_close_together_agree() -> None:
    request = checkout(timedelta(minutes=10))
    late = ORDERED + timedelta(minutes=40)
    first = session_expiry(request, late)
    assert first >= late + timedelta(minutes=30)
    assert session_expiry(request, late + timedelta(seconds=5)) == first
    assert session_expiry(checkout(timedelta(minutes=10), None), late) >= late + MIN_SESSION
