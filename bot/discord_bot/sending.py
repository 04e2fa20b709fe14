"""Replying to an interaction the way Discord expects at each stage of it.

An interaction is answered once (a message or a deferral within three seconds), and after a
deferral the first follow-up fills the "thinking" message with the deferral's visibility.
These helpers remember which stage an interaction is at, so a refusal after a public
deferral still reaches only the person who asked.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import discord

from bot.discord_bot.context import NO_PINGS, Interaction
from bot.discord_bot.render import Outgoing, clip
from bot.observability.metrics import Metrics

log = logging.getLogger(__name__)

_DEFERRED_PUBLIC = "samizdat.deferred_public"
_ANSWERED = "samizdat.answered"
# discord.py waits out a 429 itself, except one without a `Via` header, which it takes for a
# Cloudflare ban and raises at once; such a 429 is waited out here, this many times at most.
_RATE_LIMIT_TRIES = 5

# Discord's answer to a reply for an interaction it no longer knows: the three seconds to
# acknowledge it (or the fifteen minutes to follow it up) ran out.
UNKNOWN_INTERACTION = 10062

T = TypeVar("T")


def expired(error: BaseException) -> bool:
    """Whether `error` says the interaction ran out before the bot answered it: nothing
    can be sent for it any more, and it is a fact about load, not a bug to trace."""
    return isinstance(error, discord.NotFound) and error.code == UNKNOWN_INTERACTION


def acknowledged_too_late(interaction: Interaction, error: BaseException) -> bool:
    """Count and log (one line) a response Discord refused because its deadline had passed.

    Nothing can be sent for that interaction any more, so the caller stops there. A steady
    count means the event loop is too busy (or the host too slow) to answer within 3 s.
    """
    if not expired(error):
        return False
    metrics = getattr(interaction.client, "metrics", None)
    if isinstance(metrics, Metrics):
        metrics.discord_late_acknowledgements.inc()
    command = interaction.command
    log.warning(
        "%s: the interaction expired before the bot acknowledged it (Discord %d)",
        f"/{command.qualified_name}" if command is not None else "a button",
        UNKNOWN_INTERACTION,
    )
    return True


async def rate_limited(call: Callable[[], Awaitable[T]]) -> T:
    """`call()`, tried again after the wait a 429 asks for, like any other 429."""
    for attempt in range(1, _RATE_LIMIT_TRIES + 1):
        try:
            return await call()
        except discord.HTTPException as error:
            wait = retry_after(error)
            if wait is None or attempt == _RATE_LIMIT_TRIES:
                raise
            log.warning("Discord answered 429; trying again in %.2f s", wait)
            await asyncio.sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover


def retry_after(error: discord.HTTPException) -> float | None:
    """How long a 429 asks to wait; None for any other error, and for a Cloudflare ban (an
    HTML page rather than Discord's JSON), which waiting seconds does not lift."""
    if error.status != 429 or error.text.lstrip().startswith("<"):
        return None
    headers = error.response.headers
    for name in ("X-RateLimit-Reset-After", "Retry-After"):
        try:
            return max(0.0, float(headers[name]))
        except (KeyError, ValueError):
            continue
    return 1.0


async def defer(interaction: Interaction, *, ephemeral: bool) -> None:
    """Acknowledge now ("thinking…"), so slow work can follow within Discord's deadline."""
    await rate_limited(lambda: interaction.response.defer(thinking=True, ephemeral=ephemeral))
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
            await rate_limited(
                functools.partial(
                    interaction.response.send_message,
                    **kwargs,
                    ephemeral=ephemeral,
                    allowed_mentions=NO_PINGS,
                )
            )
        else:
            last = await rate_limited(
                functools.partial(
                    interaction.followup.send,
                    **kwargs,
                    ephemeral=ephemeral,
                    allowed_mentions=NO_PINGS,
                    wait=True,
                )
            )
        interaction.extras[_ANSWERED] = True
    return last


async def send_notice(interaction: Interaction, text: str) -> None:
    """A short reply only the user sees: refusals, errors, confirmations of small things."""
    text = clip(text, 2000)
    if not interaction.response.is_done():
        await rate_limited(
            lambda: interaction.response.send_message(
                text, ephemeral=True, allowed_mentions=NO_PINGS
            )
        )
        return
    if interaction.extras.get(_DEFERRED_PUBLIC) and not interaction.extras.get(_ANSWERED):
        # A follow-up would fill the public "thinking" message: remove it first.
        with contextlib.suppress(discord.HTTPException):
            await interaction.delete_original_response()
        interaction.extras[_DEFERRED_PUBLIC] = False
    await rate_limited(
        lambda: interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_PINGS)
    )
    interaction.extras[_ANSWERED] = True
