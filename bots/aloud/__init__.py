"""Chats where the bot says everything aloud: no private messages, no buttons (Twitch,
YouTube Live)."""
