"""Pay links said aloud in a Twitch or YouTube chat become the claimant's links (#20 item 3):
every answer said there passes through `bots.aloud.core.aloud` (a claim, a waitlist turn, the
/orders list, a notice), and the won line through `for_claimant` itself."""

from bots.aloud.core import aloud
from commerce.domain import pay_links

PAY = "https://shop.example/pay/K7P2QX9M?t=Mwl0QLWE-rQrc_yM"


def test_a_pay_link_becomes_the_claimants_link_with_the_same_ref_and_token() -> None:
    key = b"k" * 32
    link = pay_links.url("https://shop.example", key, "K7P2QX9M")
    token = pay_links.token(key, "K7P2QX9M")
    said = pay_links.for_claimant(f"1 × Logo tee is yours for €25.00: {link}")
    assert said == f"1 × Logo tee is yours for €25.00: https://shop.example/p/K7P2QX9M?t={token}"


def test_other_links_and_text_are_left_alone() -> None:
    text = "Pay at https://checkout.stripe.com/c/pay/cs_test_a1b2 or see https://shop.example/"
    assert pay_links.for_claimant(text) == text


def test_every_line_said_aloud_in_twitch_and_youtube_carries_the_claimants_link() -> None:
    orders = f"Your open orders: K7P2QX9M 1 × Logo tee, pay: {PAY}\nAB23CD45 paid"
    said = aloud(orders, "@anna")
    assert said is not None and "/pay/" not in said
    assert said.startswith("@anna: Your open orders:")
    assert "https://shop.example/p/K7P2QX9M?t=Mwl0QLWE-rQrc_yM" in said


def test_only_twitch_and_youtube_orders_are_the_claimants_only() -> None:
    assert pay_links.claimant_only("twitch:141981764")
    assert pay_links.claimant_only("youtube:UCanna_________________")
    for other in ("telegram:42", "discord:80351110224678912", "web:v_abc", "email:a@b.example"):
        assert not pay_links.claimant_only(other)
