"""What the Discord adapter tells /readyz and /metrics: gateway state and late acknowledgements."""

from __future__ import annotations

import asyncio

import pytest
from discord_harness import running_bot
from fake_discord import FakeDiscord

from bot.answers.engine import AnswerEngine
from bot.app import App, open_app
from bot.config import Config, DiscordConfig
from bot.discord_bot import run_discord
from bot.observability.health import Readiness

pytestmark = pytest.mark.timeout(30)


async def _discord_ready(readiness: Readiness, wanted: bool = True) -> bool:
    """The "discord" check, once it says `wanted` (or what it says after a few seconds)."""
    for _ in range(100):
        if (await readiness.report()).get("discord") is wanted:
            break
        await asyncio.sleep(0.05)
    return bool((await readiness.report()).get("discord"))


async def test_ready_only_while_the_gateway_is_connected(fake: FakeDiscord, app: App) -> None:
    readiness = Readiness()
    stop = asyncio.Event()
    running = asyncio.create_task(
        run_discord(app.config, app.core, stop=stop, guild_ready_timeout=0.05, readiness=readiness)
    )
    try:
        await fake.wait_until(lambda: fake.dispatched >= 2 and fake.connected)
        assert await _discord_ready(readiness)

        fake.hold_connections()  # the gateway goes away and stays away
        await fake.drop_connection(code=1006)
        await fake.wait_until(lambda: not fake.connected)
        assert not await _discord_ready(readiness, wanted=False)
        fake.release_connections()
        await fake.wait_until(lambda: fake.connected)
        assert await _discord_ready(readiness), "ready again once resumed"
    finally:
        stop.set()
        await asyncio.wait_for(running, 10)
    assert await readiness.report() == {}, "a stopped adapter leaves no check behind"


async def test_a_late_acknowledgement_is_counted(
    tmp_path_factory: pytest.TempPathFactory, engine: AnswerEngine
) -> None:
    config = Config(data_dir=tmp_path_factory.mktemp("late"), discord=DiscordConfig())
    async with FakeDiscord(ack_deadline=0.0) as fake, open_app(config, engine=engine) as app:
        async with running_bot(fake, app):
            await fake.slash("help")
            await fake.wait_until(lambda: fake.violations != [])
            late = app.metrics.discord_late_acknowledgements
            for _ in range(100):
                if late._value.get() >= 1:
                    break
                await asyncio.sleep(0.05)
        fake.violations.clear()  # expected here; the fixture would fail on them
    assert late._value.get() == 1
