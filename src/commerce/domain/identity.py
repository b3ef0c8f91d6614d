"""Platform identities such as 'telegram:123', 'discord:456' or 'web:anna', and chats."""

import re
from dataclasses import dataclass

from commerce.domain.errors import InvalidInput

# email: a person who signed in to the web chat with an email link (email:anna@example.com).
PLATFORMS = frozenset({"telegram", "discord", "web", "console", "email", "youtube", "twitch"})


# The longest local part of an identity or a chat; a YouTube live chat id runs to about 80
# characters (the chat columns take 160 with the platform).
LONGEST_LOCAL = 64
LONG_CHATS = {"youtube": 150}


def _split(text: str, example: str, longest: dict[str, int] | None = None) -> tuple[str, str]:
    """'Telegram:123' -> ('telegram', '123'), for a known platform and a short id."""
    platform, sep, local = text.strip().partition(":")
    platform = platform.lower()
    most = (longest or {}).get(platform, LONGEST_LOCAL)
    if not sep or platform not in PLATFORMS or not local or len(local) > most:
        raise InvalidInput(f"'{text}' is not {example}")
    if platform == "email":  # as a sign-in names it: `seller add email:Anna@Shop.example`
        local = local.lower()
    return platform, local


# An address as people type it: one '@', a dot in the domain, no spaces; at most 64
# characters so that 'email:<address>' fits an identity (longer ones are very rare).
EMAIL = re.compile(r"[^@\s<>\"(),;:]{1,40}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
MAX_EMAIL = 64


def email_account(text: str) -> str:
    """'Anna@Example.com ' -> 'email:anna@example.com' (InvalidInput for a non-address)."""
    address = text.strip().lower()
    if len(address) > MAX_EMAIL or not EMAIL.fullmatch(address):
        raise InvalidInput(f"'{text.strip()[:80]}' is not an email address like anna@example.com")
    return f"email:{address}"


# The form of the ids each platform hands out, for what operators type (`--channel`,
# `seller add`, LIVEBUY_SELLERS): a username or a typo would otherwise be accepted and then
# never match anyone. Telegram users are positive numbers and its groups negative ones
# (-100… for supergroups); Discord ids are snowflakes (numbers); a web room is a word.
_USER_FORMS = {
    "telegram": (
        re.compile(r"[0-9]{1,20}"),
        "a Telegram user id is a number, e.g. telegram:123456789",
    ),
    "discord": (
        re.compile(r"[0-9]{1,20}"),
        "a Discord user id is a number, e.g. discord:80351110224678912",
    ),
    "email": (EMAIL, "an email identity is an address, e.g. email:anna@example.com"),
    # A YouTube channel id: "UC" and 22 letters, digits, - or _.
    "youtube": (
        re.compile(r"UC[\w-]{22}"),
        "a YouTube channel id is UC and 22 characters, e.g. youtube:UCBR8-60-B28hp2BmDPdntcQ",
    ),
    # Twitch user ids are numbers (a login such as "anna" can be renamed).
    "twitch": (
        re.compile(r"[0-9]{1,20}"),
        "a Twitch user id is a number, e.g. twitch:141981764",
    ),
}
_CHAT_FORMS = {
    "telegram": (
        re.compile(r"-?[0-9]{1,20}"),
        "a Telegram chat id is a number, e.g. telegram:-1001234567890",
    ),
    "discord": (
        re.compile(r"[0-9]{1,20}"),
        "a Discord channel id is a number, e.g. discord:1150000000000000000",
    ),
    "web": (re.compile(r"[\w-]{1,64}"), "a web chat room is a word, e.g. web:demo"),
    "youtube": (
        re.compile(r"[\w-]{1,150}"),
        "a YouTube live chat id is letters, digits, - and _ (liveBroadcast snippet.liveChatId)",
    ),
    "twitch": (
        re.compile(r"[0-9]{1,20}"),
        "a Twitch chat is its broadcaster's user id, e.g. twitch:141981764",
    ),
}
_HOW_TO_FIND = ' (send /whoami where you want it, or see "Finding ids" in the README)'


def _typed(
    platform: str, local: str, text: str, forms: dict[str, tuple[re.Pattern[str], str]]
) -> None:
    form = forms.get(platform)
    if form is not None and not form[0].fullmatch(local):
        raise InvalidInput(f"'{text}': {form[1]}{_HOW_TO_FIND}")


@dataclass(frozen=True, slots=True)
class Identity:
    platform: str
    user_id: str

    @classmethod
    def parse(cls, text: str) -> "Identity":
        return cls(*_split(text, "an identity like telegram:123, discord:456 or web:anna"))

    @classmethod
    def typed(cls, text: str) -> "Identity":
        """An identity as an operator types it: also in the form its platform gives ids."""
        identity = cls.parse(text)
        _typed(identity.platform, identity.user_id, text.strip(), _USER_FORMS)
        return identity

    def __str__(self) -> str:
        return f"{self.platform}:{self.user_id}"


@dataclass(frozen=True, slots=True)
class ChatRef:
    """A chat on a platform, e.g. 'telegram:-100123' or 'web:demo'."""

    platform: str
    chat_id: str

    @classmethod
    def parse(cls, text: str) -> "ChatRef":
        return cls(*_split(text, "a chat like telegram:-100123 or web:demo", LONG_CHATS))

    @classmethod
    def typed(cls, text: str) -> "ChatRef":
        """A chat as an operator types it: also in the form its platform gives ids."""
        chat = cls.parse(text)
        _typed(chat.platform, chat.chat_id, text.strip(), _CHAT_FORMS)
        return chat

    def __str__(self) -> str:
        return f"{self.platform}:{self.chat_id}"
