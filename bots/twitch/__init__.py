"""Twitch: a channel's chat, read through EventSub (WebSocket) and answered through Helix."""
