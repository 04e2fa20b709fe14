"""What an adapter keeps between runs: the events it claimed, the messages on their way out,
and small values it stores (Matrix's sync token).

Written against `Storage`, so it lives in whichever database the settings do (SQLite by
default, PostgreSQL for a fleet). An event is claimed in the same transaction that queues its
reply, so a kill at any moment
leaves either both (the reply goes out after the restart) or neither (the event comes again
and is answered then): never a claim without its reply, never a reply sent twice.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any

from bot.core.database import stamp
from bot.core.storage import Storage


class Action(StrEnum):
    """What a queued message does on the platform."""

    REPLY = "reply"  # answers `subject`; its id is kept, for edits and redactions
    EDIT = "edit"  # replaces the reply to `subject` with new content
    REDACT = "redact"  # removes the reply to `subject`


@dataclass(frozen=True)
class Outgoing:
    """A message an adapter must get to its platform, kept until the platform has it.

    `txn_id` is the platform's idempotency key: sent again after a crash, the copy is
    recognised and dropped. `subject` is the event the message is about (the question).
    """

    sender: str
    txn_id: str
    room_id: str
    action: Action
    subject: str
    content: dict[str, Any]
    queued_at: float
    id: int = 0


Redaction = Callable[[str], Outgoing]
"""Builds the message that removes a sent reply, given that reply's id."""


class AdapterState:
    """Claimed events (each answered at most once), the outbox, and a key-value table."""

    def __init__(self, database: Storage, *, handled_events_kept: timedelta = timedelta(days=7)):
        self._database = database
        self._handled_events_kept = handled_events_kept

    # -- claims -------------------------------------------------------------------------

    async def mark_handled(self, platform: str, event_id: str) -> bool:
        """Claim an event with nothing to send; True the first time, False if already claimed."""
        return await self.claim(platform, event_id, None)

    async def claim(self, platform: str, event_id: str, outgoing: Outgoing | None) -> bool:
        """Claim an event and queue what it gets, in one transaction; False, queuing nothing,
        if it was claimed already.

        Marks older than the retention period are dropped on the way, so the table stays small.
        """
        async with self._database.write() as now:
            await self._database.run(
                "DELETE FROM handled_events WHERE handled_at < ?",
                (stamp(now - self._handled_events_kept),),
            )
            inserted = await self._database.run(
                "INSERT INTO handled_events (platform, event_id, handled_at)"
                " VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                (platform, event_id, stamp(now)),
            )
            if inserted == 1 and outgoing is not None:
                await self._queue(outgoing)
        return inserted == 1

    async def was_handled(self, platform: str, event_id: str) -> bool:
        """Whether an event was claimed already: a replayed batch is skipped before any work."""
        async with self._database.read():
            row = await self._database.fetchone(
                "SELECT 1 FROM handled_events WHERE platform = ? AND event_id = ?",
                (platform, event_id),
            )
        return row is not None

    async def replied(self, platform: str, event_id: str) -> bool:
        """Whether the event got a reply, sent or still on its way (so an edit can revise it)."""
        async with self._database.read():
            row = await self._database.fetchone(
                "SELECT 1 FROM handled_events WHERE platform = ? AND event_id = ?"
                " AND reply_id IS NOT NULL AND redacted = 0"
                " UNION ALL SELECT 1 FROM outbox WHERE subject = ? AND action = ?",
                (platform, event_id, event_id, Action.REPLY.value),
            )
        return row is not None

    async def reply_id(self, platform: str, event_id: str) -> str | None:
        """The id the platform gave the reply to `event_id`, once it was sent."""
        async with self._database.read():
            return await self._reply_id(platform, event_id)

    async def redacted(self, platform: str, event_id: str, redaction: Redaction) -> bool:
        """The question `event_id` was taken back: never answer it, drop what is queued for it,
        and queue the removal of a reply already sent. True when a reply is to be removed.

        The question is claimed too, so a replayed batch does not answer it.
        """
        async with self._database.write() as now:
            await self._database.run(
                "INSERT INTO handled_events (platform, event_id, handled_at)"
                " VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                (platform, event_id, stamp(now)),
            )
            await self._database.run(
                "UPDATE handled_events SET redacted = 1 WHERE platform = ? AND event_id = ?",
                (platform, event_id),
            )
            await self._database.run(
                "DELETE FROM outbox WHERE subject = ? AND action IN (?, ?)",
                (event_id, Action.REPLY.value, Action.EDIT.value),
            )
            sent = await self._reply_id(platform, event_id)
            if sent is not None:
                await self._queue(redaction(sent))
        return sent is not None

    # -- the outbox -----------------------------------------------------------------------

    async def outbox(self, sender: str) -> list[Outgoing]:
        """What `sender` still has to send, oldest first."""
        async with self._database.read():
            rows = await self._database.fetchall(
                "SELECT id, sender, txn_id, room_id, action, subject, content, queued_at"
                " FROM outbox WHERE sender = ? ORDER BY id",
                (sender,),
            )
        return [
            Outgoing(
                id=int(row_id),
                sender=str(who),
                txn_id=str(txn_id),
                room_id=str(room_id),
                action=Action(action),
                subject=str(subject or ""),
                content=_object(content),
                queued_at=float(queued_at),
            )
            for row_id, who, txn_id, room_id, action, subject, content, queued_at in rows
        ]

    async def settle(
        self, platform: str, outgoing: Outgoing, sent_id: str | None, redaction: Redaction
    ) -> None:
        """`outgoing` is done with: sent as `sent_id`, or refused for good (None).

        A reply's id is kept with its question's claim; if the question was redacted while
        its reply was on the way, the reply's removal is queued in the same transaction.
        """
        async with self._database.write():
            # By its transaction id, not its row id: a row deleted meanwhile (its question
            # was redacted) may have left its row id to a newer message.
            await self._database.run(
                "DELETE FROM outbox WHERE sender = ? AND txn_id = ?",
                (outgoing.sender, outgoing.txn_id),
            )
            if outgoing.action is not Action.REPLY or sent_id is None:
                return
            await self._database.run(
                "UPDATE handled_events SET reply_id = ? WHERE platform = ? AND event_id = ?",
                (sent_id, platform, outgoing.subject),
            )
            row = await self._database.fetchone(
                "SELECT redacted FROM handled_events WHERE platform = ? AND event_id = ?",
                (platform, outgoing.subject),
            )
            if row is not None and row[0]:
                await self._queue(redaction(sent_id))

    async def queue(self, outgoing: Outgoing) -> None:
        """Queue a message that answers no new event (a redaction the adapter decided on)."""
        async with self._database.write():
            await self._queue(outgoing)

    # -- key-values -----------------------------------------------------------------------

    async def kv_get(self, key: str) -> str | None:
        """A value an adapter stored under `key`, or None."""
        async with self._database.read():
            row = await self._database.fetchone("SELECT value FROM kv WHERE key = ?", (key,))
        return None if row is None else str(row[0])

    async def kv_set(self, key: str, value: str) -> None:
        """Store `value` under `key`, replacing any earlier value."""
        async with self._database.write():
            await self._database.run(
                "INSERT INTO kv (key, value) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    # -- internals ------------------------------------------------------------------------

    async def _queue(self, outgoing: Outgoing) -> None:
        """Add to the outbox, inside the caller's transaction; a txn id queued twice stays one."""
        await self._database.run(
            "INSERT INTO outbox (sender, txn_id, room_id, action, subject, content, queued_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (
                outgoing.sender,
                outgoing.txn_id,
                outgoing.room_id,
                outgoing.action.value,
                outgoing.subject,
                json.dumps(outgoing.content),
                outgoing.queued_at,
            ),
        )

    async def _reply_id(self, platform: str, event_id: str) -> str | None:
        row = await self._database.fetchone(
            "SELECT reply_id FROM handled_events WHERE platform = ? AND event_id = ?",
            (platform, event_id),
        )
        return None if row is None or row[0] is None else str(row[0])


def _object(text: object) -> dict[str, Any]:
    """Stored content as a dict; anything else (which this code never writes) as empty."""
    try:
        value = json.loads(str(text))
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
