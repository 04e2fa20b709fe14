"""The library's question-answering engine: retrieve and compose over a loaded library.

Assembled once at start (`bot.app.build_engine`) and shared by every platform; its methods
are synchronous and pure given the library, with async wrappers that run them in a thread.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime

from bot.answers.compose import MAX_QUOTES, ComposeOptions, Composer
from bot.answers.model import Answer
from bot.config import AnswerConfig
from bot.library.loader import Library
from bot.retrieval.retriever import Hit, Retriever


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

    def answer_timed(
        self, question: str, options: ComposeOptions | None = None
    ) -> tuple[Answer, float]:
        """The answer, and the seconds spent finding its candidate passages (for metrics)."""
        started = time.perf_counter()
        prepared = self.composer.prepare(question)
        candidates = self.composer.candidates(prepared)
        retrieval = time.perf_counter() - started
        answer = self.composer.compose_prepared(prepared, candidates, options or self.defaults)
        return answer, retrieval

    async def asearch(self, query: str, k: int) -> list[Hit]:
        return await asyncio.to_thread(self.search, query, k)

    async def aanswer(self, question: str, options: ComposeOptions | None = None) -> Answer:
        return await asyncio.to_thread(self.answer, question, options)

    async def aanswer_timed(
        self, question: str, options: ComposeOptions | None = None
    ) -> tuple[Answer, float]:
        return await asyncio.to_thread(self.answer_timed, question, options)


def compose_options(
    brief: bool, strictness: str, config: AnswerConfig, max_sources: int = 5
) -> ComposeOptions:
    """A brief answer quotes runs of up to two sentences; a detailed one up to the max.

    Each quote is one source, so a place that shows a single source gets a single quote
    rather than a citation marker with nothing listed under it.
    """
    sentences = min(2, config.max_sentences) if brief else config.max_sentences
    return ComposeOptions(
        max_sentences=sentences,
        max_quotes=min(MAX_QUOTES, max_sources),
        strictness=strictness,
        closest_sections=config.closest_sections,
    )
