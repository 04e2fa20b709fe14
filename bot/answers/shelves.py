"""Every place's shelf of added documents, and the engine each place answers from.

A place reads the shared library (unless its admins turned that off) and its own shelf,
never another place's. A place with no shelf of its own answers from the shared engine; one
with a shelf gets its own engine over both, built in a worker thread.

Changes never pause answering: `add`, `remove` and `reindex` build the place's new engine
in a thread while questions keep being answered by the previous one, then swap it in with
one assignment. The shelf's catalogue (`shelf.json`) is replaced only after the new index is
built, so a crash mid-build leaves the previous catalogue and index to load at the next
start. Changes to one shelf are serialized by a lock; different shelves build independently.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bot.answers.assemble import BuildProgress, ShelfEngines, ShelfLibrary
from bot.answers.engine import AnswerEngine
from bot.config import LibraryConfig, RetrievalConfig
from bot.library.catalogue import title_from_filename
from bot.library.formats import Extracted, Kind, Problem, Unreadable
from bot.library.loader import Document
from bot.library.segmentation import Passage
from bot.library.shelf import (
    ShelfEntry,
    ShelfFolder,
    ShelfState,
    new_doc_id,
    passages_key,
    shelf_folder,
)
from bot.library.upload import ReadLimits, read_upload
from bot.retrieval.retriever import EmptyLibraryError

log = logging.getLogger(__name__)

# The place key of the shared shelf: what the operator publishes from the terminal, read
# by every place that reads the shared library.
SHARED_SHELF = "shared"
READERS_AT_ONCE = 2
MAX_TITLE = 200
MAX_NAME = 120
MAX_SOURCE = 300


@dataclass(frozen=True)
class Upload:
    """A file as the platform handed it over: its bytes and the name it was sent under
    (the name only helps tell Markdown from plain text; it is never used as a path)."""

    data: bytes
    name: str = ""
    # What the platform says the file weighs, when it was not downloaded for being too large.
    declared_size: int | None = None


class UploadUnavailable(Exception):
    """The platform could not hand the file over (a download failed); the message says why."""


UploadFetch = Callable[[], Awaitable[Upload]]
"""A platform's download of an attached file, run once the core has acknowledged the
command (a download may take longer than a platform waits for an acknowledgement).
Raises `UploadUnavailable`."""


@dataclass(frozen=True)
class DocumentFields:
    """What an admin said about a document; whatever is missing comes from the file."""

    title: str | None = None
    author: str | None = None
    year: int | None = None
    source: str | None = None


class ShelfError(Exception):
    """A shelf change that cannot be made; `problem` says why (the presenter words it)."""

    def __init__(self, problem: str, detail: str = "") -> None:
        super().__init__(f"{problem}{f': {detail}' if detail else ''}")
        self.problem = problem
        self.detail = detail


SHELF_FULL = "shelf_full"  # detail: the limit in bytes
NOT_ON_SHELF = "not_on_shelf"
NO_PASSAGES = "no_passages"
DAMAGED_SHELF = "damaged_shelf"


@dataclass(frozen=True)
class Added:
    entry: ShelfEntry
    engine: AnswerEngine


@dataclass(frozen=True)
class Removed:
    entry: ShelfEntry


class Shelves:
    """The shelves under `<data_dir>/shelves`, and the engines built over them."""

    def __init__(
        self,
        shared: AnswerEngine,
        data_dir: Path,
        config: LibraryConfig,
        retrieval: RetrievalConfig,
    ) -> None:
        self._retrieval = retrieval
        # The bundled library's engine, under the operator's shared shelf...
        self._bundled = ShelfEngines(shared, retrieval, config.passage_max_chars)
        # ...and the shared library every place reads: the bundled one plus the shared shelf.
        self._builder = self._bundled
        self._data_dir = data_dir
        self._config = config
        self._limits = read_limits(config)
        # (place, reads the shared library) -> the engine questions are answered from now.
        self._engines: dict[tuple[str, bool], AnswerEngine | None] = {}
        self._states: dict[str, ShelfState] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        # Reading workers at once, across places: each may take the memory a file is allowed.
        self._reading = asyncio.Semaphore(READERS_AT_ONCE)

    @property
    def max_upload_bytes(self) -> int:
        return self._limits.max_bytes

    @property
    def shared(self) -> AnswerEngine:
        return self._builder.shared

    def folder(self, place: str) -> ShelfFolder:
        return ShelfFolder(shelf_folder(self._data_dir, place))

    def _lock(self, place: str) -> asyncio.Lock:
        return self._locks.setdefault(place, asyncio.Lock())

    # -- reading -------------------------------------------------------------------------

    async def state(self, place: str) -> ShelfState:
        """The place's committed catalogue (read from disk once, then kept)."""
        state = self._states.get(place)
        if state is None:
            state = await asyncio.to_thread(self._load_state, place)
            self._states[place] = state
        return state

    def _load_state(self, place: str) -> ShelfState:
        folder = self.folder(place)
        try:
            state = folder.load_state()
        except ValueError as error:
            raise ShelfError(DAMAGED_SHELF, str(error)) from None
        removed = folder.prune(state)
        if removed:
            log.warning("%s: removed %d files a change left half-done", place, len(removed))
        return state

    async def engine_for(self, place: str, include_shared: bool) -> AnswerEngine | None:
        """The engine that answers here now; None when the place reads nothing at all.

        Never waits for a change in progress once the place's engine is loaded: questions
        asked during a rebuild are answered by the engine it will replace.
        """
        key = (place, include_shared)
        if key in self._engines:
            return self._engines[key]
        async with self._lock(place):
            if key not in self._engines:
                state = await self.state(place)
                self._engines[key] = await asyncio.to_thread(
                    self._engine_over, place, state, include_shared, None, None
                )
        return self._engines[key]

    async def load_shared(self) -> None:
        """Put the operator's shared shelf (if it holds anything) under every place."""
        async with self._lock(SHARED_SHELF):
            state = await self.state(SHARED_SHELF)
            if state.entries:
                engine = await asyncio.to_thread(
                    self._engine_over, SHARED_SHELF, state, True, None, None
                )
                if engine is not None:
                    self._share(engine)

    def _share(self, engine: AnswerEngine) -> None:
        """Make `engine` the shared library; places' engines built over the old one are
        dropped, and each is built again over the new one when next asked for."""
        self._builder = ShelfEngines(engine, self._retrieval, self._config.passage_max_chars)
        self._engines = {
            key: value for key, value in self._engines.items() if key[0] == SHARED_SHELF
        }

    def _engine_over(
        self,
        place: str,
        state: ShelfState,
        include_shared: bool,
        previous: AnswerEngine | None,
        progress: BuildProgress | None,
    ) -> AnswerEngine | None:
        builder = self._builder
        if place == SHARED_SHELF:
            builder, include_shared = self._bundled, True
        if not state.entries:
            return builder.shared if include_shared else None
        documents = tuple(self._document(place, entry) for entry in state.entries)
        try:
            return builder.build(
                ShelfLibrary(documents, include_shared),
                self.folder(place).index,
                previous,
                progress,
            )
        except EmptyLibraryError:
            return None

    def _document(self, place: str, entry: ShelfEntry) -> Document:
        passages = self.folder(place).load_passages(entry.doc_id, entry.passages_key)
        if passages is None:
            raise ShelfError(DAMAGED_SHELF, f"the passages of {entry.doc_id} are missing")
        return Document(
            entry.info(), passages, shelf="shared" if place == SHARED_SHELF else "place"
        )

    # -- changing --------------------------------------------------------------------------

    async def add(
        self,
        place: str,
        upload: Upload,
        fields: DocumentFields,
        user_id: str,
        include_shared: bool,
        progress: BuildProgress | None = None,
    ) -> Added:
        """Read, clean, store and index a file; raises `Unreadable` or `ShelfError`, and
        then nothing has changed."""
        state = await self.state(place)
        self._check_room(state, len(upload.data))
        async with self._reading:
            extracted = await asyncio.to_thread(read_upload, upload.data, upload.name, self._limits)
        async with self._lock(place):
            state = await self.state(place)
            self._check_room(state, len(upload.data))
            previous = await self._current(place, state, include_shared)
            entry, passages = await asyncio.to_thread(
                self._prepare, place, state, upload, extracted, fields, user_id
            )
            folder = self.folder(place)
            try:
                new_state = ShelfState(entries=(*state.entries, entry))
                engine = await self._commit(place, new_state, include_shared, previous, progress)
            except BaseException:
                # Nothing was committed (the catalogue is saved last): drop the new files.
                await asyncio.to_thread(
                    folder.remove, entry.token, entry.doc_id, entry.passages_key
                )
                raise
        assert engine is not None  # the shelf holds the new document
        log.info("%s: added %s (%d passages) by %s", place, entry.doc_id, len(passages), user_id)
        return Added(entry, engine)

    async def remove(
        self, place: str, doc_id: str, include_shared: bool, progress: BuildProgress | None = None
    ) -> Removed:
        async with self._lock(place):
            state = await self.state(place)
            entry = state.entry(doc_id)
            if entry is None:
                raise ShelfError(NOT_ON_SHELF, doc_id)
            previous = await self._current(place, state, include_shared)
            new_state = ShelfState(entries=tuple(e for e in state.entries if e is not entry))
            await self._commit(place, new_state, include_shared, previous, progress)
        log.info("%s: removed %s", place, doc_id)
        return Removed(entry)

    async def reindex(
        self, place: str, include_shared: bool, progress: BuildProgress | None = None
    ) -> ShelfState:
        """Clean every document again from its stored file (after a cleaning upgrade), and
        rebuild the index; passage ids of a document may change."""
        async with self._lock(place):
            state = await self.state(place)
            previous = await self._current(place, state, include_shared)
            entries = []
            for entry in state.entries:
                data = await asyncio.to_thread(self.folder(place).read, entry.token)
                # The stored name is a token: say Markdown again, which content alone may not.
                name = "upload.md" if entry.kind is Kind.MARKDOWN else ""
                async with self._reading:
                    extracted = await asyncio.to_thread(read_upload, data, name, self._limits)
                entries.append(await asyncio.to_thread(self._reclean, place, entry, extracted))
            new_state = ShelfState(entries=tuple(entries))
            await self._commit(place, new_state, include_shared, previous, progress)
        return self._states[place]

    async def _current(
        self, place: str, state: ShelfState, include_shared: bool
    ) -> AnswerEngine | None:
        key = (place, include_shared)
        if key not in self._engines:
            self._engines[key] = await asyncio.to_thread(
                self._engine_over, place, state, include_shared, None, None
            )
        return self._engines[key]

    async def _commit(
        self,
        place: str,
        state: ShelfState,
        include_shared: bool,
        previous: AnswerEngine | None,
        progress: BuildProgress | None,
    ) -> AnswerEngine | None:
        """Build the engine over `state`, then commit the catalogue and swap the engine in.

        Returns the new engine; None when the place now reads nothing at all.
        """
        shared_before = self._builder
        engine = await asyncio.to_thread(
            self._engine_over, place, state, include_shared, previous, progress
        )
        if engine is None and state.entries:
            raise ShelfError(NO_PASSAGES)
        folder = self.folder(place)
        index = None
        if engine is not None and state.entries:
            index = self._builder.folder_name(engine.library)
        committed = state.model_copy(update={"index": index})
        await asyncio.to_thread(folder.save_state, committed)
        self._states[place] = committed
        # The swap: one assignment each. The other variant (shared library on or off) was
        # built over the old catalogue; it is built again when it is next asked for.
        self._engines[(place, include_shared)] = engine
        self._engines.pop((place, not include_shared), None)
        if place != SHARED_SHELF and self._builder is not shared_before:
            # The operator published meanwhile: this engine was built over the old shared
            # library, so the place's next question builds it again over the new one.
            self._engines.pop((place, include_shared), None)
        if place == SHARED_SHELF and engine is not None:
            self._share(engine)
        await asyncio.to_thread(folder.prune, committed)
        await asyncio.to_thread(folder.prune_indexes, index or "")
        return engine

    def _check_room(self, state: ShelfState, size: int) -> None:
        limit = self._config.shelf_max_bytes
        if state.size + size > limit:
            raise ShelfError(SHELF_FULL, str(limit))

    def _prepare(
        self,
        place: str,
        state: ShelfState,
        upload: Upload,
        extracted: Extracted,
        fields: DocumentFields,
        user_id: str,
    ) -> tuple[ShelfEntry, tuple[Passage, ...]]:
        """Catalogue entry and passages of a new document, its file and passages stored."""
        meta = extracted.metadata
        heading = next((b.text for b in extracted.blocks if b.kind == "heading"), None)
        named = title_from_filename(upload.name) if upload.name else None
        title = _short(fields.title or meta.title or heading or named, MAX_TITLE) or "Untitled"
        author = _short(fields.author or meta.author, MAX_NAME) or "Unknown author"
        year = fields.year if fields.year is not None else meta.year
        source = _short(fields.source or meta.source, MAX_SOURCE) or ""
        builder = self._bundled if place == SHARED_SHELF else self._builder
        taken = {*builder.taken_ids(), *(e.doc_id for e in state.entries)}
        doc_id = new_doc_id(title, taken)
        furniture = [title, author, str(year or ""), meta.title or "", meta.author or ""]
        passages = self._builder.passages(extracted, doc_id, title, furniture)
        if not passages:
            raise Unreadable(Problem.NO_TEXT)
        digest = hashlib.sha256(upload.data).hexdigest()
        key = passages_key(digest, title, self._config.passage_max_chars)
        folder = self.folder(place)
        token = folder.store(upload.data, extracted.kind)
        try:
            folder.save_passages(doc_id, key, passages)
        except BaseException:
            folder.remove(token, doc_id, key)
            raise
        entry = ShelfEntry(
            doc_id=doc_id,
            title=title,
            author=author,
            year=year,
            source=source,
            kind=extracted.kind,
            token=token,
            size=len(upload.data),
            sha256=digest,
            passages_key=key,
            passages=len(passages),
            added_by=user_id,
            added_at=datetime.now(UTC),
        )
        return entry, passages

    def _reclean(self, place: str, entry: ShelfEntry, extracted: Extracted) -> ShelfEntry:
        furniture = [entry.title, entry.author, str(entry.year or "")]
        passages = self._builder.passages(extracted, entry.doc_id, entry.title, furniture)
        key = passages_key(entry.sha256, entry.title, self._config.passage_max_chars)
        key = hashlib.sha256(f"{key} {datetime.now(UTC).isoformat()}".encode()).hexdigest()
        self.folder(place).save_passages(entry.doc_id, key, passages)
        return entry.model_copy(update={"passages_key": key, "passages": len(passages)})


def read_limits(config: LibraryConfig) -> ReadLimits:
    """The worker's bounds for reading one upload, from the library settings."""
    return ReadLimits(
        max_bytes=config.upload_max_bytes,
        seconds=config.upload_read_seconds,
        memory_bytes=config.upload_read_memory_mb * 1_000_000,
    )


def _short(value: str | None, limit: int) -> str | None:
    if value is None:
        return None
    text = " ".join(value.split())
    return text[:limit] or None
