"""The fake Discord, sharded: one gateway connection per shard, events routed as Discord does.

Each shard's connection IDENTIFYs with `shard: [id, count]` and receives only the events of
servers with `(guild_id >> 22) % count == id`; direct messages go to shard 0. IDENTIFYs in one
start bucket (`id % max_concurrency`) closer together than `identify_spacing` are recorded as
violations, as Discord would refuse them. REST (replies, callbacks) is the base fake's.
"""

from __future__ import annotations

import copy
import json
import time
from typing import Any

from aiohttp import WSMsgType, web
from fake_discord import FakeDiscord, FakeUser, InteractionRecord, Json


class ShardedDiscord(FakeDiscord):
    def __init__(
        self, *, shard_count: int, max_concurrency: int, identify_spacing: float, **options: Any
    ) -> None:
        super().__init__(**options)
        self.shard_count = shard_count
        self.recommended_shards = shard_count
        self.max_concurrency = max_concurrency
        self.identify_spacing = identify_spacing
        # One server on each shard; a server's channel id is its id + 1.
        self.guilds = {
            shard: ((shard_count * 1_000_000 + shard) << 22) + 7 for shard in range(shard_count)
        }
        self.shard_identifies: list[tuple[int, float]] = []  # (shard id, when)
        self._connections: dict[int, web.WebSocketResponse] = {}
        self._shard_seq: dict[int, int] = {}

    def shard_of(self, guild_id: int | None) -> int:
        return 0 if guild_id is None else (guild_id >> 22) % self.shard_count

    @property
    def connected_shards(self) -> set[int]:
        return {shard for shard, ws in self._connections.items() if not ws.closed}

    # -- the gateway, one connection per shard ---------------------------------------------

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await self._open.wait()
        await ws.send_json({"op": 10, "d": {"heartbeat_interval": 41250}})
        shard: int | None = None
        async for msg in ws:
            if msg.type is not WSMsgType.TEXT:
                continue
            data = json.loads(msg.data)
            if data.get("op") == 1:
                await ws.send_json({"op": 11, "d": None})
            elif data.get("op") == 2:
                shard = await self._identify_shard(ws, data["d"])
            elif data.get("op") == 6:
                await ws.send_json({"op": 9, "d": False})  # no resuming here: identify again
        if shard is not None and self._connections.get(shard) is ws:
            del self._connections[shard]
        self.close_codes.append(ws.close_code)
        await self._notify()
        return ws

    async def _identify_shard(self, ws: web.WebSocketResponse, data: Json) -> int | None:
        self.identifies.append(data)
        now = time.monotonic()
        if data.get("token") != self.token:
            await ws.close(code=4004, message=b"Authentication failed.")
            return None
        shard, count = data.get("shard") or [None, None]
        if count != self.shard_count or not isinstance(shard, int) or not 0 <= shard < count:
            self.violations.append(f"IDENTIFY with shard {data.get('shard')}")
            await ws.close(code=4010, message=b"Invalid shard.")
            return None
        bucket = shard % self.max_concurrency
        for earlier, when in self.shard_identifies:
            if earlier % self.max_concurrency == bucket and now - when < self.identify_spacing:
                self.violations.append(
                    f"shard {shard} identified {now - when:.2f} s after shard {earlier} "
                    f"in start bucket {bucket}"
                )
        self.shard_identifies.append((shard, now))
        self._connections[shard] = ws
        self._shard_seq[shard] = 0
        guilds = [gid for s, gid in self.guilds.items() if s == shard]
        await self.dispatch_to(
            shard,
            "READY",
            {
                "v": 10,
                "user": self.bot_user,
                "guilds": [{"id": str(gid), "unavailable": True} for gid in guilds],
                "session_id": f"fake-shard-{shard}-{len(self.identifies)}",
                "resume_gateway_url": self.gateway_url,
                "shard": [shard, count],
                "application": {"id": str(self.application_id), "flags": 0},
                "private_channels": [],
                "relationships": [],
            },
        )
        for gid in guilds:
            await self.dispatch_to(shard, "GUILD_CREATE", self._guild_payload(gid))
        return shard

    async def dispatch_to(self, shard: int, event: str, data: Json) -> None:
        ws = self._connections.get(shard)
        if ws is None or ws.closed:
            raise AssertionError(f"shard {shard} is not connected")
        self._shard_seq[shard] += 1
        await ws.send_json({"op": 0, "t": event, "s": self._shard_seq[shard], "d": data})
        await self._notify()

    def _guild_payload(self, guild_id: int) -> Json:
        guild = copy.deepcopy(self._guild())
        guild["id"] = str(guild_id)
        guild["roles"][0]["id"] = str(guild_id)
        channel = dict(guild["channels"][0], id=str(guild_id + 1))
        guild["channels"] = [channel]
        return guild

    # -- people ----------------------------------------------------------------------------

    async def slash_in(
        self,
        guild_id: int | None,
        name: str,
        options: list[Json] | None = None,
        *,
        user: FakeUser | None = None,
    ) -> InteractionRecord:
        """A slash command in server `guild_id` (None: in a direct message), sent on the
        shard Discord would send it on."""
        data: Json = {"id": str(self._command_id(name)), "name": name, "type": 1}
        if options:
            data["options"] = options
        record, payload = self._interaction(
            2, data, user or self.member, None, None, dm=guild_id is None
        )
        if guild_id is not None:
            channel = dict(self.channels[self.channel_id], id=str(guild_id + 1))
            channel["guild_id"] = str(guild_id)
            payload.update(
                guild_id=str(guild_id),
                channel_id=str(guild_id + 1),
                channel=channel,
                authorizing_integration_owners={"0": str(guild_id)},
            )
            record.channel_id = guild_id + 1
        record.dispatched_at = time.monotonic()
        await self.dispatch_to(self.shard_of(guild_id), "INTERACTION_CREATE", payload)
        return record
