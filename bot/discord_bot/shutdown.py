"""Letting answers in progress finish before the bot disconnects.

discord.py runs each command, button click and event in a task of its own and forgets it;
a shutdown that closed the HTTP session under them would leave a "thinking…" message that
never fills, and the database would close under a query. Handlers register their task here
when they start, and `run_discord` waits for them (a bounded time) after the gateway stops
delivering new events and before it closes the connection and hands back the database.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

log = logging.getLogger(__name__)


class InFlight:
    """The tasks answering someone right now."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def add_current(self) -> None:
        """Count the running task as work in progress until it ends."""
        task = asyncio.current_task()
        if task is not None and task not in self._tasks:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def finish(self, grace: float) -> None:
        """Wait up to `grace` seconds for the work in progress, then give up on the rest."""
        pending = {t for t in self._tasks if not t.done() and t is not asyncio.current_task()}
        if not pending:
            return
        log.info("stopping: waiting for %d answers in progress", len(pending))
        _, unfinished = await asyncio.wait(pending, timeout=grace)
        if unfinished:
            log.warning("stopping: %d answers did not finish in %.0f s", len(unfinished), grace)
