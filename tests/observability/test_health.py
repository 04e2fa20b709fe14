"""The health endpoint over a real socket on 127.0.0.1, around a real app and SQLite file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.answers.engine import AnswerEngine
from bot.app import App, open_app
from bot.config import Config, HealthConfig
from bot.core.database import Database, open_database
from bot.core.places import Caller, Where
from bot.observability.health import HealthServer, Readiness, serve_health
from bot.observability.metrics import Metrics

DISCORD = Where(place="discord:1", channel="2", private_replies=True)
MATRIX = Where(place="matrix:!room:example.org")
PERSON = Caller(user_id="discord:7")


@pytest.fixture
async def app(tmp_path: Path, bundled_engine: AnswerEngine) -> AsyncIterator[App]:
    config = Config(data_dir=tmp_path, health=HealthConfig(enabled=True, port=0))
    async with open_app(config, engine=bundled_engine) as opened:
        yield opened


@pytest.fixture
async def server(app: App) -> AsyncIterator[HealthServer]:
    async with serve_health(app.config.health, app.readiness, app.metrics) as started:
        assert started is not None
        yield started


async def _get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus text page, by name and labels; the parser must accept it."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_health_is_off_unless_enabled(tmp_path: Path) -> None:
    async with serve_health(HealthConfig(), Readiness(), Metrics()) as server:
        assert server is None


async def test_the_endpoint_listens_on_localhost_by_default(server: HealthServer) -> None:
    assert server.url.startswith("http://127.0.0.1:")
    status, body = await _get(f"{server.url}/healthz")
    assert status == 200 and '"ok"' in body


async def test_ready_when_index_and_database_answer(server: HealthServer) -> None:
    status, body = await _get(f"{server.url}/readyz")
    assert status == 200, body
    assert '"index": true' in body and '"database": true' in body


async def test_unready_when_a_check_fails_or_hangs(app: App, server: HealthServer) -> None:
    async def down() -> bool:
        return False

    async def broken() -> bool:
        raise ConnectionError("gone")

    app.readiness.add("discord", down)
    app.readiness.add("matrix", broken)
    status, body = await _get(f"{server.url}/readyz")
    assert status == 503
    assert '"discord": false' in body and '"matrix": false' in body and '"database": true' in body


async def test_metrics_parse_and_count_questions_by_platform_and_outcome(
    app: App, server: HealthServer
) -> None:
    status, before_text = await _get(f"{server.url}/metrics")
    assert status == 200
    before = _samples(before_text)
    assert before[("samizdat_index_passages", ())] == app.engine.report.passages > 0
    assert before[("samizdat_index_age_seconds", ())] >= 0

    await app.core.ask("When did the Kuzbass colony operate?", PERSON, DISCORD)
    await app.core.ask("what is the airspeed of an unladen swallow", PERSON, MATRIX)
    await app.core.ask("x" * 5000, PERSON, MATRIX)

    after = _samples((await _get(f"{server.url}/metrics"))[1])

    def count(platform: str, outcome: str) -> float:
        key = (
            "samizdat_questions_total",
            (("outcome", outcome), ("platform", platform)),
        )
        return after.get(key, 0.0)

    assert count("discord", "answered") == 1
    assert count("matrix", "declined") == 1
    assert count("matrix", "refused") == 1
    assert after[("samizdat_answer_seconds_count", (("platform", "discord"),))] == 1
    assert after[("samizdat_answer_seconds_count", (("platform", "matrix"),))] == 1
    assert after[("samizdat_retrieval_seconds_count", ())] == 2
    assert after[("samizdat_discord_late_acknowledgements_total", ())] == 0


async def test_the_database_check_fails_once_it_cannot_be_read(tmp_path: Path) -> None:
    async with open_database(tmp_path / "samizdat.db") as connection:
        database = Database(connection)
        assert await database.reachable()
    assert not await database.reachable(), "a closed connection is not reachable"


async def test_an_app_takes_its_checks_away_when_it_closes(
    tmp_path: Path, bundled_engine: AnswerEngine
) -> None:
    readiness = Readiness()
    async with open_app(Config(data_dir=tmp_path), engine=bundled_engine, readiness=readiness):
        assert await readiness.report() == {"index": True, "database": True}
    assert await readiness.report() == {}
