"""Start-up failures people can fix themselves, turned into one-line messages."""

from __future__ import annotations

from bot.answers.learning import ModelFileError
from bot.core.database import DatabaseError
from bot.core.exclusive import AlreadyRunningError
from bot.library.catalogue import CatalogueError
from bot.retrieval.retriever import EmptyLibraryError
from bot.semantic.encoder import SemanticUnavailableError
from bot.startup import StartupError


def describe_startup_error(exc: BaseException) -> str | None:
    """The message for a known, fixable failure; None for a bug, which keeps its traceback."""
    if isinstance(
        exc,
        StartupError
        | DatabaseError
        | AlreadyRunningError
        | CatalogueError
        | ModelFileError
        | SemanticUnavailableError,
    ):
        return str(exc)
    if isinstance(exc, EmptyLibraryError):
        return f"{exc}; check library.path and library.extra_paths in the configuration"
    return None
