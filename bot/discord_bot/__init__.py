"""The Discord adapter: slash commands, answer embeds with buttons, and admin commands.

It only translates: Discord events become core calls, core replies become messages.
`run_discord` starts it; `sync_commands` publishes its commands.
"""

from bot.discord_bot.run import DiscordSetupError, run_discord, sync_commands

__all__ = ["DiscordSetupError", "run_discord", "sync_commands"]
