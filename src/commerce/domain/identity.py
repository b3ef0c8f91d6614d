"""Platform identities such as 'telegram:123', 'discord:456' or 'web:anna', and chats."""

from dataclasses import dataclass

from commerce.domain.errors import InvalidInput

PLATFORMS = frozenset({"telegram", "discord", "web", "console"})


def _split(text: str, example: str) -> tuple[str, str]:
    """'Telegram:123' -> ('telegram', '123'), for a known platform and a short id."""
    platform, sep, local = text.strip().partition(":")
    platform = platform.lower()
    if not sep or platform not in PLATFORMS or not local or len(local) > 64:
        raise InvalidInput(f"'{text}' is not {example}")
    return platform, local


@dataclass(frozen=True, slots=True)
class Identity:
    platform: str
    user_id: str

    @classmethod
    def parse(cls, text: str) -> "Identity":
        return cls(*_split(text, "an identity like telegram:123, discord:456 or web:anna"))

    def __str__(self) -> str:
        return f"{self.platform}:{self.user_id}"


@dataclass(frozen=True, slots=True)
class ChatRef:
    """A chat on a platform, e.g. 'telegram:-100123' or 'web:demo'."""

    platform: str
    chat_id: str

    @classmethod
    def parse(cls, text: str) -> "ChatRef":
        return cls(*_split(text, "a chat like telegram:-100123 or web:demo"))

    def __str__(self) -> str:
        return f"{self.platform}:{self.chat_id}"
