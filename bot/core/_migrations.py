"""The settings database's schema history, and the runner that brings a file up to date.

Migrations are numbered and append-only: once released, a step is never edited, only followed
by a new one, so every database ever written can reach the current schema. Each step has a
PostgreSQL twin of the same number in `bot.core._migrations_postgres`; a test holds the two
lists to the same tables and indexes. The version lives in `PRAGMA user_version`, which
SQLite keeps in the file header and changes inside the same transaction as the step itself,
so a crash leaves a file at one version or the next, never between them.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3

import aiosqlite

# Each step is a list of statements run in one `BEGIN IMMEDIATE` transaction. Statements, not
# scripts: `executescript` commits any open transaction first, which would split a step in two.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: per-place settings (only the fields an admin changed) and who changed them.
    (
        """
        CREATE TABLE place_settings (
            place      TEXT PRIMARY KEY,
            data       TEXT NOT NULL DEFAULT '{}',
            updated_at TEXT NOT NULL
        )
        """,
        """
        CREATE TABLE audit_log (
            id        INTEGER PRIMARY KEY,
            at        TEXT NOT NULL,
            place     TEXT NOT NULL,
            user_id   TEXT NOT NULL,
            setting   TEXT NOT NULL,
            old_value TEXT,
            new_value TEXT
        )
        """,
        "CREATE INDEX audit_log_by_place ON audit_log (place, id)",
    ),
    # 2: what the library could not answer and what readers thought of answers; indexes
    # by user so that forgetting a person does not scan every table.
    (
        """
        CREATE TABLE unanswered (
            id       INTEGER PRIMARY KEY,
            at       TEXT NOT NULL,
            place    TEXT NOT NULL,
            channel  TEXT,
            user_id  TEXT NOT NULL,
            question TEXT NOT NULL
        )
        """,
        "CREATE INDEX unanswered_by_place ON unanswered (place, id)",
        "CREATE INDEX unanswered_by_user ON unanswered (user_id)",
        """
        CREATE TABLE feedback (
            id          INTEGER PRIMARY KEY,
            at          TEXT NOT NULL,
            place       TEXT NOT NULL,
            user_id     TEXT NOT NULL,
            question    TEXT NOT NULL,
            passage_ids TEXT NOT NULL,
            helpful     INTEGER NOT NULL CHECK (helpful IN (0, 1))
        )
        """,
        "CREATE INDEX feedback_by_place ON feedback (place, id)",
        "CREATE INDEX feedback_by_user ON feedback (user_id)",
        "CREATE INDEX audit_log_by_user ON audit_log (user_id)",
    ),
    # 3: adapter state that must survive a restart: events already answered, sync tokens.
    (
        """
        CREATE TABLE handled_events (
            platform   TEXT NOT NULL,
            event_id   TEXT NOT NULL,
            handled_at TEXT NOT NULL,
            PRIMARY KEY (platform, event_id)
        ) WITHOUT ROWID
        """,
        "CREATE INDEX handled_events_by_age ON handled_events (handled_at)",
        """
        CREATE TABLE kv (
            key   TEXT PRIMARY KEY,
            value TEXT NOT NULL
        )
        """,
    ),
    # 4: replies on their way out, in a table of their own so that a claim and its reply are
    # written in one transaction (a kill between the two lost questions); which reply
    # answered which event, and which questions were redacted, for edits and redactions.
    # The replies an older version kept as one JSON list in `kv` move here.
    (
        """
        CREATE TABLE outbox (
            id        INTEGER PRIMARY KEY,
            sender    TEXT NOT NULL,
            txn_id    TEXT NOT NULL,
            room_id   TEXT NOT NULL,
            action    TEXT NOT NULL CHECK (action IN ('reply', 'edit', 'redact')),
            subject   TEXT,
            content   TEXT NOT NULL,
            queued_at REAL NOT NULL,
            UNIQUE (sender, txn_id)
        )
        """,
        "ALTER TABLE handled_events ADD COLUMN reply_id TEXT",
        "ALTER TABLE handled_events ADD COLUMN redacted INTEGER NOT NULL DEFAULT 0",
        """
        INSERT OR IGNORE INTO outbox (sender, txn_id, room_id, action, subject, content, queued_at)
        SELECT substr(box.key, 15), json_extract(item.value, '$.txn_id'),
               json_extract(item.value, '$.room_id'), 'reply', NULL,
               json_extract(item.value, '$.content'), json_extract(item.value, '$.queued_at')
        FROM kv AS box,
             json_each(CASE WHEN json_valid(box.value) AND json_type(box.value) = 'array'
                       THEN box.value ELSE '[]' END) AS item
        WHERE box.key LIKE 'matrix.outbox.%'
          AND json_type(item.value, '$.txn_id') = 'text'
          AND json_type(item.value, '$.room_id') = 'text'
          AND json_type(item.value, '$.content') = 'object'
          AND json_type(item.value, '$.queued_at') IN ('real', 'integer')
        """,
        "DELETE FROM kv WHERE key LIKE 'matrix.outbox.%'",
    ),
    # 5: questions asked, for cooldowns and per-place budgets that hold across processes
    # (PostgreSQL fleets; one SQLite process keeps them in memory). `at` is Unix time.
    (
        """
        CREATE TABLE questions_asked (
            id      INTEGER PRIMARY KEY,
            at      REAL NOT NULL,
            place   TEXT NOT NULL,
            user_id TEXT NOT NULL
        )
        """,
        "CREATE INDEX questions_asked_by_place ON questions_asked (place, at)",
        "CREATE INDEX questions_asked_by_asker ON questions_asked (place, user_id, at)",
        "CREATE INDEX questions_asked_by_user ON questions_asked (user_id)",
    ),
    # 6: answers whose buttons may still be clicked, on whichever process receives the click
    # and after a restart: the asker, the question, and the passages' ids and scores.
    (
        """
        CREATE TABLE kept_answers (
            id       INTEGER PRIMARY KEY,
            at       TEXT NOT NULL,
            place    TEXT NOT NULL,
            user_id  TEXT NOT NULL,
            question TEXT NOT NULL,
            passages TEXT NOT NULL,
            cited    TEXT NOT NULL
        )
        """,
        "CREATE INDEX kept_answers_by_place ON kept_answers (place, id)",
        "CREATE INDEX kept_answers_by_user ON kept_answers (user_id)",
    ),
)

SCHEMA_VERSION = len(MIGRATIONS)

_CREATED_TABLE = re.compile(r"CREATE TABLE (\w+)")


class DatabaseError(Exception):
    """The settings database cannot be used; the message says why and what to do about it."""


class NotADatabaseError(DatabaseError):
    """The file exists but is not an SQLite database (a wrong path, or a damaged file)."""


class DatabaseTooNewError(DatabaseError):
    """A newer Samizdat wrote this file; an older one must not guess at a schema it never saw."""

    def __init__(self, found: int, known: int) -> None:
        super().__init__(
            f"database version {found} is newer than this Samizdat (knows up to {known}); "
            "upgrade Samizdat or use another database file"
        )
        self.found = found
        self.known = known


class DamagedDatabaseError(DatabaseError):
    """A Samizdat database whose pages SQLite cannot read back: restore it or start afresh."""


class ForeignDatabaseError(DatabaseError):
    """An SQLite database, but another program's: Samizdat refuses it and leaves it as it is."""


def tables_at(version: int) -> frozenset[str]:
    """The tables a Samizdat database at `version` has, read from the steps themselves."""
    return frozenset(
        name
        for step in MIGRATIONS[:version]
        for statement in step
        for name in _CREATED_TABLE.findall(statement)
    )


async def ensure_ours(db: aiosqlite.Connection, version: int, label: str = "the file") -> None:
    """Refuse a file Samizdat did not write, reading only: a refused file is left unchanged.

    Samizdat sets the version in the same transaction as its first tables, so a file of ours
    at version 0 has no schema at all; any table, index or view there belongs to someone
    else. A file at a later version must have the tables that version created.
    """
    async with db.execute("SELECT type, name FROM sqlite_master") as cursor:
        schema = [(str(kind), str(name)) for kind, name in await cursor.fetchall()]
    if version == 0 and schema:
        held = sorted(name for _, name in schema)
        raise ForeignDatabaseError(
            f"{label} is an SQLite database of another program (it holds {_few(held)}); "
            "Samizdat leaves it untouched: check the database path"
        )
    missing = sorted(tables_at(version) - {name for kind, name in schema if kind == "table"})
    if missing:
        raise ForeignDatabaseError(
            f"{label} says it is at schema version {version} but lacks the tables "
            f"{_few(missing)}, so another program wrote it; Samizdat leaves it untouched: "
            "check the database path"
        )


def _few(names: list[str], shown: int = 5) -> str:
    """A list of names short enough for one line, however many there are."""
    listed = ", ".join(names[:shown])
    return listed if len(names) <= shown else f"{listed} and {len(names) - shown} more"


async def schema_version(db: aiosqlite.Connection) -> int:
    """The version recorded in the file; 0 for a new, empty database."""
    async with db.execute("PRAGMA user_version") as cursor:
        row = await cursor.fetchone()
    return int(row[0]) if row is not None else 0


async def migrate(db: aiosqlite.Connection, upto: int | None = None) -> int:
    """Apply every step the file lacks, up to `upto` (default: all); return the new version.

    Each step re-reads the version inside its own write transaction, so two processes opening
    the same new file cannot both apply a step. Stopping early (`upto`) exists so tests can
    build a database exactly as an older Samizdat left it.
    """
    if db.isolation_level is not None:
        raise ValueError("migrate needs a connection opened with isolation_level=None")
    target = SCHEMA_VERSION if upto is None else upto
    if not 0 <= target <= SCHEMA_VERSION:
        raise ValueError(f"no schema version {target}; versions run from 0 to {SCHEMA_VERSION}")
    current = await schema_version(db)
    if current > SCHEMA_VERSION:
        raise DatabaseTooNewError(current, SCHEMA_VERSION)
    while current < target:
        step = current + 1
        try:
            await _run(db, "BEGIN IMMEDIATE")
            current = await schema_version(db)
            if current > SCHEMA_VERSION:
                raise DatabaseTooNewError(current, SCHEMA_VERSION)
            if current == 0:
                # Again inside the transaction: nobody can add a table between check and step.
                await ensure_ours(db, current)
            if current < step:
                for statement in MIGRATIONS[step - 1]:
                    await _run(db, statement)
                # PRAGMA takes no parameters; `step` is an int we computed.
                await _run(db, f"PRAGMA user_version = {step:d}")
                current = step
            await _run(db, "COMMIT")
        except BaseException as error:
            await rollback(db)
            if isinstance(error, sqlite3.Error):
                raise DatabaseError(
                    f"could not upgrade the database to version {step}: {error}"
                ) from error
            raise
    return current


async def rollback(db: aiosqlite.Connection) -> None:
    """End whatever transaction a failed or cancelled write left, if it left one.

    Called even when `in_transaction` says there is none: after a cancellation, the BEGIN may
    still be queued on aiosqlite's thread, and this ROLLBACK queues up behind it, never before.
    Its own failure is swallowed ("no transaction is active", or the damage or full disk that
    made the write fail): the caller is already reporting the error that led here.
    """
    with contextlib.suppress(sqlite3.Error):
        await _run(db, "ROLLBACK")


async def _run(db: aiosqlite.Connection, sql: str) -> None:
    async with db.execute(sql):
        pass
