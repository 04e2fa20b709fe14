"""Assembles the running bot from its configuration: engine, database, stores, core.

`build_engine` loads the library, its index, embeddings and answer models; `open_app` adds
the database and the core around it.

The composition root: every platform (terminal, Discord, Matrix) starts from `open_app`, so
they share one way of opening and, above all, closing resources. Adapters are handed the
parts they use (the core; Matrix also its adapter state), never this `App`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from bot.answers.assemble import assemble_engine
from bot.answers.engine import AnswerEngine
from bot.answers.learning import ModelSet
from bot.answers.shelves import Shelves
from bot.config import Config
from bot.core.activity import ActivityLog
from bot.core.adapter_state import AdapterState
from bot.core.commands import Core
from bot.core.database import Database, open_database
from bot.core.exclusive import FileLocks, ProcessLocks
from bot.core.kept_answers import KeptAnswers
from bot.core.limits import Limiter, SharedRateLimiter
from bot.core.postgres import PostgresLocks, open_postgres
from bot.core.storage import Storage
from bot.core.store import SettingsStore
from bot.library.loader import bundled_library_dir, load_library
from bot.observability.health import Readiness
from bot.observability.metrics import Metrics
from bot.retrieval.index import progress_reporter
from bot.retrieval.retriever import EmptyLibraryError
from bot.semantic.encoder import load_encoder

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class App:
    config: Config
    engine: AnswerEngine
    store: SettingsStore
    activity: ActivityLog
    state: AdapterState
    core: Core
    metrics: Metrics
    readiness: Readiness
    locks: ProcessLocks


def library_folders(config: Config) -> list[Path]:
    base = config.library.path or bundled_library_dir()
    return [base, *config.library.extra_paths]


class _EmbeddingLog:
    """Progress while the shared library is embedded: a bar on a terminal, else log lines.

    One embedding run (passages, sentences, pairs) after another, each with its own total.
    """

    def __init__(self) -> None:
        self._total = -1
        self._report: Callable[[int, int], None] = lambda done, total: None

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage != "embedding":
            return
        if total != self._total:
            self._total = total
            self._report = progress_reporter(total, noun="texts", verb="embedding", every=1_000)
        self._report(done, total)


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
    chosen_models = models or ModelSet.load()
    return assemble_engine(
        library,
        config.retrieval,
        config.answers,
        cache,
        load_encoder(config.retrieval.semantic),
        chosen_models.for_mode,
        progress=_EmbeddingLog(),
    )


@asynccontextmanager
async def open_app(
    config: Config,
    engine: AnswerEngine | None = None,
    *,
    metrics: Metrics | None = None,
    readiness: Readiness | None = None,
) -> AsyncIterator[App]:
    """Build (or reuse) the engine, open the database, and close it again on the way out.

    `metrics` and `readiness` are the entry point's (fresh ones otherwise): the index and the
    database are registered with them here, the adapters add their own checks.
    """
    metrics = metrics or Metrics()
    readiness = readiness or Readiness()
    if engine is None:
        engine = await asyncio.to_thread(build_engine, config)
    log.info(
        "library: %d documents, %d passages (index %s)",
        engine.report.documents,
        engine.report.passages,
        "loaded" if engine.report.from_cache else "built",
    )
    report = engine.report
    metrics.index_loaded(report.documents, report.passages, report.built_at)
    async with _open_storage(config) as (storage, locks, limiter):
        store = SettingsStore(storage)
        activity = ActivityLog(storage)
        shelves = Shelves(engine, config.data_dir, config.library, config.retrieval)
        await shelves.load_shared()
        core = Core(
            engine,
            store,
            activity,
            config.limits,
            rate_limiter=limiter,
            search_results=config.retrieval.top_k,
            metrics=metrics,
            kept_answers=KeptAnswers(
                storage, lifetime=timedelta(seconds=config.discord.view_timeout_seconds)
            ),
            shelves=shelves,
        )
        loaded = engine

        async def index_loaded() -> bool:
            return loaded.report.passages > 0

        readiness.add("index", index_loaded)
        readiness.add("database", storage.reachable)
        try:
            yield App(
                config=config,
                engine=engine,
                store=store,
                activity=activity,
                state=AdapterState(storage),
                core=core,
                metrics=metrics,
                readiness=readiness,
                locks=locks,
            )
        finally:
            readiness.remove("database")
            readiness.remove("index")


@asynccontextmanager
async def _open_storage(
    config: Config,
) -> AsyncIterator[tuple[Storage, ProcessLocks, Limiter | None]]:
    """The stores' database, and the locks and flood limits that go with it.

    By default everything is in the one SQLite file and the limits in memory. With a
    PostgreSQL `database_url`, settings, logs, limits, locks and the adapters' own state
    (Matrix's sync token, outbox and handled events) are there, shared by every process.
    """
    url = config.postgres_url
    if url is None:
        async with open_database(config.database_path) as connection:
            files = FileLocks(config.database_path)
            try:
                yield Database(connection), files, None
            finally:
                files.close()
        return
    async with open_postgres(url) as shared:
        limiter = SharedRateLimiter(shared, config.limits.place_questions_per_minute)
        locks = PostgresLocks(url)
        try:
            yield shared, locks, limiter
        finally:
            locks.close()
