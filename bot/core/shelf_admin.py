"""The `library` admin commands: add, remove, list, show and reindex a place's shelf.

The core has checked the caller is an admin before any of these runs. Every change is
audited in the place's audit log (`library.add`, `library.remove`, `library.reindex`) once
it is made; a refused file changes nothing and is not audited. Only the terminal's operator
may change the shared shelf.
"""

from __future__ import annotations

import logging

from bot.answers.shelves import (
    DAMAGED_SHELF,
    NOT_ON_SHELF,
    SHARED_SHELF,
    SHELF_FULL,
    ShelfError,
    Shelves,
    UploadUnavailable,
)
from bot.core import present as words
from bot.core.database import StorageError
from bot.core.places import CONSOLE_PLACE, Caller, Where
from bot.core.refusals import refuse, storage_refusal
from bot.core.replies import DocumentSummary, Refusal, RefusalReason, Reply, ShelfReply
from bot.core.requests import LibraryAdd, LibraryRemove
from bot.core.store import SettingsStore
from bot.core.text import quote_typed
from bot.library.formats import Unreadable
from bot.library.shelf import ShelfEntry

log = logging.getLogger(__name__)

MAX_DOC_ID = 64
MAX_SHOWN_PATH = 200


class ShelfAdmin:
    """Admins' changes to their place's shelf, through `Shelves`, audited in the store."""

    def __init__(self, shelves: Shelves | None, store: SettingsStore) -> None:
        self._shelves = shelves
        self._store = store

    async def add(
        self, request: LibraryAdd, caller: Caller, where: Where, include_shared: bool
    ) -> Reply:
        shelves, place = self._target(request.shared, where)
        if isinstance(shelves, Refusal):
            return shelves
        if request.not_opened is not None:
            shown = quote_typed(request.reference, MAX_SHOWN_PATH)
            return refuse(RefusalReason.NOT_FOUND, words.cannot_open(shown, request.not_opened))
        limit = shelves.max_upload_bytes
        if request.declared_size is not None and request.declared_size > limit:
            return refuse(RefusalReason.INVALID, words.unreadable("too_large", str(limit)))
        upload = request.upload
        if upload is None and request.fetch is not None:
            try:
                upload = await request.fetch()
            except UploadUnavailable as error:
                return refuse(
                    RefusalReason.NOT_FOUND, words.could_not("fetch the file", str(error))
                )
        if upload is None:
            return refuse(RefusalReason.INVALID, words.NO_FILE)
        if upload.declared_size is not None and upload.declared_size > limit:
            return refuse(RefusalReason.INVALID, words.unreadable("too_large", str(limit)))
        try:
            added = await shelves.add(place, upload, request.fields, caller.user_id, include_shared)
        except Unreadable as error:
            return refuse(RefusalReason.INVALID, words.unreadable(error.problem, error.detail))
        except ShelfError as error:
            return _shelf_refusal(error)
        entry = added.entry
        audited = await self._audit(caller, where, "library.add", None, _audited(entry))
        reply = ShelfReply(change="added", documents=[summary(entry)], shared=request.shared)
        return audited or reply

    async def remove(
        self, request: LibraryRemove, caller: Caller, where: Where, include_shared: bool
    ) -> Reply:
        shelves, place = self._target(request.shared, where)
        if isinstance(shelves, Refusal):
            return shelves
        doc_id = request.doc_id.strip("`'\"<>").lower()[: MAX_DOC_ID + 1]
        try:
            removed = await shelves.remove(place, doc_id, include_shared)
        except ShelfError as error:
            return _shelf_refusal(error)
        entry = removed.entry
        audited = await self._audit(caller, where, "library.remove", _audited(entry), None)
        reply = ShelfReply(change="removed", documents=[summary(entry)], shared=request.shared)
        return audited or reply

    async def list(self, where: Where) -> Reply:
        if self._shelves is None:
            return refuse(RefusalReason.NOT_HERE, words.NO_SHELVES)
        try:
            state = await self._shelves.state(where.place)
        except ShelfError as error:
            return _shelf_refusal(error)
        return ShelfReply(change="listed", documents=[summary(e) for e in state.entries])

    async def show(self, doc_id: str, where: Where) -> Reply:
        if self._shelves is None:
            return refuse(RefusalReason.NOT_HERE, words.NO_SHELVES)
        try:
            state = await self._shelves.state(where.place)
        except ShelfError as error:
            return _shelf_refusal(error)
        wanted = doc_id.strip("`'\"<>").lower()[: MAX_DOC_ID + 1]
        entry = state.entry(wanted)
        if entry is None:
            return _shelf_refusal(ShelfError(NOT_ON_SHELF, wanted))
        return ShelfReply(change="shown", documents=[summary(entry)])

    async def reindex(self, caller: Caller, where: Where, include_shared: bool) -> Reply:
        if self._shelves is None:
            return refuse(RefusalReason.NOT_HERE, words.NO_SHELVES)
        try:
            state = await self._shelves.reindex(where.place, include_shared)
        except ShelfError as error:
            return _shelf_refusal(error)
        except Unreadable as error:
            return refuse(RefusalReason.INVALID, words.unreadable(error.problem, error.detail))
        passages = sum(e.passages for e in state.entries)
        audited = await self._audit(
            caller, where, "library.reindex", None, f"{len(state.entries)} documents, {passages}"
        )
        reply = ShelfReply(change="reindexed", documents=[summary(e) for e in state.entries])
        return audited or reply

    def _target(self, shared: bool, where: Where) -> tuple[Shelves | Refusal, str]:
        """The shelves and the shelf a change is for: the place's own, or (the terminal's
        operator only) the shared one."""
        if self._shelves is None:
            return refuse(RefusalReason.NOT_HERE, words.NO_SHELVES), ""
        if shared:
            if where.place != CONSOLE_PLACE:
                return refuse(RefusalReason.NOT_HERE, words.SHARED_ONLY_IN_TERMINAL), ""
            return self._shelves, SHARED_SHELF
        return self._shelves, where.place

    async def _audit(
        self, caller: Caller, where: Where, what: str, old: str | None, new: str | None
    ) -> Refusal | None:
        """Record the change; the change itself is made, so a failed record is reported."""
        try:
            await self._store.record(where.place, caller.user_id, what, old, new)
        except StorageError as error:
            log.warning("%s: %s not audited: %s", where.place, what, error.reason)
            return storage_refusal(words.SAVE_AUDIT, error)
        return None


def summary(entry: ShelfEntry, shelf: str = "place") -> DocumentSummary:
    return DocumentSummary(
        doc_id=entry.doc_id,
        title=entry.title,
        author=entry.author,
        year=entry.year,
        passages=entry.passages,
        shelf="place" if shelf == "place" else "shared",
        source=entry.source,
        kind=entry.kind.value,
        added_by=entry.added_by,
        added_at=entry.added_at,
    )


def _audited(entry: ShelfEntry) -> str:
    """How a document reads in the audit log: its id and title, short."""
    return f"{entry.doc_id} ({entry.title[:80]})"


def _shelf_refusal(error: ShelfError) -> Refusal:
    if error.problem == SHELF_FULL:
        return refuse(RefusalReason.INVALID, words.shelf_full(error.detail))
    if error.problem == NOT_ON_SHELF:
        return refuse(RefusalReason.NOT_FOUND, words.not_on_shelf(quote_typed(error.detail)))
    if error.problem == DAMAGED_SHELF:
        log.error("shelf damaged: %s", error.detail)
        return refuse(RefusalReason.STORAGE, words.shelf_damaged())
    return refuse(RefusalReason.INVALID, words.unreadable("no_text", ""))
