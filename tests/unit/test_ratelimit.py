"""The in-process rate limit behind the outbid messages."""

from datetime import UTC, datetime, timedelta

from commerce.service_layer.ratelimit import RateLimit

T0 = datetime(2026, 11, 30, 20, 0, tzinfo=UTC)


def test_one_event_per_key_and_window() -> None:
    limit = RateLimit(timedelta(seconds=3))
    assert limit.allow("anna", T0)
    assert not limit.allow("anna", T0 + timedelta(seconds=2.9))
    assert limit.allow("ben", T0 + timedelta(seconds=1))  # keys are independent
    assert limit.allow("anna", T0 + timedelta(seconds=3))
    assert not limit.allow("anna", T0 + timedelta(seconds=4))


def test_it_forgets_the_oldest_keys() -> None:
    limit = RateLimit(timedelta(minutes=1), size=2)
    assert limit.allow("a", T0) and limit.allow("b", T0) and limit.allow("c", T0)
    assert limit.allow("a", T0)  # forgotten, so allowed again
    assert not limit.allow("c", T0)
