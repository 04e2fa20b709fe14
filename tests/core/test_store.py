"""The stores against real databases: defaults, audit, migrations, races, crashes.

The store tests are one contract suite: each runs against a real SQLite file and a real
PostgreSQL database (the `backend` parameter), as mautrix runs its database tests. Tests of
what only a file can suffer (damage, a full disk, another program's file) and of the Matrix
adapter's state (kept in SQLite) run against SQLite alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import re
import signal
import sqlite3
import struct
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiosqlite
import pytest
from postgres_harness import PostgresServer

from bot.answers.model import Answer, Citation, RetrievedPassage
from bot.core._migrations import MIGRATIONS
from bot.core.activity import FORGOTTEN_USER, ActivityLog
from bot.core.adapter_state import AdapterState
from bot.core.database import (
    SCHEMA_VERSION,
    DamagedDatabaseError,
    Database,
    DatabaseError,
    DatabaseTooNewError,
    ForeignDatabaseError,
    NotADatabaseError,
    StorageError,
    migrate,
    open_database,
    schema_version,
)
from bot.core.kept_answers import KeptAnswers
from bot.core.limits import SharedRateLimiter
from bot.core.postgres import PostgresDatabase, open_postgres
from bot.core.settings import MAX_CHANNELS_PER_LIST, ServerSettings, SettingValueError
from bot.core.storage import Storage
from bot.core.store import SettingsStore
from bot.errors import describe_startup_error

PLACE = "discord:1"
WHEN = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
WRITER = Path(__file__).with_name("_store_writer.py")
# Not `ServerSettings()`: without pydantic's mypy plugin, mypy thinks every field is required.
DEFAULTS = ServerSettings.model_validate({})


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[aiosqlite.Connection]:
    async with open_database(tmp_path / "data" / "samizdat.db") as conn:
        yield conn


@pytest.fixture(params=["sqlite", "postgres"])
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Storage]:
    """The stores' database, once per backend, with a fixed clock."""
    if request.param == "sqlite":
        async with open_database(tmp_path / "data" / "samizdat.db") as conn:
            yield Database(conn, clock=lambda: WHEN)
        return
    server: PostgresServer = request.getfixturevalue("postgres")
    async with open_postgres(server.new_database()) as shared:
        shared.clock = lambda: WHEN
        yield shared


@pytest.fixture
def sqlite_database(db: aiosqlite.Connection) -> Database:
    return Database(db, clock=lambda: WHEN)


@pytest.fixture
def store(database: Storage) -> SettingsStore:
    return SettingsStore(database)


@pytest.fixture
def activity(database: Storage) -> ActivityLog:
    return ActivityLog(database)


@pytest.fixture
def state(database: Storage) -> AdapterState:
    return AdapterState(database)


async def rows(
    target: aiosqlite.Connection | Storage, sql: str, *params: object
) -> list[tuple[object, ...]]:
    """Rows of any statement, on a raw SQLite connection or through a backend's own."""
    if isinstance(target, aiosqlite.Connection):
        async with target.execute(sql, params) as cursor:
            return [tuple(row) for row in await cursor.fetchall()]
    async with target.write():
        return await target.fetchall(sql, params)


async def idle(database: Storage) -> bool:
    """No transaction is left open on the backend's connection."""
    if isinstance(database, Database):
        return not database.connection.in_transaction
    assert isinstance(database, PostgresDatabase)
    connection = database._connection
    return connection is None or not connection.is_in_transaction()


async def count(db: aiosqlite.Connection | Storage, table: str) -> int:
    (total,) = (await rows(db, f"SELECT COUNT(*) FROM {table}"))[0]
    assert isinstance(total, int)
    return total


async def stored_data(db: aiosqlite.Connection | Storage, place: str = PLACE) -> object:
    [(data,)] = await rows(db, "SELECT data FROM place_settings WHERE place = ?", place)
    assert isinstance(data, str)
    return json.loads(data)


async def store_settings(
    db: aiosqlite.Connection | Storage, data: object, place: str = PLACE
) -> None:
    """Write a place's settings row as another Samizdat (or a hand) could have left it."""
    text = data if isinstance(data, str) else json.dumps(data)
    await rows(
        db,
        "INSERT INTO place_settings (place, data, updated_at) VALUES (?, ?, '')",
        place,
        text,
    )


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


async def fill_disk(db: aiosqlite.Connection) -> None:
    """Let the file grow no further: SQLite's own "disk is full" from then on."""
    [(pages,)] = await rows(db, "PRAGMA page_count")
    await rows(db, f"PRAGMA max_page_count = {pages}")


# -- settings -------------------------------------------------------------------------------


async def test_unknown_place_reads_defaults_and_writes_nothing(
    database: Storage, store: SettingsStore
) -> None:
    assert await store.get("matrix:!nowhere:example.org") == DEFAULTS
    assert await count(database, "place_settings") == 0
    assert await count(database, "audit_log") == 0


async def test_set_get_reset_round_trip(database: Storage, store: SettingsStore) -> None:
    assert await store.set(PLACE, "sources_shown", 5, "discord:42") == (3, 5)
    old_new = await store.set(PLACE, "answer_length", "detailed", "discord:42")
    assert old_new == ("brief", "detailed")
    settings = await store.get(PLACE)
    assert (settings.sources_shown, settings.answer_length) == (5, "detailed")
    assert await store.get("discord:2") == DEFAULTS

    # Only the changed fields are stored, so a later default still reaches this place.
    [(data,)] = await rows(database, "SELECT data FROM place_settings WHERE place = ?", PLACE)
    assert isinstance(data, str)
    assert json.loads(data) == {"answer_length": "detailed", "sources_shown": 5}

    assert await store.reset(PLACE, "sources_shown", "discord:42") == ["sources_shown"]
    assert await store.reset(PLACE, "sources_shown", "discord:42") == []
    assert (await store.get(PLACE)).sources_shown == 3
    assert await store.reset(PLACE, None, "discord:42") == ["answer_length"]
    assert await store.get(PLACE) == DEFAULTS
    assert await count(database, "place_settings") == 0
    assert await count(database, "audit_log") == 4


async def test_a_change_is_read_at_once_though_settings_are_kept_in_memory(
    store: SettingsStore, database: Storage
) -> None:
    # Read once (kept), then every kind of change: each is seen by the next read.
    assert (await store.get(PLACE)).sources_shown == DEFAULTS.sources_shown
    await store.set(PLACE, "sources_shown", 5, "discord:1")
    assert (await store.get(PLACE)).sources_shown == 5
    await store.allow_channel(PLACE, "123", "discord:1")
    assert (await store.get(PLACE)).allowed_channels == ("123",)
    await store.clear_channels(PLACE, None, "discord:1")
    assert (await store.get(PLACE)).allowed_channels == ()
    await store.reset(PLACE, None, "discord:1")
    assert await store.get(PLACE) == DEFAULTS


async def test_settings_read_are_kept_in_memory(
    sqlite_database: Database, db: aiosqlite.Connection
) -> None:
    # One SQLite file has one bot process: a row written behind the store's back is not
    # seen once the place was read (so a burst of questions does not queue on the file),
    # while a place never read is. (PostgreSQL's announcements are tested in test_postgres.)
    store = SettingsStore(sqlite_database)
    assert await store.get(PLACE) == DEFAULTS
    await store_settings(db, {"sources_shown": 2})
    assert await store.get(PLACE) == DEFAULTS
    await store_settings(db, {"sources_shown": 2}, place="matrix:!r")
    assert (await store.get("matrix:!r")).sources_shown == 2


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("sources_shown", 9),
        ("answer_length", "epic"),
        ("command_prefix", "a b"),
        ("no_such_setting", 1),
        ("allowed_channels", ["general"]),
    ],
)
async def test_invalid_value_is_refused_and_nothing_written(
    database: Storage, store: SettingsStore, name: str, value: object
) -> None:
    with pytest.raises(SettingValueError, match=name):
        await store.set(PLACE, name, value, "discord:42")
    assert await count(database, "place_settings") == 0
    assert await count(database, "audit_log") == 0
    # The refused write left no transaction open behind it.
    assert await store.set(PLACE, "enabled", False, "discord:42") == (True, False)


async def test_audit_records_who_where_what_and_when(store: SettingsStore) -> None:
    await store.set(PLACE, "cooldown_seconds", 30, "discord:42")
    await store.set(PLACE, "show_quotes", False, "discord:43")
    await store.set("discord:2", "strictness", "strict", "discord:44")

    newest, older = await store.recent_changes(PLACE)
    assert newest.model_dump() == {
        "at": WHEN,
        "place": PLACE,
        "user_id": "discord:43",
        "setting": "show_quotes",
        "old_value": "true",
        "new_value": "false",
    }
    assert (older.user_id, older.setting, older.old_value, older.new_value) == (
        "discord:42",
        "cooldown_seconds",
        "5",
        "30",
    )
    assert newest.at.utcoffset() == timedelta(0)
    assert len(await store.recent_changes(PLACE, limit=1)) == 1


async def test_stored_fields_this_version_refuses_fall_back_to_defaults(
    database: Storage, store: SettingsStore
) -> None:
    await store_settings(database, {"retired_field": 1, "sources_shown": 99, "cooldown_seconds": 7})
    assert await store.get(PLACE) == ServerSettings.model_validate({"cooldown_seconds": 7})


async def test_stored_fields_this_version_refuses_survive_writes_and_changes_are_audited(
    database: Storage, store: SettingsStore, caplog: pytest.LogCaptureFixture
) -> None:
    # A field a newer release added, and a value a later rule refuses.
    await store_settings(database, {"from_the_future": "x", "sources_shown": 99})
    with caplog.at_level(logging.WARNING, logger="bot.core.store"):
        for _ in range(3):
            assert await store.get(PLACE) == DEFAULTS
    warned = [r.getMessage() for r in caplog.records]
    assert len(warned) == 2, warned  # once per field, not at every read
    assert any("from_the_future" in w for w in warned)
    assert any("sources_shown" in w for w in warned)

    await store.set(PLACE, "show_quotes", False, "discord:42")
    assert await stored_data(database) == {
        "from_the_future": "x",
        "show_quotes": False,
        "sources_shown": 99,
    }
    await store.allow_channel(PLACE, "history", "discord:42")
    data = await stored_data(database)
    assert isinstance(data, dict)
    assert (data["from_the_future"], data["sources_shown"]) == ("x", 99)

    # Replacing the refused value says what it replaced.
    assert await store.set(PLACE, "sources_shown", 4, "discord:42") == (3, 4)
    [change] = await store.recent_changes(PLACE, limit=1)
    assert (change.setting, change.old_value, change.new_value) == ("sources_shown", "99", "4")

    # Resetting everything resets what this version knows, and keeps what it does not.
    reset = await store.reset(PLACE, None, "discord:42")
    assert reset == ["allowed_channels", "show_quotes", "sources_shown"]
    assert await stored_data(database) == {"from_the_future": "x"}
    assert await store.get(PLACE) == DEFAULTS
    assert await count(database, "audit_log") == 3 + 3


async def test_a_refused_value_reset_alone_is_audited(
    database: Storage, store: SettingsStore
) -> None:
    await store_settings(database, {"cooldown_seconds": -1})
    assert await store.reset(PLACE, "cooldown_seconds", "discord:42") == ["cooldown_seconds"]
    [change] = await store.recent_changes(PLACE)
    assert (change.setting, change.old_value, change.new_value) == ("cooldown_seconds", "-1", "5")
    assert await count(database, "place_settings") == 0


async def test_unreadable_stored_settings_replaced_by_a_write_are_audited(
    database: Storage, store: SettingsStore
) -> None:
    await store_settings(database, "{not json")
    assert await store.get(PLACE) == DEFAULTS
    await store.set(PLACE, "enabled", False, "discord:42")
    assert await stored_data(database) == {"enabled": False}
    changes = await store.recent_changes(PLACE)
    assert {(c.setting, c.old_value, c.new_value) for c in changes} == {
        ("enabled", "true", "false"),
        ("(unreadable stored settings)", "{not json", None),
    }


async def test_a_channel_edit_keeps_a_refused_list_it_does_not_touch(
    database: Storage, store: SettingsStore
) -> None:
    await store_settings(database, {"denied_channels": 7})
    await store.allow_channel(PLACE, "history", "discord:42")
    assert await stored_data(database) == {"allowed_channels": ["history"], "denied_channels": 7}
    settings = await store.deny_channel(PLACE, "memes", "discord:42")
    assert settings.denied_channels == ("memes",)
    [change] = await store.recent_changes(PLACE, limit=1)
    assert (change.setting, change.old_value, change.new_value) == (
        "denied_channels",
        "7",
        '["memes"]',
    )


async def test_channels_allow_deny_and_clear(database: Storage, store: SettingsStore) -> None:
    await store.allow_channel(PLACE, "history", "discord:42")
    settings = await store.allow_channel(PLACE, "books", "discord:42")
    assert settings.allowed_channels == ("history", "books")

    settings = await store.deny_channel(PLACE, "history", "discord:42")
    assert (settings.allowed_channels, settings.denied_channels) == (("books",), ("history",))

    settings = await store.allow_channel(PLACE, "history", "discord:42")
    assert (settings.allowed_channels, settings.denied_channels) == (("books", "history"), ())

    await store.deny_channel(PLACE, "memes", "discord:42")
    settings = await store.clear_channels(PLACE, "books", "discord:42")
    assert (settings.allowed_channels, settings.denied_channels) == (("history",), ("memes",))
    assert await store.get(PLACE) == settings

    audited = await count(database, "audit_log")
    await store.allow_channel(PLACE, "history", "discord:42")  # already allowed: no change
    assert await count(database, "audit_log") == audited

    settings = await store.clear_channels(PLACE, None, "discord:42")
    assert (settings.allowed_channels, settings.denied_channels) == ((), ())
    assert await count(database, "place_settings") == 0
    last = await store.recent_changes(PLACE, limit=2)
    assert {(e.setting, e.old_value, e.new_value) for e in last} == {
        ("allowed_channels", '["history"]', "[]"),
        ("denied_channels", '["memes"]', "[]"),
    }


async def test_channel_changes_audit_only_what_was_added_or_removed(
    database: Storage, store: SettingsStore
) -> None:
    ids = [str(10**19 + n) for n in range(200)]  # Discord-sized snowflakes
    for channel in ids:
        await store.allow_channel(PLACE, channel, "discord:42")
    await store.deny_channel(PLACE, ids[0], "discord:42")

    audited = await rows(
        database, "SELECT setting, old_value, new_value FROM audit_log ORDER BY id"
    )
    assert len(audited) == 200 + 2
    assert audited[0] == ("allowed_channels", "[]", json.dumps([ids[0]]))
    assert audited[-2:] == [
        ("allowed_channels", json.dumps([ids[0]]), "[]"),
        ("denied_channels", "[]", json.dumps([ids[0]])),
    ]
    # Each record is as small as its change, so the log grows with the changes, not their square.
    assert max(len(str(old)) + len(str(new)) for _, old, new in audited) < 30


@pytest.mark.parametrize(
    "name",
    [
        "x" * 101,
        "x" * 100_000,
        "general chat",
        "<@&123>",
        "`code`",
        "[link](https://example.org)",
        "a\u200bb",
    ],
    ids=["101 characters", "100,000 characters", "space", "mention", "code", "link", "invisible"],
)
async def test_channel_names_no_platform_has_are_refused(
    database: Storage, store: SettingsStore, name: str
) -> None:
    with pytest.raises(SettingValueError, match="not a channel") as refused:
        await store.allow_channel(PLACE, name, "discord:42")
    assert len(str(refused.value)) < 200
    with pytest.raises(SettingValueError, match="not a channel"):
        await store.deny_channel(PLACE, name, "discord:42")
    assert await count(database, "place_settings") == 0
    assert await count(database, "audit_log") == 0


@pytest.mark.parametrize("name", ["x" * 100, "1234567890123456789", "история", "!room:example.org"])
async def test_channel_names_of_real_channels_are_accepted(store: SettingsStore, name: str) -> None:
    assert (await store.allow_channel(PLACE, name, "discord:42")).allowed_channels == (name,)


async def test_a_channel_list_cannot_grow_past_its_bound(
    database: Storage, store: SettingsStore
) -> None:
    full = [str(n) for n in range(MAX_CHANNELS_PER_LIST)]
    await store_settings(database, {"allowed_channels": full})
    with pytest.raises(SettingValueError, match=f"at most {MAX_CHANNELS_PER_LIST}"):
        await store.allow_channel(PLACE, "one-more", "discord:42")
    assert (await store.get(PLACE)).allowed_channels == tuple(full)
    # Moving and removing still work on a full list.
    settings = await store.deny_channel(PLACE, "0", "discord:42")
    assert (len(settings.allowed_channels), settings.denied_channels) == (len(full) - 1, ("0",))
    settings = await store.allow_channel(PLACE, "one-more", "discord:42")
    assert len(settings.allowed_channels) == MAX_CHANNELS_PER_LIST


async def test_a_list_longer_than_the_bound_from_before_still_reads_and_shrinks(
    database: Storage, store: SettingsStore
) -> None:
    # An older version let lists grow; they keep working (an allow list that vanished would
    # open every channel), and can only shrink.
    long_list = [str(n) for n in range(MAX_CHANNELS_PER_LIST + 5)]
    await store_settings(database, {"allowed_channels": long_list})
    assert len((await store.get(PLACE)).allowed_channels) == len(long_list)
    with pytest.raises(SettingValueError):
        await store.allow_channel(PLACE, "one-more", "discord:42")
    shorter = await store.clear_channels(PLACE, "0", "discord:42")
    assert len(shorter.allowed_channels) == len(long_list) - 1


async def test_audit_log_keeps_a_bounded_number_of_recent_records_per_place(
    database: Storage,
) -> None:
    now = [WHEN]
    database.clock = lambda: now[0]
    store = SettingsStore(database, audit_per_place=3, audit_kept=timedelta(days=30))
    for value in range(10, 16):
        await store.set(PLACE, "cooldown_seconds", value, "discord:42")
    await store.set("discord:2", "cooldown_seconds", 9, "discord:42")
    kept = await store.recent_changes(PLACE, limit=10)
    assert [c.new_value for c in kept] == ["15", "14", "13"]

    now[0] = WHEN + timedelta(days=31)
    await store.set(PLACE, "enabled", False, "discord:42")
    [latest] = await store.recent_changes(PLACE, limit=10)
    assert (latest.setting, latest.at) == ("enabled", now[0])
    assert len(await store.recent_changes("discord:2")) == 1  # another place's are its own


# -- questions, feedback, forgetting --------------------------------------------------------


async def test_unanswered_newest_first_pruned_and_askers_hidden(database: Storage) -> None:
    activity = ActivityLog(database, unanswered_per_place=3)
    for n in range(5):
        await activity.record_unanswered(PLACE, "history", f"discord:{n}", f"question {n}?")
    await activity.record_unanswered("discord:2", None, "discord:9", "elsewhere?")

    items = await activity.unanswered(PLACE)
    assert [i.question for i in items] == ["question 4?", "question 3?", "question 2?"]
    assert {i.user_id for i in items} == {None}
    assert items[0].channel == "history"
    assert items[0].at.tzinfo is not None
    named = await activity.unanswered(PLACE, limit=1, include_askers=True)
    assert [(i.question, i.user_id) for i in named] == [("question 4?", "discord:4")]
    assert await count(database, "unanswered") == 4


async def test_forget_user_deletes_questions_feedback_and_unnames_audit(
    database: Storage, store: SettingsStore, activity: ActivityLog
) -> None:
    await activity.record_unanswered(PLACE, None, "discord:7", "who built Rome?")
    await activity.record_unanswered(PLACE, None, "discord:8", "when was Carthage founded?")
    await activity.record_feedback(PLACE, "discord:7", "who?", ["doc#1", "doc#2"], helpful=True)
    await store.set(PLACE, "enabled", False, "discord:7")
    [(ids, helpful)] = await rows(database, "SELECT passage_ids, helpful FROM feedback")
    assert (ids, helpful) == ('["doc#1", "doc#2"]', 1)

    assert await activity.forget_user("discord:7") == 3
    assert [i.user_id for i in await activity.unanswered(PLACE, include_askers=True)] == [
        "discord:8"
    ]
    assert await count(database, "feedback") == 0
    [change] = await store.recent_changes(PLACE)
    assert (change.user_id, change.new_value) == (FORGOTTEN_USER, "false")
    assert await activity.forget_user("discord:7") == 0


# -- flood limits shared by processes ------------------------------------------------------


async def test_a_cooldown_holds_across_processes_sharing_the_database(
    database: Storage,
) -> None:
    now = [1_000.0]
    first, second = (
        SharedRateLimiter(database, 30, clock=lambda: now[0]),
        SharedRateLimiter(database, 30, clock=lambda: now[0]),
    )
    assert await first.check(PLACE, "discord:7", 10) is None
    assert await second.check(PLACE, "discord:7", 10) == ("cooldown", 10.0)
    now[0] += 4
    assert await second.check(PLACE, "discord:7", 10) == ("cooldown", 6.0)
    assert await second.check(PLACE, "discord:8", 10) is None, "another person may ask"
    assert await second.check("discord:2", "discord:7", 10) is None, "so may they elsewhere"
    now[0] += 6
    assert await second.check(PLACE, "discord:7", 10) is None
    assert await first.check(PLACE, "discord:7", 0) is None, "no cooldown, no wait"


async def test_a_place_budget_is_shared_and_frees_up_after_a_minute(database: Storage) -> None:
    now = [1_000.0]
    limiters = [SharedRateLimiter(database, 3, clock=lambda: now[0]) for _ in range(3)]
    for n, limiter in enumerate(limiters):
        assert await limiter.check(PLACE, f"discord:{n}", 0) is None
        now[0] += 1
    assert await limiters[0].check(PLACE, "discord:9", 0) == ("budget", 57.0)
    assert await limiters[0].check("discord:2", "discord:9", 0) is None
    now[0] += 57
    assert await limiters[1].check(PLACE, "discord:9", 0) is None


async def test_forgetting_a_person_forgets_when_they_asked(
    database: Storage, activity: ActivityLog
) -> None:
    await SharedRateLimiter(database, 30).check(PLACE, "discord:7", 5)
    assert await count(database, "questions_asked") == 1
    assert await activity.forget_user("discord:7") == 1
    assert await count(database, "questions_asked") == 0


# -- answers kept for their buttons ----------------------------------------------------------


def _answer(question: str) -> Answer:
    passages = [
        RetrievedPassage(
            passage_id=f"doc:{n}",
            doc_id="doc",
            title="T",
            author="A",
            section="S",
            score=1 / n,
            text="x",
        )
        for n in (1, 2)
    ]
    return Answer(
        question=question,
        answered=True,
        text="x [1]",
        citations=[
            Citation(
                marker=1,
                passage_id="doc:2",
                doc_id="doc",
                title="T",
                author="A",
                section="S",
                quote="x",
            )
        ],
        passages=passages,
        closest=[],
    )


async def test_a_kept_answer_comes_back_until_its_lifetime_ends(database: Storage) -> None:
    now = [WHEN]
    database.clock = lambda: now[0]
    kept = KeptAnswers(database, lifetime=timedelta(minutes=10), per_place=2)
    first = await kept.keep(PLACE, "discord:7", _answer("why?"))
    back = await KeptAnswers(database, lifetime=timedelta(minutes=10)).get(first)
    assert back is not None
    assert (back.place, back.user_id, back.question) == (PLACE, "discord:7", "why?")
    assert back.passages == (("doc:1", 1.0), ("doc:2", 0.5)) and back.cited == ("doc:2",)

    now[0] = WHEN + timedelta(minutes=11)
    assert await kept.get(first) is None, "older than the buttons' lifetime"
    assert await kept.get(first + 1000) is None


async def test_each_place_keeps_its_newest_answers_and_forgetting_removes_them(
    database: Storage, activity: ActivityLog
) -> None:
    kept = KeptAnswers(database, lifetime=timedelta(minutes=10), per_place=2)
    numbers = [await kept.keep(PLACE, "discord:7", _answer(f"q{n}?")) for n in range(3)]
    other = await kept.keep("discord:2", "discord:8", _answer("elsewhere?"))
    assert await kept.get(numbers[0]) is None and await kept.get(numbers[2]) is not None
    assert await activity.forget_user("discord:7") == 2
    assert await kept.get(numbers[2]) is None and await kept.get(other) is not None


# -- adapter state --------------------------------------------------------------------------


async def test_mark_handled_once_and_forgets_old_marks(db: aiosqlite.Connection) -> None:
    now = [WHEN]
    state = AdapterState(Database(db, clock=lambda: now[0]), handled_events_kept=timedelta(days=1))
    assert await state.mark_handled("matrix", "$event1") is True
    assert await state.mark_handled("matrix", "$event1") is False
    assert await state.mark_handled("discord", "$event1") is True

    now[0] = WHEN + timedelta(days=2)
    assert await state.mark_handled("matrix", "$event2") is True
    assert await rows(db, "SELECT platform, event_id FROM handled_events") == [
        ("matrix", "$event2")
    ]


async def test_key_values_round_trip(state: AdapterState) -> None:
    assert await state.kv_get("matrix.next_batch") is None
    await state.kv_set("matrix.next_batch", "s1")
    await state.kv_set("matrix.next_batch", "s2")
    assert await state.kv_get("matrix.next_batch") == "s2"


# -- when the machine refuses ---------------------------------------------------------------


async def test_a_full_disk_is_a_storage_error_and_the_store_carries_on(
    db: aiosqlite.Connection, sqlite_database: Database
) -> None:
    store, activity = SettingsStore(sqlite_database), ActivityLog(sqlite_database)
    await fill_disk(db)
    saved = 0
    with pytest.raises(StorageError) as refused:
        for n in range(200):
            await activity.record_unanswered(PLACE, None, "discord:1", f"{n} " + "why? " * 200)
            saved += 1
    assert refused.value.reason == "the disk is full"
    assert isinstance(refused.value, DatabaseError)
    assert isinstance(refused.value.__cause__, sqlite3.OperationalError)
    assert not db.in_transaction
    assert await count(db, "unanswered") == saved  # the failed write left nothing behind

    # Reads still work, and once there is room again, so do writes.
    assert await store.get(PLACE) == DEFAULTS
    await rows(db, "PRAGMA max_page_count = 1000000")
    await store.set(PLACE, "enabled", False, "discord:42")
    assert (await store.get(PLACE)).enabled is False


async def test_a_mistake_in_our_own_sql_stays_a_bug_not_a_storage_error(
    db: aiosqlite.Connection, sqlite_database: Database
) -> None:
    state = AdapterState(sqlite_database)
    await rows(db, "DROP TABLE kv")  # as if the code queried a table that is not there
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        await state.kv_set("k", "v")
    assert not db.in_transaction


# -- opening, migrating, refusing -----------------------------------------------------------

# Rows an older Samizdat could have written, by the schema version that introduced the table.
SEED = {
    1: [
        "INSERT INTO place_settings VALUES ('discord:1', '{\"sources_shown\": 4}', '2025-01-01')",
        "INSERT INTO audit_log (at, place, user_id, setting, old_value, new_value)"
        " VALUES ('2025-01-01T00:00:00.000000+00:00', 'discord:1', 'discord:42',"
        " 'sources_shown', '3', '4')",
    ],
    2: [
        "INSERT INTO unanswered (at, place, channel, user_id, question)"
        " VALUES ('2025-01-02T00:00:00.000000+00:00', 'discord:1', 'c', 'discord:5', 'why?')",
        "INSERT INTO feedback (at, place, user_id, question, passage_ids, helpful)"
        " VALUES ('2025-01-02T00:00:00.000000+00:00', 'discord:1', 'discord:5', 'q', '[]', 0)",
    ],
    3: [
        "INSERT INTO handled_events VALUES ('matrix', '$seen', '9999-01-01T00:00:00+00:00')",
        "INSERT INTO kv VALUES ('matrix.next_batch', 's42')",
        # The outbox as versions before 4 kept it: one JSON list per bot user.
        'INSERT INTO kv VALUES (\'matrix.outbox.@bot:hs\', \'[{"room_id": "!r:hs",'
        ' "txn_id": "samizdat-$q", "content": {"body": "hi"},'
        ' "queued_at": 1.5}, {"room_id": 7}]\')',
    ],
    4: [
        "INSERT INTO outbox (sender, txn_id, room_id, action, subject, content, queued_at)"
        " VALUES ('@bot:hs', 'samizdat-$e', '!r:hs', 'edit', '$q2', '{}', 2.5)",
        "INSERT INTO handled_events VALUES ('matrix', '$q2', '9999-01-01T00:00:00+00:00',"
        " '$reply', 0)",
    ],
    5: ["INSERT INTO questions_asked (at, place, user_id) VALUES (1.5, 'discord:1', 'discord:5')"],
    6: [
        "INSERT INTO kept_answers (at, place, user_id, question, passages, cited)"
        " VALUES ('2025-01-05T00:00:00.000000+00:00', 'discord:1', 'discord:5', 'q?', '[]', '[]')"
    ],
}


def test_seed_covers_every_version() -> None:
    assert sorted(SEED) == list(range(1, SCHEMA_VERSION + 1))


@pytest.mark.parametrize("old_version", range(SCHEMA_VERSION))
async def test_every_older_database_is_upgraded_with_its_data(
    tmp_path: Path, old_version: int
) -> None:
    path = tmp_path / "old.db"
    async with aiosqlite.connect(path, isolation_level=None) as conn:
        # Each version's rows written by that version, before the next step ran.
        for version in range(1, old_version + 1):
            assert await migrate(conn, upto=version) == version
            for statement in SEED[version]:
                await rows(conn, statement)
        assert await migrate(conn, upto=old_version) == old_version

    async with open_database(path) as db:
        assert await schema_version(db) == SCHEMA_VERSION
        database = Database(db)
        store, activity, state = (
            SettingsStore(database),
            ActivityLog(database),
            AdapterState(database),
        )
        if old_version >= 1:
            assert (await store.get(PLACE)).sources_shown == 4
            [change] = await store.recent_changes(PLACE)
            assert (change.user_id, change.new_value) == ("discord:42", "4")
        if old_version >= 2:
            [question] = await activity.unanswered(PLACE)
            assert question.question == "why?"
            assert await count(db, "feedback") == 1
        if old_version >= 3:
            assert await state.mark_handled("matrix", "$seen") is False
            assert await state.kv_get("matrix.next_batch") == "s42"
            assert await state.kv_get("matrix.outbox.@bot:hs") is None
            # The readable reply moved to the outbox table; the unreadable one was dropped.
            moved = [o for o in await state.outbox("@bot:hs") if o.txn_id == "samizdat-$q"]
            assert [(o.room_id, o.content, o.queued_at) for o in moved] == [
                ("!r:hs", {"body": "hi"}, 1.5)
            ]
        if old_version >= 4:
            assert await state.reply_id("matrix", "$q2") == "$reply"
            outbox = [o.txn_id for o in await state.outbox("@bot:hs")]
            assert outbox == ["samizdat-$q", "samizdat-$e"]  # moved by step 4, then queued
        if old_version >= 5:
            assert await rows(db, "SELECT at, user_id FROM questions_asked") == [(1.5, "discord:5")]
        # Every table of the latest schema is there and usable, whatever the start.
        await activity.record_feedback(PLACE, "discord:5", "q", ["a#1"], helpful=True)
        await state.kv_set("k", "v")
        assert await state.mark_handled("matrix", "$new") is True


async def test_a_failing_step_is_rolled_back_whole(tmp_path: Path) -> None:
    path = tmp_path / "clash.db"
    *earlier, last = MIGRATIONS[SCHEMA_VERSION - 1]
    clash = re.search(r"CREATE (TABLE|INDEX) (\w+)", last)
    assert clash is not None and earlier, "the last step should end with a table or index"
    async with aiosqlite.connect(path, isolation_level=None) as conn:
        await migrate(conn, upto=SCHEMA_VERSION - 1)
        # What the last step's last statement creates, already there: the step must fail
        # there, and fail whole, taking back what its earlier statements made.
        await rows(conn, "CREATE TABLE scratch (user_id TEXT)")
        if clash[1] == "INDEX":
            await rows(conn, f"CREATE INDEX {clash[2]} ON scratch (user_id)")
        else:
            await rows(conn, f"CREATE TABLE {clash[2]} (key TEXT)")
    with pytest.raises(DatabaseError, match=f"version {SCHEMA_VERSION}"):
        async with open_database(path):
            pytest.fail("a half-upgraded database was opened")
    async with aiosqlite.connect(path, isolation_level=None) as conn:
        assert await schema_version(conn) == SCHEMA_VERSION - 1
        tables = {name for (name,) in await rows(conn, "SELECT name FROM sqlite_master")}
        made_earlier = set(re.findall(r"CREATE (?:TABLE|INDEX) (\w+)", " ".join(earlier)))
        assert made_earlier and not made_earlier & tables


async def test_new_database_is_wal_with_foreign_keys(db: aiosqlite.Connection) -> None:
    assert await rows(db, "PRAGMA journal_mode") == [("wal",)]
    assert await rows(db, "PRAGMA foreign_keys") == [(1,)]
    assert await rows(db, "PRAGMA busy_timeout") == [(5000,)]
    assert await schema_version(db) == SCHEMA_VERSION


async def test_newer_database_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE from_the_future (x)")
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
        conn.commit()
    before = path.read_bytes()

    with pytest.raises(DatabaseTooNewError) as refused:
        async with open_database(path):
            pytest.fail("a newer database was opened")
    assert str(refused.value) == (
        f"database version {SCHEMA_VERSION + 1} is newer than this Samizdat "
        f"(knows up to {SCHEMA_VERSION}); upgrade Samizdat or use another database file"
    )
    assert path.read_bytes() == before


async def test_file_that_is_not_a_database_is_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"These are my notes on the Peloponnesian War.\n" * 40)
    before = path.read_bytes()
    with pytest.raises(NotADatabaseError, match="is not a Samizdat database") as refused:
        async with open_database(path):
            pytest.fail("a text file was opened as a database")
    assert str(path) in str(refused.value)
    assert isinstance(refused.value, DatabaseError)
    assert path.read_bytes() == before


def foreign_database(path: Path, user_version: int) -> None:
    """Another program's SQLite file, in the default (rollback) journal mode."""
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE contacts (name TEXT, phone TEXT)")
        conn.execute("CREATE INDEX contacts_by_name ON contacts (name)")
        conn.execute("INSERT INTO contacts VALUES ('Emma', '555-1917')")
        conn.execute(f"PRAGMA user_version = {user_version}")
        conn.commit()


@pytest.mark.parametrize("user_version", [0, 1, SCHEMA_VERSION - 1])
async def test_another_programs_database_is_refused_and_left_byte_for_byte(
    tmp_path: Path, user_version: int
) -> None:
    path = tmp_path / "contacts.db"
    foreign_database(path, user_version)
    before = digest(path)

    with pytest.raises(ForeignDatabaseError) as refused:
        async with open_database(path):
            pytest.fail("another program's database was opened")
    message = describe_startup_error(refused.value)
    assert message is not None and "\n" not in message
    assert str(path) in message and "another program" in message
    if user_version == 0:
        assert "contacts" in message

    assert digest(path) == before
    assert files_in(tmp_path) == ["contacts.db"]  # no -wal, no -shm
    with contextlib.closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("delete",)


async def test_migrate_alone_refuses_another_programs_database(tmp_path: Path) -> None:
    path = tmp_path / "contacts.db"
    foreign_database(path, 0)
    before = digest(path)
    async with aiosqlite.connect(path, isolation_level=None) as conn:
        with pytest.raises(ForeignDatabaseError):
            await migrate(conn)
        assert not conn.in_transaction
    assert digest(path) == before


async def test_an_empty_sqlite_file_is_taken_as_new(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    path.touch()
    async with open_database(path) as db:
        assert await schema_version(db) == SCHEMA_VERSION
        await SettingsStore(Database(db)).set(PLACE, "enabled", False, "discord:42")


async def test_a_damaged_database_is_refused_at_start_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "damaged.db"
    async with open_database(path) as db:
        database = Database(db)
        await SettingsStore(database).set(PLACE, "sources_shown", 4, "discord:42")
        for n in range(60):
            await ActivityLog(database).record_unanswered(
                PLACE, None, "discord:1", f"{n} " + "why? " * 100
            )
    [page_size] = struct.unpack(">H", path.read_bytes()[16:18])
    pages = path.stat().st_size // page_size
    assert pages > 8
    with path.open("r+b") as file:  # the first pages intact, the later ones garbage
        file.seek(4 * page_size)
        file.write(b"\xa5" * (pages - 4) * page_size)

    with pytest.raises(DamagedDatabaseError) as refused:
        async with open_database(path):
            pytest.fail("a damaged database was opened")
    message = describe_startup_error(refused.value)
    assert message is not None and "\n" not in message
    assert str(path) in message and "damaged" in message and "backup" in message


async def test_connection_is_closed_when_the_body_fails(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        async with open_database(tmp_path / "s.db") as db:
            raise RuntimeError("boom")
    with pytest.raises(ValueError, match=r"closed|no active connection"):
        await db.execute("SELECT 1")


# -- concurrency and durability -------------------------------------------------------------


async def test_concurrent_changes_from_many_tasks_lose_nothing(
    database: Storage, store: SettingsStore
) -> None:
    places = [f"discord:{n}" for n in range(20)]

    async def change(place: str, k: int) -> None:
        if k % 2:
            await store.set(place, "cooldown_seconds", 100 + k, f"user{k}")
        else:
            await store.set(place, "command_prefix", f"p{k}", f"user{k}")

    await asyncio.gather(*(change(place, k) for place in places for k in range(10)))

    assert await count(database, "audit_log") == 200
    defaults = DEFAULTS.model_dump(mode="json")
    for place in places:
        settings = (await store.get(place)).model_dump(mode="json")
        for name, expected in (
            ("cooldown_seconds", {str(100 + k) for k in range(1, 10, 2)}),
            ("command_prefix", {f"p{k}" for k in range(0, 10, 2)}),
        ):
            history = await rows(
                database,
                "SELECT old_value, new_value FROM audit_log"
                " WHERE place = ? AND setting = ? ORDER BY id",
                place,
                name,
            )
            assert {new for _, new in history} == expected
            # Each change started from the one before it: no read raced a write.
            olds = [old for old, _ in history]
            assert olds == [str(defaults[name]), *[new for _, new in history][:-1]]
            assert str(settings[name]) == history[-1][1]


async def test_cancelled_changes_leave_no_transaction_behind(
    database: Storage, store: SettingsStore
) -> None:
    # Cancel a change at every point it can be suspended; each time, the change happened
    # with its audit record or not at all, and the next change still goes through.
    for steps in range(12):
        task = asyncio.create_task(store.set(PLACE, "cooldown_seconds", 60, "discord:1"))
        for _ in range(steps):
            await asyncio.sleep(0)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await store.set(PLACE, "cooldown_seconds", steps, "discord:2")
        assert (await store.get(PLACE)).cooldown_seconds == steps
    audited = await rows(database, "SELECT old_value, new_value FROM audit_log ORDER BY id")
    assert audited[-1][1] == "11"
    assert [old for old, _ in audited] == ["5", *[new for _, new in audited][:-1]]
    assert await idle(database)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_changes_reported_by_a_killed_writer_survive(
    tmp_path: Path, request: pytest.FixtureRequest, backend: str
) -> None:
    """Every change a writer reported before SIGKILL is there after, with its audit record."""
    if backend == "sqlite":
        target = str(tmp_path / "killed.db")
    else:
        server: PostgresServer = request.getfixturevalue("postgres")
        target = server.new_database()
    writer = await asyncio.create_subprocess_exec(
        sys.executable,
        str(WRITER),
        target,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert writer.stdout is not None
    reported: list[tuple[int, str, str]] = []
    try:
        while len(reported) < 60:
            line = await writer.stdout.readline()
            if not line:
                break
            number, place, value = line.decode().split()
            reported.append((int(number), place, value))
    finally:
        with contextlib.suppress(ProcessLookupError):
            writer.send_signal(signal.SIGKILL)
        _, errors = await writer.communicate()
    assert len(reported) == 60, errors.decode()
    assert writer.returncode == -signal.SIGKILL

    async with contextlib.AsyncExitStack() as opened:
        database: Storage
        if backend == "sqlite":
            db = await opened.enter_async_context(open_database(Path(target)))
            assert await rows(db, "PRAGMA integrity_check") == [("ok",)]
            database = Database(db)
        else:
            database = await opened.enter_async_context(open_postgres(target))
        audit = {
            user: (place, new)
            for user, place, new in await rows(
                database, "SELECT user_id, place, new_value FROM audit_log"
            )
        }
        for i, place, value in reported:
            assert audit[f"writer-{i}"] == (place, value)
        store = SettingsStore(database)
        for place in {place for _, place, _ in reported}:
            [latest] = await store.recent_changes(place, limit=1)
            assert str((await store.get(place)).cooldown_seconds) == latest.new_value
