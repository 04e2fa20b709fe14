"""Waiting out a homeserver that is away: the one backoff every Matrix retry uses.

nio's own retries are switched off (except for 429s, which it waits out as the homeserver
asks), so logging in, sending a reply and syncing count their failures here instead of each
keeping its own delay arithmetic.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from aiohttp import ClientError

log = logging.getLogger(__name__)

# Transport failures nio raises once its own retries are off.
NETWORK_ERRORS = (ClientError, TimeoutError)

T = TypeVar("T")


class Backoff:
    """Doubling waits from `first` up to `most` seconds; `reset` once a call succeeds."""

    def __init__(self, first: float = 1.0, most: float = 60.0) -> None:
        self.first = first
        self.most = most
        self.delay = first

    async def wait(self, at_least: float = 0.0, until: asyncio.Event | None = None) -> None:
        """Sleep the current delay (or what the homeserver asked for, if longer), or less if
        `until` is set meanwhile (something else got through to the homeserver)."""
        pause = max(self.delay, at_least)
        if until is None:
            await asyncio.sleep(pause)
        else:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(until.wait(), pause)
        self.delay = min(pause * 2, self.most)

    def reset(self) -> bool:
        """Start again from the shortest wait; True if there had been failures."""
        failed = self.delay > self.first
        self.delay = self.first
        return failed


async def until_reachable(what: str, attempt: Callable[[], Awaitable[T]]) -> T:
    """`attempt()`, tried again with backoff for as long as the homeserver cannot be reached."""
    backoff = Backoff()
    while True:
        try:
            return await attempt()
        except NETWORK_ERRORS as exc:
            log.warning(
                "homeserver unreachable at %s (%s); retrying in %.0f s", what, exc, backoff.delay
            )
            await backoff.wait()
