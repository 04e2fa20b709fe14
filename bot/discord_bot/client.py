"""The Discord client: intents, the command tree, and one place where command errors end up.

Commands live in cogs (`ask`, `library`, `admin`), loaded as extensions in `setup_hook`.
The tree is synced only by `sync_commands`, never at start, because Discord rate-limits
syncs and a restart should not change what users see.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.config import Config
from bot.core.commands import Core
from bot.core.present import (
    APOLOGY,
    CANNOT_USE_HERE,
    EXPIRED_BUTTON,
    NEEDS_MANAGE_SERVER,
    OUT_OF_DATE,
    SERVER_ONLY,
    not_understood,
    slow_down,
)
from bot.discord_bot.context import NO_PINGS, Interaction
from bot.discord_bot.render import render_document
from bot.discord_bot.sending import acknowledged_too_late, send_notice
from bot.discord_bot.shutdown import InFlight
from bot.discord_bot.views import BUTTONS, REPLY_EDITABLE_SECONDS, is_ours

log = logging.getLogger(__name__)

EXTENSIONS = ("bot.discord_bot.ask", "bot.discord_bot.library", "bot.discord_bot.admin")


def intents_for(config: Config) -> discord.Intents:
    """Guilds and messages; message content only when the operator enabled the intent."""
    intents = discord.Intents.default()
    intents.message_content = config.discord.message_content_intent
    intents.presences = False
    intents.members = False
    return intents


def error_message(error: app_commands.AppCommandError) -> str | None:
    """The short reply for an expected command error, or None for a bug."""
    if isinstance(error, app_commands.CommandNotFound | app_commands.CommandSignatureMismatch):
        return OUT_OF_DATE
    if isinstance(error, app_commands.MissingPermissions):
        return NEEDS_MANAGE_SERVER
    if isinstance(error, app_commands.NoPrivateMessage):
        return SERVER_ONLY
    if isinstance(error, app_commands.CommandOnCooldown):
        return slow_down(error.retry_after)
    if isinstance(error, app_commands.CheckFailure):
        return CANNOT_USE_HERE
    if isinstance(error, app_commands.TransformerError):
        [shown] = render_document(not_understood(str(error.value)))
        return shown.content
    return None


class SamizdatTree(app_commands.CommandTree[discord.Client]):
    """The command tree, whose error handler answers every failure with a short reply."""

    async def interaction_check(self, interaction: Interaction, /) -> bool:
        # Runs in the task that will run the command: a shutdown lets that task finish.
        in_flight = getattr(self.client, "in_flight", None)
        if isinstance(in_flight, InFlight):
            in_flight.add_current()
        return True

    async def on_error(self, interaction: Interaction, error: app_commands.AppCommandError) -> None:
        original = getattr(error, "original", error)
        if acknowledged_too_late(interaction, original):
            return
        message = error_message(error)
        if message is OUT_OF_DATE:
            # Discord offered a command this code does not have (or has differently).
            log.warning("%s: publish the current commands with `samizdat discord sync`", error)
        elif message is None:
            name = interaction.command.qualified_name if interaction.command else "?"
            log.error("command /%s failed", name, exc_info=original)
            message = APOLOGY
        if interaction.type is discord.InteractionType.autocomplete:
            return
        with contextlib.suppress(discord.HTTPException):
            await send_notice(interaction, message)


class SamizdatBot(commands.Bot):
    """The bot: the core to answer with, and the configuration it was started with."""

    def __init__(
        self,
        config: Config,
        core: Core | None,
        *,
        reply_editable_seconds: float = REPLY_EDITABLE_SECONDS,
        **options: Any,
    ) -> None:
        """`reply_editable_seconds`: how long an interaction's reply can be edited (a fact
        of Discord's, less a margin), which bounds the life of the buttons on it."""
        super().__init__(
            command_prefix=commands.when_mentioned,
            help_command=None,
            intents=intents_for(config),
            allowed_mentions=NO_PINGS,
            tree_cls=SamizdatTree,
            **options,
        )
        self.config = config
        self._core = core
        self.reply_editable_seconds = reply_editable_seconds
        # Read by `acknowledged_too_late`, which has only the interaction's client.
        self.metrics = core.metrics if core is not None else None
        self.in_flight = InFlight()

    @property
    def core(self) -> Core:
        if self._core is None:
            raise RuntimeError("this client was built to sync commands, not to answer them")
        return self._core

    async def gateway_connected(self) -> bool:
        """For /readyz: the gateway said READY and the connection is open."""
        return self.is_ready() and not self.is_closed() and self.ws is not None and self.ws.open

    async def setup_hook(self) -> None:
        self.add_dynamic_items(*BUTTONS)
        for extension in EXTENSIONS:
            await self.load_extension(extension)

    async def close(self) -> None:
        # discord.py does not stop its READY timer on close; closed before the bot is ready,
        # the timer would later dispatch into a closed client. It handles cancellation.
        ready_timer = getattr(self._connection, "_ready_task", None)
        if isinstance(ready_timer, asyncio.Task) and not ready_timer.done():
            ready_timer.cancel()
        await super().close()

    async def on_interaction(self, interaction: Interaction, /) -> None:
        """Answer a click on a button that is not one of ours, which discord.py drops.

        Our buttons (`BUTTONS`) answer wherever and whenever they are clicked; a button of
        an older version, before they named their answer, would otherwise fail in Discord
        with "This interaction failed". With this, the person learns to ask again.
        """
        if interaction.type is not discord.InteractionType.component:
            return
        data: dict[str, object] = dict(interaction.data or {})
        custom_id = data.get("custom_id")
        if not isinstance(custom_id, str) or is_ours(custom_id):
            return
        log.info("a button that expired was clicked in channel %s", interaction.channel_id)
        with contextlib.suppress(discord.HTTPException, discord.InteractionResponded):
            await send_notice(interaction, EXPIRED_BUTTON)

    async def on_message(self, message: discord.Message, /) -> None:
        # No prefix commands: mentions are questions, handled by the `ask` cog's listener.
        return

    async def on_ready(self) -> None:
        user = self.user
        log.info("connected to Discord as %s in %d servers", user, len(self.guilds))
