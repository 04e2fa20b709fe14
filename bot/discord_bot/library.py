"""What the bot knows and can do, and what it keeps: /library, /help, /about, /forget me.

These read only what the core holds in memory, so they reply at once without deferring.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from discord import app_commands
from discord.ext import commands

from bot.core.requests import About, ForgetMe, Help
from bot.core.requests import Library as LibraryRequest
from bot.discord_bot.context import Interaction
from bot.discord_bot.respond import respond

if TYPE_CHECKING:
    from bot.discord_bot.client import SamizdatBot


class Library(commands.Cog):
    """Describe the library and the bot."""

    def __init__(self, bot: SamizdatBot) -> None:
        self.bot = bot

    @app_commands.command(name="library")
    async def library(self, interaction: Interaction) -> None:
        """List the documents in the library."""
        await respond(self.bot, interaction, LibraryRequest())

    @app_commands.command(name="help")
    async def help(self, interaction: Interaction) -> None:
        """Show what the bot can do (admins also see the admin commands)."""
        await respond(self.bot, interaction, Help())

    @app_commands.command(name="about")
    async def about(self, interaction: Interaction) -> None:
        """Version, library size and when the index was built."""
        await respond(self.bot, interaction, About())

    forget = app_commands.Group(name="forget", description="Delete what the bot keeps")

    @forget.command(name="me")
    async def forget_me(self, interaction: Interaction) -> None:
        """Delete your questions and feedback, and your name in the settings' history."""
        await respond(self.bot, interaction, ForgetMe())


async def setup(bot: SamizdatBot) -> None:
    await bot.add_cog(Library(bot))
