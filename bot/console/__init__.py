"""The terminal: chat with the bot, or script it, without any chat account."""
