"""Finding ids (#19): /whoami answers privately with the sender's id and, in a group, the
chat's, in the very form `--channel` and LIVEBUY_SELLERS take; and what operators type there is
checked against the form each platform gives its ids."""

import pytest

from bots.rendering import LOCALES, Renderer
from commerce.domain import commands as c
from commerce.domain.errors import InvalidInput
from commerce.domain.identity import ChatRef, Identity
from commerce.service_layer import chat
from commerce.service_layer.messagebus import MessageBus
from tests.integration.helpers import add_product, start_drop


async def whoami(bus: MessageBus, chat_id: str, who: str, private: bool) -> chat.ChatOutcome:
    message = c.ChatMessage(f"{chat_id}:{who}:w", chat_id, who, "/whoami", "anna", private)
    outcome: chat.ChatOutcome = await bus.handle(message)
    return outcome


async def test_whoami_names_the_sender_and_the_chat_as_sellers_type_them(bus: MessageBus) -> None:
    in_group = await whoami(bus, "Telegram:-1001234567890", "Telegram:42", private=False)
    assert in_group == chat.IdsShown("telegram:42", "telegram:-1001234567890")
    reply = Renderer("en").outcome(in_group, "@anna")
    assert reply.public is None  # nobody else learns it
    assert reply.private == (
        "Your id: telegram:42 (for LIVEBUY_SELLERS or livebuy seller add)\n"
        "This chat: telegram:-1001234567890 (for livebuy drop start"
        " --channel telegram:-1001234567890)"
    )
    in_private = await whoami(bus, "discord:555", "discord:80351110224678912", private=True)
    assert in_private == chat.IdsShown("discord:80351110224678912", None)
    assert "This chat" not in (Renderer("en").outcome(in_private, "@anna").private or "")
    for locale in LOCALES:  # every language says both
        text = Renderer(locale).outcome(in_group, "@anna").private or ""
        assert "telegram:42" in text and "--channel telegram:-1001234567890" in text

    # What it answers is accepted where it is meant to go.
    await bus.handle(c.AddSeller("telegram:42", "owner"))
    await add_product(bus)
    drop = await start_drop(bus, channels=("telegram:-1001234567890",))
    assert drop.channels == ("telegram:-1001234567890",)


@pytest.mark.parametrize(
    "typed",
    ["telegram:42", "telegram:7000000001", "discord:80351110224678912", "web:anna", "console:me"],
)
def test_identities_in_their_platforms_form(typed: str) -> None:
    assert str(Identity.typed(typed)) == typed


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("telegram:abc", "a Telegram user id is a number"),
        ("telegram:@anna", "a Telegram user id is a number"),
        ("telegram:-1001234567890", "a Telegram user id is a number"),  # a group, not a person
        ("discord:anna#1234", "a Discord user id is a number"),
        ("irc:anna", "is not an identity"),
    ],
)
def test_identities_not_in_their_platforms_form(typed: str, says: str) -> None:
    with pytest.raises(InvalidInput, match=says) as refused:
        Identity.typed(typed)
    if "number" in says:
        assert "/whoami" in str(refused.value)


@pytest.mark.parametrize(
    ("typed", "ok"),
    [
        ("telegram:-1001234567890", True),
        ("telegram:123", True),
        ("discord:1150000000000000000", True),
        ("web:live-show", True),
        ("telegram:abc", False),
        ("telegram:@shopgroup", False),
        ("discord:#general", False),
        ("web:two words", False),
    ],
)
def test_chats_in_their_platforms_form(typed: str, ok: bool) -> None:
    if ok:
        assert str(ChatRef.typed(typed)) == typed
    else:
        with pytest.raises(InvalidInput, match="/whoami"):
            ChatRef.typed(typed)


async def test_a_seller_added_by_hand_must_look_like_an_id(bus: MessageBus) -> None:
    with pytest.raises(InvalidInput, match="a Telegram user id is a number"):
        await bus.handle(c.AddSeller("telegram:@anna", "owner"))
    await bus.handle(c.AddSeller("telegram:42", "owner"))
