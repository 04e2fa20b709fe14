"""Starting and stopping the Discord bot, and syncing its commands, from the command line.

Problems the operator must fix (no token, a rejected token, a missing privileged intent,
Discord out of reach at start) end as one `DiscordSetupError` whose message says what to
do, never as a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Iterator
from typing import Any

import aiohttp
import discord

from bot.config import Config
from bot.core.commands import Core
from bot.discord_bot.client import SamizdatBot
from bot.discord_bot.shards import ShardedSamizdatBot, Turns
from bot.observability.health import Readiness
from bot.startup import StartupError

log = logging.getLogger(__name__)

TOKEN_VARIABLE = "SAMIZDAT_DISCORD__TOKEN"

# How long a stopping bot waits for answers in progress before it disconnects anyway.
SHUTDOWN_GRACE_SECONDS = 10.0


class DiscordSetupError(StartupError):
    """The bot cannot start until the operator changes something; the message says what."""


def _token(config: Config) -> str:
    token = config.discord.token
    value = token.get_secret_value().strip() if token is not None else ""
    if not value:
        raise DiscordSetupError(
            f"No Discord bot token: set {TOKEN_VARIABLE} (in the environment or a .env file)."
        )
    return value


def _reason(error: BaseException) -> str:
    """The cause of a connection failure in a few words (`Connection refused`)."""
    cause = error.os_error if isinstance(error, aiohttp.ClientConnectorError) else error
    if isinstance(cause, OSError) and isinstance(cause.errno, int) and cause.errno > 0:
        return os.strerror(cause.errno)
    if isinstance(cause, OSError) and cause.strerror:
        return cause.strerror  # a DNS failure: `Name or service not known`
    if isinstance(cause, TimeoutError):
        return "no answer in time"
    return " ".join(str(cause).split()) or type(cause).__name__


def _unreachable(error: BaseException) -> DiscordSetupError:
    """Discord out of reach at start (no network, no DNS, a firewall, an outage), in one line.

    After login the gateway reconnects by itself; before it, nothing is running yet, so the
    person starting the bot is better served by what failed than by a traceback.
    """
    if isinstance(error, discord.DiscordServerError):
        return DiscordSetupError(
            f"Discord is not answering (HTTP {error.status}): try again in a few minutes."
        )
    where = (
        f" at {error.host}:{error.port}" if isinstance(error, aiohttp.ClientConnectorError) else ""
    )
    return DiscordSetupError(
        f"cannot reach Discord{where}: {_reason(error)}; check this machine's network "
        "connection (and any firewall or proxy), then start again."
    )


@contextlib.contextmanager
def _reaching_discord() -> Iterator[None]:
    """Turn a failure to reach Discord inside the block into `_unreachable`'s one line."""
    try:
        yield
    except (aiohttp.ClientError, OSError, TimeoutError, discord.DiscordServerError) as exc:
        raise _unreachable(exc) from None


async def _login(bot: SamizdatBot, token: str) -> None:
    try:
        with _reaching_discord():
            await bot.login(token)
    except discord.LoginFailure:
        raise DiscordSetupError(
            f"Discord rejected the bot token: check {TOKEN_VARIABLE} "
            "(Developer Portal > your application > Bot > Reset Token)."
        ) from None


def _explain(error: BaseException) -> DiscordSetupError | None:
    if isinstance(error, discord.PrivilegedIntentsRequired):
        return DiscordSetupError(
            "Discord refused the Message Content intent: enable it for the bot in the "
            "Developer Portal, or set SAMIZDAT_DISCORD__MESSAGE_CONTENT_INTENT=false."
        )
    if isinstance(error, discord.ConnectionClosed) and error.code == 4004:
        return DiscordSetupError(f"Discord rejected the bot token: check {TOKEN_VARIABLE}.")
    return None


async def run_discord(
    config: Config,
    core: Core,
    *,
    stop: asyncio.Event | None = None,
    guild_ready_timeout: float = 2.0,
    readiness: Readiness | None = None,
    locks: Turns | None = None,
) -> None:
    """Run the bot until `stop` is set, then close the gateway; raise `DiscordSetupError`
    for what the operator must fix. Answers in progress when `stop` is set are finished
    first (for up to `SHUTDOWN_GRACE_SECONDS`), so nobody is left with "thinking…".

    Without `stop`, SIGINT and SIGTERM stop the bot. A caller running several platforms
    should pass one `stop` for all of them and own the signals itself. The caller owns
    `core` and closes its database after this returns. The gateway's state is reported to
    `readiness` (as "discord") while the bot runs. With `discord.shards` configured, only
    those shards run, taking IDENTIFY turns through `locks` (the app's `ProcessLocks`).
    """
    token = _token(config)
    own_signals = stop is None
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    # Handlers that were there before (asyncio.run's own SIGINT one) come back afterwards.
    previous: dict[signal.Signals, Any] = {}
    for sig in (signal.SIGINT, signal.SIGTERM) if own_signals else ():
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            handler = signal.getsignal(sig)
            loop.add_signal_handler(sig, stop.set)
            previous[sig] = handler
    try:
        async with _bot(config, core, locks, guild_ready_timeout) as bot:
            if readiness is not None:
                readiness.add("discord", bot.gateway_connected)
            await _login(bot, token)
            gateway = asyncio.create_task(bot.connect(), name="discord-gateway")
            stopping = asyncio.create_task(stop.wait(), name="discord-stop")
            await asyncio.wait({gateway, stopping}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if not gateway.done():
                log.info("stopping: closing the Discord gateway")
                # Stop reading first: closed while it reads, discord.py sends close code 4000
                # ("will resume"), so Discord keeps the session and shows the bot online for a
                # while; closed after, it sends 1000 and the bot goes offline at once.
                gateway.cancel()
                await asyncio.wait({gateway})
                # No new events arrive now; let the answers already started reach Discord.
                await bot.in_flight.finish(SHUTDOWN_GRACE_SECONDS)
                await bot.close()
                return
            try:
                await gateway
            except Exception as exc:
                explained = _explain(exc)
                if explained is not None:
                    raise explained from None
                raise
    finally:
        if readiness is not None:
            readiness.remove("discord")
        for sig, handler in previous.items():
            loop.remove_signal_handler(sig)
            signal.signal(sig, handler)


def _bot(
    config: Config, core: Core, locks: Turns | None, guild_ready_timeout: float
) -> SamizdatBot:
    """The unsharded bot by default; with `discord.shards`, this process's shards."""
    if config.discord.shard_ids is None:
        return SamizdatBot(config, core, guild_ready_timeout=guild_ready_timeout)
    log.info("running shards %s of %d", config.discord.shards, config.discord.shard_count or 0)
    return ShardedSamizdatBot(config, core, turns=locks, guild_ready_timeout=guild_ready_timeout)


async def sync_commands(config: Config, guild_id: int | None = None) -> list[str]:
    """Publish the command tree to Discord, globally or to one server; returns the names.

    A server sync shows up at once and suits testing; a global one can take a while to reach
    every client. Nothing syncs at start, so restarts never touch Discord's rate limits.
    """
    token = _token(config)
    async with SamizdatBot(config, core=None) as bot:
        await _login(bot, token)
        with _reaching_discord():
            if guild_id is None:
                synced = await bot.tree.sync()
            else:
                guild = discord.Object(id=guild_id)
                bot.tree.copy_global_to(guild=guild)
                synced = await bot.tree.sync(guild=guild)
    return [command.name for command in synced]
