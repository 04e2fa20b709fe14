"""The bot's Matrix connection: one login kept across restarts, and a sync loop that survives.

The loop is ours rather than nio's `sync_forever` so that it can save the sync token after
each handled batch, skip what came before the bot joined, back off while the homeserver is
away, and answer each event at most once even when it crashes between answering and saving.
Replies wait in an outbox in the database until the homeserver has taken them, so an outage or
a stop while a reply is on its way delays it rather than losing it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from aiohttp import ClientError
from nio import (
    AsyncClient,
    AsyncClientConfig,
    InviteMemberEvent,
    JoinError,
    LoginError,
    MatrixRoom,
    MegolmEvent,
    RoomCreateEvent,
    RoomLeaveError,
    RoomMemberEvent,
    RoomSendError,
    SyncError,
    SyncResponse,
    WhoamiError,
)
from nio.store import DefaultStore

from bot.config import MatrixConfig
from bot.errors import StartupError
from bot.matrix_bot.commands import BotIdentity, Incoming, RoomAuthority, creators_from_create_event

log = logging.getLogger(__name__)

PLATFORM = "matrix"
_LONG_POLL_MS = 30_000
_SYNC_FILTER: dict[str, Any] = {"room": {"timeline": {"limit": 50}}}
_BACKOFF_FIRST = 1.0
_BACKOFF_MAX = 60.0
# Tries before a reply is left in the outbox for the next successful sync.
_SEND_ATTEMPTS = 3
# A reply the homeserver could not take for a whole day is dropped (and logged).
_OUTBOX_KEEP_SECONDS = 24 * 3600

# Transport failures nio raises once its own retries are off (we count our own).
NETWORK_ERRORS = (ClientError, TimeoutError)

# The key nio encrypts a crypto store's secrets with unless given one: the same for every
# installation, so it protects nothing. Stores written with it are re-keyed at start.
NIO_DEFAULT_PICKLE_KEY: str = AsyncClientConfig().pickle_key


class SyncStateStore(Protocol):
    """The part of the settings store the connection needs; `SettingsStore` provides it."""

    async def mark_handled(self, platform: str, event_id: str) -> bool: ...

    async def was_handled(self, platform: str, event_id: str) -> bool: ...

    async def kv_get(self, key: str) -> str | None: ...

    async def kv_set(self, key: str, value: str) -> None: ...


def send_failure_is_transient(http_status: int | None, errcode: str | None) -> bool:
    """Whether a refused send may succeed later: rate limits, and a homeserver (or the proxy in
    front of it, answering 502 while it restarts) that is overloaded or away."""
    if errcode == "M_LIMIT_EXCEEDED" or http_status == 429:
        return True
    return http_status is None or http_status >= 500


def answerable_backlog(server_ts_ms: int, started_at: float, max_age_seconds: float) -> bool:
    """Whether an event may be answered: anything sent since the bot started, and what was sent
    while it was down only if it was younger than `max_age_seconds` when the bot started."""
    return server_ts_ms >= (started_at - max_age_seconds) * 1000


@dataclass(frozen=True)
class PendingReply:
    """A reply the homeserver has not confirmed yet; its transaction id makes resending safe."""

    room_id: str
    txn_id: str
    content: dict[str, Any]
    queued_at: float


class Outbox:
    """Replies not yet confirmed by the homeserver, kept in the settings store's key-value table.

    The bot has one sync loop, so one reply is sent at a time and the list stays short.
    """

    def __init__(self, store: SyncStateStore, key: str) -> None:
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


class MatrixLoginError(StartupError):
    """The bot cannot log in; the message says why, never with a secret in it."""


MessageHandler = Callable[[Incoming], Awaitable[bool]]


def new_pickle_key() -> str:
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Session:
    """What a restart needs to be the same device again, crypto store included.

    `pickle_key` encrypts the device's keys in the crypto store; it lives here, in a file
    only the bot's user can read, and is made once per device. Empty in a session saved
    before keys were kept: that store still has nio's default key.
    """

    homeserver: str
    user_id: str
    device_id: str
    access_token: str
    pickle_key: str = ""

    @classmethod
    def load(cls, path: Path) -> Session | None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(
                homeserver=str(data["homeserver"]),
                user_id=str(data["user_id"]),
                device_id=str(data["device_id"]),
                access_token=str(data["access_token"]),
                pickle_key=str(data.get("pickle_key") or ""),
            )
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError):
            log.warning("ignoring unreadable Matrix session file %s", path)
            return None

    def save(self, path: Path) -> None:
        private_dir(path.parent)
        tmp = path.with_suffix(".tmp")
        # The access token is a secret: the file is readable by the bot's user only.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(dataclasses.asdict(self), fh)
        tmp.replace(path)


def private_dir(path: Path) -> None:
    """Make `path` (and any missing parents) a folder only the bot's user can enter.

    An existing folder is tightened too: older versions made them 0755.
    """
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)


def private_files(folder: Path) -> None:
    """Files in `folder` readable by the bot's user only (nio creates its store 0644)."""
    for entry in folder.iterdir():
        if entry.is_file() and not entry.is_symlink():
            entry.chmod(0o600)


def rekey_crypto_store(
    store_dir: Path,
    user_id: str,
    device_id: str,
    pickle_key: str,
    old_key: str = NIO_DEFAULT_PICKLE_KEY,
) -> bool:
    """Re-encrypt a device's crypto store still under `old_key` (nio's default) with `pickle_key`.

    All or nothing, in one transaction, and only when the account opens with `old_key`: run
    again after a crash (or on a store already re-keyed) it does the rest, or nothing. True
    when it re-keyed.
    """
    if not (store_dir / f"{user_id}_{device_id}.db").is_file():
        return False
    store = DefaultStore(user_id, device_id, str(store_dir), old_key)
    try:
        try:
            account = store.load_account()
        except Exception:  # not under `old_key`: re-keyed already (nio raises several kinds)
            return False
        if account is None:
            return False
        olm_sessions = store.load_sessions()
        group_sessions = store.load_inbound_group_sessions()
        with store.database.atomic():
            store.pickle_key = pickle_key
            store.save_account(account)
            for sender_key, sessions in olm_sessions.items():
                for session in sessions:
                    store.save_session(sender_key, session)
            for group_session in group_sessions:
                store.save_inbound_group_session(group_session)
        return True
    finally:
        store.database.close()


def inviter_allowed(inviter: str, allowed: list[str], own_user_id: str) -> bool:
    """Users (`@u:server`) or servers (`server`) may invite; nobody configured = own server."""
    server = inviter.split(":", 1)[1] if ":" in inviter else ""
    rules = allowed or [own_user_id.split(":", 1)[1]]
    return any(inviter == rule if rule.startswith("@") else server == rule for rule in rules)


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
    """A logged-in nio client plus the room facts the command handler asks for."""

    def __init__(self, config: MatrixConfig, data_dir: Path, store: SyncStateStore) -> None:
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
        self._store = store
        self._dir = data_dir / "matrix"
        self._session_path = self._dir / "session.json"
        self._crypto_dir = crypto_dir = self._dir / "crypto"
        if config.encryption:
            # The store holds the device's private keys and every room key it was sent.
            private_dir(self._dir)
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
        self._creators: dict[str, frozenset[str]] = {}
        self._token_key = f"matrix.sync_token.{config.user_id}"
        self._outbox = Outbox(store, f"matrix.outbox.{config.user_id}")
        self._started_at = time.time()
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def user_id(self) -> str:
        return str(self.client.user_id)

    async def login(self) -> None:
        """Log in, waiting with backoff while the homeserver cannot be reached."""
        delay = _BACKOFF_FIRST
        while True:
            try:
                await self._login_once()
                return
            except NETWORK_ERRORS as exc:
                log.warning("homeserver unreachable at login (%s); retrying in %.0f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, _BACKOFF_MAX)

    async def _login_once(self) -> None:
        """Reuse the saved device when its token still works; otherwise log in once more."""
        config = self._config
        assert config.homeserver and config.user_id
        saved = Session.load(self._session_path)
        if config.access_token is not None:
            token = config.access_token.get_secret_value()
            if saved and saved.access_token == token:
                device_id = saved.device_id
            else:
                device_id = await self._device_of(token)
            # The store's key belongs to the device: kept while the token names the same one.
            device = (config.user_id, device_id)
            same_device = saved is not None and (saved.user_id, saved.device_id) == device
            key = saved.pickle_key if saved is not None and same_device else ""
            self._restore(Session(config.homeserver, config.user_id, device_id, token, key))
            return
        if (
            saved
            and saved.homeserver == config.homeserver
            and saved.user_id == config.user_id
            and await self._token_works(saved)
        ):
            self._restore(saved)
            log.info("reusing Matrix device %s for %s", saved.device_id, saved.user_id)
            return
        assert config.password is not None
        # nio opens the new device's store as soon as the login succeeds, with this key.
        key = new_pickle_key()
        self._use_pickle_key(key)
        resp = await self.client.login(
            password=config.password.get_secret_value(), device_name=config.device_name
        )
        if isinstance(resp, LoginError):
            raise MatrixLoginError(f"Matrix login for {config.user_id} failed: {resp.message}")
        session = Session(config.homeserver, resp.user_id, resp.device_id, resp.access_token, key)
        session.save(self._session_path)
        self._after_store_opened()
        log.info("logged in to Matrix as %s, new device %s", resp.user_id, resp.device_id)

    async def _device_of(self, token: str) -> str:
        self.client.access_token = token
        resp = await self.client.whoami()
        if isinstance(resp, WhoamiError) or not resp.device_id:
            raise MatrixLoginError("the configured Matrix access token was not accepted")
        return str(resp.device_id)

    async def _token_works(self, session: Session) -> bool:
        self.client.access_token = session.access_token
        try:
            resp = await self.client.whoami()
        except NETWORK_ERRORS:
            # The homeserver is away; trust the saved token and let the sync loop wait.
            return True
        finally:
            self.client.access_token = ""
        if isinstance(resp, WhoamiError):
            log.warning("saved Matrix session no longer valid (%s); logging in again", resp.message)
            return False
        return True

    def _restore(self, session: Session) -> None:
        """Be `session`'s device again, with its crypto store under its own key."""
        if self._config.encryption:
            if not session.pickle_key:
                # Saved first: a store re-keyed with a key that was then lost is unreadable.
                session = dataclasses.replace(session, pickle_key=new_pickle_key())
            if session != Session.load(self._session_path):
                session.save(self._session_path)
            if rekey_crypto_store(
                self._crypto_dir, session.user_id, session.device_id, session.pickle_key
            ):
                log.info("crypto store of device %s re-keyed with its own key", session.device_id)
            self._use_pickle_key(session.pickle_key)
        self.client.restore_login(session.user_id, session.device_id, session.access_token)
        self._after_store_opened()

    def _use_pickle_key(self, key: str) -> None:
        self.client.config = dataclasses.replace(self.client.config, pickle_key=key)

    def _after_store_opened(self) -> None:
        if self._config.encryption:
            private_files(self._crypto_dir)

    # Room facts for the command handler.

    def authority_of(self, room_id: str) -> RoomAuthority:
        room: MatrixRoom | None = self.client.rooms.get(room_id)
        if room is None:
            return RoomAuthority()
        levels = room.power_levels
        return RoomAuthority(
            room_version=str(room.room_version or "1"),
            creators=self._creators.get(room_id, frozenset()),
            users=dict(levels.users),
            users_default=levels.defaults.users_default,
            state_default=levels.defaults.state_default,
        )

    def identity_of(self, room_id: str) -> BotIdentity:
        room: MatrixRoom | None = self.client.rooms.get(room_id)
        name = None
        if room is not None and self.user_id in room.users:
            name = room.users[self.user_id].display_name
        return BotIdentity(self.user_id, name)

    # Sending.

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
        delay = _BACKOFF_FIRST
        for attempt in range(1, attempts + 1):
            if attempt > 1:
                await asyncio.sleep(delay)
                delay = min(delay * 2, _BACKOFF_MAX)
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
                        delay = max(delay, (resp.retry_after_ms or 0) / 1000)
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

    async def _flush_outbox(self) -> None:
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

    # The sync loop.

    async def run(self, handle: MessageHandler) -> None:
        """Sync until cancelled: the first sync with full state, then long polls."""
        self._started_at = time.time()
        token = await self._store.kv_get(self._token_key)
        fresh = token is None
        first = True
        delay = _BACKOFF_FIRST
        while True:
            try:
                resp = await self.client.sync(
                    timeout=0 if first else _LONG_POLL_MS,
                    sync_filter=_SYNC_FILTER,
                    since=token,
                    full_state=True if first else None,
                )
            except NETWORK_ERRORS as exc:
                log.warning("homeserver unreachable (%s); retrying in %.0f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, _BACKOFF_MAX)
                continue
            if isinstance(resp, SyncError) and resp.status_code == "M_UNKNOWN_TOKEN":
                if self._config.password is None:
                    raise MatrixLoginError("the Matrix access token was revoked")
                # Synapse deleted the device and its keys: start a new one, new keys and all.
                log.warning("the Matrix session was logged out; logging in as a new device")
                self._session_path.unlink(missing_ok=True)
                self.client.device_id = None
                await self.login()
                continue
            if isinstance(resp, SyncError):
                log.warning("sync failed (%s); retrying in %.0f s", resp.message, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, _BACKOFF_MAX)
                continue
            if delay > _BACKOFF_FIRST:
                log.info("homeserver reachable again")
            delay = _BACKOFF_FIRST
            if not await self._handle_batch(resp, handle, answer=not (first and fresh)):
                await asyncio.sleep(delay)
                continue
            token = resp.next_batch
            first = False

    async def wait_idle(self) -> None:
        """Return once no batch is being handled: a stop waits for this before cancelling."""
        await self._idle.wait()

    async def _handle_batch(self, resp: SyncResponse, handle: MessageHandler, answer: bool) -> bool:
        """Handle one sync response and save its token; False when the homeserver went away
        meanwhile: the batch then comes again from the same token, and handled events are
        not answered again."""
        self._idle.clear()
        try:
            await self._after_sync(resp, handle, answer)
            await self._store.kv_set(self._token_key, resp.next_batch)
            return True
        except NETWORK_ERRORS as exc:
            log.warning("lost the homeserver while handling a batch (%s)", exc)
            return False
        finally:
            self._idle.set()

    async def _after_sync(self, resp: SyncResponse, handle: MessageHandler, answer: bool) -> None:
        await self._crypto_housekeeping()
        await self._flush_outbox()
        await self._handle_invites(resp)
        for room_id, info in resp.rooms.join.items():
            for event in [*info.state, *info.timeline.events]:
                if isinstance(event, RoomCreateEvent):
                    self._creators[room_id] = creators_from_create_event(
                        event.sender, event.source.get("content", {})
                    )
            if answer:
                await self._handle_timeline(room_id, info.timeline.events, handle)
        await self._leave_empty_rooms(resp)

    async def _crypto_housekeeping(self) -> None:
        await crypto_housekeeping(self.client)

    async def _handle_invites(self, resp: SyncResponse) -> None:
        for room_id, info in resp.rooms.invite.items():
            inviter = next(
                (
                    e.sender
                    for e in info.invite_state
                    if isinstance(e, InviteMemberEvent)
                    and e.state_key == self.user_id
                    and e.membership == "invite"
                ),
                None,
            )
            if inviter is None:
                continue
            if inviter_allowed(inviter, self._config.allowed_inviters, self.user_id):
                joined = await self.client.join(room_id)
                if isinstance(joined, JoinError):
                    log.warning("could not join %s: %s", room_id, joined.message)
                else:
                    log.info("joined %s at the invitation of %s", room_id, inviter)
            else:
                left = await self.client.room_leave(room_id)
                if isinstance(left, RoomLeaveError):
                    log.warning("could not decline %s: %s", room_id, left.message)
                else:
                    log.info("declined an invitation to %s from %s", room_id, inviter)

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
            if not isinstance(source, dict) or source.get("type") != "m.room.message":
                continue
            content = source.get("content")
            if not isinstance(content, dict) or event.sender == self.user_id:
                continue
            relates = content.get("m.relates_to")
            if isinstance(relates, dict) and relates.get("rel_type") == "m.replace":
                continue  # edits are not new questions
            if not answerable_backlog(event.server_timestamp, self._started_at, max_age):
                continue
            message = Incoming(
                room_id=room_id,
                event_id=event.event_id,
                sender=event.sender,
                content=content,
            )
            try:
                await handle(message)
            except NETWORK_ERRORS:
                raise  # the whole batch is retried; claimed events are not answered twice
            except Exception:
                # One bad event (or a database hiccup) must not stop the bot for everyone.
                log.exception("could not handle event %s in %s", event.event_id, room_id)

    async def _leave_empty_rooms(self, resp: SyncResponse) -> None:
        for room_id in resp.rooms.join:
            room: MatrixRoom | None = self.client.rooms.get(room_id)
            if room is None:
                continue
            others = [u for u in room.users if u != self.user_id]
            if not others:
                left = await self.client.room_leave(room_id)
                if not isinstance(left, RoomLeaveError):
                    log.info("left %s: nobody else is there", room_id)

    async def close(self) -> None:
        await self.client.close()
