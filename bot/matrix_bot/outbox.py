"""Replies on their way to the homeserver: queued with the claim of what they answer, and sent
by a task of their own.

A reply is written to the outbox in the same transaction that claims its question (see
`bot.core.adapter_state`), so a kill at any moment loses nothing and repeats nothing: the
sender sends what the outbox holds, in order, under transaction ids derived from the event
ids, by which the homeserver recognises a copy it already has. The sender runs beside the sync
loop, so a reply held up by an outage goes out as soon as the homeserver answers again,
without waiting for a long poll to end.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, Protocol

from nio import AsyncClient, RoomRedactError, RoomRedactResponse, RoomSendError, RoomSendResponse

from bot.core.adapter_state import Action, Outgoing, Redaction
from bot.matrix_bot.retry import NETWORK_ERRORS, Backoff

log = logging.getLogger(__name__)

PLATFORM = "matrix"
# While replies wait for a homeserver that is away, it is tried this often at most: a reply
# goes out within this long of its return (a refused connection costs next to nothing).
RETRY_EVERY_SECONDS = 0.5
# A reply the homeserver could not take for a whole day is dropped (and logged).
KEEP_SECONDS = 24 * 3600


class OutboxStore(Protocol):
    """What the sender reads and settles; the adapter state store provides it."""

    async def outbox(self, sender: str) -> list[Outgoing]: ...

    async def reply_id(self, platform: str, event_id: str) -> str | None: ...

    async def settle(
        self, platform: str, outgoing: Outgoing, sent_id: str | None, redaction: Redaction
    ) -> None: ...


def send_failure_is_transient(http_status: int | None, errcode: str | None) -> bool:
    """Whether a refused send may succeed later: rate limits, and a homeserver (or the proxy in
    front of it, answering 502 while it restarts) that is overloaded or away."""
    if errcode == "M_LIMIT_EXCEEDED" or http_status == 429:
        return True
    return http_status is None or http_status >= 500


def reply_txn(event_id: str) -> str:
    """The transaction id of the reply to `event_id` (older versions used it too)."""
    return f"samizdat-{event_id}"


def redaction_of(sender: str, room_id: str, subject: str) -> Redaction:
    """How to remove the reply to `subject` once its id is known."""

    def build(reply_id: str) -> Outgoing:
        return Outgoing(
            sender=sender,
            txn_id=f"samizdat-redact-{reply_id}",
            room_id=room_id,
            action=Action.REDACT,
            subject=subject,
            content={"redacts": reply_id, "reason": "the question was deleted"},
            queued_at=time.time(),
        )

    return build


@dataclass(frozen=True)
class _Away:
    """The homeserver did not take it now; try again (after `wait`, if it asked for one)."""

    wait: float = 0.0


@dataclass(frozen=True)
class _Done:
    """Settled: sent as `sent_id`, or refused for good (None)."""

    sent_id: str | None


class Delivery:
    """Sends the outbox in order from its own task, and shows typing while the bot works."""

    def __init__(self, client: AsyncClient, store: OutboxStore, sender: str) -> None:
        self.client = client
        self._store = store
        self._sender = sender
        self._wake = asyncio.Event()
        self._empty = asyncio.Event()
        # Set whenever the homeserver took something: the sync loop stops backing off.
        self.reachable = asyncio.Event()
        self._held: set[int] = set()
        self._running = False

    def wake(self) -> None:
        """Something was queued: send it now."""
        self._empty.clear()
        self._wake.set()

    async def wait_empty(self) -> None:
        """Return once everything queued has been settled (at once when nothing sends: a bot
        stopped before its first sync leaves its outbox to the next start)."""
        if self._running:
            await self._empty.wait()

    async def run(self) -> None:
        """Send until cancelled: at once when woken, and every `RETRY_EVERY_SECONDS` at most
        while the homeserver is away and something waits."""
        backoff = Backoff(first=RETRY_EVERY_SECONDS / 4, most=RETRY_EVERY_SECONDS)
        self._running = True
        try:
            await self._send_forever(backoff)
        finally:
            self._running = False

    async def _send_forever(self, backoff: Backoff) -> None:
        while True:
            self._wake.clear()
            away = await self._send_pending()
            if away is None:
                backoff.reset()
                self._empty.set()
                await self._wake.wait()
                continue
            if away.wait > 0:
                # The homeserver said how long to wait: a newly queued reply does not cut it.
                await asyncio.sleep(away.wait)
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), backoff.delay)
            backoff.delay = min(backoff.delay * 2, backoff.most)

    async def _send_pending(self) -> _Away | None:
        """Send what is queued, oldest first; stop at the first the homeserver does not take
        (a later reply must not overtake it)."""
        for outgoing in await self._store.outbox(self._sender):
            if time.time() - outgoing.queued_at > KEEP_SECONDS:
                log.error(
                    "dropping a reply to %s that could not be sent for a day", outgoing.room_id
                )
                await self._finish(self._settle(outgoing, None))
                continue
            result = await self._send(outgoing)
            if isinstance(result, _Away):
                if outgoing.id not in self._held:
                    self._held.add(outgoing.id)
                    log.warning(
                        "the reply to %s waits in the outbox for the homeserver", outgoing.room_id
                    )
                return result
            await self._finish(self._settle(outgoing, result.sent_id))
            if outgoing.id in self._held:
                self._held.discard(outgoing.id)
                log.info("sent a delayed reply to %s", outgoing.room_id)
        return None

    async def _settle(self, outgoing: Outgoing, sent_id: str | None) -> None:
        redaction = redaction_of(self._sender, outgoing.room_id, outgoing.subject)
        await self._store.settle(PLATFORM, outgoing, sent_id, redaction)

    @staticmethod
    async def _finish(work: Coroutine[Any, Any, None]) -> None:
        """Run `work` to the end even when a stop cancels us meanwhile: a sent reply left in
        the outbox would be sent again at the next start, from a device the homeserver may
        not connect with the first copy."""
        task = asyncio.ensure_future(work)
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            await task
            raise

    async def _send(self, outgoing: Outgoing) -> _Away | _Done:
        """One try at `outgoing`."""
        try:
            if outgoing.action is Action.REDACT:
                return self._judged(
                    outgoing,
                    await self.client.room_redact(
                        outgoing.room_id,
                        str(outgoing.content.get("redacts", "")),
                        reason=outgoing.content.get("reason"),
                        tx_id=outgoing.txn_id,
                    ),
                )
            content = outgoing.content
            if outgoing.action is Action.EDIT:
                target = await self._store.reply_id(PLATFORM, outgoing.subject)
                if target is None:
                    log.info("not revising a reply to %s that was never sent", outgoing.room_id)
                    return _Done(None)
                content = copy.deepcopy(content)
                content["m.relates_to"] = {"rel_type": "m.replace", "event_id": target}
            return self._judged(
                outgoing,
                await self.client.room_send(
                    outgoing.room_id,
                    "m.room.message",
                    content,
                    tx_id=outgoing.txn_id,
                    ignore_unverified_devices=True,
                ),
            )
        except NETWORK_ERRORS as exc:
            log.debug("sending to %s failed (%s)", outgoing.room_id, exc)
            return _Away()
        except Exception:
            # Not the network: trying again would fail the same way.
            log.exception("cannot send a reply to %s; dropping it", outgoing.room_id)
            return _Done(None)

    def _judged(
        self,
        outgoing: Outgoing,
        resp: RoomSendResponse | RoomSendError | RoomRedactResponse | RoomRedactError,
    ) -> _Away | _Done:
        if isinstance(resp, RoomSendResponse | RoomRedactResponse):
            self.reachable.set()
            return _Done(str(resp.event_id))
        status = resp.transport_response.status if resp.transport_response else None
        if send_failure_is_transient(status, resp.status_code):
            return _Away((resp.retry_after_ms or 0) / 1000)
        log.warning("the homeserver refused a message to %s: %s", outgoing.room_id, resp)
        return _Done(None)

    async def set_typing(self, room_id: str, typing: bool) -> None:
        with contextlib.suppress(*NETWORK_ERRORS):
            await self.client.room_typing(room_id, typing, timeout=30_000)
