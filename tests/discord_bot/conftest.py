"""The real bot, with the real core and a real SQLite file, against the fake Discord."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from discord_harness import running_bot
from fake_discord import FakeDiscord

from bot.answers.engine import AnswerEngine
from bot.app import App, open_app
from bot.config import Config, DiscordConfig
from bot.discord_bot.client import SamizdatBot


@pytest.fixture
def engine(bundled_engine: AnswerEngine) -> AnswerEngine:
    """The bundled library and its index, built once for the session: tests only read it."""
    return bundled_engine


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return Config(data_dir=tmp_path, discord=DiscordConfig(token="fake-token"))


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        yield server
    assert server.violations == [], "the bot broke Discord's rules"


@pytest.fixture
async def app(config: Config, engine: AnswerEngine) -> AsyncIterator[App]:
    async with open_app(config, engine=engine) as opened:
        yield opened


@pytest.fixture
async def bot(fake: FakeDiscord, app: App) -> AsyncIterator[SamizdatBot]:
    async with running_bot(fake, app) as started:
        yield started
