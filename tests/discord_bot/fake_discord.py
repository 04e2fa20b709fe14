"""A small Discord on 127.0.0.1: the platform edge the adapter is tested against.

It speaks the parts of Discord's REST API and gateway that the bot uses, records every call,
and enforces the rules real Discord enforces (the 3-second acknowledgement, one callback per
interaction, message and embed limits, rate limits) so that a breach fails the test instead
of passing silently. discord.py has no base-URL option, so `FakeDiscord` points the class
attributes `Route.BASE` and `DiscordWebSocket.DEFAULT_GATEWAY` at itself while it runs.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self

import discord.gateway
import discord.http
import yarl
from aiohttp import WSMsgType, web

ACK_DEADLINE = 3.0
EPHEMERAL = 1 << 6
LOADING = 1 << 7
MANAGE_GUILD = 1 << 5
# What @everyone may do in the fake server: view channels, send messages, use app commands.
EVERYONE_PERMISSIONS = (1 << 10) | (1 << 11) | (1 << 16) | (1 << 31)
ADMIN_PERMISSIONS = EVERYONE_PERMISSIONS | MANAGE_GUILD

Json = dict[str, Any]


@dataclass
class RestCall:
    """One HTTP request the bot made, as the server saw it."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    at: float
    status: int = 0


@dataclass
class InteractionRecord:
    """What happened to one interaction the server dispatched."""

    id: int
    token: str
    type: int
    user_id: int
    dispatched_at: float
    channel_id: int = 0
    callbacks: list[Json] = field(default_factory=list)
    acked_at: float | None = None
    deferred_ephemeral: bool | None = None
    original_id: int | None = None
    original_pending: bool = False
    original_deleted: bool = False
    followups: list[int] = field(default_factory=list)
    autocomplete: list[Json] | None = None

    @property
    def callback_type(self) -> int | None:
        return self.callbacks[0]["type"] if self.callbacks else None


@dataclass(frozen=True)
class FakeUser:
    id: int
    name: str
    permissions: int = EVERYONE_PERMISSIONS

    def payload(self) -> Json:
        return {
            "id": str(self.id),
            "username": self.name,
            "global_name": self.name.title(),
            "discriminator": "0",
            "avatar": None,
            "bot": False,
        }

    def member(self) -> Json:
        return {
            "user": self.payload(),
            "roles": [],
            "joined_at": "2026-01-01T00:00:00+00:00",
            "deaf": False,
            "mute": False,
            "flags": 0,
            "nick": None,
            "permissions": str(self.permissions),
        }


def _now_iso() -> str:
    return datetime.now(UTC).isoformat()


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    # discord.py parses JSON only when the Content-Type is exactly `application/json`.
    return web.Response(
        status=status,
        body=json.dumps(data).encode(),
        headers={"Content-Type": "application/json", **(headers or {})},
    )


def _form_error(problems: list[str]) -> web.Response:
    return _json(
        {
            "code": 50035,
            "message": "Invalid Form Body",
            "errors": {
                "_errors": [{"code": "BASE_TYPE_MAX_LENGTH", "message": p} for p in problems]
            },
        },
        status=400,
    )


def message_problems(payload: Json) -> list[str]:
    """Discord's limits on a message payload; an empty list means Discord would accept it."""
    problems: list[str] = []
    content = payload.get("content")
    if content is not None and len(content) > 2000:
        problems.append(f"content is {len(content)} characters (limit 2000)")
    embeds = payload.get("embeds") or []
    if len(embeds) > 10:
        problems.append(f"{len(embeds)} embeds (limit 10)")
    total = 0
    for embed in embeds:
        for key, limit in (("title", 256), ("description", 4096)):
            value = embed.get(key) or ""
            total += len(value)
            if len(value) > limit:
                problems.append(f"embed {key} is {len(value)} characters (limit {limit})")
        fields = embed.get("fields") or []
        if len(fields) > 25:
            problems.append(f"{len(fields)} embed fields (limit 25)")
        for item in fields:
            name, value = item.get("name", ""), item.get("value", "")
            total += len(name) + len(value)
            if not name or len(name) > 256:
                problems.append(f"field name is {len(name)} characters (1-256)")
            if not value or len(value) > 1024:
                problems.append(f"field value is {len(value)} characters (1-1024)")
        footer = (embed.get("footer") or {}).get("text") or ""
        author = (embed.get("author") or {}).get("name") or ""
        total += len(footer) + len(author)
        if len(footer) > 2048:
            problems.append(f"footer is {len(footer)} characters (limit 2048)")
        if len(author) > 256:
            problems.append(f"author name is {len(author)} characters (limit 256)")
    if total > 6000:
        problems.append(f"embeds hold {total} characters in all (limit 6000)")
    rows = payload.get("components") or []
    if len(rows) > 5:
        problems.append(f"{len(rows)} action rows (limit 5)")
    for row in rows:
        children = row.get("components") or []
        if row.get("type") != 1 or not 1 <= len(children) <= 5:
            problems.append("an action row must hold 1-5 components")
        for child in children:
            custom_id = child.get("custom_id") or ""
            if child.get("style") != 5 and not 1 <= len(custom_id) <= 100:
                problems.append(f"custom_id is {len(custom_id)} characters (1-100)")
            if len(child.get("label") or "") > 80:
                problems.append(f"button label is {len(child['label'])} characters (limit 80)")
    return problems


def command_problems(command: Json, depth: int = 0) -> list[str]:
    """Discord's limits on an application command (or option) definition."""
    problems: list[str] = []
    name, description = command.get("name", ""), command.get("description", "")
    chat_input = command.get("type", 1) == 1 or depth > 0
    if not 1 <= len(name) <= 32 or (chat_input and name != name.lower()):
        problems.append(f"command name {name!r}: 1-32 characters, lower case for slash commands")
    if chat_input and not 1 <= len(description) <= 100:
        problems.append(f"{name}: description is {len(description)} characters (1-100)")
    options = command.get("options") or []
    if len(options) > 25:
        problems.append(f"{name}: {len(options)} options (limit 25)")
    for option in options:
        problems.extend(command_problems({"type": 1, **option}, depth + 1))
    for choice in command.get("choices") or []:
        if not 1 <= len(choice["name"]) <= 100:
            problems.append(f"{name}: choice name {choice['name']!r} (1-100 characters)")
    return problems


def pings_someone(payload: Json) -> bool:
    """Whether Discord could turn a mention in this payload into a notification."""
    if "content" not in payload and "embeds" not in payload:
        return False
    mentions = payload.get("allowed_mentions")
    if mentions is None:
        return True
    return bool(mentions.get("parse") or mentions.get("users") or mentions.get("roles")) or bool(
        mentions.get("replied_user")
    )


class FakeDiscord:
    """Discord's REST API and gateway for one bot, one server and a few channels."""

    def __init__(self, *, token: str = "fake-token", ack_deadline: float = ACK_DEADLINE) -> None:
        self.token = token
        self.ack_deadline = ack_deadline
        self.reject_token = False
        self.identify_close_code: int | None = None  # e.g. 4004 bad token, 4014 intents
        # What GET /gateway/bot says: shards Discord recommends, IDENTIFYs per 5 seconds.
        self.recommended_shards = 1
        self.max_concurrency = 1
        self.application_id = 100000000000000001
        self.bot_user = {
            "id": "100000000000000002",
            "username": "samizdat",
            "global_name": None,
            "discriminator": "0",
            "avatar": None,
            "bot": True,
        }
        self.guild_id = 200000000000000001
        self.channel_id = 300000000000000001
        self.other_channel_id = 300000000000000002
        self.dm_channel_id = 300000000000000009  # the member's direct messages with the bot
        self.member = FakeUser(400000000000000001, "reader")
        self.other = FakeUser(400000000000000002, "lurker")
        self.admin = FakeUser(400000000000000003, "admin", ADMIN_PERMISSIONS)
        self.channels: dict[int, Json] = {
            cid: self._text_channel(cid, name)
            for cid, name in ((self.channel_id, "history"), (self.other_channel_id, "off-topic"))
        }

        self.calls: list[RestCall] = []
        self.violations: list[str] = []
        self.messages: dict[int, Json] = {}
        self.interactions: dict[str, InteractionRecord] = {}
        self.commands: dict[str, list[Json]] = {}
        self.identifies: list[Json] = []
        self.resumes: list[Json] = []
        self.replayed: list[str] = []
        self.close_codes: list[int | None] = []  # how each gateway connection ended
        self.attachments: dict[int, bytes] = {}  # files members attached, served over HTTP
        self.downloads: list[int] = []  # attachment ids the bot fetched, in order

        self._ids = itertools.count(500000000000000001)
        self._seq = 0
        self._session_id = "fake-session-1"
        self._history: list[Json] = []
        self._ws: web.WebSocketResponse | None = None
        self._sent_seq = 0
        self._open = asyncio.Event()
        self._open.set()
        self._changed = asyncio.Condition()
        self._rate_limits: list[tuple[str, re.Pattern[str], float, bool]] = []
        self._failures: list[tuple[str, re.Pattern[str], int]] = []
        self._limited_until: dict[str, float] = {}
        self._runner: web.AppRunner | None = None
        self._saved: tuple[str, yarl.URL] | None = None
        self.port = 0

    # ----------------------------------------------------------------- lifecycle

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", "/api/v10/{path:.*}", self._rest)
        app.router.add_get("/attachments/{aid}/{filename}", self._attachment)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        sockets = getattr(server, "sockets", None)
        assert sockets
        self.port = sockets[0].getsockname()[1]
        self._saved = (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
        discord.http.Route.BASE = self.base_url
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self.gateway_url)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._saved is not None:
            discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = self._saved
        if self._ws is not None and not self._ws.closed:
            await self._ws.close(code=1000)
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    # ----------------------------------------------------------------- waiting

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def wait_until(self, predicate: Callable[[], bool], within: float = 10.0) -> None:
        """Wait until `predicate()` holds; a hang fails the test with what was recorded."""

        async def waiter() -> None:
            async with self._changed:
                await self._changed.wait_for(predicate)

        try:
            await asyncio.wait_for(waiter(), within)
        except TimeoutError:
            raise AssertionError(
                f"gave up waiting; calls: {[(c.method, c.path, c.status) for c in self.calls]}; "
                f"violations: {self.violations}"
            ) from None

    async def wait_for_reply(self, record: InteractionRecord, count: int = 1) -> list[Json]:
        """The first `count` messages an interaction produced (original and follow-ups)."""
        await self.wait_until(lambda: len(self.replies(record)) >= count)
        return self.replies(record)

    def replies(self, record: InteractionRecord) -> list[Json]:
        """Messages with content an interaction produced, original first."""
        found: list[Json] = []
        ids = ([record.original_id] if record.original_id else []) + record.followups
        for mid in dict.fromkeys(ids):
            message = self.messages.get(mid)
            if message is not None and not message.get("_deleted") and not message["_loading"]:
                found.append(message)
        return found

    def payloads(self) -> Iterator[Json]:
        """Every JSON object the bot sent that can carry a message."""
        for call in self.calls:
            body = call.body
            if isinstance(body, dict):
                data = body.get("data") if "type" in body else body
                if isinstance(data, dict):
                    yield data

    # ----------------------------------------------------------------- gateway

    def _text_channel(self, cid: int, name: str) -> Json:
        return {
            "id": str(cid),
            "type": 0,
            "guild_id": str(self.guild_id),
            "name": name,
            "position": 0,
            "permission_overwrites": [],
            "nsfw": False,
            "parent_id": None,
            "topic": None,
            "last_message_id": None,
            "rate_limit_per_user": 0,
        }

    def _guild(self) -> Json:
        return {
            "id": str(self.guild_id),
            "name": "History Club",
            "icon": None,
            "owner_id": str(self.admin.id),
            "unavailable": False,
            "member_count": 4,
            "large": False,
            "features": [],
            "roles": [
                {
                    "id": str(self.guild_id),
                    "name": "@everyone",
                    "permissions": str(EVERYONE_PERMISSIONS),
                    "position": 0,
                    "color": 0,
                    "hoist": False,
                    "managed": False,
                    "mentionable": False,
                    "flags": 0,
                }
            ],
            "members": [
                {k: v for k, v in user.member().items() if k != "permissions"}
                for user in (self.member, self.other, self.admin)
            ],
            "channels": [
                {k: v for k, v in channel.items() if k != "guild_id"}
                for channel in self.channels.values()
            ],
            "threads": [],
            "emojis": [],
            "stickers": [],
            "voice_states": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "joined_at": "2026-01-01T00:00:00+00:00",
            "verification_level": 0,
            "default_message_notifications": 1,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "premium_tier": 0,
            "preferred_locale": "en-US",
            "system_channel_flags": 0,
            "nsfw_level": 0,
        }

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await self._open.wait()
        self._ws = ws
        await ws.send_json({"op": 10, "d": {"heartbeat_interval": 41250}})
        async for msg in ws:
            if msg.type is not WSMsgType.TEXT:
                continue
            data = json.loads(msg.data)
            op = data.get("op")
            if op == 1:
                await ws.send_json({"op": 11, "d": None})
            elif op == 2:
                await self._identify(ws, data["d"])
            elif op == 6:
                await self._resume(ws, data["d"])
        self.close_codes.append(ws.close_code)
        if self._ws is ws:
            self._ws = None
        await self._notify()
        return ws

    async def _identify(self, ws: web.WebSocketResponse, data: Json) -> None:
        self.identifies.append(data)
        if data.get("token") != self.token or self.reject_token:
            await ws.close(code=4004, message=b"Authentication failed.")
            return
        if self.identify_close_code is not None:
            await ws.close(code=self.identify_close_code, message=b"Refused.")
            return
        self._history.clear()
        self._seq = 0
        self._session_id = f"fake-session-{len(self.identifies)}"
        await self.dispatch(
            "READY",
            {
                "v": 10,
                "user": self.bot_user,
                "guilds": [{"id": str(self.guild_id), "unavailable": True}],
                "session_id": self._session_id,
                "resume_gateway_url": self.gateway_url,
                "application": {"id": str(self.application_id), "flags": 0},
                "private_channels": [],
                "relationships": [],
            },
        )
        await self.dispatch("GUILD_CREATE", self._guild())

    async def _resume(self, ws: web.WebSocketResponse, data: Json) -> None:
        self.resumes.append(data)
        if data.get("session_id") != self._session_id or data.get("token") != self.token:
            await ws.send_json({"op": 9, "d": False})
            return
        # Replay what the bot missed, then confirm, as Discord does.
        for event in self._history:
            if event["s"] > (data.get("seq") or 0):
                await ws.send_json(event)
                self._sent_seq = event["s"]
                self.replayed.append(event["t"])
        await self.dispatch("RESUMED", {})

    async def dispatch(self, event: str, data: Json) -> None:
        """Send a gateway event now, or keep it for the bot to receive when it resumes."""
        self._seq += 1
        payload = {"op": 0, "t": event, "s": self._seq, "d": data}
        self._history.append(payload)
        if self._ws is not None and not self._ws.closed:
            await self._ws.send_json(payload)
            self._sent_seq = self._seq
        await self._notify()

    @property
    def connected(self) -> bool:
        return self._ws is not None and not self._ws.closed

    @property
    def dispatched(self) -> int:
        """The sequence number of the last event dispatched in this session."""
        return self._seq

    def hold_connections(self) -> None:
        """Keep new gateway connections waiting before HELLO until `release_connections`."""
        self._open.clear()

    def release_connections(self) -> None:
        self._open.set()

    async def drop_connection(self, code: int = 4000) -> None:
        """Close the gateway socket the way an unhealthy Discord does; the bot must resume."""
        assert self._ws is not None, "the bot is not connected"
        await self._ws.close(code=code)

    async def request_reconnect(self) -> None:
        """Send op 7 RECONNECT, as Discord does before moving a session to another node."""
        assert self._ws is not None, "the bot is not connected"
        await self._ws.send_json({"op": 7, "d": None})

    # ----------------------------------------------------------------- events

    def _next_id(self) -> int:
        return next(self._ids)

    def _dm_channel(self, user: FakeUser) -> Json:
        return {
            "id": str(self.dm_channel_id),
            "type": 1,
            "recipients": [user.payload()],
            "last_message_id": None,
        }

    def _interaction(
        self,
        kind: int,
        data: Json,
        user: FakeUser,
        channel_id: int | None,
        message: Json | None,
        *,
        dm: bool = False,
    ) -> tuple[InteractionRecord, Json]:
        iid = self._next_id()
        token = f"itoken-{iid}"
        cid = self.dm_channel_id if dm else channel_id or self.channel_id
        payload: Json = {
            "id": str(iid),
            "application_id": str(self.application_id),
            "type": kind,
            "data": data,
            "guild_id": str(self.guild_id),
            "channel_id": str(cid),
            "channel": self._dm_channel(user) if dm else self.channels[cid],
            "member": user.member(),
            "token": token,
            "version": 1,
            "app_permissions": str(ADMIN_PERMISSIONS),
            "locale": "en-US",
            "guild_locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(self.guild_id)},
            "context": 0,
            "attachment_size_limit": 8388608,
        }
        if dm:
            # A direct message with the bot: no server, a user instead of a member.
            del payload["guild_id"], payload["member"], payload["guild_locale"]
            payload.update(
                user=user.payload(),
                context=1,
                authorizing_integration_owners={"0": str(user.id)},
                app_permissions=str(EVERYONE_PERMISSIONS),
            )
        if message is not None:
            payload["message"] = _public(message)
        record = InteractionRecord(iid, token, kind, user.id, dispatched_at=0.0, channel_id=cid)
        self.interactions[token] = record
        return record, payload

    async def _send_interaction(
        self, record: InteractionRecord, payload: Json
    ) -> InteractionRecord:
        record.dispatched_at = time.monotonic()
        await self.dispatch("INTERACTION_CREATE", payload)
        return record

    async def slash(
        self,
        name: str,
        options: list[Json] | None = None,
        *,
        user: FakeUser | None = None,
        channel_id: int | None = None,
        resolved: Json | None = None,
        dm: bool = False,
    ) -> InteractionRecord:
        """A member runs a slash command; `options` use Discord's shape ({name, type, value}).

        With `dm`, the command is run in the member's direct messages with the bot.
        """
        data: Json = {"id": str(self._command_id(name)), "name": name, "type": 1}
        if options:
            data["options"] = options
        if resolved:
            data["resolved"] = resolved
        record, payload = self._interaction(2, data, user or self.member, channel_id, None, dm=dm)
        return await self._send_interaction(record, payload)

    def attach(self, data: bytes, filename: str, *, size: int | None = None) -> Json:
        """A file a member attaches to a command, served by this server's HTTP side as
        Discord's CDN serves it; `size` is what Discord declares (default: the real one)."""
        aid = self._next_id()
        self.attachments[aid] = data
        url = f"http://127.0.0.1:{self.port}/attachments/{aid}/{filename}"
        return {
            "id": str(aid),
            "filename": filename,
            "size": len(data) if size is None else size,
            "url": url,
            "proxy_url": url,
            "content_type": "application/octet-stream",
        }

    async def _attachment(self, request: web.Request) -> web.Response:
        aid = int(request.match_info["aid"])
        self.downloads.append(aid)
        if aid not in self.attachments:
            return web.Response(status=404)
        return web.Response(body=self.attachments[aid])

    async def message_command(
        self, name: str, target: Json, *, user: FakeUser | None = None
    ) -> InteractionRecord:
        """A member picks a message context-menu command on `target`."""
        data: Json = {
            "id": str(self._command_id(name)),
            "name": name,
            "type": 3,
            "target_id": target["id"],
            "resolved": {"messages": {target["id"]: _public(target)}},
        }
        record, payload = self._interaction(2, data, user or self.member, None, None)
        return await self._send_interaction(record, payload)

    async def autocomplete(
        self, name: str, options: list[Json], *, user: FakeUser | None = None
    ) -> InteractionRecord:
        data: Json = {
            "id": str(self._command_id(name)),
            "name": name,
            "type": 1,
            "options": options,
        }
        record, payload = self._interaction(4, data, user or self.member, None, None)
        return await self._send_interaction(record, payload)

    async def click(
        self, message: Json, custom_id: str, *, user: FakeUser | None = None
    ) -> InteractionRecord:
        """A member clicks the button `custom_id` on `message`."""
        if not any(
            child.get("custom_id") == custom_id
            for row in message.get("components") or []
            for child in row.get("components") or []
            if not child.get("disabled")
        ):
            raise AssertionError(f"no enabled button {custom_id!r} on the message")
        data: Json = {"custom_id": custom_id, "component_type": 2}
        channel_id = int(message["channel_id"])
        dm = channel_id == self.dm_channel_id
        record, payload = self._interaction(
            3, data, user or self.member, channel_id, message, dm=dm
        )
        self.messages[int(message["id"])]["_clicked_by"] = record.token
        return await self._send_interaction(record, payload)

    async def post_message(
        self, content: str, *, user: FakeUser | None = None, mentions_bot: bool = False
    ) -> Json:
        """A member writes in the main channel."""
        author = user or self.member
        message = self._message(self.channel_id, {"content": content}, author=author.payload())
        message["member"] = {k: v for k, v in author.member().items() if k != "user"}
        if mentions_bot:
            message["mentions"] = [self.bot_user]
        await self.dispatch("MESSAGE_CREATE", _public(message))
        return message

    def resolved_channel(self, channel_id: int) -> Json:
        """The `resolved` part of an interaction whose options name `channel_id`."""
        channel = {**self.channels[channel_id], "permissions": str(ADMIN_PERMISSIONS)}
        return {"channels": {str(channel_id): channel}}

    def _command_id(self, name: str) -> int:
        return 600000000000000000 + sum(map(ord, name))

    # ----------------------------------------------------------------- messages

    def _message(
        self,
        channel_id: int,
        body: Json,
        *,
        author: Json | None = None,
        flags: int = 0,
        **extra: Any,
    ) -> Json:
        mid = self._next_id()
        message: Json = {
            "id": str(mid),
            "channel_id": str(channel_id),
            "guild_id": None if channel_id == self.dm_channel_id else str(self.guild_id),
            "type": 0,
            "content": body.get("content") or "",
            "author": author or self.bot_user,
            "embeds": body.get("embeds") or [],
            "components": body.get("components") or [],
            "attachments": [],
            "mentions": [],
            "mention_roles": [],
            "mention_everyone": False,
            "pinned": False,
            "tts": False,
            "timestamp": _now_iso(),
            "edited_timestamp": None,
            "flags": flags,
            "_loading": bool(flags & LOADING),
            **extra,
        }
        self.messages[mid] = message
        return message

    def _edit(self, message: Json, body: Json) -> Json:
        for key in ("content", "embeds", "components"):
            if key in body:
                empty: Any = "" if key == "content" else []
                message[key] = body[key] if body[key] is not None else empty
        message["edited_timestamp"] = _now_iso()
        message["_loading"] = False
        message["flags"] = message["flags"] & ~LOADING
        return message

    # ----------------------------------------------------------------- REST

    def rate_limit_next(
        self, method: str, path_pattern: str, retry_after: float = 0.3, *, via: bool = True
    ) -> None:
        """Answer the next matching request with a 429, as Discord does when a bucket is empty.

        Without `via`, the 429 lacks the `Via` header, as when a proxy in between drops it
        (discord.py then takes it for a Cloudflare ban and gives up)."""
        self._rate_limits.append((method, re.compile(path_pattern), retry_after, via))

    def fail_next(self, method: str, path_pattern: str, status: int = 403) -> None:
        """Answer the next matching request with an error, as Discord does when it refuses."""
        self._failures.append((method, re.compile(path_pattern), status))

    def _failed(self, method: str, path: str) -> web.Response | None:
        for index, (m, pattern, status) in enumerate(self._failures):
            if m == method and pattern.fullmatch(path):
                del self._failures[index]
                return _json({"code": 50013, "message": "Missing Permissions"}, status=status)
        return None

    def _limited(self, method: str, path: str) -> web.Response | None:
        now = time.monotonic()
        key = f"{method} {path}"
        until = self._limited_until.get(key)
        if until is not None and now < until - 0.02:
            self.violations.append(f"{key} retried {until - now:.3f}s before retry_after ended")
        elif until is not None:
            del self._limited_until[key]
        for index, (m, pattern, retry_after, via) in enumerate(self._rate_limits):
            if m == method and pattern.fullmatch(path):
                del self._rate_limits[index]
                self._limited_until[key] = now + retry_after
                headers = {
                    "Via": "1.1 google",
                    "Retry-After": str(max(1, round(retry_after))),
                    "X-RateLimit-Limit": "5",
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset": f"{time.time() + retry_after:.3f}",
                    "X-RateLimit-Reset-After": f"{retry_after:.3f}",
                    "X-RateLimit-Bucket": "fake-bucket",
                    "X-RateLimit-Scope": "user",
                }
                if not via:
                    del headers["Via"]
                body = {
                    "message": "You are being rate limited.",
                    "retry_after": retry_after,
                    "global": False,
                }
                return _json(body, status=429, headers=headers)
        return None

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["path"]
        raw = await request.read()
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode("utf-8", "replace")
        call = RestCall(request.method, path, dict(request.query), body, time.monotonic())
        self.calls.append(call)
        try:
            response = (
                self._limited(request.method, path)
                or self._failed(request.method, path)
                or await self._route(request, path, body)
            )
        except _Reject as reject:
            self.violations.append(f"{request.method} {path}: {reject.message}")
            response = _json({"code": reject.code, "message": reject.message}, status=reject.status)
        call.status = response.status
        await self._notify()
        return response

    def _authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bot {self.token}" and not self.reject_token

    async def _route(self, request: web.Request, path: str, body: Any) -> web.Response:
        method = request.method
        parts = path.strip("/").split("/")
        if parts[0] == "interactions" and len(parts) == 4 and parts[3] == "callback":
            return self._callback(parts[2], body)
        if parts[0] == "webhooks" and len(parts) >= 3:
            return self._webhook(method, parts[2], parts[3:], body)
        if not self._authorized(request):
            return _json({"message": "401: Unauthorized", "code": 0}, status=401)
        if path == "/users/@me" and method == "GET":
            return _json(self.bot_user)
        if path in ("/oauth2/applications/@me", "/applications/@me") and method == "GET":
            return _json(self._application())
        if path == "/gateway" and method == "GET":
            return _json({"url": self.gateway_url})
        if path == "/gateway/bot" and method == "GET":
            return _json(
                {
                    "url": self.gateway_url,
                    "shards": self.recommended_shards,
                    "session_start_limit": {
                        "total": 1000,
                        "remaining": 1000,
                        "reset_after": 86_400_000,
                        "max_concurrency": self.max_concurrency,
                    },
                }
            )
        if parts[0] == "applications" and parts[-1] == "commands":
            return self._commands(method, path, body)
        if parts[0] == "channels":
            return self._channels(method, parts[1:], body)
        raise _Reject(404, 0, f"the fake Discord does not know {method} {path}")

    def _application(self) -> Json:
        return {
            "id": str(self.application_id),
            "name": "Samizdat",
            "description": "",
            "icon": None,
            "bot_public": True,
            "bot_require_code_grant": False,
            "owner": self.admin.payload(),
            "verify_key": "0" * 64,
            "flags": 0,
            "team": None,
        }

    def _commands(self, method: str, path: str, body: Any) -> web.Response:
        if method == "PUT":
            problems = [p for command in body for p in command_problems(command)]
            if problems:
                self.violations.extend(problems)
                return _form_error(problems)
            stored = [
                {
                    "description": "",
                    **command,
                    "id": str(self._command_id(command["name"])),
                    "application_id": str(self.application_id),
                    "version": "1",
                }
                for command in body
            ]
            self.commands[path] = stored
            return _json(stored)
        if method == "GET":
            return _json(self.commands.get(path, []))
        raise _Reject(405, 0, f"{method} on commands")

    def _callback(self, token: str, body: Json) -> web.Response:
        record = self.interactions.get(token)
        if record is None:
            raise _Reject(404, 10062, "Unknown interaction")
        now = time.monotonic()
        if record.callbacks:
            raise _Reject(400, 40060, "Interaction has already been acknowledged.")
        if now - record.dispatched_at > self.ack_deadline:
            raise _Reject(
                404,
                10062,
                f"Unknown interaction (acknowledged after {now - record.dispatched_at:.2f}s)",
            )
        kind = body["type"]
        data = body.get("data") or {}
        if kind in (4, 7):
            problems = message_problems(data)
            if problems:
                self.violations.extend(problems)
                return _form_error(problems)
        record.callbacks.append(body)
        record.acked_at = now
        response: Json = {"interaction": {"id": str(record.id), "type": record.type}}
        channel_id = record.channel_id
        if kind == 4:
            message = self._message(
                channel_id, data, flags=data.get("flags", 0) & EPHEMERAL, interaction_token=token
            )
            record.original_id = int(message["id"])
            response["resource"] = {"type": 4, "message": _public(message)}
        elif kind == 5:
            ephemeral = bool(data.get("flags", 0) & EPHEMERAL)
            record.deferred_ephemeral = ephemeral
            message = self._message(
                channel_id,
                {},
                flags=LOADING | (EPHEMERAL if ephemeral else 0),
                interaction_token=token,
            )
            record.original_id = int(message["id"])
            record.original_pending = True
            response["interaction"].update(
                response_message_loading=True,
                response_message_ephemeral=ephemeral,
                response_message_id=message["id"],
            )
        elif kind == 7:
            target = self._clicked_message(record)
            self._edit(target, data)
            response["resource"] = {"type": 7, "message": _public(target)}
        elif kind == 8:
            choices = data.get("choices", [])
            if len(choices) > 25 or any(len(c["name"]) > 100 for c in choices):
                raise _Reject(400, 50035, "autocomplete: at most 25 choices of 100 characters")
            record.autocomplete = choices
        return _json(response)

    def _clicked_message(self, record: InteractionRecord) -> Json:
        for message in self.messages.values():
            if message.get("_clicked_by") == record.token:
                return message
        raise _Reject(400, 0, "UPDATE_MESSAGE for an interaction without a message")

    def _webhook(self, method: str, token: str, rest: list[str], body: Any) -> web.Response:
        record = self.interactions.get(token)
        if record is None or not record.callbacks:
            raise _Reject(404, 10015, "Unknown Webhook (no acknowledged interaction)")
        if method == "POST" and not rest:
            problems = message_problems(body)
            if problems:
                self.violations.extend(problems)
                return _form_error(problems)
            if record.original_pending and record.original_id is not None:
                # The first follow-up after a deferral fills the "thinking" message and keeps
                # the deferral's visibility, whatever flags it asks for.
                message = self._edit(self.messages[record.original_id], body)
                record.original_pending = False
            else:
                message = self._message(
                    record.channel_id,
                    body,
                    flags=(body.get("flags") or 0) & EPHEMERAL,
                    interaction_token=token,
                )
            record.followups.append(int(message["id"]))
            return _json(_public(message))
        if len(rest) == 2 and rest[0] == "messages":
            mid = record.original_id if rest[1] == "@original" else int(rest[1])
            found = self.messages.get(mid) if mid is not None else None
            if found is None or found.get("_deleted"):
                raise _Reject(404, 10008, "Unknown Message")
            message = found
            if method == "GET":
                return _json(_public(message))
            if method == "PATCH":
                problems = message_problems(body)
                if problems:
                    self.violations.extend(problems)
                    return _form_error(problems)
                if mid == record.original_id:
                    record.original_pending = False
                return _json(_public(self._edit(message, body)))
            if method == "DELETE":
                message["_deleted"] = True
                if mid == record.original_id:
                    record.original_pending = False
                    record.original_deleted = True
                return web.Response(status=204)
        raise _Reject(404, 0, f"{method} /webhooks/.../{'/'.join(rest)}")

    def _channels(self, method: str, rest: list[str], body: Any) -> web.Response:
        cid = int(rest[0])
        if cid not in self.channels:
            raise _Reject(404, 10003, "Unknown Channel")
        if rest[1:] == ["messages"] and method == "POST":
            problems = message_problems(body)
            if problems:
                self.violations.extend(problems)
                return _form_error(problems)
            extra: Json = {}
            if body.get("message_reference"):
                extra["message_reference"] = body["message_reference"]
            return _json(_public(self._message(cid, body, **extra)))
        if len(rest) == 3 and rest[1] == "messages" and method == "PATCH":
            message = self.messages.get(int(rest[2]))
            if message is None:
                raise _Reject(404, 10008, "Unknown Message")
            problems = message_problems(body)
            if problems:
                self.violations.extend(problems)
                return _form_error(problems)
            return _json(_public(self._edit(message, body)))
        if (len(rest) == 4 and rest[1] == "messages" and rest[3] == "threads") or rest[1:] == [
            "threads"
        ]:
            if method != "POST":
                raise _Reject(405, 0, "threads")
            name = body.get("name") or ""
            if not 1 <= len(name) <= 100:
                raise _Reject(400, 50035, f"thread name is {len(name)} characters (1-100)")
            thread_id = int(rest[2]) if len(rest) == 4 else self._next_id()
            thread = {
                "id": str(thread_id),
                "type": 11,
                "guild_id": str(self.guild_id),
                "parent_id": str(cid),
                "owner_id": self.bot_user["id"],
                "name": name,
                "last_message_id": None,
                "rate_limit_per_user": 0,
                "message_count": 0,
                "member_count": 1,
                "flags": 0,
                "thread_metadata": {
                    "archived": False,
                    "auto_archive_duration": body.get("auto_archive_duration", 1440),
                    "archive_timestamp": _now_iso(),
                    "locked": False,
                },
            }
            self.channels[thread_id] = thread
            return _json(thread, status=201)
        raise _Reject(404, 0, f"{method} /channels/{'/'.join(rest)}")


class _Reject(Exception):
    """Discord's error answer to a request that breaks its rules."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _public(message: Json) -> Json:
    """A stored message without the server's bookkeeping keys."""
    return {k: v for k, v in message.items() if not k.startswith("_") and k != "interaction_token"}
