"""The core's notices for Twitch channels: said in the chat (bots/aloud/notifier.py)."""

from bots.aloud.notifier import AloudNotifier


class TwitchNotifier(AloudNotifier):
    """Installed with the application; quiet until the Twitch core is running."""
