"""The Discord adapter (discord.py 2): slash commands, the drop board with a Buy button,
ephemeral checkout links, `#buy` in text when the message-content intent is on, role perks."""
