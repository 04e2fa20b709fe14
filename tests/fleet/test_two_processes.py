"""Two bot processes on one PostgreSQL database: what one does is in force in the other.

The other process (bot_process.py) is a real `open_app` in its own interpreter; this test's
process is the second bot. Each test works in places of its own, so they share one database
and one other process for the module.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest
from postgres_harness import PostgresServer
from pydantic import SecretStr

from bot.answers.engine import AnswerEngine
from bot.app import App, open_app
from bot.config import Config, HealthConfig
from bot.core.places import Caller, Where
from bot.core.replies import AnswerReply, Refusal, RefusalReason
from bot.observability.health import serve_health

ROOT = Path(__file__).parents[2]
HERE = Path(__file__).parent
QUESTION = "When did the Kuzbass colony operate?"
pytestmark = pytest.mark.timeout(60)


class OtherProcess:
    """The other bot: requests go in as JSON lines, replies come back the same way."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process

    def _send(self, place: str, user: str, text: str, admin: bool) -> dict[str, object]:
        assert self.process.stdin is not None and self.process.stdout is not None
        request = {"place": place, "user": user, "text": text, "admin": admin}
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        assert line, "the other process ended"
        reply: dict[str, object] = json.loads(line)
        return reply

    async def say(
        self, place: str, user: str, text: str, *, admin: bool = False
    ) -> dict[str, object]:
        return await asyncio.to_thread(self._send, place, user, text, admin)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()


def start_other(url: str, data_dir: Path) -> OtherProcess:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "SAMIZDAT_DATABASE_URL": url,
        "SAMIZDAT_DATA_DIR": str(data_dir),
        "SAMIZDAT_RETRIEVAL__SEMANTIC": "off",  # starts faster; settings do not care
    }
    process = subprocess.Popen(
        [sys.executable, str(HERE / "bot_process.py")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    first = process.stdout.readline().strip()
    if first != "ready":
        process.kill()
        raise AssertionError(f"the other bot process did not start: {first!r}")
    return OtherProcess(process)


@pytest.fixture(scope="module")
def fleet_url(postgres: PostgresServer) -> str:
    return postgres.new_database()


@pytest.fixture(scope="module")
def other(fleet_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OtherProcess]:
    started = start_other(fleet_url, tmp_path_factory.mktemp("other"))
    try:
        yield started
    finally:
        started.close()


def fleet_config(url: str, data_dir: Path, **changes: object) -> Config:
    return Config(data_dir=data_dir, database_url=SecretStr(url), **changes)  # type: ignore[arg-type]


@pytest.fixture
async def here(fleet_url: str, tmp_path: Path, bundled_engine: AnswerEngine) -> AsyncIterator[App]:
    async with open_app(fleet_config(fleet_url, tmp_path), engine=bundled_engine) as app:
        yield app


async def _in_force_within_a_second(app: App, place: str, reason: RefusalReason) -> Refusal:
    """Ask (as an admin, whom no limit holds) until the place refuses for `reason`."""
    reply = None
    for _ in range(20):
        reply = await app.core.ask(QUESTION, Caller("discord:1", is_admin=True), Where(place))
        if isinstance(reply, Refusal) and reply.reason is reason:
            return reply
        await asyncio.sleep(0.05)
    raise AssertionError(f"still not in force after a second: {reply!r}")


async def test_a_setting_changed_by_one_process_is_in_force_in_the_other(
    other: OtherProcess, here: App
) -> None:
    place = "discord:1001"
    admin = Caller("discord:1", is_admin=True)
    first = await here.core.ask(QUESTION, admin, Where(place))
    assert isinstance(first, AnswerReply), "read (and cached) here before the change"

    changed = await other.say(place, "discord:1", "settings set enabled false", admin=True)
    assert changed["kind"] == "Confirmation"
    await _in_force_within_a_second(here, place, RefusalReason.DISABLED)

    # And the other way round.
    reset = await here.core.settings_reset(admin, Where(place), "enabled")
    assert not isinstance(reset, Refusal)
    for _ in range(20):
        answer = await other.say(place, "discord:1", QUESTION, admin=True)
        if answer["kind"] == "AnswerReply":
            break
        await asyncio.sleep(0.05)
    assert answer["kind"] == "AnswerReply", answer


async def test_a_cooldown_started_in_one_process_holds_in_the_other(
    other: OtherProcess, here: App
) -> None:
    place, asker = "discord:1002", "discord:77"
    admin = Caller("discord:1", is_admin=True)
    await here.core.settings_set(admin, Where(place), "cooldown_seconds", "600")
    asked = await other.say(place, asker, QUESTION)
    assert asked["kind"] == "AnswerReply", asked
    again = await here.core.ask(QUESTION, Caller(asker), Where(place))
    assert isinstance(again, Refusal) and again.reason is RefusalReason.COOLDOWN
    elsewhere = await here.core.ask(QUESTION, Caller(asker), Where("discord:1003"))
    assert isinstance(elsewhere, AnswerReply), "a cooldown holds in its own place only"


async def test_a_killed_process_loses_no_setting_it_confirmed(
    fleet_url: str, here: App, tmp_path_factory: pytest.TempPathFactory
) -> None:
    doomed = start_other(fleet_url, tmp_path_factory.mktemp("doomed"))
    try:
        confirmed = []
        for n in range(1, 6):
            place = f"discord:20{n}"
            reply = await doomed.say(
                place, "discord:1", f"settings set sources_shown {n}", admin=True
            )
            assert reply["kind"] == "Confirmation"
            confirmed.append((place, n))
        doomed.process.send_signal(signal.SIGKILL)
        assert doomed.process.wait() == -signal.SIGKILL
    finally:
        doomed.close()
    for place, shown in confirmed:
        assert (await here.store.get(place)).sources_shown == shown


async def test_ready_turns_unready_while_postgres_is_down(
    postgres: PostgresServer, tmp_path: Path, bundled_engine: AnswerEngine
) -> None:
    config = fleet_config(
        postgres.new_database(), tmp_path, health=HealthConfig(enabled=True, port=0)
    )
    try:
        async with (
            open_app(config, engine=bundled_engine) as app,
            serve_health(config.health, app.readiness, app.metrics) as server,
            aiohttp.ClientSession() as session,
        ):
            assert server is not None

            async def status() -> int:
                async with session.get(f"{server.url}/readyz") as response:
                    return response.status

            assert await status() == 200
            postgres.stop()
            assert await status() == 503
            postgres.restart()
            assert await status() == 200
    finally:
        if not postgres.running():
            postgres.restart()


async def test_the_matrix_state_lives_in_postgres_not_in_a_local_file(
    postgres: PostgresServer, tmp_path: Path, bundled_engine: AnswerEngine
) -> None:
    # The Matrix process of a fleet may be moved to another host: its claims, outbox and
    # sync token must be in the shared database, not in a file beside the old process.
    url = postgres.new_database()
    first, second = tmp_path / "first", tmp_path / "second"
    async with open_app(fleet_config(url, first), engine=bundled_engine) as app:
        assert await app.state.mark_handled("matrix", "$question") is True
        await app.state.kv_set("matrix.sync_token.@bot:hs", "s42")
    async with open_app(fleet_config(url, second), engine=bundled_engine) as app:
        assert await app.state.mark_handled("matrix", "$question") is False
        assert await app.state.kv_get("matrix.sync_token.@bot:hs") == "s42"
    written = await asyncio.to_thread(lambda: list(tmp_path.rglob("*.db")))
    assert not written, "no SQLite file is written in a fleet"
