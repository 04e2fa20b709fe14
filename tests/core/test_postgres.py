"""What only the PostgreSQL backend does: its migrations, announcements, locks and outages.

The stores' behaviour itself is the contract suite in test_store.py, run on both backends.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import asyncpg
import pytest
from postgres_harness import PostgresServer

from bot.core._migrations import MIGRATIONS
from bot.core._migrations_postgres import POSTGRES_MIGRATIONS
from bot.core.database import (
    DatabaseError,
    DatabaseTooNewError,
    ForeignDatabaseError,
    StorageError,
)
from bot.core.exclusive import AlreadyRunningError
from bot.core.postgres import (
    SCHEMA_VERSION,
    PostgresLocks,
    open_postgres,
    postgres_sql,
)
from bot.core.storage import Storage
from bot.core.store import SettingsStore
from bot.errors import describe_startup_error

PLACE = "discord:1"
_CREATED = re.compile(r"CREATE (TABLE|INDEX) (\w+)")


def _created(step: tuple[str, ...]) -> list[tuple[str, str]]:
    return [found for statement in step for found in _CREATED.findall(statement)]


def test_every_sqlite_step_has_a_postgres_twin_creating_the_same_things() -> None:
    assert len(POSTGRES_MIGRATIONS) == len(MIGRATIONS) == SCHEMA_VERSION
    for number, (sqlite, postgres) in enumerate(
        zip(MIGRATIONS, POSTGRES_MIGRATIONS, strict=True), 1
    ):
        assert _created(postgres) == _created(sqlite), f"step {number} differs"


def test_placeholders_are_numbered_in_order() -> None:
    assert postgres_sql("SELECT ? WHERE a = ? AND b IN (?)") == (
        "SELECT $1 WHERE a = $2 AND b IN ($3)"
    )


async def _columns(url: str) -> dict[str, list[str]]:
    connection = await asyncpg.connect(url)
    try:
        found = await connection.fetch(
            "SELECT table_name, column_name FROM information_schema.columns"
            " WHERE table_schema = 'public' ORDER BY table_name, ordinal_position"
        )
    finally:
        await connection.close()
    tables: dict[str, list[str]] = {}
    for table, column in found:
        tables.setdefault(str(table), []).append(str(column))
    return tables


async def test_a_new_database_gets_every_table_and_the_version(postgres: PostgresServer) -> None:
    url = postgres.new_database()
    async with open_postgres(url):
        pass
    async with open_postgres(url):  # a second start finds nothing to do
        pass
    tables = await _columns(url)
    expected = {name for kind, name in _created(sum(MIGRATIONS, ())) if kind == "TABLE"}
    assert set(tables) == expected | {"samizdat_schema"}
    connection = await asyncpg.connect(url)
    try:
        assert await connection.fetchval("SELECT version FROM samizdat_schema") == SCHEMA_VERSION
    finally:
        await connection.close()


async def test_processes_starting_together_migrate_once(postgres: PostgresServer) -> None:
    url = postgres.new_database()

    async def start() -> None:
        async with open_postgres(url):
            pass

    await asyncio.gather(*(start() for _ in range(4)))
    assert "questions_asked" in await _columns(url)


async def test_another_programs_database_is_refused_and_left_alone(
    postgres: PostgresServer,
) -> None:
    url = postgres.new_database()
    connection = await asyncpg.connect(url)
    try:
        await connection.execute("CREATE TABLE invoices (id INTEGER)")
        with pytest.raises(ForeignDatabaseError) as refused:
            async with open_postgres(url):
                pytest.fail("another program's database was opened")
        assert "invoices" in str(refused.value) and "\n" not in str(refused.value)
        assert describe_startup_error(refused.value) == str(refused.value)
        assert set(await _columns(url)) == {"invoices"}
    finally:
        await connection.close()


async def test_a_newer_database_is_refused(postgres: PostgresServer) -> None:
    url = postgres.new_database()
    async with open_postgres(url):
        pass
    connection = await asyncpg.connect(url)
    try:
        await connection.execute("UPDATE samizdat_schema SET version = $1", SCHEMA_VERSION + 1)
    finally:
        await connection.close()
    with pytest.raises(DatabaseTooNewError):
        async with open_postgres(url):
            pass


async def test_an_unreachable_server_is_one_line_without_the_password(
    postgres: PostgresServer,
) -> None:
    url = f"postgresql://samizdat:hunter2@127.0.0.1:{postgres.port + 1}/none"
    with pytest.raises(DatabaseError) as refused:
        async with open_postgres(url):
            pass
    message = str(refused.value)
    assert "cannot be reached" in message and "hunter2" not in message
    assert f"127.0.0.1:{postgres.port + 1}/none" in message


# -- announcements --------------------------------------------------------------------------


async def _evicted(store: SettingsStore, place: str) -> bool:
    """Wait (up to a second, the promise) for the store to forget its copy of `place`."""
    for _ in range(100):
        if place not in (store._cached or {}):
            return True
        await asyncio.sleep(0.01)
    return False


async def test_a_change_through_one_connection_reaches_another_within_a_second(
    postgres: PostgresServer,
) -> None:
    url = postgres.new_database()
    async with open_postgres(url) as first, open_postgres(url) as second:
        here, there = SettingsStore(first), SettingsStore(second)
        assert (await there.get(PLACE)).cooldown_seconds == 5  # cached there now
        await here.set(PLACE, "cooldown_seconds", 30, "discord:42")
        assert await _evicted(there, PLACE)
        assert (await there.get(PLACE)).cooldown_seconds == 30


async def test_the_cache_is_real_and_a_lost_connection_empties_it(
    postgres: PostgresServer,
) -> None:
    url = postgres.new_database()
    async with open_postgres(url) as database:
        store = SettingsStore(database)
        assert (await store.get(PLACE)).enabled is True
        # Written behind the store's back, announced to nobody: the cached copy answers.
        await _write(database, "INSERT INTO place_settings VALUES (?, ?, '')", PLACE)
        assert (await store.get(PLACE)).enabled is True

        # The LISTEN connection dies; whatever was missed meanwhile, the cache goes.
        await _write(
            database,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE pid <> pg_backend_pid() AND datname = current_database()",
        )
        assert await _evicted(store, PLACE)
        assert (await store.get(PLACE)).enabled is False


async def _write(database: Storage, sql: str, *params: object) -> None:
    async with database.write():
        if params:
            await database.run(sql, (*params, '{"enabled": false}'))
        else:
            await database.run(sql)


# -- locks ----------------------------------------------------------------------------------


async def test_a_lock_is_held_by_one_connection_and_names_its_holder(
    postgres: PostgresServer,
) -> None:
    url = postgres.new_database()
    locks = PostgresLocks(url)
    async with locks.hold("matrix:@bot:example.org", "the Matrix account @bot:example.org"):
        with pytest.raises(AlreadyRunningError) as refused:
            async with PostgresLocks(url).hold("matrix:@bot:example.org", "the account"):
                pass
        async with locks.hold("matrix:@other:example.org", "another account"):
            pass
    async with PostgresLocks(url).hold("matrix:@bot:example.org", "the account"):
        pass  # released with its connection
    message = str(refused.value)
    assert message.startswith("the account is already served by samizdat ")
    assert "postgresql://127.0.0.1:" in message and "postgres@" not in message


# -- outages --------------------------------------------------------------------------------


@pytest.fixture
async def outage_store(postgres: PostgresServer) -> AsyncIterator[Storage]:
    """A database on the session's server, which the test stops; it is started again after."""
    try:
        async with open_postgres(postgres.new_database()) as database:
            yield database
    finally:
        if not postgres.running():
            postgres.restart()


async def test_a_stopped_server_is_a_storage_error_until_it_is_back(
    postgres: PostgresServer, outage_store: Storage
) -> None:
    store = SettingsStore(outage_store)
    await store.set(PLACE, "cooldown_seconds", 30, "discord:42")
    assert await outage_store.reachable()

    postgres.stop()
    assert not await outage_store.reachable()
    with pytest.raises(StorageError) as refused:
        await store.set(PLACE, "cooldown_seconds", 40, "discord:42")
    assert refused.value.reason.startswith("the database server")

    postgres.restart()
    assert await outage_store.reachable()
    assert (await store.get(PLACE)).cooldown_seconds == 30, "the committed value survived"
    await store.set(PLACE, "cooldown_seconds", 40, "discord:42")
    assert (await store.get(PLACE)).cooldown_seconds == 40
