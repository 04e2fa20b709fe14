"""Replies on their way to the homeserver: kept in the database until it has taken them.

A reply is stored before its first try, so neither an outage nor a stop loses it: the next
successful sync, in this run or the next, sends it again under the same transaction id, by
which the homeserver recognises a copy it already has.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import time
from dataclasses import dataclass
from typing import Any, Protocol

from nio import AsyncClient, RoomSendError

from bot.matrix_bot.retry import NETWORK_ERRORS, Backoff

log = logging.getLogger(__name__)

# Tries before a reply is left in the outbox for the next successful sync.
_SEND_ATTEMPTS = 3
# A reply the homeserver could not take for a whole day is dropped (and logged).
_OUTBOX_KEEP_SECONDS = 24 * 3600


class KeyValues(Protocol):
    """Where the outbox keeps its list; the adapter state store provides it."""

    async def kv_get(self, key: str) -> str | None: ...

    async def kv_set(self, key: str, value: str) -> None: ...


def send_failure_is_transient(http_status: int | None, errcode: str | None) -> bool:
    """Whether a refused send may succeed later: rate limits, and a homeserver (or the proxy in
    front of it, answering 502 while it restarts) that is overloaded or away."""
    if errcode == "M_LIMIT_EXCEEDED" or http_status == 429:
        return True
    return http_status is None or http_status >= 500


@dataclass(frozen=True)
class PendingReply:
    """A reply the homeserver has not confirmed yet; its transaction id makes resending safe."""

    room_id: str
    txn_id: str
    content: dict[str, Any]
    queued_at: float


class Outbox:
    """Replies not yet confirmed by the homeserver, kept in the adapter state's key-value table.

    The bot has one sync loop, so one reply is sent at a time and the list stays short.
    """

    def __init__(self, store: KeyValues, key: str) -> None:
        self._store = store
        self._key = key

    async def load(self) -> list[PendingReply]:
        raw = await self._store.kv_get(self._key)
        if not raw:
            return []
        try:
            return [PendingReply(**item) for item in json.loads(raw)]
        except (ValueError, TypeError):
            log.warning("ignoring an unreadable Matrix outbox")
            return []

    async def add(self, reply: PendingReply) -> None:
        pending = [p for p in await self.load() if p.txn_id != reply.txn_id]
        await self._save([*pending, reply])

    async def remove(self, txn_id: str) -> None:
        pending = await self.load()
        kept = [p for p in pending if p.txn_id != txn_id]
        if len(kept) != len(pending):
            await self._save(kept)

    async def _save(self, pending: list[PendingReply]) -> None:
        await self._store.kv_set(self._key, json.dumps([dataclasses.asdict(p) for p in pending]))


class Delivery:
    """Sends replies through the outbox, and shows typing while the bot works on one."""

    def __init__(self, client: AsyncClient, outbox: Outbox) -> None:
        self.client = client
        self._outbox = outbox

    async def send_notice(self, room_id: str, content: dict[str, Any], txn_id: str) -> None:
        """Send a reply; one the homeserver cannot take now waits in the outbox.

        The reply is stored before the first try, so neither an outage nor a stop loses it:
        the next successful sync, in this run or the next, sends it again under the same
        transaction id, by which the homeserver recognises a copy it already has.
        """
        pending = PendingReply(room_id, txn_id, content, time.time())
        await self._outbox.add(pending)
        if not await self._deliver(pending, _SEND_ATTEMPTS):
            log.warning("the reply to %s waits in the outbox for the homeserver", room_id)

    async def _deliver(self, pending: PendingReply, attempts: int) -> bool:
        """Try to send; True once the reply is settled (sent, or refused for good)."""
        backoff = Backoff()
        asked_wait = 0.0
        for attempt in range(1, attempts + 1):
            if attempt > 1:
                await backoff.wait(asked_wait)
            try:
                resp = await self.client.room_send(
                    pending.room_id,
                    "m.room.message",
                    pending.content,
                    tx_id=pending.txn_id,
                    ignore_unverified_devices=True,
                )
            except NETWORK_ERRORS as exc:
                log.warning("sending to %s failed (%s), attempt %d", pending.room_id, exc, attempt)
                continue
            except Exception:
                # Not the network: trying again would fail the same way.
                log.exception("cannot send a reply to %s; dropping it", pending.room_id)
            else:
                if isinstance(resp, RoomSendError):
                    status = resp.transport_response.status if resp.transport_response else None
                    if send_failure_is_transient(status, resp.status_code):
                        log.warning(
                            "sending to %s failed (%s), attempt %d", pending.room_id, resp, attempt
                        )
                        asked_wait = (resp.retry_after_ms or 0) / 1000
                        continue
                    log.warning("the homeserver refused a reply to %s: %s", pending.room_id, resp)
            await self._settle(pending.txn_id)
            return True
        return False

    async def _settle(self, txn_id: str) -> None:
        """Take a reply out of the outbox, finishing even when a stop interrupts: a sent reply
        left in would be sent again at the next start, from a device the homeserver may not
        connect with the first copy."""
        try:
            await self._outbox.remove(txn_id)
        except asyncio.CancelledError:
            await self._outbox.remove(txn_id)
            raise

    async def flush(self) -> None:
        """Send what earlier attempts could not, oldest first, while the homeserver takes it."""
        for pending in await self._outbox.load():
            if time.time() - pending.queued_at > _OUTBOX_KEEP_SECONDS:
                log.error(
                    "dropping a reply to %s that could not be sent for a day", pending.room_id
                )
                await self._outbox.remove(pending.txn_id)
                continue
            if not await self._deliver(pending, 1):
                return
            log.info("sent a delayed reply to %s", pending.room_id)

    async def set_typing(self, room_id: str, typing: bool) -> None:
        with contextlib.suppress(*NETWORK_ERRORS):
            await self.client.room_typing(room_id, typing, timeout=30_000)
