"""In-memory flood control: a per-person cooldown and a per-place budget a minute.

Kept in memory on purpose: limits protect the bot now and need not survive a restart.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


class RateLimiter:
    """Says how long someone must wait, or None when they may ask now (and counts it)."""

    def __init__(self, per_place_per_minute: int, clock: Callable[[], float] = time.monotonic):
        self._budget = per_place_per_minute
        self._clock = clock
        self._last_question: dict[tuple[str, str], float] = {}
        self._recent: dict[str, deque[float]] = {}

    def check(self, place: str, user: str, cooldown: float) -> tuple[str, float] | None:
        """("cooldown" | "budget", seconds to wait) when over a limit; else record and None."""
        now = self._clock()
        last = self._last_question.get((place, user))
        if last is not None and cooldown > 0 and now - last < cooldown:
            return "cooldown", cooldown - (now - last)
        window = self._recent.setdefault(place, deque())
        while window and now - window[0] >= 60:
            window.popleft()
        if len(window) >= self._budget:
            return "budget", 60 - (now - window[0])
        window.append(now)
        self._last_question[(place, user)] = now
        if len(self._last_question) > 50_000:
            self._forget_older_than(now - 3600)
        return None

    def _forget_older_than(self, moment: float) -> None:
        self._last_question = {k: v for k, v in self._last_question.items() if v >= moment}
