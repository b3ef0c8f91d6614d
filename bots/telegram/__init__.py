"""The Telegram adapter: python-telegram-bot 22 as a thin layer over the core."""
