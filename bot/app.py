"""Assembles the running bot from its configuration: engine, database, stores, core.

The composition root: every platform (terminal, Discord, Matrix) starts from `open_app`, so
they share one way of opening and, above all, closing resources. Adapters are handed the
parts they use (the core; Matrix also its adapter state), never this `App`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from bot.answers.engine import AnswerEngine, build_engine
from bot.config import Config
from bot.core.activity import ActivityLog
from bot.core.adapter_state import AdapterState
from bot.core.commands import Core
from bot.core.database import Database, open_database
from bot.core.store import SettingsStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class App:
    config: Config
    engine: AnswerEngine
    store: SettingsStore
    activity: ActivityLog
    state: AdapterState
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
    async with open_database(config.database_path) as connection:
        database = Database(connection)
        store = SettingsStore(database)
        activity = ActivityLog(database)
        core = Core(engine, store, activity, config.limits, search_results=config.retrieval.top_k)
        yield App(
            config=config,
            engine=engine,
            store=store,
            activity=activity,
            state=AdapterState(database),
            core=core,
        )
