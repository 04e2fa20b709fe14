"""Flood control: a per-person cooldown and a per-place budget a minute.

One process (the default, with SQLite) keeps them in memory: limits protect the bot now and
need not survive a restart. A fleet keeps them in the shared database instead
(`SharedRateLimiter`), because a person whose questions land on two processes must wait out
one cooldown, not one per process.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

from bot.core.storage import Storage

Verdict = tuple[str, float] | None
"""("cooldown" | "budget", seconds to wait) when over a limit; None when the question may go."""

_WINDOW_SECONDS = 60.0


class Limiter(Protocol):
    async def check(self, place: str, user: str, cooldown: float) -> Verdict:
        """Say how long someone must wait, or record the question and return None."""
        ...


class RateLimiter:
    """Limits held in this process's memory."""

    def __init__(self, per_place_per_minute: int, clock: Callable[[], float] = time.monotonic):
        self._budget = per_place_per_minute
        self._clock = clock
        self._last_question: dict[tuple[str, str], float] = {}
        self._recent: dict[str, deque[float]] = {}

    async def check(self, place: str, user: str, cooldown: float) -> Verdict:
        now = self._clock()
        last = self._last_question.get((place, user))
        if last is not None and cooldown > 0 and now - last < cooldown:
            return "cooldown", cooldown - (now - last)
        window = self._recent.setdefault(place, deque())
        while window and now - window[0] >= _WINDOW_SECONDS:
            window.popleft()
        if len(window) >= self._budget:
            return "budget", _WINDOW_SECONDS - (now - window[0])
        window.append(now)
        self._last_question[(place, user)] = now
        if len(self._last_question) > 50_000:
            self._forget_older_than(now - 3600)
        return None

    def _forget_older_than(self, moment: float) -> None:
        self._last_question = {k: v for k, v in self._last_question.items() if v >= moment}


class SharedRateLimiter:
    """Limits held in the shared database, so they hold across every process of a fleet.

    Each check is one write transaction (ordered across processes), reading the asker's
    last question and the place's count in the last minute, then recording this one. Rows
    older than the longest wait anyone can be asked for are dropped on the way.
    """

    def __init__(
        self,
        storage: Storage,
        per_place_per_minute: int,
        *,
        longest_cooldown: float = 3600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._storage = storage
        self._budget = per_place_per_minute
        self._kept = max(longest_cooldown, _WINDOW_SECONDS)
        self._clock = clock

    async def check(self, place: str, user: str, cooldown: float) -> Verdict:
        async with self._storage.write():
            now = self._clock()
            await self._storage.run(
                "DELETE FROM questions_asked WHERE place = ? AND at < ?", (place, now - self._kept)
            )
            if cooldown > 0:
                last = await self._storage.fetchone(
                    "SELECT MAX(at) FROM questions_asked WHERE place = ? AND user_id = ?",
                    (place, user),
                )
                if last is not None and last[0] is not None and now - last[0] < cooldown:
                    return "cooldown", cooldown - (now - float(last[0]))
            recent = await self._storage.fetchall(
                "SELECT at FROM questions_asked WHERE place = ? AND at > ? ORDER BY at LIMIT ?",
                (place, now - _WINDOW_SECONDS, self._budget),
            )
            if len(recent) >= self._budget:
                return "budget", _WINDOW_SECONDS - (now - float(recent[0][0]))
            await self._storage.run(
                "INSERT INTO questions_asked (at, place, user_id) VALUES (?, ?, ?)",
                (now, place, user),
            )
        return None
