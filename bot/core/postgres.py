"""The PostgreSQL backend: the same `Storage` the stores use with SQLite, for a fleet.

Several bot processes (on one host or many) share one PostgreSQL database. Each process
keeps one connection for its stores, taking turns on it as with SQLite, and one more that
LISTENs for other processes' changes. Every write transaction first takes one advisory
lock, so writes from all processes are ordered exactly as SQLite's `BEGIN IMMEDIATE` orders
them: a read-modify-write (a setting, a cooldown) never loses another process's change.
Writes are rare and short (a setting, a record, a question's time), so the one lock costs
little.

A lost connection is opened again at the next use; until then, reads and writes fail with
`StorageError` ("the database server cannot be reached"), which the core turns into a
reply, and /readyz reports the database unreachable. Listeners are told (with "") that
announcements may have been missed, so nothing cached outlives a reconnection.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import re
import socket
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import asyncpg

from bot.core._migrations import DatabaseError, DatabaseTooNewError, ForeignDatabaseError
from bot.core._migrations_postgres import POSTGRES_MIGRATIONS
from bot.core.database import StorageError
from bot.core.exclusive import already_running
from bot.core.storage import CHANNELS, Listener, Row

log = logging.getLogger(__name__)

SCHEMA_VERSION = len(POSTGRES_MIGRATIONS)

# Advisory lock keys (any 64-bit numbers, fixed forever): one orders all writes, one lets a
# single process migrate at a time. Other locks (a Matrix account, an identify bucket) are
# keyed by hashing their names into the space above these.
WRITE_LOCK = 0x53414D495A444154  # "SAMIZDAT"
MIGRATE_LOCK = WRITE_LOCK + 1

_CONNECT_TIMEOUT = 10.0
_PLACEHOLDER = re.compile(r"\?")

# What a person can be told about PostgreSQL's failures that come from the machine.
_PROBLEMS: tuple[tuple[type[BaseException], str], ...] = (
    (asyncpg.DiskFullError, "the database server's disk is full"),
    (asyncpg.ReadOnlySQLTransactionError, "the database is read-only"),
    (asyncpg.InsufficientPrivilegeError, "the database may not be written by this user"),
    (asyncpg.TooManyConnectionsError, "the database server has no free connections"),
    (asyncpg.CannotConnectNowError, "the database server is starting or stopping"),
    (asyncpg.AdminShutdownError, "the database server is shutting down"),
    (asyncpg.PostgresConnectionError, "the database server cannot be reached"),
    (asyncpg.InterfaceError, "the database server cannot be reached"),
    (ConnectionError, "the database server cannot be reached"),
    (OSError, "the database server cannot be reached"),
    (TimeoutError, "the database server did not answer in time"),
)


def problem_of(error: BaseException) -> str | None:
    """The words for a failure of the machine or the server; None for a bug of ours."""
    for kind, words in _PROBLEMS:
        if isinstance(error, kind):
            return words
    return None


def postgres_sql(sql: str) -> str:
    """Our shared SQL with `?` placeholders, numbered the PostgreSQL way ($1, $2, ...).

    Our statements never hold a literal "?", so every one is a placeholder.
    """
    counter = iter(range(1, 10_000))
    return _PLACEHOLDER.sub(lambda _: f"${next(counter)}", sql)


def _changed(status: str) -> int:
    """Rows changed, from a command status such as "INSERT 0 1" or "DELETE 3"."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


def _utcnow() -> datetime:
    return datetime.now(UTC)


def describe_url(url: str) -> str:
    """The server and database of a URL, without its user or password, for messages."""
    tail = url.rsplit("@", 1)[-1] if "@" in url else url.split("://", 1)[-1]
    return f"postgresql://{tail.split('?', 1)[0]}"


class PostgresDatabase:
    """`Storage` over one PostgreSQL database, opened by `open_postgres`."""

    notifies = True

    def __init__(self, url: str, clock: Callable[[], datetime] = _utcnow) -> None:
        self.url = url
        self.clock = clock
        self._connection: asyncpg.Connection | None = None
        self._lock = asyncio.Lock()
        self._listeners: dict[str, list[Listener]] = {}
        self._listening: asyncpg.Connection | None = None
        self._listen_lock = asyncio.Lock()
        self._lost = asyncio.Event()
        self._closed = False

    # -- connections ----------------------------------------------------------------------

    async def _connect(self) -> asyncpg.Connection:
        connection: asyncpg.Connection = await asyncpg.connect(
            self.url, timeout=_CONNECT_TIMEOUT, server_settings={"application_name": "samizdat"}
        )
        return connection

    async def _ensure(self) -> asyncpg.Connection:
        """The stores' connection, opened again if it was lost."""
        if self._closed:
            raise StorageError("the database is closed")
        if self._connection is None or self._connection.is_closed():
            self._connection = await self._connect()
        return self._connection

    async def _forget_connection(self) -> None:
        if self._connection is not None:
            connection, self._connection = self._connection, None
            connection.terminate()

    async def close(self) -> None:
        self._closed = True
        for connection in (self._connection, self._listening):
            if connection is not None and not connection.is_closed():
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(connection.close(), 5)
        self._connection = self._listening = None

    # -- transactions ---------------------------------------------------------------------

    @asynccontextmanager
    async def write(self) -> AsyncIterator[datetime]:
        async with self._lock:
            try:
                connection = await self._ensure()
                try:
                    async with connection.transaction():
                        await connection.execute("SELECT pg_advisory_xact_lock($1)", WRITE_LOCK)
                        yield self.clock()
                except BaseException:
                    # A cancelled statement can leave the connection mid-protocol or still in
                    # the transaction; a new connection is cheaper than any doubt about it.
                    if not connection.is_closed() and (
                        connection.is_in_transaction() or _cancelled()
                    ):
                        await self._forget_connection()
                    raise
            except StorageError:
                raise
            except Exception as error:
                await self._raise_storage_error(error)
                raise

    @asynccontextmanager
    async def read(self) -> AsyncIterator[None]:
        async with self._lock:
            try:
                connection = await self._ensure()
                try:
                    yield
                except BaseException:
                    if not connection.is_closed() and _cancelled():
                        await self._forget_connection()
                    raise
            except StorageError:
                raise
            except Exception as error:
                await self._raise_storage_error(error)
                raise

    async def _raise_storage_error(self, error: BaseException) -> None:
        """Turn a failure of the machine into `StorageError`; leave a bug as it is."""
        problem = problem_of(error)
        if problem is None:
            return
        if self._connection is None or self._connection.is_closed() or not _is_sql(error):
            await self._forget_connection()
        raise StorageError(problem) from error

    async def run(self, sql: str, params: Iterable[Any] = ()) -> int:
        connection = await self._ensure()
        return _changed(await connection.execute(postgres_sql(sql), *params))

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> Row | None:
        connection = await self._ensure()
        row = await connection.fetchrow(postgres_sql(sql), *params)
        return None if row is None else tuple(row)

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[Row]:
        connection = await self._ensure()
        return [tuple(row) for row in await connection.fetch(postgres_sql(sql), *params)]

    async def prune(self, table: str, place: str, keep: int) -> None:
        # `table` is one of our own constant names, never user input.
        await self.run(
            f"DELETE FROM {table} WHERE place = ? AND id NOT IN"
            f" (SELECT id FROM {table} WHERE place = ? ORDER BY id DESC LIMIT ?)",
            (place, place, keep),
        )

    async def reachable(self) -> bool:
        try:
            async with self.read():
                return await self.fetchone("SELECT 1") is not None
        except Exception:
            return False

    # -- announcements --------------------------------------------------------------------

    async def notify(self, channel: str, payload: str) -> None:
        await self.run("SELECT pg_notify(?, ?)", (_channel(channel), payload))

    def listen(self, channel: str, listener: Listener) -> None:
        if channel not in CHANNELS:
            raise ValueError(f"no announcements on {channel!r}; add it to storage.CHANNELS")
        self._listeners.setdefault(_channel(channel), []).append(listener)

    async def start_listening(self) -> None:
        """Open the LISTEN connection, on every channel a change can be announced on."""
        async with self._listen_lock:
            connection = await self._connect()
            self._lost.clear()
            connection.add_termination_listener(lambda _: self._lost.set())
            try:
                for channel in CHANNELS:
                    await connection.add_listener(_channel(channel), self._deliver)
            except BaseException:
                connection.terminate()
                raise
            self._listening = connection
        self._tell_everyone("")

    async def keep_listening(self, retry_every: float = 1.0) -> None:
        """Keep the LISTEN connection open until cancelled, opening it again when it is lost.

        Every new connection tells the listeners "" first: what happened while nobody was
        listening is unknown, so every cache starts afresh.
        """
        while True:
            await self._lost.wait()
            log.warning("lost the database's change announcements; listening again")
            self._tell_everyone("")
            if self._listening is not None:
                self._listening.terminate()
                self._listening = None
            try:
                await self.start_listening()
            except Exception as error:
                if problem_of(error) is None:
                    raise
                self._lost.set()
                await asyncio.sleep(retry_every)

    def _deliver(self, connection: object, pid: int, channel: str, payload: object) -> None:
        for listener in self._listeners.get(channel, ()):
            listener(str(payload))

    def _tell_everyone(self, payload: str) -> None:
        for listeners in self._listeners.values():
            for listener in listeners:
                listener(payload)


def _cancelled() -> bool:
    """Whether the current task is being cancelled (a write was interrupted)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def _channel(name: str) -> str:
    return f"samizdat_{name}"


def _is_sql(error: BaseException) -> bool:
    """An error the server reported for a statement: the connection is still good."""
    return isinstance(error, asyncpg.PostgresError) and not isinstance(
        error, asyncpg.PostgresConnectionError
    )


class PostgresLocks:
    """`ProcessLocks` for a PostgreSQL database: session advisory locks, one connection each.

    The server releases a session lock when its connection ends, however its process ends
    (SIGKILL included): the kernel closes the socket and the server notices at once.
    """

    def __init__(self, url: str) -> None:
        self._url = url
        self._turns: set[asyncpg.Connection] = set()

    @asynccontextmanager
    async def hold(self, name: str, what: str) -> AsyncIterator[None]:
        key = lock_key(name)
        # Named after this process, so a refused one can say which process holds the lock.
        me = f"samizdat {os.getpid()} on {socket.gethostname()}"[:63]
        connection = await asyncpg.connect(
            self._url, timeout=_CONNECT_TIMEOUT, server_settings={"application_name": me}
        )
        try:
            if not await connection.fetchval("SELECT pg_try_advisory_lock($1)", key):
                holder = await connection.fetchval(
                    "SELECT a.application_name FROM pg_locks l"
                    " JOIN pg_stat_activity a ON a.pid = l.pid"
                    " WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1"
                    " AND l.classid::bigint = (($1::bigint >> 32) & 4294967295)"
                    " AND l.objid::bigint = ($1::bigint & 4294967295) LIMIT 1",
                    key,
                )
                raise already_running(what, describe_url(self._url), holder or None)
            yield
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(connection.close(), 5)

    async def take_turn(self, name: str, hold_for: float) -> None:
        connection = await asyncpg.connect(self._url, timeout=_CONNECT_TIMEOUT)
        try:
            await connection.execute("SELECT pg_advisory_lock($1)", lock_key(name))
        except BaseException:
            connection.terminate()
            raise
        # Ending the session releases the lock; the server notices a closed socket at once.
        self._turns.add(connection)
        asyncio.get_running_loop().call_later(hold_for, self._end_turn, connection)

    def _end_turn(self, connection: asyncpg.Connection) -> None:
        self._turns.discard(connection)
        connection.terminate()

    def close(self) -> None:
        """End every turn still held (the process is stopping)."""
        for connection in list(self._turns):
            self._end_turn(connection)


def lock_key(name: str) -> int:
    """A signed 64-bit advisory lock key for a name, away from the fixed keys above."""
    digest = hashlib.sha256(f"samizdat:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


# -- opening and migrating ----------------------------------------------------------------


@asynccontextmanager
async def open_postgres(url: str) -> AsyncIterator[PostgresDatabase]:
    """Connect, check the database is ours, bring it up to date; close it on every exit.

    A database with tables of another program, or one a newer Samizdat wrote, is refused
    before anything is written to it.
    """
    database = PostgresDatabase(url)
    try:
        connection = await database._ensure()
        await migrate_postgres(connection, describe_url(url))
    except DatabaseError:
        await database.close()
        raise
    except Exception as error:
        await database.close()
        problem = problem_of(error) or str(error)
        raise DatabaseError(f"cannot open the database {describe_url(url)}: {problem}") from error
    try:
        await database.start_listening()
    except BaseException:
        await database.close()
        raise
    listening = asyncio.create_task(database.keep_listening(), name="postgres-listen")
    try:
        yield database
    finally:
        listening.cancel()
        await asyncio.gather(listening, return_exceptions=True)
        await database.close()


async def postgres_version(connection: asyncpg.Connection) -> int:
    """The schema version recorded in the database; 0 for one without our table."""
    # A catalog query, not to_regclass: that reads a cache which may not yet know of a table
    # another process has just created.
    exists = await connection.fetchval(
        "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_tables"
        " WHERE schemaname = current_schema() AND tablename = 'samizdat_schema')"
    )
    if not exists:
        return 0
    version = await connection.fetchval("SELECT version FROM samizdat_schema")
    return int(version or 0)


async def _ensure_ours(connection: asyncpg.Connection, version: int, label: str) -> None:
    if version != 0:
        return
    held = await connection.fetch(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
    )
    if held:
        names = sorted(str(row[0]) for row in held)
        shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        raise ForeignDatabaseError(
            f"{label} holds another program's tables ({shown}); Samizdat leaves it "
            "untouched: give Samizdat a database of its own"
        )


async def migrate_postgres(
    connection: asyncpg.Connection, label: str = "the database", upto: int | None = None
) -> int:
    """Apply every step the database lacks, each in its own transaction; return the version.

    The migration lock makes a second process starting at the same moment wait, then find
    the steps done.
    """
    target = SCHEMA_VERSION if upto is None else upto
    current = await postgres_version(connection)
    if current > SCHEMA_VERSION:
        raise DatabaseTooNewError(current, SCHEMA_VERSION)
    while current < target:
        step = current + 1
        async with connection.transaction():
            await connection.execute("SELECT pg_advisory_xact_lock($1)", MIGRATE_LOCK)
            current = await postgres_version(connection)
            if current > SCHEMA_VERSION:
                raise DatabaseTooNewError(current, SCHEMA_VERSION)
            await _ensure_ours(connection, current, label)
            if current < step:
                if current == 0:
                    await connection.execute(
                        "CREATE TABLE samizdat_schema (version INTEGER NOT NULL)"
                    )
                    await connection.execute("INSERT INTO samizdat_schema VALUES (0)")
                for statement in POSTGRES_MIGRATIONS[step - 1]:
                    await connection.execute(statement)
                await connection.execute("UPDATE samizdat_schema SET version = $1", step)
                current = step
    return current
