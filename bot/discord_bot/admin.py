"""Server settings and the server's own shelf, for admins: the `/samizdat` command group.

`default_permissions` only hides the commands in Discord's UI and server owners can change
it, so every command also checks Manage Server in code, and the core checks `is_admin` again.
Likewise `guild_only` only hides the group in direct messages; `interaction_check` refuses it.
Replies are ephemeral (the core marks them private): settings are nobody else's business.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.answers.shelves import DocumentFields, Upload, UploadUnavailable
from bot.core.requests import (
    ChannelAction,
    Channels,
    ForgetPlace,
    LibraryAdd,
    LibraryList,
    LibraryReindex,
    LibraryRemove,
    LibraryShow,
    SettingsReset,
    SettingsSet,
    SettingsShow,
    Unanswered,
)
from bot.core.settings import SETTABLE, allowed_values
from bot.discord_bot.context import Interaction
from bot.discord_bot.respond import respond

if TYPE_CHECKING:
    from bot.discord_bot.client import SamizdatBot

_SETTING_CHOICES = [app_commands.Choice(name=name, value=name) for name in SETTABLE]
_is_admin = app_commands.checks.has_permissions(manage_guild=True)


class Admin(commands.Cog):
    """Per-server settings, the channels the bot answers in, and unanswered questions."""

    samizdat = app_commands.Group(
        name="samizdat",
        description="Samizdat's settings for this server (needs Manage Server)",
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )
    settings = app_commands.Group(
        name="settings", description="Show or change this server's settings", parent=samizdat
    )
    channels = app_commands.Group(
        name="channels", description="Choose the channels the bot answers in", parent=samizdat
    )
    forget = app_commands.Group(
        name="forget", description="Delete what the bot keeps about people", parent=samizdat
    )
    library = app_commands.Group(
        name="library", description="Documents this server adds to the library", parent=samizdat
    )

    def __init__(self, bot: SamizdatBot) -> None:
        self.bot = bot

    async def interaction_check(self, interaction: Interaction, /) -> bool:
        """Server only, before the permission check: `guild_only` is only a hint to Discord's
        UI, and in a direct message "you need Manage Server" would be the wrong reason."""
        if interaction.guild_id is None:
            raise app_commands.NoPrivateMessage()
        return True

    @settings.command(name="show")
    @_is_admin
    async def settings_show(self, interaction: Interaction) -> None:
        """Show this server's settings and who changed them lately."""
        await respond(self.bot, interaction, SettingsShow())

    @settings.command(name="set")
    @app_commands.describe(name="The setting to change", value="Its new value")
    @app_commands.choices(name=_SETTING_CHOICES)
    @_is_admin
    async def settings_set(self, interaction: Interaction, name: str, value: str) -> None:
        """Change one setting for this server."""
        await respond(self.bot, interaction, SettingsSet(name, value))

    @settings_set.autocomplete("value")
    async def settings_value_autocomplete(
        self, interaction: Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        name = getattr(interaction.namespace, "name", None)
        if name not in SETTABLE:
            return []
        hint = allowed_values(name)
        options = [part.strip() for part in hint.split(",")] if "," in hint else []
        if hint == "on or off":
            options = ["on", "off"]
        return [app_commands.Choice(name=o, value=o) for o in options if current in o][:25]

    @settings.command(name="reset")
    @app_commands.describe(name="The setting to restore; leave empty to restore all")
    @app_commands.choices(name=_SETTING_CHOICES)
    @_is_admin
    async def settings_reset(self, interaction: Interaction, name: str | None = None) -> None:
        """Restore one setting, or all of them, to the default."""
        await respond(self.bot, interaction, SettingsReset(name))

    async def _channels(
        self,
        interaction: Interaction,
        action: ChannelAction,
        channel: app_commands.AppCommandChannel | app_commands.AppCommandThread | None,
    ) -> None:
        target = str(channel.id) if channel is not None else None
        if target is None and action != "clear" and interaction.channel_id is not None:
            target = str(interaction.channel_id)  # Discord's option left empty: this channel
        await respond(self.bot, interaction, Channels(action, target))

    @channels.command(name="allow")
    @app_commands.describe(channel="The channel to answer in (default: this one)")
    @_is_admin
    async def channels_allow(
        self,
        interaction: Interaction,
        channel: app_commands.AppCommandChannel | app_commands.AppCommandThread | None = None,
    ) -> None:
        """Answer in this channel; once any channel is allowed, only allowed ones get answers."""
        await self._channels(interaction, "allow", channel)

    @channels.command(name="deny")
    @app_commands.describe(channel="The channel to stay silent in (default: this one)")
    @_is_admin
    async def channels_deny(
        self,
        interaction: Interaction,
        channel: app_commands.AppCommandChannel | app_commands.AppCommandThread | None = None,
    ) -> None:
        """Never answer in this channel."""
        await self._channels(interaction, "deny", channel)

    @channels.command(name="clear")
    @app_commands.describe(channel="The channel to unlist (default: every channel)")
    @_is_admin
    async def channels_clear(
        self,
        interaction: Interaction,
        channel: app_commands.AppCommandChannel | app_commands.AppCommandThread | None = None,
    ) -> None:
        """Forget the channel lists (or one channel), so the bot answers everywhere."""
        await self._channels(interaction, "clear", channel)

    @samizdat.command(name="unanswered")
    @app_commands.describe(show_askers="Also show who asked")
    @_is_admin
    async def unanswered(self, interaction: Interaction, show_askers: bool = False) -> None:
        """Recent questions the library did not answer."""
        await respond(self.bot, interaction, Unanswered(show_askers))

    @forget.command(name="place")
    @_is_admin
    async def forget_place(self, interaction: Interaction) -> None:
        """Delete the questions and feedback of everyone in this server."""
        await respond(self.bot, interaction, ForgetPlace())

    @library.command(name="add")
    @app_commands.describe(
        file="A PDF, EPUB, web page (HTML), Markdown or text file",
        title="The title (default: the file's own)",
        author="The author (default: the file's own)",
        year="The year it was written or published",
        source="Where it comes from (a URL, a publisher)",
    )
    @_is_admin
    async def library_add(
        self,
        interaction: Interaction,
        file: discord.Attachment,
        title: app_commands.Range[str, 1, 200] | None = None,
        author: app_commands.Range[str, 1, 120] | None = None,
        year: app_commands.Range[int, 1, 9999] | None = None,
        source: app_commands.Range[str, 1, 300] | None = None,
    ) -> None:
        """Add a file to this server's own shelf; questions here search it at once."""

        async def fetch() -> Upload:
            try:
                return Upload(await file.read(), file.filename)
            except discord.HTTPException as error:
                raise UploadUnavailable(f"Discord answered {error.status}") from None

        request = LibraryAdd(
            upload=None,
            fields=DocumentFields(title=title, author=author, year=year, source=source),
            fetch=fetch,
            declared_size=file.size,
        )
        await respond(self.bot, interaction, request)

    @library.command(name="remove")
    @app_commands.describe(document="The document's id (`/samizdat library list` shows them)")
    @_is_admin
    async def library_remove(
        self, interaction: Interaction, document: app_commands.Range[str, 1, 100]
    ) -> None:
        """Remove a document from this server's shelf."""
        await respond(self.bot, interaction, LibraryRemove(document))

    @library.command(name="list")
    @_is_admin
    async def library_list(self, interaction: Interaction) -> None:
        """The documents added to this server's shelf, by whom and when."""
        await respond(self.bot, interaction, LibraryList())

    @library.command(name="show")
    @app_commands.describe(document="The document's id")
    @_is_admin
    async def library_show(
        self, interaction: Interaction, document: app_commands.Range[str, 1, 100]
    ) -> None:
        """One added document: catalogue entry, passages, who added it and when."""
        await respond(self.bot, interaction, LibraryShow(document))

    @library.command(name="reindex")
    @_is_admin
    async def library_reindex(self, interaction: Interaction) -> None:
        """Clean this server's documents again and rebuild its index."""
        await respond(self.bot, interaction, LibraryReindex())


async def setup(bot: SamizdatBot) -> None:
    await bot.add_cog(Admin(bot))
