"""The core's notices for YouTube live chats: said in the chat (bots/aloud/notifier.py)."""

from bots.aloud.notifier import AloudNotifier


class YouTubeNotifier(AloudNotifier):
    """Installed with the application; quiet until the YouTube core is running."""
