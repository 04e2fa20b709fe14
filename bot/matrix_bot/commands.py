"""From a Matrix message to a core command, and from the core's reply back to the room.

This module decides what a message means (prefixed command, mention, or neither) and who
may run admin commands; the core runs the command and enforces the admin check.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.core.commands import Core
from bot.core.places import Caller, Where, matrix_place
from bot.core.replies import AnswerReply, Reply
from bot.matrix_bot.render import NOT_ON_MATRIX, Rendered, render, render_notice

log = logging.getLogger(__name__)

# Commands a room member types after the prefix. Admin commands live under `samizdat` so
# that `!settings` of another bot in the same room is never taken for ours.
PUBLIC_COMMANDS = frozenset({"ask", "search", "source", "library", "help", "about"})
NAMESPACE = "samizdat"

# Room versions from before MSC4289, where creators hold only the power levels list them.
_VERSIONS_WITHOUT_CREATOR_POWER = frozenset(str(v) for v in range(1, 12))

_REPLY_FALLBACK = re.compile(r"\A(?:>[^\n]*\n)+\n?")
_MX_REPLY = re.compile(r"<mx-reply>.*?</mx-reply>", re.DOTALL)


@dataclass(frozen=True)
class RoomAuthority:
    """What decides admin rights in one room: its version, creators and power levels."""

    room_version: str = "1"
    creators: frozenset[str] = frozenset()
    users: Mapping[str, int] = field(default_factory=dict)
    users_default: int = 0
    state_default: int = 50

    @property
    def creators_are_supreme(self) -> bool:
        """Room version 12 and later give creators infinite power and omit them from `users`."""
        return self.room_version not in _VERSIONS_WITHOUT_CREATOR_POWER

    def level_of(self, user_id: str) -> float:
        if self.creators_are_supreme and user_id in self.creators:
            return float("inf")
        return self.users.get(user_id, self.users_default)

    def can_change_state(self, user_id: str) -> bool:
        return self.level_of(user_id) >= self.state_default


def creators_from_create_event(sender: str, content: Mapping[str, Any]) -> frozenset[str]:
    """The creators a `m.room.create` event names: its sender plus `additional_creators`."""
    extra = content.get("additional_creators", [])
    names = {sender}
    if isinstance(extra, list):
        names.update(x for x in extra if isinstance(x, str))
    return frozenset(names)


def is_admin(user_id: str, authority: RoomAuthority, bot_admins: Iterable[str]) -> bool:
    """Configured bot admins, and anyone allowed to change the room's state."""
    return user_id in set(bot_admins) or authority.can_change_state(user_id)


def strip_reply_fallback(body: str) -> str:
    """Drop the quoted `> <@user> ...` lines older clients put in front of a reply."""
    return _REPLY_FALLBACK.sub("", body, count=1)


def command_line(body: str, prefix: str) -> str | None:
    """The core command line for a prefixed message, or None when it is not ours.

    `!ask q` → `ask q`; `!samizdat settings show` → `settings show`; `!samizdat` → `help`.
    """
    if not body.startswith(prefix):
        return None
    rest = body[len(prefix) :].strip()
    name, _, tail = rest.partition(" ")
    name = name.lower()
    if name in PUBLIC_COMMANDS:
        return f"{name} {tail.strip()}".strip()
    if name == NAMESPACE:
        return tail.strip() or "help"
    return None


def matrix_only_refusal(line: str) -> str | None:
    """A short explanation for core commands that mean nothing in a Matrix room."""
    if line.split(" ", 1)[0].lower() in NOT_ON_MATRIX:
        return "Matrix rooms have no channels here: each room is its own place."
    return None


@dataclass(frozen=True)
class BotIdentity:
    """How people can address the bot in a room."""

    user_id: str
    display_name: str | None = None

    @property
    def localpart(self) -> str:
        return self.user_id[1:].split(":", 1)[0]

    def names(self) -> list[str]:
        names = [self.user_id]
        if self.display_name:
            names.append(self.display_name)
        names.append(self.localpart)
        return names


def mentions_bot(content: Mapping[str, Any], body: str, bot: BotIdentity) -> bool:
    """Intentional mentions first; the display-name fallback only for clients without them.

    A client that sends `m.mentions` has said exactly whom it mentions, so a name that merely
    appears in the text does not count there.
    """
    mentions = content.get("m.mentions")
    if isinstance(mentions, Mapping):
        user_ids = mentions.get("user_ids", [])
        return isinstance(user_ids, list) and bot.user_id in user_ids
    formatted = content.get("formatted_body")
    if isinstance(formatted, str) and f"matrix.to/#/{bot.user_id}" in formatted:
        return True
    lowered = body.lower()
    for name in bot.names():
        pattern = rf"(?<![\w@]){re.escape(name.lower())}(?![\w])"
        if re.search(pattern, lowered):
            return True
    return False


def strip_mention(body: str, bot: BotIdentity) -> str:
    """The question without the bot's name in front (`Samizdat: when ...` → `when ...`)."""
    text = body.strip()
    for name in bot.names():
        match = re.match(rf"@?{re.escape(name)}\s*[:,]?\s*", text, flags=re.IGNORECASE)
        if match and match.end() > 0:
            return text[match.end() :].strip()
    return text


@dataclass(frozen=True)
class Incoming:
    """One message event, as the handler needs it."""

    room_id: str
    event_id: str
    sender: str
    content: Mapping[str, Any]


class NoticeSender(Protocol):
    """What the handler needs from the connection: send a notice, show typing."""

    async def send_notice(self, room_id: str, content: dict[str, Any], txn_id: str) -> None: ...

    async def set_typing(self, room_id: str, typing: bool) -> None: ...


def reply_relation(content: Mapping[str, Any], event_id: str, new_thread: bool) -> dict[str, Any]:
    """`m.relates_to` for a reply: in the question's thread if it has one, else a plain reply.

    `new_thread` starts a thread on the question, for rooms that asked for answers in threads.
    """
    relates = content.get("m.relates_to")
    if isinstance(relates, Mapping) and relates.get("rel_type") == "m.thread":
        root = relates.get("event_id")
        if isinstance(root, str):
            return {
                "rel_type": "m.thread",
                "event_id": root,
                "is_falling_back": False,
                "m.in_reply_to": {"event_id": event_id},
            }
    if new_thread:
        return {
            "rel_type": "m.thread",
            "event_id": event_id,
            "is_falling_back": True,
            "m.in_reply_to": {"event_id": event_id},
        }
    return {"m.in_reply_to": {"event_id": event_id}}


class CommandHandler:
    """Turns messages into core calls and sends the rendered replies back.

    Every answer goes to the room, as a reply: Matrix has no ephemeral messages, so the
    `private` preference (Discord's) does not apply here.
    """

    def __init__(
        self,
        core: Core,
        sender: NoticeSender,
        bot_admins: Iterable[str],
        authority_of: Callable[[str], RoomAuthority],
        identity_of: Callable[[str], BotIdentity],
        claim: Callable[[str], Awaitable[bool]],
    ) -> None:
        self._core = core
        self._sender = sender
        self._bot_admins = frozenset(bot_admins)
        self._authority_of = authority_of
        self._identity_of = identity_of
        self._claim = claim

    async def line_for(self, message: Incoming) -> tuple[str, str] | None:
        """(command line, prefix) when the message is addressed to the bot, else None."""
        content = message.content
        if content.get("msgtype") not in ("m.text", None):
            return None
        body = content.get("body")
        if not isinstance(body, str):
            return None
        settings = await self._core.settings_for(Where(matrix_place(message.room_id)))
        prefix = settings.command_prefix
        text = strip_reply_fallback(body).strip()
        line = command_line(text, prefix)
        if line is not None:
            return line, prefix
        bot = self._identity_of(message.room_id)
        if settings.respond_to_mentions and mentions_bot(content, text, bot):
            question = strip_mention(text, bot)
            return (f"ask {question}" if question else "help"), prefix
        return None

    async def handle(self, message: Incoming) -> bool:
        """Answer the message if it is for the bot; True when a reply was sent."""
        found = await self.line_for(message)
        if found is None:
            return False
        line, prefix = found
        # Claimed before answering: a crash after this point loses an answer, never repeats one.
        if not await self._claim(message.event_id):
            log.info("event %s was already handled; not answering again", message.event_id)
            return False
        where = Where(matrix_place(message.room_id))
        authority = self._authority_of(message.room_id)
        caller = Caller(
            user_id=message.sender,
            is_admin=is_admin(message.sender, authority, self._bot_admins),
        )
        async with self._typing(message.room_id):
            await self._answer(message, line, caller, where, prefix)
        return True

    async def _answer(
        self, message: Incoming, line: str, caller: Caller, where: Where, prefix: str
    ) -> None:
        in_thread = False
        refusal = matrix_only_refusal(line)
        if refusal is not None:
            await self._send(message, render_notice(refusal), new_thread=False)
            return
        try:
            reply: Reply = await self._core.dispatch_text(line, caller, where)
            rendered = render(reply, prefix)
            in_thread = isinstance(reply, AnswerReply) and reply.in_thread
        except Exception:
            log.exception("command failed in %s (event %s)", message.room_id, message.event_id)
            rendered = render_notice("Something went wrong while answering; please try again.")
        await self._send(message, rendered, in_thread)

    async def _send(self, message: Incoming, rendered: Rendered, new_thread: bool) -> None:
        content: dict[str, Any] = rendered.content()
        content["m.relates_to"] = reply_relation(message.content, message.event_id, new_thread)
        # Quoted library text never pings anyone: only the asker is mentioned.
        content["m.mentions"] = {"user_ids": [message.sender]}
        # The question's event id makes the transaction id, so a resend is deduplicated.
        await self._sender.send_notice(message.room_id, content, f"samizdat-{message.event_id}")

    @contextlib.asynccontextmanager
    async def _typing(self, room_id: str) -> AsyncIterator[None]:
        await self._sender.set_typing(room_id, True)
        try:
            yield
        finally:
            await self._sender.set_typing(room_id, False)
