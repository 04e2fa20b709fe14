"""Assembles the running bot from its configuration: engine, database, command core.

Every platform (terminal, Discord, Matrix) starts from `open_app`, so they share one way of
opening and, above all, closing resources.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from bot.answers.engine import AnswerEngine, build_engine
from bot.config import Config
from bot.core.commands import Core
from bot.core.store import SettingsStore, open_database

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class App:
    config: Config
    engine: AnswerEngine
    store: SettingsStore
    core: Core


@asynccontextmanager
async def open_app(config: Config, engine: AnswerEngine | None = None) -> AsyncIterator[App]:
    """Build (or reuse) the engine, open the database, and close it again on the way out."""
    if engine is None:
        engine = await asyncio.to_thread(build_engine, config)
    log.info(
        "library: %d documents, %d passages (index %s)",
        engine.report.documents,
        engine.report.passages,
        "loaded" if engine.report.from_cache else "built",
    )
    async with open_database(config.database_path) as db:
        store = SettingsStore(db)
        core = Core(engine, store, config.limits, search_results=config.retrieval.top_k)
        yield App(config=config, engine=engine, store=store, core=core)
