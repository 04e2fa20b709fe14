"""Who is asking, and where: the only facts about a platform the core ever sees."""

from __future__ import annotations

from dataclasses import dataclass

CONSOLE_PLACE = "console:local"


def discord_place(guild_id: int | str) -> str:
    """The place key of a Discord server."""
    return f"discord:{guild_id}"


def matrix_place(room_id: str) -> str:
    """The place key of a Matrix room (one room is one place)."""
    return f"matrix:{room_id}"


@dataclass(frozen=True)
class Caller:
    """The person behind a command, as the adapter vouches for them.

    `is_admin` is decided by the adapter from the platform's own rules (Discord's Manage
    Server permission, Matrix power levels or the configured bot admins); the core enforces it.
    """

    user_id: str
    is_admin: bool = False


@dataclass(frozen=True)
class Where:
    """The place a command comes from and, where the platform has them, its channel.

    `private_replies` says whether the platform can show a reply to the asker alone
    (Discord's ephemeral messages, the terminal's single user); Matrix cannot.
    """

    place: str
    channel: str | None = None
    private_replies: bool = False
