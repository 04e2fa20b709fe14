"""What the Matrix adapter reports to /readyz and /metrics, read from outside its sync loop.

The sync loop and the outbox are left as they are: a watcher notices each completed sync by
the client's `next_batch` token changing (nio sets it from every sync response), and the
outbox depth is read from the outbox itself at scrape time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from nio import AsyncClient

from bot.matrix_bot.outbox import OutboxStore
from bot.observability.metrics import Metrics

# A long poll lasts 30 s; a sync that has not completed for three of them is a sync stuck.
SYNC_STALE_SECONDS = 90.0
_WATCH_EVERY_SECONDS = 0.5


async def watch_syncs(
    client: AsyncClient, metrics: Metrics, every: float = _WATCH_EVERY_SECONDS
) -> None:
    """Tell `metrics` of every completed sync, until cancelled."""
    seen: str | None = None
    while True:
        token = client.next_batch
        if token and token != seen:
            seen = token
            metrics.matrix_synced()
        await asyncio.sleep(every)


def sync_connected(
    client: AsyncClient, metrics: Metrics, clock: Callable[[], float] = time.time
) -> Callable[[], Awaitable[bool]]:
    """The /readyz check: logged in, and a sync completed in the last `SYNC_STALE_SECONDS`."""

    async def check() -> bool:
        last = metrics.last_matrix_sync
        return bool(client.logged_in) and last is not None and clock() - last < SYNC_STALE_SECONDS

    return check


def outbox_depth(
    store: OutboxStore, sender: str, metrics: Metrics
) -> Callable[[], Awaitable[None]]:
    """A scrape-time refresher that sets the outbox depth gauge from the database."""

    async def refresh() -> None:
        metrics.matrix_outbox_depth.set(len(await store.outbox(sender)))

    return refresh
