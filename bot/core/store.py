"""Everything Samizdat remembers between restarts, in one SQLite file.

Per-place settings are stored as the fields an admin changed, never as a full copy, so a
default improved in a later release reaches every place that did not choose otherwise. Every
change is audited in the same transaction as the change itself: the log cannot disagree with
the settings. The file is opened in WAL mode with `synchronous=FULL`: settings are written
rarely, and an admin told "saved" should find it saved even after a power cut.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiosqlite
from pydantic import ValidationError

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
from bot.core.replies import AuditEntry, UnansweredQuestion
from bot.core.settings import (
    MAX_CHANNELS_PER_LIST,
    SETTABLE,
    ServerSettings,
    SettingValueError,
    check_channel_name,
    not_allowed,
    too_many_channels,
    unknown_setting,
)

__all__ = [
    "FORGOTTEN_USER",
    "SCHEMA_VERSION",
    "DamagedDatabaseError",
    "DatabaseError",
    "DatabaseTooNewError",
    "ForeignDatabaseError",
    "NotADatabaseError",
    "SettingsStore",
    "StorageError",
    "migrate",
    "open_database",
    "schema_version",
]

log = logging.getLogger(__name__)

# What an audit record says about a person who asked to be forgotten.
FORGOTTEN_USER = "(forgotten)"

# The audit log answers "who changed this, and when?". A thousand changes is years of a
# place's ordinary administration; past that (a script, a fuzzer) the oldest go first, so
# one place can never fill the disk.
AUDIT_ROWS_PER_PLACE = 1000
# And a change older than two years goes too: by then the settings it explains have usually
# been changed again, and its author may have long left.
AUDIT_KEPT = timedelta(days=730)

_CHANNEL_FIELDS = ("allowed_channels", "denied_channels")
_BUSY_TIMEOUT_MS = 5000
# How a write that replaces unreadable stored settings is audited, and how much of them.
_UNREADABLE = "(unreadable stored settings)"
_UNREADABLE_AUDITED_CHARS = 1000


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


def _stamp(moment: datetime) -> str:
    """A fixed-width ISO timestamp in UTC, so that text order is time order."""
    if moment.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _audit_text(value: object) -> str | None:
    """How a value reads in the audit log: strings bare, no value as NULL, the rest as JSON."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value)


@dataclass(frozen=True)
class _StoredRow:
    """A place's stored settings as found: all of them, and the part this version accepts.

    `raw` is written back on every change, so a field of a newer release, or a value a later
    rule refuses, survives an older Samizdat; only `usable` decides how the bot behaves.
    """

    raw: dict[str, Any]
    usable: dict[str, Any]
    unreadable: str | None = None  # the stored text, when it was not a JSON object at all

    @property
    def refused(self) -> frozenset[str]:
        """Known settings whose stored value this version does not accept."""
        return frozenset(n for n in self.raw if n in ServerSettings.model_fields) - set(self.usable)

    @property
    def unknown(self) -> frozenset[str]:
        """Stored fields this version has no setting for (a newer release wrote them)."""
        return frozenset(n for n in self.raw if n not in ServerSettings.model_fields)

    def audited_old(self, name: str, effective: object) -> object:
        """What a change replaces: the stored value when it was refused, else the one in use."""
        return self.raw[name] if name in self.refused else effective

    def discarded(self) -> list[tuple[str, object, object]]:
        """The audit row for unreadable stored text that a write replaces, if any."""
        if self.unreadable is None:
            return []
        return [(_UNREADABLE, _clip(self.unreadable, _UNREADABLE_AUDITED_CHARS), None)]


def _stored_row(text: str | None) -> _StoredRow:
    """Split what is stored for a place into what this version accepts and what it keeps."""
    if text is None:
        return _StoredRow(raw={}, usable={})
    try:
        stored = json.loads(text)
    except json.JSONDecodeError:
        stored = None
    if not isinstance(stored, dict):
        return _StoredRow(raw={}, usable={}, unreadable=text)
    usable: dict[str, Any] = {}
    for name, value in stored.items():
        if name not in ServerSettings.model_fields:
            continue
        try:
            ServerSettings.model_validate({name: value})
        except ValidationError:
            continue
        usable[name] = value
    return _StoredRow(raw=dict(stored), usable=usable)


class SettingsStore:
    """Settings, audit, questions and adapter state of every place, on one open connection.

    Writes are serialised by a lock and each runs read-modify-write inside one
    `BEGIN IMMEDIATE` transaction, so concurrent commands never lose each other's changes.
    Reads take the same lock so they never see another task's unfinished transaction. Use one
    store per connection: the lock is the store's, not the connection's. A read or write the
    machine makes fail (full disk, damaged file) raises `StorageError`, never sqlite3's own.
    """

    def __init__(
        self,
        db: aiosqlite.Connection,
        *,
        unanswered_per_place: int = 500,
        feedback_per_place: int = 2000,
        audit_per_place: int = AUDIT_ROWS_PER_PLACE,
        audit_kept: timedelta = AUDIT_KEPT,
        handled_events_kept: timedelta = timedelta(days=7),
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        if db.isolation_level is not None:
            raise ValueError("SettingsStore needs a connection from open_database")
        if min(unanswered_per_place, feedback_per_place, audit_per_place) < 1:
            raise ValueError("the per-place limits must be at least 1")
        self._db = db
        self._lock = asyncio.Lock()
        self._unanswered_per_place = unanswered_per_place
        self._feedback_per_place = feedback_per_place
        self._audit_per_place = audit_per_place
        self._audit_kept = audit_kept
        self._handled_events_kept = handled_events_kept
        self._clock = clock
        self._warned: set[tuple[str, str]] = set()

    # -- settings -------------------------------------------------------------------------

    async def get(self, place: str) -> ServerSettings:
        """The place's settings; a place nobody configured reads the defaults."""
        async with self._read():
            row = await self._load(place)
        return ServerSettings.model_validate(row.usable)

    async def set(
        self, place: str, name: str, value: object, user_id: str
    ) -> tuple[object, object]:
        """Change one setting to an already-parsed value; return (old, new) as JSON values.

        Raises `SettingValueError`, writing nothing, for a name admins cannot set this way or
        a value the settings model refuses.
        """
        if name not in SETTABLE:
            raise SettingValueError(unknown_setting(name))
        async with self._write() as now:
            row = await self._load(place)
            old = ServerSettings.model_validate(row.usable)
            candidate = {**row.usable, name: value}
            try:
                new = ServerSettings.model_validate(candidate)
            except ValidationError:
                raise SettingValueError(not_allowed(name, str(value))) from None
            old_value = old.model_dump(mode="json")[name]
            new_value = new.model_dump(mode="json")[name]
            stored = {**row.raw, **new.model_dump(mode="json", include=set(candidate))}
            await self._save(place, stored, now)
            changes = [(name, row.audited_old(name, old_value), new_value)]
            await self._audit(now, place, user_id, [*row.discarded(), *changes])
        return old_value, new_value

    async def reset(self, place: str, name: str | None, user_id: str) -> list[str]:
        """Return one setting (or, with `None`, all) to the default; return the names reset.

        A name counts as reset when the place had stored a value for it, even one equal to
        today's default or one this version refuses: from now on it follows the default.
        Stored fields this version has no setting for are kept, since they are not its to
        reset.
        """
        if name is not None and name not in ServerSettings.model_fields:
            raise SettingValueError(unknown_setting(name))
        async with self._write() as now:
            row = await self._load(place)
            known = sorted(n for n in row.raw if n in ServerSettings.model_fields)
            names = known if name is None else [name] if name in row.raw else []
            if not names:
                return []
            old = ServerSettings.model_validate(row.usable).model_dump(mode="json")
            left = {key: value for key, value in row.usable.items() if key not in names}
            new = ServerSettings.model_validate(left).model_dump(mode="json")
            await self._save(place, {k: v for k, v in row.raw.items() if k not in names}, now)
            changes = [(n, row.audited_old(n, old[n]), new[n]) for n in names]
            await self._audit(now, place, user_id, changes)
        return names

    async def allow_channel(self, place: str, channel: str, user_id: str) -> ServerSettings:
        """Let the bot answer in `channel` (and, once any is allowed, only in allowed ones)."""
        check_channel_name(channel)
        return await self._edit_channels(
            place, user_id, lambda a, d: (_add(a, channel), _drop(d, channel))
        )

    async def deny_channel(self, place: str, channel: str, user_id: str) -> ServerSettings:
        """Keep the bot silent in `channel`, whatever the allowed list says."""
        check_channel_name(channel)
        return await self._edit_channels(
            place, user_id, lambda a, d: (_drop(a, channel), _add(d, channel))
        )

    async def clear_channels(self, place: str, channel: str | None, user_id: str) -> ServerSettings:
        """Forget one channel from both lists, or (with `None`) empty both lists."""
        if channel is None:
            return await self._edit_channels(place, user_id, lambda a, d: ((), ()))
        # No name check: a name an older version let in must still be removable.
        return await self._edit_channels(
            place, user_id, lambda a, d: (_drop(a, channel), _drop(d, channel))
        )

    async def recent_changes(self, place: str, limit: int = 5) -> list[AuditEntry]:
        """The place's latest setting changes, newest first.

        A channel-list change records the channels removed as `old_value` and those added as
        `new_value`, not the whole lists, so each record stays as small as the change.
        """
        async with (
            self._read(),
            self._db.execute(
                "SELECT at, place, user_id, setting, old_value, new_value FROM audit_log"
                " WHERE place = ? ORDER BY id DESC LIMIT ?",
                (place, max(limit, 0)),
            ) as cursor,
        ):
            rows = await cursor.fetchall()
        return [
            AuditEntry(
                at=datetime.fromisoformat(at),
                place=where,
                user_id=who,
                setting=setting,
                old_value=old,
                new_value=new,
            )
            for at, where, who, setting, old, new in rows
        ]

    # -- questions and feedback -----------------------------------------------------------

    async def record_unanswered(
        self, place: str, channel: str | None, user_id: str, question: str
    ) -> None:
        """Remember a question the library could not answer, keeping the newest few per place."""
        async with self._write() as now:
            await self._run(
                "INSERT INTO unanswered (at, place, channel, user_id, question)"
                " VALUES (?, ?, ?, ?, ?)",
                (_stamp(now), place, channel, user_id, question),
            )
            await self._prune("unanswered", place, self._unanswered_per_place)

    async def unanswered(
        self, place: str, limit: int = 20, include_askers: bool = False
    ) -> list[UnansweredQuestion]:
        """The place's latest unanswered questions, newest first; askers only when asked for."""
        async with (
            self._read(),
            self._db.execute(
                "SELECT question, at, place, channel, user_id FROM unanswered"
                " WHERE place = ? ORDER BY id DESC LIMIT ?",
                (place, max(limit, 0)),
            ) as cursor,
        ):
            rows = await cursor.fetchall()
        return [
            UnansweredQuestion(
                question=question,
                at=datetime.fromisoformat(at),
                place=where,
                channel=channel,
                user_id=who if include_askers else None,
            )
            for question, at, where, channel, who in rows
        ]

    async def record_feedback(
        self,
        place: str,
        user_id: str,
        question: str,
        passage_ids: Sequence[str],
        helpful: bool,
    ) -> None:
        """Remember whether a reader found an answer (and the passages behind it) helpful."""
        async with self._write() as now:
            await self._run(
                "INSERT INTO feedback (at, place, user_id, question, passage_ids, helpful)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    _stamp(now),
                    place,
                    user_id,
                    question,
                    json.dumps(list(passage_ids)),
                    int(helpful),
                ),
            )
            await self._prune("feedback", place, self._feedback_per_place)

    async def forget_user(self, user_id: str) -> int:
        """Delete a person's questions and feedback and unname them in the audit log.

        Returns how many rows were deleted or unnamed. The audit rows stay, because the
        settings they explain stay.
        """
        total = 0
        async with self._write():
            for sql, params in (
                ("DELETE FROM unanswered WHERE user_id = ?", (user_id,)),
                ("DELETE FROM feedback WHERE user_id = ?", (user_id,)),
                ("UPDATE audit_log SET user_id = ? WHERE user_id = ?", (FORGOTTEN_USER, user_id)),
            ):
                total += await self._run(sql, params)
        return total

    async def forget_place(self, place: str) -> int:
        """Delete a place's questions and feedback and unname everyone in its audit log.

        Returns how many rows were deleted or unnamed. The settings stay: they are the
        place's, not any person's.
        """
        total = 0
        async with self._write():
            for sql, params in (
                ("DELETE FROM unanswered WHERE place = ?", (place,)),
                ("DELETE FROM feedback WHERE place = ?", (place,)),
                (
                    "UPDATE audit_log SET user_id = ? WHERE place = ? AND user_id != ?",
                    (FORGOTTEN_USER, place, FORGOTTEN_USER),
                ),
            ):
                total += await self._run(sql, params)
        return total

    # -- adapter state --------------------------------------------------------------------

    async def mark_handled(self, platform: str, event_id: str) -> bool:
        """Claim an event; True the first time, False if it was already handled.

        Marks older than the retention period are dropped on the way, so the table stays small.
        """
        async with self._write() as now:
            await self._run(
                "DELETE FROM handled_events WHERE handled_at < ?",
                (_stamp(now - self._handled_events_kept),),
            )
            inserted = await self._run(
                "INSERT OR IGNORE INTO handled_events (platform, event_id, handled_at)"
                " VALUES (?, ?, ?)",
                (platform, event_id, _stamp(now)),
            )
        return inserted == 1

    async def was_handled(self, platform: str, event_id: str) -> bool:
        """Whether an event was claimed already: a replayed batch is skipped before any work."""
        async with (
            self._read(),
            self._db.execute(
                "SELECT 1 FROM handled_events WHERE platform = ? AND event_id = ?",
                (platform, event_id),
            ) as cursor,
        ):
            row = await cursor.fetchone()
        return row is not None

    async def kv_get(self, key: str) -> str | None:
        """A value an adapter stored under `key`, or None."""
        async with (
            self._read(),
            self._db.execute("SELECT value FROM kv WHERE key = ?", (key,)) as cursor,
        ):
            row = await cursor.fetchone()
        return None if row is None else str(row[0])

    async def kv_set(self, key: str, value: str) -> None:
        """Store `value` under `key`, replacing any earlier value."""
        async with self._write():
            await self._run(
                "INSERT INTO kv (key, value) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    # -- internals ------------------------------------------------------------------------

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[datetime]:
        """One write transaction, alone on this store; yields the time to stamp rows with."""
        async with self._lock:
            try:
                await self._run("BEGIN IMMEDIATE")
                yield self._clock()
                await self._run("COMMIT")
            except sqlite3.Error as error:
                await rollback(self._db)
                problem = _problem(error)
                if problem is None:
                    raise
                raise StorageError(problem) from error
            except BaseException:
                await rollback(self._db)
                raise

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[None]:
        """Reads, alone on this store; the machine's failures come out as `StorageError`."""
        async with self._lock:
            try:
                yield
            except sqlite3.Error as error:
                problem = _problem(error)
                if problem is None:
                    raise
                raise StorageError(problem) from error

    async def _run(self, sql: str, params: Iterable[Any] = ()) -> int:
        """Execute one statement; return how many rows it changed."""
        async with self._db.execute(sql, tuple(params)) as cursor:
            return cursor.rowcount

    async def _load(self, place: str) -> _StoredRow:
        """The place's stored settings; what this version cannot use is said once, and kept."""
        async with self._db.execute(
            "SELECT data FROM place_settings WHERE place = ?", (place,)
        ) as cursor:
            found = await cursor.fetchone()
        row = _stored_row(None if found is None else str(found[0]))
        if row.unreadable is not None:
            self._warn_once(place, "", "settings of %s are not a JSON object; using the defaults")
        for name in sorted(row.unknown):
            self._warn_once(place, name, "%s: keeping stored setting %r, unknown to this version")
        for name in sorted(row.refused):
            self._warn_once(
                place, name, "%s: keeping but not using stored %r, a value this version refuses"
            )
        return row

    def _warn_once(self, place: str, name: str, message: str) -> None:
        """Log a problem with stored settings once per process, not at every question."""
        if (place, name) not in self._warned:
            self._warned.add((place, name))
            log.warning(message, place, *([name] if name else []))

    async def _save(self, place: str, stored: dict[str, Any], now: datetime) -> None:
        if stored:
            await self._run(
                "INSERT INTO place_settings (place, data, updated_at) VALUES (?, ?, ?)"
                " ON CONFLICT (place) DO UPDATE"
                " SET data = excluded.data, updated_at = excluded.updated_at",
                (place, json.dumps(stored, sort_keys=True), _stamp(now)),
            )
        else:
            await self._run("DELETE FROM place_settings WHERE place = ?", (place,))

    async def _audit(
        self,
        now: datetime,
        place: str,
        user_id: str,
        changes: Iterable[tuple[str, object, object]],
    ) -> None:
        """Record the changes, then drop the place's records beyond the retention limits."""
        for setting, old, new in changes:
            await self._run(
                "INSERT INTO audit_log (at, place, user_id, setting, old_value, new_value)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (_stamp(now), place, user_id, setting, _audit_text(old), _audit_text(new)),
            )
        await self._run(
            "DELETE FROM audit_log WHERE place = ? AND at < ?",
            (place, _stamp(now - self._audit_kept)),
        )
        await self._prune("audit_log", place, self._audit_per_place)

    async def _edit_channels(
        self,
        place: str,
        user_id: str,
        edit: Callable[[tuple[str, ...], tuple[str, ...]], tuple[tuple[str, ...], tuple[str, ...]]],
    ) -> ServerSettings:
        async with self._write() as now:
            row = await self._load(place)
            old = ServerSettings.model_validate(row.usable)
            lists = dict(
                zip(_CHANNEL_FIELDS, edit(old.allowed_channels, old.denied_channels), strict=True)
            )
            # Only a list that changed is written: a stored one this version refuses, left
            # alone by the edit, is kept as it is.
            changed = {name: c for name, c in lists.items() if c != getattr(old, name)}
            for name, channels in changed.items():
                if len(channels) > max(MAX_CHANNELS_PER_LIST, len(getattr(old, name))):
                    raise SettingValueError(too_many_channels(name))
            new = ServerSettings.model_validate(_with_channels(row.usable, changed))
            changes = [
                _channel_change(name, getattr(old, name), after, row)
                for name, after in changed.items()
            ]
            if changes:
                await self._save(place, _with_channels(row.raw, changed), now)
                await self._audit(now, place, user_id, [*row.discarded(), *changes])
        return new

    async def _prune(self, table: str, place: str, keep: int) -> None:
        # `table` is one of our own constant names, never user input.
        await self._run(
            f"DELETE FROM {table} WHERE place = ? AND id NOT IN"
            f" (SELECT id FROM {table} WHERE place = ? ORDER BY id DESC LIMIT ?)",
            (place, place, keep),
        )


def _channel_change(
    name: str, before: tuple[str, ...], after: tuple[str, ...], row: _StoredRow
) -> tuple[str, object, object]:
    """The audit row of a list edit: the channels removed and those added, not both lists,
    so a record is as small as the change (a refused stored list is recorded whole)."""
    if name in row.refused:
        return name, row.raw[name], list(after)
    return name, [c for c in before if c not in after], [c for c in after if c not in before]


def _with_channels(fields: dict[str, Any], lists: dict[str, tuple[str, ...]]) -> dict[str, Any]:
    """`fields` with the channel lists replaced; an empty list is not stored at all."""
    updated = {name: value for name, value in fields.items() if name not in lists}
    updated.update({name: list(channels) for name, channels in lists.items() if channels})
    return updated


def _add(channels: tuple[str, ...], channel: str) -> tuple[str, ...]:
    return channels if channel in channels else (*channels, channel)


def _drop(channels: tuple[str, ...], channel: str) -> tuple[str, ...]:
    return tuple(c for c in channels if c != channel)


async def _run(db: aiosqlite.Connection, sql: str) -> None:
    async with db.execute(sql):
        pass
