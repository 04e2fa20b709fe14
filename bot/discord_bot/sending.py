"""Replying to an interaction the way Discord expects at each stage of it.

An interaction is answered once (a message or a deferral within three seconds), and after a
deferral the first follow-up fills the "thinking" message with the deferral's visibility.
These helpers remember which stage an interaction is at, so a refusal after a public
deferral still reaches only the person who asked.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence

import discord

from bot.discord_bot.context import NO_PINGS, Interaction
from bot.discord_bot.render import Outgoing, clip
from bot.observability.metrics import Metrics

log = logging.getLogger(__name__)

# Discord's answer to a response after its three-second deadline: the interaction is gone.
UNKNOWN_INTERACTION = 10062


def acknowledged_too_late(interaction: Interaction, error: BaseException) -> bool:
    """Count and log a response Discord refused because its deadline had passed.

    Nothing can be sent for that interaction any more, so the caller stops there. A steady
    count means the event loop is too busy (or the host too slow) to answer within 3 s.
    """
    if not (isinstance(error, discord.NotFound) and error.code == UNKNOWN_INTERACTION):
        return False
    metrics = getattr(interaction.client, "metrics", None)
    if isinstance(metrics, Metrics):
        metrics.discord_late_acknowledgements.inc()
    log.warning("an interaction in channel %s was acknowledged too late", interaction.channel_id)
    return True


_DEFERRED_PUBLIC = "samizdat.deferred_public"
_ANSWERED = "samizdat.answered"


async def defer(interaction: Interaction, *, ephemeral: bool) -> None:
    """Acknowledge now ("thinking…"), so slow work can follow within Discord's deadline."""
    await interaction.response.defer(thinking=True, ephemeral=ephemeral)
    interaction.extras[_DEFERRED_PUBLIC] = not ephemeral


async def send(
    interaction: Interaction,
    messages: Sequence[Outgoing],
    *,
    ephemeral: bool,
    view: discord.ui.View | None = None,
) -> discord.WebhookMessage | None:
    """Send `messages` as the reply; `view` goes on the last. Returns that message if known."""
    last: discord.WebhookMessage | None = None
    for index, item in enumerate(messages):
        kwargs = item.kwargs()
        if view is not None and index == len(messages) - 1:
            kwargs["view"] = view
        if not interaction.response.is_done():
            await interaction.response.send_message(
                **kwargs, ephemeral=ephemeral, allowed_mentions=NO_PINGS
            )
        else:
            last = await interaction.followup.send(
                **kwargs, ephemeral=ephemeral, allowed_mentions=NO_PINGS, wait=True
            )
        interaction.extras[_ANSWERED] = True
    return last


async def send_notice(interaction: Interaction, text: str) -> None:
    """A short reply only the user sees: refusals, errors, confirmations of small things."""
    text = clip(text, 2000)
    if not interaction.response.is_done():
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_PINGS)
        return
    if interaction.extras.get(_DEFERRED_PUBLIC) and not interaction.extras.get(_ANSWERED):
        # A follow-up would fill the public "thinking" message: remove it first.
        with contextlib.suppress(discord.HTTPException):
            await interaction.delete_original_response()
        interaction.extras[_DEFERRED_PUBLIC] = False
    await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_PINGS)
    interaction.extras[_ANSWERED] = True
