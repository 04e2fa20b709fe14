"""Asking the library: /ask, /search, /source, the "Ask Samizdat" menu and mentions.

Each handler builds the core's request and hands it to `respond`; the core acknowledges
(defers) before ranking, which can take longer than the three seconds Discord waits.
"""

from __future__ import annotations

import contextlib
import logging
import re
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.core.present import APOLOGY, NO_TEXT_TO_ASK
from bot.core.requests import Ask as AskRequest
from bot.core.requests import Search, Source
from bot.discord_bot.context import NO_PINGS, Interaction
from bot.discord_bot.render import CHOICE_NAME_LIMIT, clip
from bot.discord_bot.respond import respond, respond_to_mention
from bot.discord_bot.sending import send_notice

if TYPE_CHECKING:
    from bot.discord_bot.client import SamizdatBot

log = logging.getLogger(__name__)


class Ask(commands.Cog):
    """Answer history questions from the library, citing sources."""

    def __init__(self, bot: SamizdatBot) -> None:
        self.bot = bot
        self.menu = app_commands.ContextMenu(name="Ask Samizdat", callback=self.ask_about_message)

    async def cog_load(self) -> None:
        self.bot.tree.add_command(self.menu)

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.menu.name, type=self.menu.type)

    @app_commands.command(name="ask")
    @app_commands.describe(
        question="What you want to know, e.g. why did the Kronstadt sailors rebel?"
    )
    async def ask(self, interaction: Interaction, question: str) -> None:
        """Answer a history question from the library, citing sources."""
        await respond(self.bot, interaction, AskRequest(question))

    async def ask_about_message(self, interaction: Interaction, message: discord.Message) -> None:
        """Ask about the text of the selected message."""
        text = message.content or " ".join(e.description or "" for e in message.embeds)
        if not text.strip():
            await send_notice(interaction, NO_TEXT_TO_ASK)
            return
        question = clip(text, self.bot.config.limits.max_question_chars)
        await respond(self.bot, interaction, AskRequest(question))

    @app_commands.command(name="search")
    @app_commands.describe(query="Words to look for in the library")
    async def search(self, interaction: Interaction, query: str) -> None:
        """List the passages that best match, with their ids."""
        await respond(self.bot, interaction, Search(query))

    @app_commands.command(name="source")
    @app_commands.describe(passage="A passage id such as kuzbass:3, or start typing a title")
    async def source(self, interaction: Interaction, passage: str) -> None:
        """Show a whole passage, where it comes from, and its neighbours."""
        await respond(self.bot, interaction, Source(passage))

    @source.autocomplete("passage")
    async def source_autocomplete(
        self, interaction: Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return [
            app_commands.Choice(name=clip(label, CHOICE_NAME_LIMIT), value=passage_id[:100])
            for passage_id, label in self.bot.core.complete_passage(current, limit=25)
        ]

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        """A message that mentions the bot goes to the core as a mention."""
        me = self.bot.user
        if message.author.bot or me is None or me not in message.mentions:
            return
        self.bot.in_flight.add_current()
        try:
            text = re.sub(rf"<@!?{me.id}>", " ", message.content).strip()
            await respond_to_mention(self.bot, message, text)
        except Exception:
            log.exception("answering a mention in channel %s failed", message.channel.id)
            with contextlib.suppress(discord.HTTPException):
                await message.reply(APOLOGY, mention_author=False, allowed_mentions=NO_PINGS)


async def setup(bot: SamizdatBot) -> None:
    await bot.add_cog(Ask(bot))
