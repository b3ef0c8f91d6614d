"""Platform identities ('telegram:123') and chats ('telegram:-100123')."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from commerce.domain.errors import InvalidInput
from commerce.domain.identity import PLATFORMS, ChatRef, Identity, email_account


@pytest.mark.parametrize(
    ("text", "platform", "user_id"),
    [
        ("telegram:123", "telegram", "123"),
        ("Discord:456", "discord", "456"),
        ("WEB:anna", "web", "anna"),
        ("web:anna", "web", "anna"),
        ("console:me", "console", "me"),
        ("  telegram:7  ", "telegram", "7"),
        ("web:Anna", "web", "Anna"),  # the id keeps its case
        ("telegram:" + "9" * 64, "telegram", "9" * 64),
    ],
)
def test_identity_parse(text: str, platform: str, user_id: str) -> None:
    assert Identity.parse(text) == Identity(platform, user_id)


@pytest.mark.parametrize(
    "text",
    ["irc:x", "telegram:", ":1", "nocolon", "", "telegram:" + "9" * 65, "slack:1", "web:   "],
)
def test_identity_refused(text: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        Identity.parse(text)
    assert str(exc.value) == (
        f"'{text}' is not an identity like telegram:123, discord:456 or web:anna"
    )


@pytest.mark.parametrize(
    ("text", "platform", "chat_id"),
    [
        ("telegram:-100123", "telegram", "-100123"),
        ("Discord:456", "discord", "456"),
        ("web:demo", "web", "demo"),
        ("youtube:" + "C" * 150, "youtube", "C" * 150),  # a live chat id is long
    ],
)
def test_chat_parse(text: str, platform: str, chat_id: str) -> None:
    assert ChatRef.parse(text) == ChatRef(platform, chat_id)


@pytest.mark.parametrize(
    "text",
    ["irc:x", "telegram:", ":1", "nocolon", "web:" + "d" * 65, "Telegram", "youtube:" + "C" * 151],
)
def test_chat_refused(text: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        ChatRef.parse(text)
    assert str(exc.value) == f"'{text}' is not a chat like telegram:-100123 or web:demo"


def test_str() -> None:
    assert str(Identity.parse("Telegram:123")) == "telegram:123"
    assert str(ChatRef.parse("TELEGRAM:-100123")) == "telegram:-100123"


def test_platforms() -> None:
    known = {"telegram", "discord", "web", "console", "email", "youtube", "twitch"}
    assert frozenset(known) == PLATFORMS


def test_twitch_ids_are_numbers() -> None:
    """A Twitch viewer is their user id, a Twitch chat its broadcaster's user id: a login
    (which its owner can rename) is refused with the form to type."""
    assert str(Identity.typed("twitch:141981764")) == "twitch:141981764"
    assert str(ChatRef.typed("twitch:141981764")) == "twitch:141981764"
    with pytest.raises(InvalidInput, match="a Twitch user id is a number"):
        Identity.typed("twitch:annas_cards")
    with pytest.raises(InvalidInput, match="a Twitch chat is its broadcaster's user id"):
        ChatRef.typed("twitch:annas_cards")


@pytest.mark.parametrize(
    ("typed", "account"),
    [
        (" Anna@Example.com ", "email:anna@example.com"),
        ("a.b+c@mail.shop.eu", "email:a.b+c@mail.shop.eu"),
    ],
)
def test_an_email_address_is_an_account(typed: str, account: str) -> None:
    assert email_account(typed) == account
    assert str(Identity.typed(account)) == account  # `livebuy seller add email:…`
    # Typed in any case, it names the account a sign-in makes.
    assert str(Identity.typed(f"Email:{typed.strip()}")) == account


@pytest.mark.parametrize(
    "typed",
    ["anna", "anna@", "@example.com", "a b@example.com", "anna@example", "x" * 60 + "@ex.com"],
)
def test_what_is_not_an_address_is_refused(typed: str) -> None:
    with pytest.raises(InvalidInput, match="not an email address"):
        email_account(typed)
    with pytest.raises(InvalidInput):
        Identity.typed(f"email:{typed}")


def test_a_youtube_seller_is_typed_as_a_channel_id() -> None:
    assert str(Identity.typed("youtube:UCBR8-60-B28hp2BmDPdntcQ")) == (
        "youtube:UCBR8-60-B28hp2BmDPdntcQ"
    )
    with pytest.raises(InvalidInput, match="UC and 22 characters"):
        Identity.typed("youtube:@anna")  # a handle is not a channel id


LOCAL_IDS = st.text(min_size=1, max_size=64).filter(lambda s: s == s.strip() and s != "")
PLATFORM_SPELLINGS = st.sampled_from(["telegram", "Telegram", "DISCORD", "web", "Console"])


@given(PLATFORM_SPELLINGS, LOCAL_IDS)
def test_identity_round_trips(platform: str, local: str) -> None:
    identity = Identity.parse(f"{platform}:{local}")
    assert identity == Identity(platform.lower(), local)
    assert str(identity) == f"{platform.lower()}:{local}"
    assert Identity.parse(str(identity)) == identity


@given(PLATFORM_SPELLINGS, LOCAL_IDS)
def test_chat_round_trips(platform: str, local: str) -> None:
    chat = ChatRef.parse(f"{platform}:{local}")
    assert chat == ChatRef(platform.lower(), local)
    assert ChatRef.parse(str(chat)) == chat
