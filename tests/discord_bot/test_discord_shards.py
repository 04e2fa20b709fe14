"""Sharded Discord: processes with disjoint shard ranges answer their own servers only, and
take IDENTIFY turns by start bucket through the shared database."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fake_shards import ShardedDiscord
from postgres_harness import PostgresServer
from pydantic import SecretStr

from bot.__main__ import _parser, _with_shards
from bot.answers.engine import AnswerEngine
from bot.app import App, open_app
from bot.config import Config, ConfigError, DiscordConfig
from bot.discord_bot import run_discord
from bot.discord_bot.shards import ShardedSamizdatBot
from bot.observability.health import Readiness

pytestmark = pytest.mark.timeout(60)

SPACING = 0.4  # Discord's is 5 s; what matters is that turns are kept, not their length
QUESTION = [{"name": "question", "type": 3, "value": "When did the Kuzbass colony operate?"}]


@contextlib.asynccontextmanager
async def sharded_bot(fake: ShardedDiscord, app: App) -> AsyncIterator[ShardedSamizdatBot]:
    """One process's bot over its shards, connected until every one of them is ready."""
    bot = ShardedSamizdatBot(
        app.config, app.core, turns=app.locks, identify_spacing=SPACING, guild_ready_timeout=0.05
    )
    await bot.login(fake.token)
    task = asyncio.create_task(bot.connect())
    try:
        for _ in range(200):
            if task.done():
                task.result()
            if await bot.gateway_connected():
                break
            await asyncio.sleep(0.05)
        assert await bot.gateway_connected(), "the shards never became ready"
        yield bot
    finally:
        await bot.close()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _questions(app: App) -> float:
    return sum(
        sample.value
        for family in app.metrics.registry.collect()
        if family.name == "samizdat_questions"
        for sample in family.samples
        if sample.name == "samizdat_questions_total"
    )


async def test_two_processes_answer_their_own_servers_and_take_identify_turns(
    postgres: PostgresServer, tmp_path: Path, engine: AnswerEngine
) -> None:
    url = SecretStr(postgres.new_database())

    def process(name: str, shards: str) -> Config:
        discord = DiscordConfig(token=SecretStr("fake-token"), shards=shards, shard_count=4)
        return Config(data_dir=tmp_path / name, database_url=url, discord=discord)

    async with (
        ShardedDiscord(shard_count=4, max_concurrency=2, identify_spacing=SPACING) as fake,
        open_app(process("low", "0-1"), engine=engine) as low,
        open_app(process("high", "2-3"), engine=engine) as high,
    ):
        async with sharded_bot(fake, low), sharded_bot(fake, high):
            assert fake.connected_shards == {0, 1, 2, 3}
            for shard, expected in ((0, low), (3, high), (1, low), (2, high)):
                before = (_questions(low), _questions(high))
                record = await fake.slash_in(fake.guilds[shard], "ask", QUESTION)
                [reply] = await fake.wait_for_reply(record)
                assert reply["embeds"], reply
                after = (_questions(low), _questions(high))
                answered_by = [a - b for a, b in zip(after, before, strict=True)]
                assert answered_by == ([1, 0] if expected is low else [0, 1]), shard

            # A direct message arrives on shard 0, so the process that runs it answers.
            asked_low = _questions(low)
            dm = await fake.slash_in(None, "ask", QUESTION)
            await fake.wait_for_reply(dm)
            assert _questions(low) == asked_low + 1

        violations = list(fake.violations)
        fake.violations.clear()
    assert violations == [], "IDENTIFYs must keep Discord's spacing in each start bucket"
    shards = sorted(shard for shard, _ in fake.shard_identifies)
    assert shards == [0, 1, 2, 3]
    assert {tuple(i["shard"]) for i in fake.identifies} == {(s, 4) for s in range(4)}


def test_shards_on_the_command_line_are_checked_like_the_configuration() -> None:
    args = _parser().parse_args(["run", "discord", "--shards", "0-3", "--shard-count", "16"])
    config = _with_shards(Config(), args)
    assert config.discord.shard_ids == [0, 1, 2, 3] and config.discord.shard_count == 16
    for wrong in (["--shards", "0-3"], ["--shards", "0-16", "--shard-count", "16"]):
        args = _parser().parse_args(["run", "discord", *wrong])
        with pytest.raises(ConfigError, match="shard"):
            _with_shards(Config(), args)


async def test_samizdat_run_discord_with_shards_runs_exactly_those(
    tmp_path: Path, engine: AnswerEngine
) -> None:
    """The CLI's path: run_discord picks the sharded bot and the app's locks for turns."""
    discord = DiscordConfig(token=SecretStr("fake-token"), shards="1-2", shard_count=3)
    config = Config(data_dir=tmp_path, discord=discord)
    readiness = Readiness()
    stop = asyncio.Event()
    async with (
        ShardedDiscord(shard_count=3, max_concurrency=3, identify_spacing=SPACING) as fake,
        open_app(config, engine=engine) as app,
    ):
        running = asyncio.create_task(
            run_discord(
                config,
                app.core,
                stop=stop,
                guild_ready_timeout=0.05,
                readiness=readiness,
                locks=app.locks,
            )
        )
        try:
            for _ in range(200):
                if (await readiness.report()).get("discord"):
                    break
                await asyncio.sleep(0.05)
            assert await readiness.report() == {"discord": True}
            assert fake.connected_shards == {1, 2}
        finally:
            stop.set()
            await asyncio.wait_for(running, 15)
    assert fake.violations == []
    assert sorted(shard for shard, _ in fake.shard_identifies) == [1, 2]
