"""What people did, kept for the curators: questions the library could not answer, and
whether answers helped; and forgetting it all again, for one person or one place.

Each place keeps only its newest records, so no place can fill the disk.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from bot.core.database import stamp
from bot.core.replies import UnansweredQuestion
from bot.core.storage import Storage

# What an audit record says about a person who asked to be forgotten.
FORGOTTEN_USER = "(forgotten)"


class ActivityLog:
    """Unanswered questions and feedback of every place, and their deletion."""

    def __init__(
        self,
        database: Storage,
        *,
        unanswered_per_place: int = 500,
        feedback_per_place: int = 2000,
    ) -> None:
        if min(unanswered_per_place, feedback_per_place) < 1:
            raise ValueError("the per-place limits must be at least 1")
        self._database = database
        self._unanswered_per_place = unanswered_per_place
        self._feedback_per_place = feedback_per_place

    async def record_unanswered(
        self, place: str, channel: str | None, user_id: str, question: str
    ) -> None:
        """Remember a question the library could not answer, keeping the newest few per place."""
        async with self._database.write() as now:
            await self._database.run(
                "INSERT INTO unanswered (at, place, channel, user_id, question)"
                " VALUES (?, ?, ?, ?, ?)",
                (stamp(now), place, channel, user_id, question),
            )
            await self._database.prune("unanswered", place, self._unanswered_per_place)

    async def unanswered(
        self, place: str, limit: int = 20, include_askers: bool = False
    ) -> list[UnansweredQuestion]:
        """The place's latest unanswered questions, newest first; askers only when asked for."""
        async with self._database.read():
            rows = await self._database.fetchall(
                "SELECT question, at, place, channel, user_id FROM unanswered"
                " WHERE place = ? ORDER BY id DESC LIMIT ?",
                (place, max(limit, 0)),
            )
        return [
            UnansweredQuestion(
                question=question,
                at=datetime.fromisoformat(at),
                place=where,
                channel=channel,
                user_id=who if include_askers else None,
            )
            for question, at, where, channel, who in rows
        ]

    async def record_feedback(
        self,
        place: str,
        user_id: str,
        question: str,
        passage_ids: Sequence[str],
        helpful: bool,
    ) -> None:
        """Remember whether a reader found an answer (and the passages behind it) helpful."""
        async with self._database.write() as now:
            await self._database.run(
                "INSERT INTO feedback (at, place, user_id, question, passage_ids, helpful)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    stamp(now),
                    place,
                    user_id,
                    question,
                    json.dumps(list(passage_ids)),
                    int(helpful),
                ),
            )
            await self._database.prune("feedback", place, self._feedback_per_place)

    async def forget_user(self, user_id: str) -> int:
        """Delete a person's questions and feedback and unname them in the audit log.

        Returns how many rows were deleted or unnamed. The audit rows stay, because the
        settings they explain stay.
        """
        total = 0
        async with self._database.write():
            for sql, params in (
                ("DELETE FROM unanswered WHERE user_id = ?", (user_id,)),
                ("DELETE FROM feedback WHERE user_id = ?", (user_id,)),
                ("DELETE FROM questions_asked WHERE user_id = ?", (user_id,)),
                ("DELETE FROM kept_answers WHERE user_id = ?", (user_id,)),
                ("UPDATE audit_log SET user_id = ? WHERE user_id = ?", (FORGOTTEN_USER, user_id)),
            ):
                total += await self._database.run(sql, params)
        return total

    async def forget_place(self, place: str) -> int:
        """Delete a place's questions and feedback and unname everyone in its audit log.

        Returns how many rows were deleted or unnamed. The settings stay: they are the
        place's, not any person's.
        """
        total = 0
        async with self._database.write():
            for sql, params in (
                ("DELETE FROM unanswered WHERE place = ?", (place,)),
                ("DELETE FROM feedback WHERE place = ?", (place,)),
                ("DELETE FROM questions_asked WHERE place = ?", (place,)),
                ("DELETE FROM kept_answers WHERE place = ?", (place,)),
                (
                    "UPDATE audit_log SET user_id = ? WHERE place = ? AND user_id != ?",
                    (FORGOTTEN_USER, place, FORGOTTEN_USER),
                ),
            ):
                total += await self._database.run(sql, params)
        return total
