"""Asking the library: /ask, /search, /source, the "Ask Samizdat" menu and mentions.

Each command defers before the core runs, because ranking can take longer than the
three seconds Discord waits for an acknowledgement.
"""

from __future__ import annotations

import contextlib
import logging
import re
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.core.places import Where
from bot.core.replies import AnswerReply, Refusal, RefusalReason
from bot.core.settings import Visibility
from bot.discord_bot.context import (
    NO_PINGS,
    Interaction,
    caller_of,
    caller_of_message,
    where_of,
    where_of_message,
)
from bot.discord_bot.render import (
    CHOICE_NAME_LIMIT,
    THREAD_NAME_LIMIT,
    clip,
    render,
    render_answer,
)
from bot.discord_bot.sending import APOLOGY, defer, send, send_notice
from bot.discord_bot.views import AnswerView

if TYPE_CHECKING:
    from bot.discord_bot.client import SamizdatBot

log = logging.getLogger(__name__)


# Refusals that a mention gets no reply for: the server chose silence in that place.
_SILENT = {RefusalReason.DISABLED, RefusalReason.CHANNEL}


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
        await self._answer(interaction, question)

    async def ask_about_message(self, interaction: Interaction, message: discord.Message) -> None:
        """Ask about the text of the selected message."""
        text = message.content or " ".join(e.description or "" for e in message.embeds)
        if not text.strip():
            await send_notice(interaction, "That message has no text to ask about.")
            return
        await self._answer(interaction, clip(text, self.bot.config.limits.max_question_chars))

    async def _private(self, interaction: Interaction) -> bool:
        """Whether replies here are private. One quick settings read, before the deferral,
        because the deferral decides who sees the reply that fills it."""
        settings = await self.bot.core.settings_for(where_of(interaction))
        return settings.visibility is Visibility.PRIVATE

    def _view(self, reply: AnswerReply, asker_id: int, where: Where) -> AnswerView:
        """The buttons under an answer: passages for the asker, feedback for everyone."""
        return AnswerView(
            self.bot.core,
            reply,
            asker_id=asker_id,
            where=where,
            timeout=self.bot.config.discord.view_timeout_seconds,
            live=self.bot.live_views,
        )

    async def _answer(self, interaction: Interaction, question: str) -> None:
        where = where_of(interaction)
        await defer(interaction, ephemeral=await self._private(interaction))
        reply = await self.bot.core.ask(question, caller_of(interaction), where)
        if isinstance(reply, Refusal):
            await send_notice(interaction, reply.message)
            return
        view = self._view(reply, interaction.user.id, where)
        message = await send(
            interaction, [render_answer(reply)], ephemeral=reply.private, view=view
        )
        view.message = message
        if message is not None and reply.in_thread and not reply.private:
            await _open_thread(interaction.channel, message.id, reply)

    @app_commands.command(name="search")
    @app_commands.describe(query="Words to look for in the library")
    async def search(self, interaction: Interaction, query: str) -> None:
        """List the passages that best match, with their ids."""
        private = await self._private(interaction)
        await defer(interaction, ephemeral=private)
        reply = await self.bot.core.search(query, caller_of(interaction), where_of(interaction))
        if isinstance(reply, Refusal):
            await send_notice(interaction, reply.message)
            return
        await send(interaction, render(reply), ephemeral=private)

    @app_commands.command(name="source")
    @app_commands.describe(passage="A passage id such as kuzbass:3, or start typing a title")
    async def source(self, interaction: Interaction, passage: str) -> None:
        """Show a whole passage, where it comes from, and its neighbours."""
        private = await self._private(interaction)
        await defer(interaction, ephemeral=private)
        reply = await self.bot.core.source(passage, where_of(interaction))
        if isinstance(reply, Refusal):
            await send_notice(interaction, reply.message)
            return
        await send(interaction, render(reply), ephemeral=private)

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
        """A mention of the bot with a question is a question."""
        me = self.bot.user
        if message.author.bot or me is None or me not in message.mentions:
            return
        self.bot.in_flight.add_current()
        try:
            await self._answer_mention(message, me.id)
        except Exception:
            log.exception("answering a mention in channel %s failed", message.channel.id)
            with contextlib.suppress(discord.HTTPException):
                await message.reply(APOLOGY, mention_author=False, allowed_mentions=NO_PINGS)

    async def _answer_mention(self, message: discord.Message, my_id: int) -> None:
        where = where_of_message(message)
        settings = await self.bot.core.settings_for(where)
        if not settings.respond_to_mentions:
            return
        question = re.sub(rf"<@!?{my_id}>", " ", message.content).strip()
        if not question:
            await _reply(message, "Ask me a history question after the mention, or use /ask.")
            return
        reply = await self.bot.core.ask(question, caller_of_message(message), where)
        if isinstance(reply, Refusal):
            if reply.reason not in _SILENT:
                await _reply(message, reply.message)
            return
        if reply.private:
            # A channel reply cannot be private; only /ask can answer privately.
            await _reply(message, "Answers are private in this server: ask with /ask.")
            return
        view = self._view(reply, message.author.id, where)
        outgoing = render_answer(reply)
        view.message = await message.reply(
            **outgoing.kwargs(), view=view, mention_author=False, allowed_mentions=NO_PINGS
        )
        if reply.in_thread:
            await _open_thread(message.channel, view.message.id, reply)


async def _reply(message: discord.Message, text: str) -> None:
    await message.reply(clip(text, 2000), mention_author=False, allowed_mentions=NO_PINGS)


async def _open_thread(channel: object, message_id: int, reply: AnswerReply) -> None:
    """Start a thread on the answer, named after the question, for the discussion."""
    if not isinstance(channel, discord.TextChannel):
        return  # threads in threads, forums or DMs do not exist
    name = clip(" ".join(reply.answer.question.split()), THREAD_NAME_LIMIT) or "Question"
    try:
        await channel.create_thread(name=name, message=discord.Object(message_id))
    except discord.HTTPException:
        log.warning("could not open a thread for an answer in channel %s", channel.id)


async def setup(bot: SamizdatBot) -> None:
    await bot.add_cog(Ask(bot))
