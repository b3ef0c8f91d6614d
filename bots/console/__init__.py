"""The console adapter: one chat message typed in a terminal (`livebuy say`), the bot's
replies printed. It is how an operator tries a drop and how scripts drive the product."""

import uuid

from bots.rendering import Reply
from commerce.domain.commands import ChatMessage
from commerce.domain.identity import ChatRef, Identity


def message(chat: str, sender: str, text: str) -> ChatMessage:
    """`sender` is a name ('alice', on the chat's platform) or an identity ('telegram:42')."""
    room = ChatRef.parse(chat)
    identity = Identity.parse(sender if ":" in sender else f"{room.platform}:{sender}")
    return ChatMessage(
        key=f"{room}:console-{uuid.uuid4().hex}",  # each `say` is a new message
        chat=str(room),
        identity=str(identity),
        text=text,
        display_name=identity.user_id,
    )


def lines(reply: Reply) -> list[str]:
    """What the chat sees and what only the sender sees, labelled."""
    out = []
    if reply.public:
        out.append(f"[chat] {reply.public}")
    if reply.private:
        out.append(f"[private] {reply.private}")
    return out or ["(no reply: the message has no command)"]
