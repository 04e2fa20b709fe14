"""One Synapse per test session, started on 127.0.0.1; each test brings its own users and rooms."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from matrix_harness import Synapse

from bot.answers.engine import AnswerEngine


@pytest.fixture(scope="session")
def synapse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synapse]:
    server = Synapse(tmp_path_factory.mktemp("synapse"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def engine(bundled_engine: AnswerEngine) -> AnswerEngine:
    """The bundled library, indexed once for the whole test session."""
    return bundled_engine


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "bot"
