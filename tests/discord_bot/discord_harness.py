"""Starting the real bot against the fake Discord, for fixtures and tests alike.

A module of its own (not conftest) so tests can import it without depending on which
conftest pytest happened to load last.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fake_discord import FakeDiscord

from bot.app import App
from bot.discord_bot.client import SamizdatBot


@contextlib.asynccontextmanager
async def running_bot(
    fake: FakeDiscord, app: App, *, reply_editable_seconds: float | None = None
) -> AsyncIterator[SamizdatBot]:
    """The bot logged in, connected and ready; closed on the way out.

    `reply_editable_seconds` shortens Discord's 15-minute interaction tokens, for tests of
    what happens when they run out.
    """
    bot = (
        SamizdatBot(app.config, app.core, guild_ready_timeout=0.05)
        if reply_editable_seconds is None
        else SamizdatBot(
            app.config,
            app.core,
            guild_ready_timeout=0.05,
            reply_editable_seconds=reply_editable_seconds,
        )
    )
    await bot.login(fake.token)
    task = asyncio.create_task(bot.connect())
    try:
        ready = asyncio.create_task(bot.wait_until_ready())
        await asyncio.wait({task, ready}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            task.result()  # connect() failed: raise its error
        assert ready.done(), "the bot never became ready"
        yield bot
    finally:
        await bot.close()
        await task
