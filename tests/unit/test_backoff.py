"""The backoff schedule and the classification of provider errors (domain/backoff.py)."""

from datetime import UTC, datetime, timedelta

import pytest

from commerce.domain.backoff import (
    Backoff,
    Verdict,
    retry_after_seconds,
    should_retry_header,
    verdict,
)

R, G = Verdict.RETRY, Verdict.GIVE_UP


@pytest.mark.parametrize(
    ("status", "should_retry", "expected"),
    [
        (None, None, R),  # no answer: connection error, timeout
        (409, None, R),
        (429, None, R),
        (500, None, R),
        (503, None, R),
        (400, None, G),
        (401, None, G),
        (402, None, G),
        (404, None, G),
        (500, False, G),  # Stripe's word wins
        (400, True, R),
        (429, False, G),
    ],
)
def test_verdict(status: int | None, should_retry: bool | None, expected: Verdict) -> None:
    assert verdict(status, should_retry) is expected


def test_delay_doubles_with_jitter_up_to_the_cap() -> None:
    backoff = Backoff(timedelta(seconds=30), timedelta(minutes=30))
    low, high = (lambda: 0.0), (lambda: 1.0)
    assert backoff.delay(1, rand=low) == timedelta(seconds=15)
    assert backoff.delay(1, rand=high) == timedelta(seconds=30)
    assert backoff.delay(3, rand=high) == timedelta(minutes=2)
    assert backoff.delay(20, rand=high) == timedelta(minutes=30)
    assert backoff.delay(10_000, rand=low) == timedelta(minutes=15)  # no overflow
    delays = {backoff.delay(4) for _ in range(20)}
    assert len(delays) > 1 and all(
        timedelta(minutes=2) <= d <= timedelta(minutes=4) for d in delays
    )


def test_retry_after_is_a_floor() -> None:
    backoff = Backoff()
    assert backoff.delay(1, retry_after=600, rand=lambda: 1.0) == timedelta(seconds=600)
    assert backoff.delay(1, retry_after=1, rand=lambda: 1.0) == timedelta(seconds=30)


def test_headers() -> None:
    now = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    assert retry_after_seconds("120", now) == 120
    assert retry_after_seconds("Mon, 07 Dec 2026 12:02:00 GMT", now) == 120
    assert retry_after_seconds("soon", now) is None
    assert retry_after_seconds(None, now) is None
    assert should_retry_header("false") is False
    assert should_retry_header("True") is True
    assert should_retry_header("maybe") is None
    assert should_retry_header(None) is None
