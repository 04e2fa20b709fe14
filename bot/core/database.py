"""The one SQLite file Samizdat keeps: opening it safely, and taking turns on its connection.

`open_database` refuses a file newer than this code, another program's database or a damaged
one before anything is written to it. `Database` is the open connection with the lock its
transactions take turns on: the stores of settings, activity and adapter state share it,
because SQLite transactions on one connection cannot interleave. A read or write the machine
makes fail (full disk, damaged file) raises `StorageError`, never sqlite3's own.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiosqlite

from bot.core._migrations import (
    SCHEMA_VERSION,
    DamagedDatabaseError,
    DatabaseError,
    DatabaseTooNewError,
    ForeignDatabaseError,
    NotADatabaseError,
    ensure_ours,
    migrate,
    rollback,
    schema_version,
)

__all__ = [
    "SCHEMA_VERSION",
    "DamagedDatabaseError",
    "Database",
    "DatabaseError",
    "DatabaseTooNewError",
    "ForeignDatabaseError",
    "NotADatabaseError",
    "StorageError",
    "migrate",
    "open_database",
    "schema_version",
    "stamp",
]

log = logging.getLogger(__name__)

_BUSY_TIMEOUT_MS = 5000


@asynccontextmanager
async def open_database(path: Path) -> AsyncIterator[aiosqlite.Connection]:
    """Open (creating if needed) and upgrade the database at `path`; close it on every exit.

    A file newer than this code, another program's database, a damaged file, or not a
    database at all, is refused before anything is written to it, so pointing Samizdat at the
    wrong file never changes that file.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(path, isolation_level=None, timeout=_BUSY_TIMEOUT_MS / 1000)
    except (OSError, sqlite3.Error) as error:
        raise DatabaseError(f"cannot open the database {path}: {error}") from error
    try:
        await _prepare(db, path)
        yield db
    finally:
        await db.close()


async def _prepare(db: aiosqlite.Connection, path: Path) -> None:
    """Recognise the file, then set it up: nothing is written until it is known to be ours."""
    try:
        await _run(db, f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS:d}")
        version = await schema_version(db)
        if version > SCHEMA_VERSION:
            raise DatabaseTooNewError(version, SCHEMA_VERSION)
        await ensure_ours(db, version, str(path))
        await _check_intact(db, path)
    except sqlite3.Error as error:
        raise _unreadable(path, error) from error
    try:
        await _run(db, "PRAGMA foreign_keys = ON")
        # The first write to the file, so only now: journal_mode=WAL rewrites the header.
        async with db.execute("PRAGMA journal_mode = WAL") as cursor:
            row = await cursor.fetchone()
        if row is None or str(row[0]).lower() != "wal":
            log.warning("%s: SQLite refused WAL mode (kept %s)", path, row and row[0])
        await _run(db, "PRAGMA synchronous = FULL")
    except sqlite3.Error as error:
        raise DatabaseError(f"cannot set up the database {path}: {error}") from error
    await migrate(db)


async def _check_intact(db: aiosqlite.Connection, path: Path) -> None:
    """Read every page once, so damage is one clear line at start, not a failure mid-chat.

    `quick_check` costs one pass over the file; every log in it is bounded, so it stays small.
    """
    async with db.execute("PRAGMA quick_check") as cursor:
        findings = [str(row[0]) for row in await cursor.fetchall()]
    if findings != ["ok"]:
        raise DamagedDatabaseError(
            f"the database {path} is damaged (SQLite found: {_clip(findings[0], 200)}); "
            "restore it from a backup, or move it aside to start afresh"
        )


def _unreadable(path: Path, error: sqlite3.Error) -> DatabaseError:
    """The start-up error for a file SQLite could not read, by what SQLite said."""
    name = _error_family(error)
    if name == "SQLITE_CORRUPT":
        return DamagedDatabaseError(
            f"the database {path} is damaged (SQLite says: {error}); "
            "restore it from a backup, or move it aside to start afresh"
        )
    if name == "SQLITE_NOTADB" or (name is None and type(error) is sqlite3.DatabaseError):
        return NotADatabaseError(
            f"{path} is not a Samizdat database (SQLite says: {error}); "
            "check the database path, or move the file aside to start afresh"
        )
    problem = _problem(error)
    said = f"{problem} (SQLite says: {error})" if problem else str(error)
    return DatabaseError(f"cannot read the database {path}: {said}")


class StorageError(DatabaseError):
    """Reading or saving failed while the bot runs: the disk, not the code, is at fault.

    `reason` says what went wrong in a few words a person can act on ("the disk is full");
    the command layer turns this into a reply, so one failed write never ends the bot.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(f"the database could not be used: {reason}")
        self.reason = reason


# What a person can be told about the SQLite errors that come from the machine rather than
# from a bug: a full disk, a damaged or read-only file, another program holding it.
_PROBLEMS = {
    "SQLITE_FULL": "the disk is full",
    "SQLITE_READONLY": "the database file is read-only",
    "SQLITE_CORRUPT": "the database file is damaged",
    "SQLITE_NOTADB": "the database file is damaged",
    "SQLITE_IOERR": "the disk reported an error",
    "SQLITE_BUSY": "another program is holding the database",
    "SQLITE_LOCKED": "another program is holding the database",
    "SQLITE_CANTOPEN": "the database file cannot be opened",
    "SQLITE_PERM": "the database file may not be written",
    "SQLITE_NOMEM": "the machine is out of memory",
}


def _error_family(error: sqlite3.Error) -> str | None:
    """SQLite's primary error name ("SQLITE_READONLY" for "SQLITE_READONLY_DBMOVED")."""
    name = getattr(error, "sqlite_errorname", None)
    return "_".join(name.split("_")[:2]) if isinstance(name, str) else None


def _problem(error: sqlite3.Error) -> str | None:
    """The words for an error of the machine; None for one of ours, which stays a bug."""
    family = _error_family(error)
    return None if family is None else _PROBLEMS.get(family)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _utcnow() -> datetime:
    return datetime.now(UTC)


def stamp(moment: datetime) -> str:
    """A fixed-width ISO timestamp in UTC, so that text order is time order."""
    if moment.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


class Database:
    """An open connection from `open_database` and the lock its transactions take turns on.

    Writes run read-modify-write inside one `BEGIN IMMEDIATE` transaction, so concurrent
    commands never lose each other's changes; reads take the same lock so they never see
    another task's unfinished transaction. `clock` stamps the rows written.
    """

    def __init__(
        self, connection: aiosqlite.Connection, clock: Callable[[], datetime] = _utcnow
    ) -> None:
        if connection.isolation_level is not None:
            raise ValueError("Database needs a connection from open_database")
        self.connection = connection
        self.clock = clock
        self._lock = asyncio.Lock()

    @asynccontextmanager
    async def write(self) -> AsyncIterator[datetime]:
        """One write transaction, alone on this connection; yields the time to stamp rows with."""
        async with self._lock:
            try:
                await self.run("BEGIN IMMEDIATE")
                yield self.clock()
                await self.run("COMMIT")
            except sqlite3.Error as error:
                await rollback(self.connection)
                problem = _problem(error)
                if problem is None:
                    raise
                raise StorageError(problem) from error
            except BaseException:
                await rollback(self.connection)
                raise

    @asynccontextmanager
    async def read(self) -> AsyncIterator[None]:
        """Reads, alone on this connection; the machine's failures come out as `StorageError`."""
        async with self._lock:
            try:
                yield
            except sqlite3.Error as error:
                problem = _problem(error)
                if problem is None:
                    raise
                raise StorageError(problem) from error

    async def reachable(self) -> bool:
        """Whether a trivial query answers now (for /readyz); never raises."""
        try:
            async with self.read(), self.connection.execute("SELECT 1") as cursor:
                return await cursor.fetchone() is not None
        except (sqlite3.Error, ValueError, DatabaseError):
            return False

    async def run(self, sql: str, params: Iterable[Any] = ()) -> int:
        """Execute one statement; return how many rows it changed."""
        async with self.connection.execute(sql, tuple(params)) as cursor:
            return cursor.rowcount

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> tuple[Any, ...] | None:
        async with self.connection.execute(sql, tuple(params)) as cursor:
            row = await cursor.fetchone()
        return None if row is None else tuple(row)

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        async with self.connection.execute(sql, tuple(params)) as cursor:
            return [tuple(row) for row in await cursor.fetchall()]

    # One process owns an SQLite file's settings at a time as far as caching goes: nothing is
    # announced, so stores read every time (a `samizdat chat` beside a running bot included).
    notifies = False

    async def notify(self, channel: str, payload: str) -> None:
        """Nothing to announce: with SQLite, stores cache nothing."""

    def listen(self, channel: str, listener: Callable[[str], None]) -> None:
        """Nothing is ever announced with SQLite."""

    async def prune(self, table: str, place: str, keep: int) -> None:
        # `table` is one of our own constant names, never user input.
        await self.run(
            f"DELETE FROM {table} WHERE place = ? AND id NOT IN"
            f" (SELECT id FROM {table} WHERE place = ? ORDER BY id DESC LIMIT ?)",
            (place, place, keep),
        )


async def _run(db: aiosqlite.Connection, sql: str) -> None:
    async with db.execute(sql):
        pass
