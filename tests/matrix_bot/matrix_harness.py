"""A real Synapse on 127.0.0.1 and a human Matrix user, for end-to-end tests of the adapter.

Synapse runs as a subprocess with SQLite, no federation and relaxed rate limits; users are
registered through the shared-secret admin API. Its access log says which requests each user
made and what Synapse answered. `Human` is a plain nio client that sends messages and waits
(with a timeout, never a timed assertion) for the bot's replies.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import itertools
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from nio import (
    AsyncClient,
    AsyncClientConfig,
    JoinError,
    LoginError,
    MegolmEvent,
    RoomCreateError,
    RoomInviteError,
    RoomLeaveError,
    RoomPutStateError,
    RoomRedactError,
    RoomSendError,
    SyncError,
)

from bot.answers.engine import AnswerEngine
from bot.app import open_app
from bot.config import Config, MatrixConfig
from bot.matrix_bot import run_matrix
from bot.matrix_bot.sync import crypto_housekeeping

SERVER_NAME = "localhost"
_SHARED_SECRET = "samizdat-test-registration-secret"
_PASSWORD = "correct horse battery staple"
_WAIT = 30.0
_names = itertools.count()

_RATE = {"per_second": 1000, "burst_count": 1000}
_LIMITS = {
    name: _RATE
    for name in (
        "rc_message",
        "rc_registration",
        "rc_joins_per_room",
        "rc_3pid_validation",
        "rc_invites",
        "rc_admin_redaction",
        "rc_presence",
        "rc_delayed_event_mgmt",
        "rc_room_creation",
        "rc_reports",
    )
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# One line of Synapse's access log, e.g.
# 2026-11-26 06:40:01,123 - 127.0.0.1 - 8008 - {@bot:localhost} Processed request: ... 59B 429
#   "PUT /_matrix/client/v3/rooms/!r:localhost/send/m.room.message/txn HTTP/1.1" "nio" [0 dbevts]
_ACCESS_LINE = re.compile(
    r"^(?P<at>\S+ \S+) .*? - \{(?P<who>[^}|]*)[^}]*\} Processed request: .*? "
    r"(?P<status>\d{3})!? \"(?P<method>[A-Z]+) (?P<path>\S+) "
)


@dataclass(frozen=True)
class Request:
    """A request Synapse finished, as its access log records it."""

    at: datetime
    user_id: str
    status: int
    method: str
    path: str


def _signing_key(path: Path) -> None:
    from signedjson.key import generate_signing_key, write_signing_keys

    with path.open("w") as fh:
        write_signing_keys(fh, [generate_signing_key("test")])


class Synapse:
    """One homeserver process; `stop` and `start` again keep its database and port."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None
        self._admin_token: str | None = None
        self._log = root / "homeserver.log"
        self._access_log = root / "access.log"
        self._config = root / "homeserver.json"
        self._write_config()

    def _write_config(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        _signing_key(self.root / "signing.key")
        log_config = self.root / "log.json"
        log_config.write_text(
            json.dumps(
                {
                    "version": 1,
                    "formatters": {
                        "plain": {"format": "%(asctime)s %(name)s %(levelname)s %(message)s"}
                    },
                    "handlers": {
                        "file": {
                            "class": "logging.FileHandler",
                            "formatter": "plain",
                            "filename": str(self._log),
                        },
                        "access": {
                            "class": "logging.FileHandler",
                            "formatter": "plain",
                            "filename": str(self._access_log),
                        },
                    },
                    "loggers": {
                        "synapse.access": {
                            "level": "INFO",
                            "handlers": ["access"],
                            "propagate": False,
                        }
                    },
                    "root": {"level": "WARNING", "handlers": ["file"]},
                    "disable_existing_loggers": False,
                }
            )
        )
        config: dict[str, Any] = {
            "server_name": SERVER_NAME,
            "pid_file": str(self.root / "homeserver.pid"),
            "listeners": [
                {
                    "port": self.port,
                    "bind_addresses": ["127.0.0.1"],
                    "type": "http",
                    "tls": False,
                    "x_forwarded": False,
                    "resources": [{"names": ["client"], "compress": False}],
                }
            ],
            "database": {"name": "sqlite3", "args": {"database": str(self.root / "homeserver.db")}},
            "log_config": str(log_config),
            "media_store_path": str(self.root / "media"),
            "signing_key_path": str(self.root / "signing.key"),
            "registration_shared_secret": _SHARED_SECRET,
            "enable_registration": False,
            "report_stats": False,
            "trusted_key_servers": [],
            "suppress_key_server_warning": True,
            "federation_domain_whitelist": [],
            "bcrypt_rounds": 4,
            "macaroon_secret_key": "test-macaroon",
            "form_secret": "test-form",
            "presence": {"enabled": False},
            "rc_login": {"address": _RATE, "account": _RATE, "failed_attempts": _RATE},
            **_LIMITS,
        }
        # JSON is YAML, so no YAML writer is needed.
        self._config.write_text(json.dumps(config, indent=1))

    def start(self, timeout: float = 60.0) -> None:
        """Start the homeserver and wait until it is healthy; nothing to do if it runs."""
        if self._process is not None and self._process.poll() is None:
            return
        with self._log.open("ab") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "synapse.app.homeserver", "-c", str(self._config)],
                cwd=self.root,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"Synapse exited at start:\n{self.log_tail()}")
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(f"{self.url}/health", timeout=2) as resp,
            ):
                if resp.read() == b"OK":
                    return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"Synapse did not become healthy in {timeout:.0f} s:\n{self.log_tail()}")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=15)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self._log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def register(self, prefix: str = "user") -> str:
        """A new user with a unique name; all share one password. Returns the user id."""
        return str(self._register(prefix, admin=False)["user_id"])

    def room_members(self, room_id: str) -> list[str]:
        """Who is joined to a room, asked as a server admin (works for rooms nobody watches)."""
        found = self._admin(
            "GET", f"/_synapse/admin/v1/rooms/{urllib.parse.quote(room_id)}/members"
        )
        return [str(m) for m in found["members"]]

    def limit_messages(self, user_id: str, per_second: int, burst_count: int) -> None:
        """Override `rc_message` for one user; a burst count of 0 refuses every message (429)."""
        self._admin(
            "POST",
            f"/_synapse/admin/v1/users/{urllib.parse.quote(user_id)}/override_ratelimit",
            {"messages_per_second": per_second, "burst_count": burst_count},
        )

    def unlimit_messages(self, user_id: str) -> None:
        """Back to the server's relaxed `rc_message` for this user."""
        self._admin(
            "DELETE", f"/_synapse/admin/v1/users/{urllib.parse.quote(user_id)}/override_ratelimit"
        )

    def requests_by(self, user_id: str) -> list[Request]:
        """The requests `user_id` made that Synapse has finished, oldest first."""
        try:
            lines = self._access_log.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return []
        found = []
        for line in lines:
            match = _ACCESS_LINE.match(line)
            if match and match["who"] == user_id:
                found.append(
                    Request(
                        at=datetime.strptime(match["at"], "%Y-%m-%d %H:%M:%S,%f"),
                        user_id=user_id,
                        status=int(match["status"]),
                        method=match["method"],
                        path=match["path"],
                    )
                )
        return found

    def _admin(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        if self._admin_token is None:
            self._admin_token = str(self._register("admin", admin=True)["access_token"])
        request = urllib.request.Request(
            f"{self.url}{path}",
            data=None if body is None else json.dumps(body).encode(),
            headers={
                "Authorization": f"Bearer {self._admin_token}",
                "Content-Type": "application/json",
            },
            method=method,
        )
        with urllib.request.urlopen(request, timeout=10) as resp:
            return json.loads(resp.read())

    def logout(self, access_token: str) -> None:
        """End a session from outside, as an admin or another client of that user would."""
        request = urllib.request.Request(
            f"{self.url}/_matrix/client/v3/logout",
            data=b"{}",
            headers={"Authorization": f"Bearer {access_token}", "Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as resp:
            resp.read()

    def _register(self, prefix: str, admin: bool) -> dict[str, Any]:
        localpart = f"{prefix}{next(_names)}{uuid.uuid4().hex[:6]}"
        endpoint = f"{self.url}/_synapse/admin/v1/register"
        with urllib.request.urlopen(endpoint, timeout=10) as resp:
            nonce = json.loads(resp.read())["nonce"]
        mac = hmac.new(_SHARED_SECRET.encode(), digestmod=hashlib.sha1)
        fields = [nonce, localpart, _PASSWORD, "admin" if admin else "notadmin"]
        mac.update(b"\x00".join(f.encode() for f in fields))
        body = json.dumps(
            {
                "nonce": nonce,
                "username": localpart,
                "password": _PASSWORD,
                "admin": admin,
                "mac": mac.hexdigest(),
            }
        ).encode()
        request = urllib.request.Request(
            endpoint, data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        with urllib.request.urlopen(request, timeout=10) as resp:
            result: dict[str, Any] = json.loads(resp.read())
            return result

    @property
    def password(self) -> str:
        return _PASSWORD


async def eventually(condition: Callable[[], bool], what: str, within: float = _WAIT) -> None:
    """Poll a blocking check (run in a thread) until it holds; fail with `what` after `within`."""
    deadline = time.monotonic() + within
    while not await asyncio.to_thread(condition):
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        await asyncio.sleep(0.2)


@dataclass
class Seen:
    """A message the human saw, decrypted where needed."""

    event_id: str
    sender: str
    room_id: str
    content: dict[str, Any]
    encrypted: bool = False

    @property
    def replied_to(self) -> str | None:
        relates = self.content.get("m.relates_to") or {}
        in_reply = relates.get("m.in_reply_to") or {}
        value = in_reply.get("event_id")
        return value if isinstance(value, str) else None


@dataclass
class Human:
    """A person in the test, with a nio client of their own."""

    client: AsyncClient
    seen: list[Seen] = field(default_factory=list)
    undecryptable: list[str] = field(default_factory=list)
    invites: set[str] = field(default_factory=set)
    left: set[str] = field(default_factory=set)
    memberships: list[tuple[str, str, str]] = field(default_factory=list)
    redacted: set[str] = field(default_factory=set)

    @property
    def user_id(self) -> str:
        return str(self.client.user_id)

    async def sync(self, timeout_ms: int = 1000) -> None:
        resp = await self.client.sync(timeout=timeout_ms)
        if isinstance(resp, SyncError):
            raise AssertionError(f"human sync failed: {resp.message}")
        await crypto_housekeeping(self.client)
        self.invites.update(resp.rooms.invite)
        self.left.update(resp.rooms.leave)
        for room_id, info in resp.rooms.join.items():
            for event in info.timeline.events:
                if isinstance(event, MegolmEvent):
                    self.undecryptable.append(event.event_id)
                    continue
                source = getattr(event, "source", None)
                if isinstance(source, dict) and source.get("type") == "m.room.redaction":
                    content = source.get("content") or {}
                    self.redacted.add(str(source.get("redacts") or content.get("redacts")))
                if isinstance(source, dict) and source.get("type") == "m.room.member":
                    membership = str(source.get("content", {}).get("membership"))
                    self.memberships.append((room_id, str(source.get("state_key")), membership))
                if isinstance(source, dict) and source.get("type") == "m.room.message":
                    self.seen.append(
                        Seen(
                            event.event_id,
                            event.sender,
                            room_id,
                            dict(source["content"]),
                            encrypted=bool(getattr(event, "decrypted", False)),
                        )
                    )

    async def wait_for(
        self, condition: Callable[[], bool], what: str, within: float = _WAIT
    ) -> None:
        deadline = time.monotonic() + within
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"gave up waiting for {what}")
            await self.sync()

    async def reply_to(self, event_id: str, sender: str, within: float = _WAIT) -> Seen:
        """The first message from `sender` that replies to `event_id`."""

        def found() -> list[Seen]:
            return [s for s in self.seen if s.sender == sender and s.replied_to == event_id]

        await self.wait_for(lambda: bool(found()), f"a reply to {event_id}", within)
        return found()[0]

    def replies_to(self, event_id: str, sender: str) -> list[Seen]:
        return [s for s in self.seen if s.sender == sender and s.replied_to == event_id]

    async def create_room(
        self,
        version: str | None = None,
        invite: tuple[str, ...] = (),
        encrypted: bool = False,
        power_users: dict[str, int] | None = None,
    ) -> str:
        initial_state: list[dict[str, Any]] = []
        if encrypted:
            initial_state.append(
                {
                    "type": "m.room.encryption",
                    "state_key": "",
                    "content": {"algorithm": "m.megolm.v1.aes-sha2"},
                }
            )
        extra: dict[str, Any] = {}
        if power_users is not None:
            extra["power_level_content_override"] = {"users": power_users}
        resp = await self.client.room_create(
            room_version=version,
            invite=list(invite),
            initial_state=initial_state,
            power_level_override=extra.get("power_level_content_override"),
        )
        if isinstance(resp, RoomCreateError):
            raise AssertionError(f"room creation failed: {resp.message}")
        await self.sync(0)
        return str(resp.room_id)

    async def invite(self, room_id: str, user_id: str) -> None:
        resp = await self.client.room_invite(room_id, user_id)
        if isinstance(resp, RoomInviteError):
            raise AssertionError(f"invite failed: {resp.message}")

    async def leave(self, room_id: str) -> None:
        resp = await self.client.room_leave(room_id)
        if isinstance(resp, RoomLeaveError):
            raise AssertionError(f"leave failed: {resp.message}")

    async def join(self, room_id: str) -> None:
        resp = await self.client.join(room_id)
        if isinstance(resp, JoinError):
            raise AssertionError(f"join failed: {resp.message}")
        await self.sync(0)

    async def put_state(self, room_id: str, event_type: str, content: dict[str, Any]) -> None:
        resp = await self.client.room_put_state(room_id, event_type, content)
        if isinstance(resp, RoomPutStateError):
            raise AssertionError(f"state change failed: {resp.message}")

    async def say(self, room_id: str, body: str, **extra: Any) -> str:
        content: dict[str, Any] = {"msgtype": "m.text", "body": body, **extra}
        resp = await self.client.room_send(
            room_id, "m.room.message", content, ignore_unverified_devices=True
        )
        if isinstance(resp, RoomSendError):
            raise AssertionError(f"send failed: {resp.message}")
        return str(resp.event_id)

    async def edit(self, room_id: str, event_id: str, body: str) -> str:
        """Replace the text of one's own message, as clients do (`m.replace`)."""
        new = {"msgtype": "m.text", "body": body}
        return await self.say(
            room_id,
            f"* {body}",
            **{
                "m.new_content": new,
                "m.relates_to": {"rel_type": "m.replace", "event_id": event_id},
            },
        )

    async def redact(self, room_id: str, event_id: str) -> None:
        resp = await self.client.room_redact(room_id, event_id)
        if isinstance(resp, RoomRedactError):
            raise AssertionError(f"redaction failed: {resp.message}")

    def edits_of(self, event_id: str, sender: str) -> list[Seen]:
        """The edits `sender` made of `event_id`, oldest first."""
        return [
            s
            for s in self.seen
            if s.sender == sender
            and (s.content.get("m.relates_to") or {}).get("rel_type") == "m.replace"
            and (s.content.get("m.relates_to") or {}).get("event_id") == event_id
        ]

    async def wait_joined(self, room_id: str, user_id: str, within: float = _WAIT) -> None:
        def joined() -> bool:
            room = self.client.rooms.get(room_id)
            return room is not None and user_id in room.users and user_id not in room.invited_users

        await self.wait_for(joined, f"{user_id} to join {room_id}", within)

    async def close(self) -> None:
        await self.client.close()


async def login_human(
    synapse: Synapse, store_dir: Path | None = None, prefix: str = "human"
) -> Human:
    """A newly registered user, logged in and synced once; with `store_dir`, able to encrypt."""
    user_id = await asyncio.to_thread(synapse.register, prefix)
    encrypted = store_dir is not None
    if store_dir is not None:
        await asyncio.to_thread(store_dir.mkdir, parents=True, exist_ok=True)
    client = AsyncClient(
        synapse.url,
        user_id,
        store_path=str(store_dir) if store_dir else "",
        config=AsyncClientConfig(encryption_enabled=encrypted, store_sync_tokens=False),
    )
    resp = await client.login(synapse.password, device_name="test")
    if isinstance(resp, LoginError):
        raise AssertionError(f"login failed: {resp.message}")
    human = Human(client)
    await human.sync(0)
    return human


class Login(Protocol):
    """Logs a new person in, as `login_human` does; the `login` fixture closes them after."""

    async def __call__(self, store_dir: Path | None = None, prefix: str = "human") -> Human: ...


KUZBASS_QUESTION = "What was the Kuzbass Autonomous Industrial Colony?"


async def make_room_quiet(human: Human, room: str, bot_id: str) -> None:
    """Turn the per-person cooldown off, as the room's admin, so a test can ask many times."""
    event = await human.say(room, "!samizdat settings set cooldown_seconds 0")
    reply = await human.reply_to(event, bot_id)
    assert "cooldown" in reply.content["body"].lower(), reply.content["body"]


async def room_with_bot(
    human: Human, bot_id: str, *, quiet: bool = False, encrypted: bool = False
) -> str:
    """A new room of `human`'s that the bot was invited to and has joined.

    With `quiet`, the room's cooldown is turned off too (see `make_room_quiet`).
    """
    room = await human.create_room(invite=(bot_id,), encrypted=encrypted)
    await human.wait_joined(room, bot_id)
    if quiet:
        await make_room_quiet(human, room, bot_id)
    return room


def bot_config(data_dir: Path, synapse: Synapse, user_id: str, **matrix: Any) -> Config:
    from pydantic import SecretStr

    return Config(
        data_dir=data_dir,
        matrix=MatrixConfig(
            homeserver=synapse.url,
            user_id=user_id,
            password=SecretStr(synapse.password),
            **matrix,
        ),
    )


@dataclass
class RunningBot:
    """The bot's task and the stop event `samizdat run` would set on SIGTERM."""

    task: asyncio.Task[None]
    stop: asyncio.Event


@contextlib.asynccontextmanager
async def running_bot(config: Config, engine: AnswerEngine) -> AsyncIterator[RunningBot]:
    """The whole bot as `samizdat run matrix` runs it, stopped through its stop event.

    Cancelling its task stops the bot at once, the way a crash would.
    """
    stop = asyncio.Event()
    async with open_app(config, engine=engine) as app:
        task = asyncio.create_task(
            run_matrix(config.matrix, config.data_dir, app.core, app.state, stop=stop)
        )
        try:
            yield RunningBot(task, stop)
            if task.done() and not task.cancelled():
                task.result()
        finally:
            stop.set()
            await asyncio.wait({task}, timeout=30)
            if not task.done():
                raise AssertionError("the bot did not stop within 30 s")
            if not task.cancelled():
                task.result()
