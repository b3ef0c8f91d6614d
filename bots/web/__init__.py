"""The web chat: a chat room in the browser (local demos, shops that embed a stream), a third
chat adapter beside Telegram and Discord, on the same grammar and core."""
