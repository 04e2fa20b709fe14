"""Starting and stopping: missing or rejected tokens, Discord out of reach, clean shutdown,
the token kept secret."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import discord.http
import pytest
from aiohttp import web
from fake_discord import FakeDiscord

from bot.__main__ import _run_platforms
from bot.answers.engine import AnswerEngine
from bot.app import App, open_app
from bot.config import Config, DiscordConfig
from bot.discord_bot import DiscordSetupError, run_discord, sync_commands
from bot.errors import describe_startup_error

pytestmark = pytest.mark.timeout(30)


async def test_no_token_stops_with_one_line_naming_the_variable(app: App) -> None:
    config = app.config.model_copy(update={"discord": DiscordConfig()})
    with pytest.raises(DiscordSetupError) as raised:
        await run_discord(config, app.core)
    message = str(raised.value)
    assert "SAMIZDAT_DISCORD__TOKEN" in message and "\n" not in message
    assert describe_startup_error(raised.value) == message  # the CLI prints it as it is

    with pytest.raises(DiscordSetupError, match="SAMIZDAT_DISCORD__TOKEN"):
        await sync_commands(config, guild_id=None)


async def test_a_blank_token_counts_as_missing(app: App) -> None:
    config = app.config.model_copy(update={"discord": DiscordConfig(token="   ")})
    with pytest.raises(DiscordSetupError, match="No Discord bot token"):
        await run_discord(config, app.core)


@pytest.fixture
def unreachable(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Discord's API at a local port where nothing listens: a machine without network.

    The port stays bound (not listening) for the test, so no other process can take it.
    """
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        base = f"http://127.0.0.1:{held.getsockname()[1]}/api/v10"
        monkeypatch.setattr(discord.http.Route, "BASE", base)
        yield base


async def test_without_network_run_and_sync_stop_with_one_line(unreachable: str, app: App) -> None:
    port = unreachable.split(":")[2].split("/")[0]
    with pytest.raises(DiscordSetupError) as running:
        await run_discord(app.config, app.core, guild_ready_timeout=0.05)
    with pytest.raises(DiscordSetupError) as syncing:
        await sync_commands(app.config, guild_id=None)

    for raised in (running, syncing):
        message = str(raised.value)
        assert message.startswith(f"cannot reach Discord at 127.0.0.1:{port}: Connection refused")
        assert "\n" not in message
        assert describe_startup_error(raised.value) == message


@pytest.fixture
async def outage(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[None]:
    """Discord's API answering 503 to everything, as during an outage."""

    async def unavailable(_: web.Request) -> web.Response:
        return web.json_response({"message": "upstream unavailable"}, status=503)

    server = web.Application()
    server.router.add_route("*", "/{tail:.*}", unavailable)
    runner = web.AppRunner(server)
    await runner.setup()
    listening = socket.create_server(("127.0.0.1", 0))
    await web.SockSite(runner, listening).start()
    port = listening.getsockname()[1]
    monkeypatch.setattr(discord.http.Route, "BASE", f"http://127.0.0.1:{port}/api/v10")
    yield
    await runner.cleanup()


async def test_an_outage_at_start_stops_with_one_line(outage: None, app: App) -> None:
    with pytest.raises(DiscordSetupError) as raised:
        await sync_commands(app.config, guild_id=None)
    assert str(raised.value) == "Discord is not answering (HTTP 503): try again in a few minutes."


# The real command in a real process; only where discord.py looks for Discord is changed.
_CLI = "import sys, discord.http; discord.http.Route.BASE = sys.argv[1]; " + (
    "from bot.__main__ import main; sys.exit(main(sys.argv[2:]))"
)


@pytest.mark.parametrize("command", [["discord", "sync"], ["run", "discord"]])
def test_samizdat_without_network_ends_with_one_line_and_no_traceback(
    unreachable: str, tmp_path: Path, command: list[str]
) -> None:
    env = {
        **os.environ,
        "SAMIZDAT_DATA_DIR": str(tmp_path / "data"),
        "SAMIZDAT_DISCORD__TOKEN": "Nzk5.not-a-real-token",
        "SAMIZDAT_RETRIEVAL__SEMANTIC": "off",  # the embedding model is not what is tested
    }
    env.pop("SAMIZDAT_CONFIG", None)
    result = subprocess.run(
        [sys.executable, "-c", _CLI, unreachable, *command],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("samizdat: cannot reach Discord at 127.0.0.1:"), result.stderr
    assert result.stdout == ""


async def test_a_rejected_token_stops_with_one_line(fake: FakeDiscord, app: App) -> None:
    fake.reject_token = True
    with pytest.raises(DiscordSetupError) as raised:
        await run_discord(app.config, app.core, guild_ready_timeout=0.05)
    message = str(raised.value)
    assert "rejected" in message and "SAMIZDAT_DISCORD__TOKEN" in message
    assert "\n" not in message
    assert [c.status for c in fake.calls] == [401]
    assert fake.identifies == []


@pytest.mark.parametrize(
    ("code", "says"),
    [(4004, "rejected the bot token"), (4014, "Message Content intent")],
)
async def test_a_gateway_refusal_stops_with_one_line(
    fake: FakeDiscord, app: App, code: int, says: str
) -> None:
    fake.identify_close_code = code
    with pytest.raises(DiscordSetupError, match=says) as raised:
        await run_discord(app.config, app.core, guild_ready_timeout=0.05)
    assert "\n" not in str(raised.value)
    assert len(fake.identifies) == 1, "a refusal Discord will repeat must not be retried"


async def test_run_discord_connects_and_stops_cleanly_without_logging_the_token(
    tmp_path_factory: pytest.TempPathFactory, app: App, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "Nzk5.secret-token-value"
    config = Config(data_dir=tmp_path_factory.mktemp("run"), discord=DiscordConfig(token=secret))
    stop = asyncio.Event()
    async with FakeDiscord(token=secret) as fake:
        with caplog.at_level(logging.DEBUG):
            running = asyncio.create_task(
                run_discord(config, app.core, stop=stop, guild_ready_timeout=0.05)
            )
            await fake.wait_until(lambda: fake.dispatched >= 2 and fake.connected)
            answered = await fake.slash("about")
            await fake.wait_for_reply(answered)
            stop.set()
            await asyncio.wait_for(running, 10)
        await fake.wait_until(lambda: not fake.connected)

    assert running.exception() is None
    assert fake.violations == []
    assert [i["token"] for i in fake.identifies] == [secret]
    assert secret not in caplog.text
    assert secret not in repr(config)


async def test_stopping_lets_answers_in_progress_arrive_before_disconnecting(
    fake: FakeDiscord, app: App, caplog: pytest.LogCaptureFixture
) -> None:
    stop = asyncio.Event()
    running = asyncio.create_task(
        run_discord(app.config, app.core, stop=stop, guild_ready_timeout=0.05)
    )
    await fake.wait_until(lambda: fake.dispatched >= 2 and fake.connected)
    question = [{"name": "question", "type": 3, "value": "When did the Kuzbass colony operate?"}]
    with caplog.at_level(logging.WARNING):
        records = [
            await fake.slash("ask", question, user=user)
            for user in (fake.member, fake.other, fake.admin)  # one each: no cooldown
        ]
        await fake.wait_until(lambda: all(r.callback_type == 5 for r in records))
        stop.set()  # all three are "thinking…" now
        await asyncio.wait_for(running, 10)

    assert running.exception() is None
    for record in records:
        [answer] = fake.replies(record)
        assert answer["embeds"], "an answer in progress must not be cut off by the shutdown"
    assert fake.close_codes == [1000]
    problems = [r for r in caplog.records if r.levelno >= logging.WARNING and "voice" not in r.msg]
    assert [r.getMessage() for r in problems] == []


@pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread(), reason="signals need main thread"
)
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
async def test_a_signal_closes_the_gateway(
    fake: FakeDiscord, app: App, sig: signal.Signals
) -> None:
    before = signal.getsignal(sig)
    running = asyncio.create_task(run_discord(app.config, app.core, guild_ready_timeout=0.05))
    await fake.wait_until(lambda: fake.dispatched >= 2 and fake.connected)
    answered = await fake.slash("about")  # answered once the bot is ready
    await fake.wait_for_reply(answered)

    os.kill(os.getpid(), sig)
    await asyncio.wait_for(running, 10)
    await fake.wait_until(lambda: not fake.connected)

    assert running.exception() is None
    assert fake.close_codes == [1000], "the bot must close the gateway, not drop it"
    assert signal.getsignal(sig) == before, "the signal handler must be removed"


@pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread(), reason="signals need main thread"
)
async def test_samizdat_run_discord_stops_on_sigterm_and_closes_the_database(
    fake: FakeDiscord, config: Config, engine: AnswerEngine
) -> None:
    """The CLI's own path: `samizdat run discord` owns the signals and passes `stop` down."""
    async with open_app(config, engine=engine) as app:
        running = asyncio.create_task(_run_platforms(app, "discord"))
        await fake.wait_until(lambda: fake.dispatched >= 2 and fake.connected)
        answered = await fake.slash("about")
        await fake.wait_for_reply(answered)
        os.kill(os.getpid(), signal.SIGTERM)
        assert await asyncio.wait_for(running, 10) == 0
        wal = config.database_path.with_name(config.database_path.name + "-wal")
        assert wal.exists(), "the database is open in WAL mode while the bot runs"
    await fake.wait_until(lambda: not fake.connected)

    assert fake.close_codes == [1000]
    assert not wal.exists(), "closing the database cleanly checkpoints and removes its WAL"
    with contextlib.closing(sqlite3.connect(config.database_path)) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
