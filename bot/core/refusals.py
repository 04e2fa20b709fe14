"""Building refusals: the reason a request is declined, with its words from the presenter."""

from __future__ import annotations

from bot.core import present as words
from bot.core.database import StorageError
from bot.core.parse import MAX_ADMIN_ARGUMENTS
from bot.core.replies import Refusal, RefusalReason


def refuse(reason: RefusalReason, message: str) -> Refusal:
    return Refusal(reason=reason, message=message)


def storage_refusal(doing: str, error: StorageError) -> Refusal:
    """Tell the person what the database could not do and why; the bot carries on."""
    return refuse(RefusalReason.STORAGE, words.could_not(doing, error.reason))


def arguments_too_long(length: int) -> Refusal:
    return refuse(RefusalReason.TOO_LONG, words.arguments_too_long(length, MAX_ADMIN_ARGUMENTS))
