"""When the disk refuses a write at run time: the person is told, and questions go on."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator, Iterator

import aiosqlite
import pytest

from bot.answers.engine import AnswerEngine
from bot.app import App
from bot.config import Config
from bot.console.chat import CONSOLE_USER, HERE, ask_lines, chat
from bot.core.activity import ActivityLog
from bot.core.adapter_state import AdapterState
from bot.core.commands import Core
from bot.core.database import Database, StorageError, open_database
from bot.core.exclusive import FileLocks
from bot.core.places import Caller, Where
from bot.core.replies import Refusal, RefusalReason
from bot.core.requests import Feedback
from bot.core.store import SettingsStore
from bot.observability.health import Readiness

KRONSTADT = "why did the kronstadt sailors rebel"
# A question the library declines, long enough that recording it needs room on the disk.
OFF_TOPIC = "what caused the wall street crash of 1929 and " * 9


@pytest.fixture
async def db(tmp_config: Config) -> AsyncIterator[aiosqlite.Connection]:
    async with open_database(tmp_config.database_path) as conn:
        yield conn


@pytest.fixture
def app(db: aiosqlite.Connection, tmp_config: Config, bundled_engine: AnswerEngine) -> App:
    database = Database(db)
    store, activity = SettingsStore(database), ActivityLog(database)
    core = Core(bundled_engine, store, activity, tmp_config.limits)
    return App(
        config=tmp_config,
        engine=bundled_engine,
        store=store,
        activity=activity,
        state=AdapterState(database),
        core=core,
        metrics=core.metrics,
        readiness=Readiness(),
        locks=FileLocks(tmp_config.database_path),
    )


async def fill_disk(db: aiosqlite.Connection) -> None:
    """Let the file grow no further: SQLite's own "database or disk is full" from then on."""
    async with db.execute("PRAGMA page_count") as cursor:
        row = await cursor.fetchone()
    assert row is not None
    async with db.execute(f"PRAGMA max_page_count = {int(row[0])}"):
        pass


async def fill_unanswered(activity: ActivityLog) -> int:
    """Record declined questions until the disk refuses one; how many it took."""
    for n in range(1000):
        try:
            await activity.record_unanswered(HERE.place, None, CONSOLE_USER.user_id, OFF_TOPIC)
        except StorageError:
            return n
    pytest.fail("the disk never filled up")


async def test_a_full_disk_costs_a_setting_not_the_chat(app: App, db: aiosqlite.Connection) -> None:
    await fill_disk(db)
    lines: Iterator[str] = iter(
        [*(f"settings set cooldown_seconds {n}" for n in range(1, 301)), KRONSTADT, "quit"]
    )
    out: list[str] = []
    await chat(app.core, read_line=lambda prompt: next(lines), write=out.append)

    replies = out[1:]  # after the banner
    saved = [r for r in replies if r.startswith("`cooldown_seconds` is now")]
    refused = [r for r in replies if r.startswith("Could not")]
    assert saved and refused, replies[:3]
    assert set(refused) == {"Could not save that setting: the disk is full."}
    assert len(saved) + len(refused) == 300
    # The question after the failures is answered, and the chat ended only at `quit`.
    assert "Kronstadt" in replies[-1] and "[1]" in replies[-1]
    assert next(lines, None) is None
    # What was said to be saved is what is stored.
    assert f"is now {(await app.store.get(HERE.place)).cooldown_seconds} " in saved[-1]


async def test_a_failed_unanswered_record_never_costs_an_answer(
    app: App, db: aiosqlite.Connection
) -> None:
    await fill_disk(db)
    recorded = await fill_unanswered(app.activity)
    questions = "\n".join([f"1 {OFF_TOPIC}", KRONSTADT, f"2 {OFF_TOPIC}", f"3 {OFF_TOPIC}"])
    out = io.StringIO()
    assert await ask_lines(app.core, io.BytesIO(f"{questions}\n".encode()), out) == 4
    answers = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [a["answered"] for a in answers] == [False, True, False, False]
    assert not any("error" in a for a in answers)
    assert all(a["closest"] for a in answers if not a["answered"])
    # The declined questions were not recorded: the disk refused, and that cost nothing.
    assert len(await app.activity.unanswered(HERE.place, limit=1000)) == recorded


async def test_feedback_a_full_disk_refuses_is_said_so(app: App, db: aiosqlite.Connection) -> None:
    await fill_disk(db)
    where = Where("discord:1", channel="100")
    replies = [
        await app.core.handle(
            Feedback(OFF_TOPIC, ("kuzbass:1",), True), Caller(f"discord:{n}"), where
        )
        for n in range(200)
    ]
    refusals = [r for r in replies if isinstance(r, Refusal)]
    assert refusals, "the disk never filled up"
    assert {(r.reason, r.message) for r in refusals} == {
        (RefusalReason.STORAGE, "Could not save your feedback: the disk is full.")
    }
