"""Answers people may still act on: show their passages, say whether they helped.

A button under an answer names the kept answer by number, so a click works on whichever
process of a fleet receives it, and after a restart. Only what the follow-ups need is kept:
the asker, the question, the ranked passages' ids and scores (their text is the library's)
and the cited ones. Each place keeps its newest few, none older than the buttons' lifetime.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.answers.model import Answer
from bot.core.database import stamp
from bot.core.storage import Storage

ANSWERS_PER_PLACE = 1000


@dataclass(frozen=True)
class KeptAnswer:
    answer_id: int
    at: datetime
    place: str
    user_id: str
    question: str
    passages: tuple[tuple[str, float], ...]  # (passage id, score), in rank order
    cited: tuple[str, ...]


class KeptAnswers:
    """The answers whose buttons still work, by number."""

    def __init__(
        self, storage: Storage, *, lifetime: timedelta, per_place: int = ANSWERS_PER_PLACE
    ) -> None:
        if per_place < 1:
            raise ValueError("the per-place limit must be at least 1")
        self._storage = storage
        self._lifetime = lifetime
        self._per_place = per_place

    async def keep(self, place: str, user_id: str, answer: Answer) -> int:
        """Keep what the answer's buttons need; return its number."""
        passages = [[p.passage_id, p.score] for p in answer.passages]
        cited = list(dict.fromkeys(c.passage_id for c in answer.citations))
        async with self._storage.write() as now:
            row = await self._storage.fetchone(
                "INSERT INTO kept_answers (at, place, user_id, question, passages, cited)"
                " VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    stamp(now),
                    place,
                    user_id,
                    answer.question,
                    json.dumps(passages),
                    json.dumps(cited),
                ),
            )
            await self._storage.run(
                "DELETE FROM kept_answers WHERE place = ? AND at < ?",
                (place, stamp(now - self._lifetime)),
            )
            await self._storage.prune("kept_answers", place, self._per_place)
        assert row is not None
        return int(row[0])

    async def get(self, answer_id: int) -> KeptAnswer | None:
        """The kept answer, or None once it is gone (too old, pruned, or forgotten)."""
        async with self._storage.read():
            row = await self._storage.fetchone(
                "SELECT id, at, place, user_id, question, passages, cited FROM kept_answers"
                " WHERE id = ?",
                (answer_id,),
            )
            now = self._storage.clock()
        if row is None:
            return None
        number, at, place, user_id, question, passages, cited = row
        moment = datetime.fromisoformat(at)
        if now - moment > self._lifetime:
            return None
        return KeptAnswer(
            answer_id=int(number),
            at=moment,
            place=place,
            user_id=user_id,
            question=question,
            passages=tuple((str(i), float(s)) for i, s in json.loads(passages)),
            cited=tuple(str(c) for c in json.loads(cited)),
        )
