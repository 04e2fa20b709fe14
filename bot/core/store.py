"""Per-place settings and the audit of every change to them.

Settings are stored as the fields an admin changed, never as a full copy, so a default
improved in a later release reaches every place that did not choose otherwise. Every change
is audited in the same transaction as the change itself: the log cannot disagree with the
settings. The file is opened in WAL mode with `synchronous=FULL` (see `bot.core.database`):
settings are written rarely, and an admin told "saved" should find it saved even after a
power cut.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from bot.core.database import stamp
from bot.core.replies import AuditEntry
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
from bot.core.storage import Storage

log = logging.getLogger(__name__)

# The audit log answers "who changed this, and when?". A thousand changes is years of a
# place's ordinary administration; past that (a script, a fuzzer) the oldest go first, so
# one place can never fill the disk.
AUDIT_ROWS_PER_PLACE = 1000
# And a change older than two years goes too: by then the settings it explains have usually
# been changed again, and its author may have long left.
AUDIT_KEPT = timedelta(days=730)

_CHANNEL_FIELDS = ("allowed_channels", "denied_channels")
# Where a settings change is announced to other processes; the payload is the place.
_SETTINGS_CHANNEL = "settings"
# How a write that replaces unreadable stored settings is audited, and how much of them.
_UNREADABLE = "(unreadable stored settings)"
_UNREADABLE_AUDITED_CHARS = 1000


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


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


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


# Places whose settings are kept in memory; past this the snapshot is emptied and refilled.
SNAPSHOTS_KEPT = 10_000


class SettingsStore:
    """Every place's settings and their audit log; a place with no row reads the defaults.

    Each change runs read-modify-write in one transaction of the shared `Database`, so
    concurrent commands never lose each other's changes.

    Settings are read at every question, before the platform is told the question arrived
    (the reply's visibility depends on them), so each place's settings are kept as a frozen
    snapshot: a burst of questions does not queue behind the database's lock to read them.
    Every change goes through this store and drops the place's snapshot in the transaction
    that writes it; a snapshot is only taken while holding the lock that writes wait for.
    (Another process writing the same database is not seen until this one restarts; the
    bot's processes each keep their own places.)
    """

    def __init__(
        self,
        database: Storage,
        *,
        audit_per_place: int = AUDIT_ROWS_PER_PLACE,
        audit_kept: timedelta = AUDIT_KEPT,
    ) -> None:
        if audit_per_place < 1:
            raise ValueError("the per-place limits must be at least 1")
        self._database = database
        self._audit_per_place = audit_per_place
        self._audit_kept = audit_kept
        self._warned: set[tuple[str, str]] = set()
        # What was read is kept, so a busy place's questions do not queue on the database
        # (Discord wants an answer within 3 s): dropped by every change made here and, where
        # other processes announce theirs (PostgreSQL), by theirs within milliseconds.
        self._cached: dict[str, ServerSettings] = {}
        self._evictions = 0
        if database.notifies:
            database.listen(_SETTINGS_CHANNEL, self._forget)

    # -- settings -------------------------------------------------------------------------

    async def get(self, place: str) -> ServerSettings:
        """The place's settings; a place nobody configured reads the defaults."""
        settings = self._cached.get(place)
        if settings is not None:
            return settings
        evictions = self._evictions
        async with self._database.read():
            row = await self._load(place)
        settings = ServerSettings.model_validate(row.usable)
        # A change announced while this read was on its way may be newer than the row.
        if evictions == self._evictions:
            if len(self._cached) >= SNAPSHOTS_KEPT:
                self._cached.clear()
            self._cached[place] = settings
        return settings

    def _forget(self, place: str) -> None:
        """Another process (or this one) changed `place`; "" means anything may have changed."""
        self._evictions += 1
        if place:
            self._cached.pop(place, None)
        else:
            self._cached.clear()

    async def set(
        self, place: str, name: str, value: object, user_id: str
    ) -> tuple[object, object]:
        """Change one setting to an already-parsed value; return (old, new) as JSON values.

        Raises `SettingValueError`, writing nothing, for a name admins cannot set this way or
        a value the settings model refuses.
        """
        if name not in SETTABLE:
            raise SettingValueError(unknown_setting(name))
        async with self._database.write() as now:
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
        async with self._database.write() as now:
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

    async def record(
        self, place: str, user_id: str, what: str, old: str | None, new: str | None
    ) -> None:
        """Audit a change made elsewhere (a document added to the place's shelf), in the same
        log and under the same retention as the settings' own changes."""
        async with self._database.write() as now:
            await self._audit(now, place, user_id, [(what, old, new)])

    async def recent_changes(self, place: str, limit: int = 5) -> list[AuditEntry]:
        """The place's latest setting changes, newest first.

        A channel-list change records the channels removed as `old_value` and those added as
        `new_value`, not the whole lists, so each record stays as small as the change.
        """
        async with self._database.read():
            rows = await self._database.fetchall(
                "SELECT at, place, user_id, setting, old_value, new_value FROM audit_log"
                " WHERE place = ? ORDER BY id DESC LIMIT ?",
                (place, max(limit, 0)),
            )
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

    # -- internals ------------------------------------------------------------------------

    async def _load(self, place: str) -> _StoredRow:
        """The place's stored settings; what this version cannot use is said once, and kept."""
        found = await self._database.fetchone(
            "SELECT data FROM place_settings WHERE place = ?", (place,)
        )
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
        # Dropped even if the transaction then fails: the next read takes what was kept.
        self._forget(place)
        await self._database.notify(_SETTINGS_CHANNEL, place)
        if stored:
            await self._database.run(
                "INSERT INTO place_settings (place, data, updated_at) VALUES (?, ?, ?)"
                " ON CONFLICT (place) DO UPDATE"
                " SET data = excluded.data, updated_at = excluded.updated_at",
                (place, json.dumps(stored, sort_keys=True), stamp(now)),
            )
        else:
            await self._database.run("DELETE FROM place_settings WHERE place = ?", (place,))

    async def _audit(
        self,
        now: datetime,
        place: str,
        user_id: str,
        changes: Iterable[tuple[str, object, object]],
    ) -> None:
        """Record the changes, then drop the place's records beyond the retention limits."""
        for setting, old, new in changes:
            await self._database.run(
                "INSERT INTO audit_log (at, place, user_id, setting, old_value, new_value)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (stamp(now), place, user_id, setting, _audit_text(old), _audit_text(new)),
            )
        await self._database.run(
            "DELETE FROM audit_log WHERE place = ? AND at < ?",
            (place, stamp(now - self._audit_kept)),
        )
        await self._database.prune("audit_log", place, self._audit_per_place)

    async def _edit_channels(
        self,
        place: str,
        user_id: str,
        edit: Callable[[tuple[str, ...], tuple[str, ...]], tuple[tuple[str, ...], tuple[str, ...]]],
    ) -> ServerSettings:
        async with self._database.write() as now:
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
