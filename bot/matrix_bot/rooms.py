"""The rooms the bot is in: who holds power there, what the bot is called, and membership.

Invitations are accepted only from the configured inviters (by default the bot's own
homeserver), and a room the bot is alone in is left.
"""

from __future__ import annotations

import logging

from nio import (
    AsyncClient,
    InviteMemberEvent,
    JoinError,
    MatrixRoom,
    RoomCreateEvent,
    RoomLeaveError,
    SyncResponse,
)

from bot.matrix_bot.commands import BotIdentity, RoomAuthority, creators_from_create_event

log = logging.getLogger(__name__)


def inviter_allowed(inviter: str, allowed: list[str], own_user_id: str) -> bool:
    """Users (`@u:server`) or servers (`server`) may invite; nobody configured = own server."""
    server = inviter.split(":", 1)[1] if ":" in inviter else ""
    rules = allowed or [own_user_id.split(":", 1)[1]]
    return any(inviter == rule if rule.startswith("@") else server == rule for rule in rules)


class Rooms:
    """Room facts for the command handler, and the bot's own comings and goings."""

    def __init__(self, client: AsyncClient, allowed_inviters: list[str]) -> None:
        self.client = client
        self._allowed_inviters = allowed_inviters
        self._creators: dict[str, frozenset[str]] = {}

    @property
    def user_id(self) -> str:
        return str(self.client.user_id)

    def note_creators(self, resp: SyncResponse) -> None:
        """Remember each room's creators, which decide admin rights from room version 12."""
        for room_id, info in resp.rooms.join.items():
            for event in [*info.state, *info.timeline.events]:
                if isinstance(event, RoomCreateEvent):
                    self._creators[room_id] = creators_from_create_event(
                        event.sender, event.source.get("content", {})
                    )

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

    async def handle_invites(self, resp: SyncResponse) -> None:
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
            if inviter_allowed(inviter, self._allowed_inviters, self.user_id):
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

    async def leave_empty_rooms(self, resp: SyncResponse) -> None:
        for room_id in resp.rooms.join:
            room: MatrixRoom | None = self.client.rooms.get(room_id)
            if room is None:
                continue
            others = [u for u in room.users if u != self.user_id]
            if not others:
                left = await self.client.room_leave(room_id)
                if not isinstance(left, RoomLeaveError):
                    log.info("left %s: nobody else is there", room_id)
