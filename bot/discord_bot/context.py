"""Who is asking and where, in the core's terms, from a Discord interaction or message.

The adapter vouches for `Caller.is_admin`: on Discord that is the Manage Server permission,
as Discord itself computed it for the interaction (channel overrides included). Discord can
show a reply to its asker alone (ephemeral), so every Discord place has `private_replies`.
"""

from __future__ import annotations

import discord

from bot.core.places import Caller, Where, discord_place

# Interactions of any client; the bot's own type is a subtype (the parameter is covariant).
Interaction = discord.Interaction[discord.Client]

# Every message the bot sends uses this: a quote with @everyone or <@id> never pings anyone.
NO_PINGS = discord.AllowedMentions.none()

# Direct messages have no server to configure, so they share one place with the defaults.
DM_PLACE = discord_place("dm")


def where_of(interaction: Interaction) -> Where:
    if interaction.guild_id is None:
        return Where(place=DM_PLACE, channel=None, private_replies=True)
    channel = interaction.channel_id
    return Where(
        place=discord_place(interaction.guild_id),
        channel=str(channel) if channel else None,
        private_replies=True,
    )


def caller_of(interaction: Interaction) -> Caller:
    user = interaction.user
    is_admin = interaction.guild_id is not None and interaction.permissions.manage_guild
    return Caller(user_id=str(user.id), is_admin=is_admin)


def where_of_message(message: discord.Message) -> Where:
    if message.guild is None:
        return Where(place=DM_PLACE, channel=None, private_replies=True)
    return Where(
        place=discord_place(message.guild.id),
        channel=str(message.channel.id),
        private_replies=True,
    )


def caller_of_message(message: discord.Message) -> Caller:
    author = message.author
    is_admin = isinstance(author, discord.Member) and author.guild_permissions.manage_guild
    return Caller(user_id=str(author.id), is_admin=is_admin)
