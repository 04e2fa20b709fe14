"""What an answer's buttons come back for, on any process: its passages, its question.

The core keeps an answer when an adapter asks (Discord does, to put its number on buttons)
and gives it back with its passages rebuilt from the library, so nothing but numbers travels
in a button and nothing lives only in one process's memory.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.answers.engine import AnswerEngine
from bot.answers.model import RetrievedPassage
from bot.core.database import StorageError
from bot.core.kept_answers import KeptAnswer, KeptAnswers
from bot.core.places import Caller, Where
from bot.core.replies import AnswerReply

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RecalledAnswer:
    kept: KeptAnswer
    passages: list[RetrievedPassage]  # those still in the library, in rank order


class Followups:
    """Keeps answers for their buttons, and recalls them when a button is clicked."""

    def __init__(self, engine: AnswerEngine, kept: KeptAnswers) -> None:
        self._engine = engine
        self._kept = kept

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
        library = self._engine.library
        passages = []
        for passage_id, score in kept.passages:
            passage = library.passage(passage_id)
            if passage is None:  # the library changed since
                continue
            info = library.document(passage.doc_id).info
            passages.append(
                RetrievedPassage(
                    passage_id=passage.id,
                    doc_id=passage.doc_id,
                    title=info.title,
                    author=info.author,
                    section=passage.section,
                    score=score,
                    text=passage.text,
                )
            )
        return RecalledAnswer(kept=kept, passages=passages)
