"""Platform identities such as 'telegram:123', 'discord:456' or 'web:anna'."""

from dataclasses import dataclass

from commerce.domain.errors import InvalidInput

PLATFORMS = frozenset({"telegram", "discord", "web", "console"})


@dataclass(frozen=True, slots=True)
class Identity:
    platform: str
    user_id: str

    @classmethod
    def parse(cls, text: str) -> "Identity":
        platform, sep, user_id = text.strip().partition(":")
        platform = platform.lower()
        if not sep or platform not in PLATFORMS or not user_id or len(user_id) > 64:
            raise InvalidInput(
                f"'{text}' is not an identity like telegram:123, discord:456 or web:anna"
            )
        return cls(platform, user_id)

    def __str__(self) -> str:
        return f"{self.platform}:{self.user_id}"


@dataclass(frozen=True, slots=True)
class ChatRef:
    """A chat on a platform, e.g. 'telegram:-100123' or 'web:demo'."""

    platform: str
    chat_id: str

    @classmethod
    def parse(cls, text: str) -> "ChatRef":
        platform, sep, chat_id = text.strip().partition(":")
        platform = platform.lower()
        if not sep or platform not in PLATFORMS or not chat_id or len(chat_id) > 64:
            raise InvalidInput(f"'{text}' is not a chat like telegram:-100123 or web:demo")
        return cls(platform, chat_id)

    def __str__(self) -> str:
        return f"{self.platform}:{self.chat_id}"
