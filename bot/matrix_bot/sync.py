"""The bot's Matrix connection: a sync loop that survives, over a session, an outbox and rooms.

The loop is ours rather than nio's `sync_forever` so that it can save the sync token after
each handled batch, skip what came before the bot joined, back off while the homeserver is
away, and answer each event exactly once: a reply is claimed and queued in one transaction,
and a batch interrupted before its token was saved comes again, its claimed events skipped.
The other jobs live beside it: logging in (`session`), delivering replies from their own task
(`outbox`), room facts and membership (`rooms`), waiting out outages (`retry`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

from nio import (
    AsyncClient,
    AsyncClientConfig,
    MegolmEvent,
    RoomGetEventResponse,
    RoomMemberEvent,
    SyncError,
    SyncResponse,
)

from bot.config import MatrixConfig
from bot.core.adapter_state import Action, Outgoing, Redaction
from bot.matrix_bot.commands import BotIdentity, Incoming, RoomAuthority
from bot.matrix_bot.outbox import PLATFORM, Delivery, redaction_of, reply_txn
from bot.matrix_bot.retry import NETWORK_ERRORS, Backoff
from bot.matrix_bot.rooms import Rooms
from bot.matrix_bot.session import MatrixLoginError, MatrixSession, private_dir, private_files

log = logging.getLogger(__name__)

_LONG_POLL_MS = 30_000
_SYNC_FILTER: dict[str, Any] = {"room": {"timeline": {"limit": 50}}}

__all__ = ["PLATFORM", "AdapterState", "MatrixConnection"]


class AdapterState(Protocol):
    """What the Matrix adapter keeps between runs: event claims, the outbox, the sync token."""

    async def claim(self, platform: str, event_id: str, outgoing: Outgoing | None) -> bool: ...

    async def was_handled(self, platform: str, event_id: str) -> bool: ...

    async def replied(self, platform: str, event_id: str) -> bool: ...

    async def redacted(self, platform: str, event_id: str, redaction: Redaction) -> bool: ...

    async def outbox(self, sender: str) -> list[Outgoing]: ...

    async def reply_id(self, platform: str, event_id: str) -> str | None: ...

    async def settle(
        self, platform: str, outgoing: Outgoing, sent_id: str | None, redaction: Redaction
    ) -> None: ...

    async def kv_get(self, key: str) -> str | None: ...

    async def kv_set(self, key: str, value: str) -> None: ...


def redacted_event(source: dict[str, Any]) -> str | None:
    """The event a `m.room.redaction` takes back (top level before room version 11, in the
    content from then on), or None for any other event."""
    if source.get("type") != "m.room.redaction":
        return None
    content = source.get("content")
    redacts = source.get("redacts") or (
        content.get("redacts") if isinstance(content, dict) else None
    )
    return redacts if isinstance(redacts, str) else None


def incoming(room_id: str, source: dict[str, Any]) -> Incoming | None:
    """A room message as the handler reads it; an edit as its new content, naming the message
    it replaces. None for anything else."""
    content = source.get("content")
    if source.get("type") != "m.room.message" or not isinstance(content, dict):
        return None
    event_id, sender = source.get("event_id"), source.get("sender")
    if not isinstance(event_id, str) or not isinstance(sender, str):
        return None
    relates = content.get("m.relates_to")
    if isinstance(relates, dict) and relates.get("rel_type") == "m.replace":
        replaces, new_content = relates.get("event_id"), content.get("m.new_content")
        if not isinstance(replaces, str) or not isinstance(new_content, dict):
            return None
        return Incoming(room_id, event_id, sender, new_content, replaces=replaces)
    return Incoming(room_id, event_id, sender, content)


def answerable_backlog(server_ts_ms: int, started_at: float, max_age_seconds: float) -> bool:
    """Whether an event may be answered: anything sent since the bot started, and what was sent
    while it was down only if it was younger than `max_age_seconds` when the bot started."""
    return server_ts_ms >= (started_at - max_age_seconds) * 1000


MessageHandler = Callable[[Incoming], Awaitable[bool]]


async def crypto_housekeeping(client: AsyncClient) -> None:
    """What nio's sync_forever does between syncs: device keys and to-device messages.

    Any client that syncs by hand in an encrypted room needs it (the bot, and the people in
    the tests).
    """
    if client.olm is None:
        return
    await client.send_to_device_messages()
    if client.should_upload_keys:
        await client.keys_upload()
    if client.should_query_keys:
        await client.keys_query()
    if client.should_claim_keys:
        await client.keys_claim(client.get_users_for_key_claiming())


class MatrixConnection:
    """A logged-in nio client, its sync loop, and the parts the command handler uses."""

    def __init__(self, config: MatrixConfig, data_dir: Path, state: AdapterState) -> None:
        if not config.homeserver or not config.user_id:
            raise MatrixLoginError(
                "matrix.homeserver and matrix.user_id must be configured: set "
                "SAMIZDAT_MATRIX__HOMESERVER and SAMIZDAT_MATRIX__USER_ID"
            )
        if config.password is None and config.access_token is None:
            raise MatrixLoginError(
                "no Matrix credentials: set SAMIZDAT_MATRIX__PASSWORD or "
                "SAMIZDAT_MATRIX__ACCESS_TOKEN"
            )
        self._config = config
        self._state = state
        folder = data_dir / "matrix"
        crypto_dir = folder / "crypto"
        if config.encryption:
            # The store holds the device's private keys and every room key it was sent.
            private_dir(folder)
            private_dir(crypto_dir)
            private_files(crypto_dir)
        client_config = AsyncClientConfig(
            encryption_enabled=config.encryption,
            store_sync_tokens=False,
            # Our loop counts failures and backs off itself.
            max_timeouts=0,
            # On a 429, nio waits the `retry_after_ms` the homeserver asks for and sends the
            # request again, for every request (sync, send, join...), as often as it takes.
            max_limit_exceeded=None,
            request_timeout=60,
        )
        self.client = AsyncClient(
            config.homeserver,
            config.user_id,
            store_path=str(crypto_dir) if config.encryption else "",
            config=client_config,
        )
        self.session = MatrixSession(config, self.client, folder)
        self.rooms = Rooms(self.client, config.allowed_inviters)
        self.delivery = Delivery(self.client, state, config.user_id)
        self._token_key = f"matrix.sync_token.{config.user_id}"
        self._started_at = time.time()
        self._idle = asyncio.Event()
        self._idle.set()
        self._stopping = False

    @property
    def user_id(self) -> str:
        return str(self.client.user_id)

    async def login(self) -> None:
        await self.session.login()

    # What the command handler asks for.

    def authority_of(self, room_id: str) -> RoomAuthority:
        return self.rooms.authority_of(room_id)

    def identity_of(self, room_id: str) -> BotIdentity:
        return self.rooms.identity_of(room_id)

    async def set_typing(self, room_id: str, typing: bool) -> None:
        await self.delivery.set_typing(room_id, typing)

    # What the command handler's replies go through (its `Outlet`).

    async def handled(self, event_id: str) -> bool:
        return await self._state.was_handled(PLATFORM, event_id)

    async def replied(self, event_id: str) -> bool:
        return await self._state.replied(PLATFORM, event_id)

    async def sender_of(self, room_id: str, event_id: str) -> str | None:
        """Who sent an event, as the homeserver has it; None once it was redacted."""
        resp = await self.client.room_get_event(room_id, event_id)
        if not isinstance(resp, RoomGetEventResponse):
            return None
        source = getattr(resp.event, "source", None)
        if not isinstance(source, dict) or not source.get("content"):
            return None
        return str(resp.event.sender)

    async def reply(self, room_id: str, event_id: str, content: dict[str, Any]) -> bool:
        """Claim `event_id` and queue its reply in one transaction; False if already claimed."""
        queued = self._outgoing(Action.REPLY, room_id, reply_txn(event_id), event_id, content)
        claimed = await self._state.claim(PLATFORM, event_id, queued)
        if claimed:
            self.delivery.wake()
        return claimed

    async def revise(
        self, room_id: str, edit_id: str, question_id: str, content: dict[str, Any]
    ) -> bool:
        """Claim the edit `edit_id` and queue the edit of the reply to `question_id`."""
        queued = self._outgoing(Action.EDIT, room_id, reply_txn(edit_id), question_id, content)
        claimed = await self._state.claim(PLATFORM, edit_id, queued)
        if claimed:
            self.delivery.wake()
        return claimed

    def _outgoing(
        self, action: Action, room_id: str, txn_id: str, subject: str, content: dict[str, Any]
    ) -> Outgoing:
        return Outgoing(
            sender=self.user_id,
            txn_id=txn_id,
            room_id=room_id,
            action=action,
            subject=subject,
            content=content,
            queued_at=time.time(),
        )

    async def _question_redacted(self, room_id: str, event_id: str) -> None:
        """Never answer a redacted question, and take back an answer already sent."""
        redaction = redaction_of(self.user_id, room_id, event_id)
        if await self._state.redacted(PLATFORM, event_id, redaction):
            log.info("%s was redacted in %s; redacting the reply to it", event_id, room_id)
            self.delivery.wake()

    # The sync loop.

    async def run(self, handle: MessageHandler) -> None:
        """Sync until cancelled or stopped: the first sync with full state, then long polls.

        Replies go out from a task of their own, started once the first sync has told the
        client its rooms (an encrypted room cannot be written to before).
        """
        self._started_at = time.time()
        synced = asyncio.Event()
        sender = asyncio.create_task(self._send_once_synced(synced), name="matrix-outbox")
        try:
            await self._sync(handle, synced)
        finally:
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)

    async def _send_once_synced(self, synced: asyncio.Event) -> None:
        await synced.wait()
        await self.delivery.run()

    async def _sync(self, handle: MessageHandler, synced: asyncio.Event) -> None:
        token = await self._state.kv_get(self._token_key)
        fresh = token is None
        first = True
        backoff = Backoff()
        while not self._stopping:
            try:
                resp = await self.client.sync(
                    timeout=0 if first else _LONG_POLL_MS,
                    sync_filter=_SYNC_FILTER,
                    since=token,
                    full_state=True if first else None,
                )
            except NETWORK_ERRORS as exc:
                log.warning("homeserver unreachable (%s); retrying in %.0f s", exc, backoff.delay)
                await self._back_off(backoff)
                continue
            if isinstance(resp, SyncError) and resp.status_code == "M_UNKNOWN_TOKEN":
                log.warning("the Matrix session was logged out; logging in as a new device")
                await self.session.log_in_again()
                continue
            if isinstance(resp, SyncError):
                log.warning("sync failed (%s); retrying in %.0f s", resp.message, backoff.delay)
                await self._back_off(backoff)
                continue
            if backoff.reset():
                log.info("homeserver reachable again")
            self.delivery.wake()  # anything held up by an outage goes now
            if self._stopping:
                return  # not handled, token not saved: this batch comes again next start
            if not await self._handle_batch(resp, handle, answer=not (first and fresh)):
                await self._back_off(backoff)
                continue
            token = resp.next_batch
            first = False
            synced.set()

    async def _back_off(self, backoff: Backoff) -> None:
        """Wait before syncing again, but no longer than until a reply gets through."""
        self.delivery.reachable.clear()
        await backoff.wait(until=self.delivery.reachable)

    def stop(self) -> None:
        """Sync no more: the batch in hand is finished, the next one is left for later."""
        self._stopping = True

    async def wait_idle(self) -> None:
        """Return once no batch is being handled: a stop waits for this before cancelling."""
        await self._idle.wait()

    async def wait_delivered(self) -> None:
        """Return once the outbox is empty."""
        await self.delivery.wait_empty()

    async def _handle_batch(self, resp: SyncResponse, handle: MessageHandler, answer: bool) -> bool:
        """Handle one sync response and save its token; False when the homeserver went away
        meanwhile: the batch then comes again from the same token, and handled events are
        not answered again."""
        self._idle.clear()
        try:
            await crypto_housekeeping(self.client)
            await self.rooms.handle_invites(resp)
            self.rooms.note_creators(resp)
            if answer:
                for room_id, info in resp.rooms.join.items():
                    await self._handle_timeline(room_id, info.timeline.events, handle)
            await self.rooms.leave_empty_rooms(resp)
            await self._state.kv_set(self._token_key, resp.next_batch)
            return True
        except NETWORK_ERRORS as exc:
            log.warning("lost the homeserver while handling a batch (%s)", exc)
            return False
        finally:
            self._idle.set()

    async def _handle_timeline(
        self, room_id: str, events: list[Any], handle: MessageHandler
    ) -> None:
        # Anything before the bot's own join in this batch was said before it could listen.
        start = 0
        for index, event in enumerate(events):
            if (
                isinstance(event, RoomMemberEvent)
                and event.state_key == self.user_id
                and event.membership == "join"
                and event.prev_membership != "join"
            ):
                start = index + 1
        max_age = self._config.backlog_max_age_seconds
        for event in events[start:]:
            if isinstance(event, MegolmEvent):
                log.warning(
                    "cannot decrypt event %s from %s in %s; skipping it",
                    event.event_id,
                    event.sender,
                    room_id,
                )
                continue
            source = getattr(event, "source", None)
            if not isinstance(source, dict) or event.sender == self.user_id:
                continue
            redacts = redacted_event(source)
            if redacts is not None:
                await self._question_redacted(room_id, redacts)
                continue
            message = incoming(room_id, source)
            if message is None:
                continue
            if not answerable_backlog(event.server_timestamp, self._started_at, max_age):
                continue
            try:
                await handle(message)
            except NETWORK_ERRORS:
                raise  # the whole batch is retried; claimed events are not answered twice
            except Exception:
                # One bad event (or a database hiccup) must not stop the bot for everyone.
                log.exception("could not handle event %s in %s", event.event_id, room_id)

    async def close(self) -> None:
        await self.client.close()
