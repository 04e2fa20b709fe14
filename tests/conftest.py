"""Fixtures shared by the whole suite: the bundled library's engine, a config in tmp_path,
one Synapse for every test folder that talks to Matrix, and one PostgreSQL server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from postgres_harness import PostgresServer

from bot.answers.engine import AnswerEngine
from bot.app import App, build_engine, open_app
from bot.config import Config, RetrievalConfig

if TYPE_CHECKING:
    from matrix_harness import Synapse


PLAIN = RetrievalConfig(semantic="off")


@pytest.fixture(scope="session")
def bundled_engine(tmp_path_factory: pytest.TempPathFactory) -> AnswerEngine:
    """The engine over the bundled library, built once for the session (read-only)."""
    return build_engine(Config(data_dir=tmp_path_factory.mktemp("engine")))


@pytest.fixture(scope="session")
def plain_engine(tmp_path_factory: pytest.TempPathFactory) -> AnswerEngine:
    """The bundled library ranked by BM25 alone, built once (read-only): for tests that add
    documents to shelves, where embedding each one would cost seconds and is not the point."""
    return build_engine(Config(data_dir=tmp_path_factory.mktemp("plain"), retrieval=PLAIN))


@pytest.fixture
async def plain_app(tmp_path: Path, plain_engine: AnswerEngine) -> AsyncIterator[App]:
    """An app over `plain_engine`, with its own data directory (and so its own shelves)."""
    config = Config(data_dir=tmp_path / "data", retrieval=PLAIN)
    async with open_app(config, engine=plain_engine) as app:
        yield app


@pytest.fixture
def tmp_config(tmp_path: Path) -> Config:
    return Config(data_dir=tmp_path / "data")


@pytest.fixture
async def console_app(tmp_config: Config, bundled_engine: AnswerEngine) -> AsyncIterator[App]:
    async with open_app(tmp_config, engine=bundled_engine) as app:
        yield app


@pytest.fixture(scope="session")
def synapse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synapse]:
    """One Synapse on 127.0.0.1 for the session; each test brings its own users and rooms."""
    from matrix_harness import Synapse  # on the path of the folders that use it

    server = Synapse(tmp_path_factory.mktemp("synapse"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One PostgreSQL server on 127.0.0.1 for the session; each test makes its own database."""
    server = PostgresServer()
    server.start()
    try:
        yield server
    finally:
        server.cleanup()
