"""What an answer's buttons come back for, on any process: its passages, its question.

The core keeps an answer when an adapter asks (Discord does, to put its number on buttons)
and gives it back with its passages rebuilt from the library, so nothing but numbers travels
in a button and nothing lives only in one process's memory.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.answers.model import RetrievedPassage, retrieved_passage
from bot.core.database import StorageError
from bot.core.kept_answers import KeptAnswer, KeptAnswers
from bot.core.places import Caller, Where
from bot.core.replies import AnswerReply
from bot.library.loader import Library

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RecalledAnswer:
    kept: KeptAnswer
    passages: list[RetrievedPassage]  # those still in the library, in rank order


class Followups:
    """Keeps answers for their buttons, and recalls them when a button is clicked."""

    def __init__(
        self, kept: KeptAnswers, library_of: Callable[[str], Awaitable[Library | None]]
    ) -> None:
        """`library_of(place)` is the library the place's questions are answered from now
        (its own shelf and, if it reads it, the shared one); None when it reads nothing."""
        self._kept = kept
        self._library_of = library_of

    async def keep(self, reply: AnswerReply, caller: Caller, where: Where) -> int | None:
        """The answer's number for its buttons; None when it could not be saved (the answer
        then goes out without buttons rather than with buttons that cannot work)."""
        try:
            return await self._kept.keep(where.place, caller.user_id, reply.answer)
        except StorageError as error:
            log.warning("%s: answer kept without buttons: %s", where.place, error.reason)
            return None

    async def recall(self, answer_id: int) -> RecalledAnswer | None:
        """The kept answer and its passages; None once it is gone (or unreadable now)."""
        try:
            kept = await self._kept.get(answer_id)
        except StorageError as error:
            log.warning("a kept answer could not be read: %s", error.reason)
            return None
        if kept is None:
            return None
        library = await self._library_of(kept.place)
        passages = [
            retrieved_passage(library, passage, score)
            for passage_id, score in kept.passages
            # A passage gone from the library since (a document removed) is left out.
            if library is not None and (passage := library.passage(passage_id)) is not None
        ]
        return RecalledAnswer(kept=kept, passages=passages)
