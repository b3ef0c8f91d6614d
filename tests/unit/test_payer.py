"""Who paid (#18): a card's fingerprint and one spelling of the Checkout email, so that free
aliases of one mailbox are one buyer."""

import pytest

from commerce.domain.payments import Payer, one_mailbox


@pytest.mark.parametrize(
    ("typed", "mailbox"),
    [
        ("Mallory@Example.com", "mallory@example.com"),
        (" mallory+drop2@example.com ", "mallory@example.com"),
        ("mal.lory+x@GoogleMail.com", "mallory@gmail.com"),
        ("m.a.l@example.com", "m.a.l@example.com"),  # dots count elsewhere
        ("+tag@example.com", "+tag@example.com"),  # nothing before the tag: kept as typed
    ],
)
def test_one_mailbox_one_spelling(typed: str, mailbox: str) -> None:
    assert one_mailbox(typed) == mailbox


@pytest.mark.parametrize("typed", ["", "mallory", "@example.com", "mallory@", "a b@example.com"])
def test_not_an_address(typed: str) -> None:
    assert one_mailbox(typed) is None


def test_a_payer_from_what_the_provider_sent() -> None:
    assert Payer.of(" fp_1 ", "A+b@Example.com") == Payer("fp_1", "a@example.com")
    assert Payer.of(None, None) == Payer() and not Payer().known
    assert Payer.of(42, ["x@y.z"]) == Payer()  # not text: not known
