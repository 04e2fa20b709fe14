"""Fixtures shared by the whole suite: the bundled library's engine, a config in tmp_path."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.answers.engine import AnswerEngine, build_engine
from bot.app import App, open_app
from bot.config import Config


@pytest.fixture(scope="session")
def bundled_engine(tmp_path_factory: pytest.TempPathFactory) -> AnswerEngine:
    """The engine over the bundled library, built once for the session (read-only)."""
    return build_engine(Config(data_dir=tmp_path_factory.mktemp("engine")))


@pytest.fixture
def tmp_config(tmp_path: Path) -> Config:
    return Config(data_dir=tmp_path / "data")


@pytest.fixture
async def console_app(tmp_config: Config, bundled_engine: AnswerEngine) -> AsyncIterator[App]:
    async with open_app(tmp_config, engine=bundled_engine) as app:
        yield app
