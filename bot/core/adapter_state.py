"""What an adapter keeps between runs: the events it claimed, and small values it stores
(Matrix's sync token and outbox).
"""

from __future__ import annotations

from datetime import timedelta

from bot.core.database import Database, stamp


class AdapterState:
    """Claimed events (each answered at most once) and a key-value table for adapters."""

    def __init__(self, database: Database, *, handled_events_kept: timedelta = timedelta(days=7)):
        self._database = database
        self._handled_events_kept = handled_events_kept

    async def mark_handled(self, platform: str, event_id: str) -> bool:
        """Claim an event; True the first time, False if it was already handled.

        Marks older than the retention period are dropped on the way, so the table stays small.
        """
        async with self._database.write() as now:
            await self._database.run(
                "DELETE FROM handled_events WHERE handled_at < ?",
                (stamp(now - self._handled_events_kept),),
            )
            inserted = await self._database.run(
                "INSERT OR IGNORE INTO handled_events (platform, event_id, handled_at)"
                " VALUES (?, ?, ?)",
                (platform, event_id, stamp(now)),
            )
        return inserted == 1

    async def was_handled(self, platform: str, event_id: str) -> bool:
        """Whether an event was claimed already: a replayed batch is skipped before any work."""
        async with (
            self._database.read(),
            self._database.connection.execute(
                "SELECT 1 FROM handled_events WHERE platform = ? AND event_id = ?",
                (platform, event_id),
            ) as cursor,
        ):
            row = await cursor.fetchone()
        return row is not None

    async def kv_get(self, key: str) -> str | None:
        """A value an adapter stored under `key`, or None."""
        async with (
            self._database.read(),
            self._database.connection.execute(
                "SELECT value FROM kv WHERE key = ?", (key,)
            ) as cursor,
        ):
            row = await cursor.fetchone()
        return None if row is None else str(row[0])

    async def kv_set(self, key: str, value: str) -> None:
        """Store `value` under `key`, replacing any earlier value."""
        async with self._database.write():
            await self._database.run(
                "INSERT INTO kv (key, value) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )
