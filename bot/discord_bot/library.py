"""What the bot knows and can do: /library, /help and /about.

These read only what the core holds in memory (and, for /library, the place's visibility
setting), so they reply at once without deferring.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from discord import app_commands
from discord.ext import commands

from bot.core.replies import Refusal
from bot.core.settings import Visibility
from bot.discord_bot.context import Interaction, caller_of, where_of
from bot.discord_bot.render import render
from bot.discord_bot.sending import send, send_notice

if TYPE_CHECKING:
    from bot.discord_bot.client import SamizdatBot


class Library(commands.Cog):
    """Describe the library and the bot."""

    def __init__(self, bot: SamizdatBot) -> None:
        self.bot = bot

    @app_commands.command(name="library")
    async def library(self, interaction: Interaction) -> None:
        """List the documents in the library."""
        where = where_of(interaction)
        settings = await self.bot.core.settings_for(where)
        private = settings.visibility is Visibility.PRIVATE
        reply = await self.bot.core.library(where)
        if isinstance(reply, Refusal):
            await send_notice(interaction, reply.message)
            return
        await send(interaction, render(reply), ephemeral=private)

    @app_commands.command(name="help")
    async def help(self, interaction: Interaction) -> None:
        """Show what the bot can do (admins also see the admin commands)."""
        await send(interaction, render(self.bot.core.help(caller_of(interaction))), ephemeral=True)

    @app_commands.command(name="about")
    async def about(self, interaction: Interaction) -> None:
        """Version, library size and when the index was built."""
        await send(interaction, render(self.bot.core.about()), ephemeral=True)


async def setup(bot: SamizdatBot) -> None:
    await bot.add_cog(Library(bot))
