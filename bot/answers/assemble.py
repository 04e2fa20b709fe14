"""Assembling an answer engine over a loaded library, and over a place's shelf.

`assemble_engine` indexes a library (BM25, and embeddings when the semantic layer is on)
and puts the composer together; `bot.app.build_engine` calls it for the shared library at
start. `ShelfEngines` builds the engine of a place that has its own shelf: the shared
library's documents (unless the place left them out) and the shelf's, indexed together.

A place's engine reuses everything the shared engine already computed: its documents and
cleaned passages (held in memory), its embedding model and answer model, and every vector
it holds, looked up by the hash of the text, so only the shelf's own sentences are ever
embedded, and only once each (the previous engine of the place lends its vectors to the
next). What this costs for a very large shared library is in the README ("Shelves").
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from bot.answers.compose import Composer
from bot.answers.engine import AnswerEngine, IndexReport
from bot.answers.learning import AnswerModel
from bot.config import AnswerConfig, RetrievalConfig
from bot.library._cleaning_common import Vocabulary
from bot.library.formats import Extracted
from bot.library.loader import Document, Library
from bot.library.segmentation import Passage
from bot.library.shelf import passages_of, words_of
from bot.retrieval.index import index_key, load_or_build
from bot.retrieval.retriever import EmptyLibraryError, Retriever
from bot.retrieval.tokenize import Tokenizer, TokenizerOptions
from bot.semantic.encoder import Encoder
from bot.semantic.vectors import KnownVectors, known_from, load_or_build_semantic, merge_known

log = logging.getLogger(__name__)

BuildProgress = Callable[[str, int, int], None]
"""Hears how a build goes: a stage ("indexing", "embedding"), done so far, and the total."""


def assemble_engine(
    library: Library,
    retrieval: RetrievalConfig,
    answers: AnswerConfig,
    cache_dir: Path,
    encoder: Encoder | None,
    model_for: Callable[[bool], AnswerModel],
    known: KnownVectors | None = None,
    progress: BuildProgress | None = None,
) -> AnswerEngine:
    """Index `library` (loading what `cache_dir` holds for it) and put the engine together."""
    if not library.passages:
        raise EmptyLibraryError("the library produced no passages")
    tokenizer = Tokenizer(
        TokenizerOptions(stemming=retrieval.stemming, stop_words=retrieval.stop_words)
    )
    indexing = None if progress is None else (lambda done, total: progress("indexing", done, total))
    index = load_or_build(library, retrieval, tokenizer, cache_dir, indexing)
    retriever = Retriever(library.passages, index.bm25, tokenizer)
    semantic = None
    if encoder is not None:
        embedding = None
        if progress is not None:
            heard = progress

            def embedding(what: str, total: int) -> Callable[[int, int], None]:
                return lambda done, of: heard("embedding", done, of)

        semantic = load_or_build_semantic(
            library.passages, encoder, cache_dir, index.key, embedding, known=known
        )
    model = model_for(semantic is not None)
    composer = Composer(library, retriever, retrieval, encoder, semantic, model)
    composer.warm_up()
    report = IndexReport(
        documents=len(library.documents),
        passages=len(library.passages),
        skipped=tuple((s.file, s.reason) for s in library.skipped),
        built_at=index.built_at,
        from_cache=index.loaded_from_cache,
        engine=retriever.engine_name,
        semantic_model=encoder.name if semantic is not None and encoder is not None else None,
    )
    return AnswerEngine(library, retriever, composer, report, answers)


@dataclass(frozen=True)
class ShelfLibrary:
    """What a place's engine is built from: its shelf's documents, and whether it reads the
    shared library too."""

    documents: tuple[Document, ...]
    include_shared: bool = True


class ShelfEngines:
    """Builds places' engines on top of the shared one; every method is synchronous and
    CPU-bound, for a worker thread."""

    def __init__(self, shared: AnswerEngine, retrieval: RetrievalConfig, passage_max_chars: int):
        self.shared = shared
        self._retrieval = retrieval
        self._passage_max_chars = passage_max_chars

    @cached_property
    def _shared_known(self) -> KnownVectors | None:
        index = self.shared.composer.semantic_index
        if index is None:
            return None
        return known_from(index, self.shared.library.passages)

    @cached_property
    def _shared_words(self) -> list[str]:
        return [passage.text for passage in self.shared.library.passages]

    def taken_ids(self) -> frozenset[str]:
        """Document ids of the shared library, which no shelf document may reuse."""
        return frozenset(d.info.id for d in self.shared.library.documents)

    def passages(
        self, extracted: Extracted, doc_id: str, title: str, furniture: Collection[str]
    ) -> tuple[Passage, ...]:
        """A new document's passages, cleaned by the shared library's words and its own."""
        vocabulary = Vocabulary.from_texts([*self._shared_words, words_of(extracted)])
        return passages_of(extracted, doc_id, title, furniture, vocabulary, self._passage_max_chars)

    def library_of(self, shelf: ShelfLibrary) -> Library:
        """The place's library: the shared documents (if read here) and then the shelf's."""
        shared = self.shared.library
        taken = {d.info.id for d in shared.documents} if shelf.include_shared else set()
        own = []
        for document in shelf.documents:
            if document.info.id in taken:
                log.warning(
                    "shelf document %s has a shared document's id; left out", document.info.id
                )
                continue
            taken.add(document.info.id)
            own.append(document)
        digest = hashlib.sha256(
            f"shared {shared.fingerprint if shelf.include_shared else '-'}".encode()
        )
        for document in own:
            digest.update(document.info.model_dump_json().encode())
            for passage in document.passages:
                digest.update(f"{passage.id}\x00{passage.text}\x01".encode())
        documents = (*(shared.documents if shelf.include_shared else ()), *own)
        return Library(documents, (), digest.hexdigest())

    def folder_name(self, library: Library) -> str:
        """The index folder of one build: named by its key, so builds never share files."""
        return index_key(library, self._retrieval)[:32]

    def build(
        self,
        shelf: ShelfLibrary,
        index_root: Path,
        previous: AnswerEngine | None = None,
        progress: BuildProgress | None = None,
    ) -> AnswerEngine:
        """The place's engine, indexed under `index_root/<key>`; raises EmptyLibraryError
        for a place that reads nothing at all."""
        library = self.library_of(shelf)
        lent = None
        if previous is not None and previous.composer.semantic_index is not None:
            lent = known_from(previous.composer.semantic_index, previous.library.passages)
        shared = self.shared
        return assemble_engine(
            library,
            self._retrieval,
            shared.config,
            index_root / self.folder_name(library),
            shared.composer.encoder,
            lambda semantic: shared.composer.model,
            known=merge_known(self._shared_known, lent),
            progress=progress,
        )
