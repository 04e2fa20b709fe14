"""Sharded Discord across processes: this process's shards, and IDENTIFY taken in turns.

Past 2,500 servers Discord requires sharding: each gateway connection (shard) carries the
servers with `(guild_id >> 22) % shard_count == shard_id`. `discord.shards = "0-3"` with
`discord.shard_count = 16` (or `samizdat run discord --shards 0-3 --shard-count 16`) runs
discord.py's `AutoShardedClient` with exactly those shards; several processes with
disjoint ranges cover the fleet.

Discord allows `max_concurrency` IDENTIFYs per 5 seconds, one per start bucket
(`shard_id % max_concurrency`). Before each IDENTIFY a shard takes its bucket's turn through
the app's `ProcessLocks` (an advisory lock with PostgreSQL, a file lock beside SQLite),
held 5 seconds, so a whole fleet restarting at once never exceeds the rate.

Direct messages (and interactions in them) reach shard 0 only: the process that runs shard 0
answers every DM, with the settings of the one DM place (`discord:dm`) in the shared
database. Exactly one process must run shard 0, and every shard must be run by one.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol

from discord.ext import commands

from bot.config import Config
from bot.core.commands import Core
from bot.discord_bot.client import SamizdatBot

log = logging.getLogger(__name__)

# Discord's window for `max_concurrency` IDENTIFYs.
IDENTIFY_SPACING_SECONDS = 5.0


class Turns(Protocol):
    """What a shard needs from the app's locks (`ProcessLocks`): spaced turns by name."""

    async def take_turn(self, name: str, hold_for: float) -> None: ...


class LocalTurns:
    """Turns within this process only, for a bot started without the app's locks."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}

    async def take_turn(self, name: str, hold_for: float) -> None:
        lock = self._locks.setdefault(name, asyncio.Lock())
        await lock.acquire()
        asyncio.get_running_loop().call_later(hold_for, lock.release)


class ShardedSamizdatBot(SamizdatBot, commands.AutoShardedBot):
    """The bot over this process's shards only."""

    def __init__(
        self,
        config: Config,
        core: Core | None,
        *,
        turns: Turns | None = None,
        identify_spacing: float = IDENTIFY_SPACING_SECONDS,
        **options: Any,
    ) -> None:
        shard_ids = config.discord.shard_ids
        if shard_ids is None:
            raise ValueError("a sharded bot needs discord.shards and discord.shard_count")
        super().__init__(
            config,
            core,
            shard_ids=shard_ids,
            shard_count=config.discord.shard_count,
            **options,
        )
        self._turns: Turns = turns or LocalTurns()
        self._identify_spacing = identify_spacing
        self._max_concurrency: int | None = None

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """Wait for this shard's start bucket to be free across the fleet, then take it."""
        if self._max_concurrency is None:
            limits = await self.fetch_session_start_limits()
            self._max_concurrency = max(1, limits.max_concurrency)
        bucket = (shard_id or 0) % self._max_concurrency
        await self._turns.take_turn(f"discord:identify:{bucket}", self._identify_spacing)
        log.info("shard %s identifying (start bucket %d)", shard_id, bucket)

    async def gateway_connected(self) -> bool:
        """For /readyz: READY, and every one of this process's shards connected."""
        shards = self.shards
        return (
            self.is_ready()
            and not self.is_closed()
            and bool(shards)
            and all(not shard.is_closed() for shard in shards.values())
        )
