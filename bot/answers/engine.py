"""The library's question-answering engine: load, index, retrieve, compose.

Built once at start from the configuration and shared by every platform; its methods are
synchronous and pure given the library, with async wrappers that run them in a thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bot.answers.compose import ComposeOptions, Composer
from bot.answers.learning import ModelSet
from bot.answers.model import Answer
from bot.config import AnswerConfig, Config
from bot.library.loader import Library, bundled_library_dir, load_library
from bot.retrieval.index import load_or_build, progress_reporter
from bot.retrieval.retriever import EmptyLibraryError, Hit, Retriever
from bot.retrieval.tokenize import Tokenizer, TokenizerOptions
from bot.semantic.encoder import load_encoder
from bot.semantic.vectors import Progress, load_or_build_semantic


@dataclass(frozen=True)
class IndexReport:
    documents: int
    passages: int
    skipped: tuple[tuple[str, str], ...]
    built_at: datetime
    from_cache: bool
    engine: str = "postings"
    semantic_model: str | None = None  # None: answering with BM25 alone


class AnswerEngine:
    """Answers and searches over one loaded library; shared by every platform."""

    def __init__(
        self,
        library: Library,
        retriever: Retriever,
        composer: Composer,
        report: IndexReport,
        config: AnswerConfig,
    ) -> None:
        self.library = library
        self.retriever = retriever
        self.composer = composer
        self.report = report
        self.config = config
        self.defaults = compose_options(brief=True, strictness="normal", config=config)

    def search(self, query: str, k: int) -> list[Hit]:
        return self.retriever.search(query, k)

    def answer(self, question: str, options: ComposeOptions | None = None) -> Answer:
        return self.composer.compose(question, options or self.defaults)

    async def asearch(self, query: str, k: int) -> list[Hit]:
        return await asyncio.to_thread(self.search, query, k)

    async def aanswer(self, question: str, options: ComposeOptions | None = None) -> Answer:
        return await asyncio.to_thread(self.answer, question, options)


def library_folders(config: Config) -> list[Path]:
    base = config.library.path or bundled_library_dir()
    return [base, *config.library.extra_paths]


def _embedding_progress(what: str, total: int) -> Progress:
    report = progress_reporter(total, noun=what, verb="embedding", every=1_000)
    return lambda done, _: report(done, total)


def build_engine(
    config: Config, folders: Sequence[Path] | None = None, models: ModelSet | None = None
) -> AnswerEngine:
    """Load the library, load or build its index (and embeddings), and assemble the engine.

    Everything an answer needs is loaded here, before any chat connects, so the first
    question costs no more than the others.
    """
    chosen = list(folders or library_folders(config))
    cache = config.data_dir / "index"
    library = load_library(chosen, config.library.passage_max_chars, cache / "library-cache")
    if not library.passages:
        skipped = "; ".join(f"{s.file} {s.reason}" for s in library.skipped)
        raise EmptyLibraryError(
            f"the library has no readable documents in {', '.join(str(f) for f in chosen)}"
            + (f" ({skipped})" if skipped else "")
        )
    r = config.retrieval
    tokenizer = Tokenizer(TokenizerOptions(stemming=r.stemming, stop_words=r.stop_words))
    index = load_or_build(library, r, tokenizer, cache)
    retriever = Retriever(library.passages, index.bm25, tokenizer)
    encoder = load_encoder(r.semantic)
    semantic = (
        load_or_build_semantic(library.passages, encoder, cache, index.key, _embedding_progress)
        if encoder is not None
        else None
    )
    model = (models or ModelSet.load()).for_mode(semantic is not None)
    composer = Composer(library, retriever, r, encoder, semantic, model)
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
    return AnswerEngine(library, retriever, composer, report, config.answers)


def compose_options(
    brief: bool, strictness: str, config: AnswerConfig, max_sources: int = 5
) -> ComposeOptions:
    """A brief answer is the best sentence and the one after it; detailed goes to the max.

    Each quoted sentence is one source, so a place that shows fewer sources gets fewer
    sentences rather than citation markers with nothing listed under them.
    """
    sentences = min(2, config.max_sentences) if brief else config.max_sentences
    return ComposeOptions(
        max_sentences=max(1, min(sentences, max_sources)),
        strictness=strictness,
        closest_sections=config.closest_sections,
    )
