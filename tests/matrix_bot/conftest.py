"""Each test brings its own users and rooms to the session's Synapse (tests/conftest.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from matrix_harness import Human, Login, Synapse, bot_config, login_human

from bot.answers.engine import AnswerEngine
from bot.config import Config


@pytest.fixture(scope="session")
def engine(bundled_engine: AnswerEngine) -> AnswerEngine:
    """The bundled library, indexed once for the whole test session."""
    return bundled_engine


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "bot"


@pytest.fixture
def bot_id(synapse: Synapse) -> str:
    """A newly registered user for this test's bot: no session, no rooms, no sync token."""
    return synapse.register("bot")


@pytest.fixture
def config(data_dir: Path, synapse: Synapse, bot_id: str) -> Config:
    """The bot's config with the adapter's defaults; tests of other settings build their own."""
    return bot_config(data_dir, synapse, bot_id)


@pytest.fixture
async def login(synapse: Synapse) -> AsyncIterator[Login]:
    """Logs in newly registered people; their clients are closed after the test."""
    people: list[Human] = []

    async def log_in(store_dir: Path | None = None, prefix: str = "human") -> Human:
        person = await login_human(synapse, store_dir=store_dir, prefix=prefix)
        people.append(person)
        return person

    try:
        yield log_in
    finally:
        for person in people:
            await person.close()


@pytest.fixture
async def human(login: Login) -> Human:
    """A newly registered person without encryption, closed after the test."""
    return await login()
