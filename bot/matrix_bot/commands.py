"""From a Matrix message to a core request, and from the core's reply back to the room.

This module reads what only Matrix knows: whether a message names the bot (intentional
mentions, or its name for older clients), the reply fallback to drop, who holds power in
the room, and how a reply relates to the question. Whether the text is a command, and
everything else about the conversation, the core decides.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.answers.shelves import Upload, UploadFetch
from bot.core.commands import Core
from bot.core.places import Caller, Where, matrix_place
from bot.core.present import APOLOGY
from bot.core.replies import Reply
from bot.core.requests import Typed
from bot.matrix_bot.files import RoomFiles, replied_event
from bot.matrix_bot.render import Rendered, render, render_notice

log = logging.getLogger(__name__)

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
    """One message event, as the handler needs it; an edit carries the new content and the
    id of the message it `replaces`."""

    room_id: str
    event_id: str
    sender: str
    content: Mapping[str, Any]
    replaces: str | None = None


class Outlet(Protocol):
    """Where the handler's replies go: into the outbox, in one transaction with the claim of
    the message they answer, so a kill can neither lose nor repeat an answer."""

    async def handled(self, event_id: str) -> bool: ...

    async def replied(self, event_id: str) -> bool: ...

    async def sender_of(self, room_id: str, event_id: str) -> str | None: ...

    async def reply(self, room_id: str, event_id: str, content: dict[str, Any]) -> bool: ...

    async def revise(
        self, room_id: str, edit_id: str, question_id: str, content: dict[str, Any]
    ) -> bool: ...

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
    """Turns messages into core requests and queues the rendered replies for the room.

    Every reply goes to the room, as a reply: Matrix has no ephemeral messages, so rooms are
    places whose replies are never private (`Where.private_replies` is False). An edit of a
    question the bot answered is answered again by editing that reply.
    """

    def __init__(
        self,
        core: Core,
        outlet: Outlet,
        bot_admins: Iterable[str],
        authority_of: Callable[[str], RoomAuthority],
        identity_of: Callable[[str], BotIdentity],
        files: RoomFiles | None = None,
    ) -> None:
        self._core = core
        self._outlet = outlet
        self._bot_admins = frozenset(bot_admins)
        self._authority_of = authority_of
        self._identity_of = identity_of
        self._files = files

    def request_of(self, message: Incoming) -> Typed | None:
        """The message as the core reads it, or None when it is not text."""
        content = message.content
        if self._files is not None:
            self._files.seen(message.room_id, message.event_id, content)
        if content.get("msgtype") not in ("m.text", None):
            return None
        body = content.get("body")
        if not isinstance(body, str):
            return None
        text = strip_reply_fallback(body).strip()
        bot = self._identity_of(message.room_id)
        mention = strip_mention(text, bot) if mentions_bot(content, text, bot) else None
        return Typed(text, mention, self._attachment(message))

    def _attachment(self, message: Incoming) -> UploadFetch | None:
        """The file the message replies to, fetched only if the core asks for it (a
        `library add` typed in reply to an `m.file`)."""
        files, replied = self._files, replied_event(message.content)
        if files is None or replied is None:
            return None
        shelves = self._core.shelves
        limit = shelves.max_upload_bytes if shelves is not None else 0

        async def fetch() -> Upload:
            return await files.upload_of(message.room_id, replied, limit)

        return fetch

    async def handle(self, message: Incoming) -> bool:
        """Answer the message if it is for the bot; True when a reply was queued."""
        if message.replaces is not None:
            return await self._revise(message, message.replaces)
        request = self.request_of(message)
        if request is None or await self._outlet.handled(message.event_id):
            return False
        composed = await self._compose(message, request, revising=False)
        if composed is None:
            return False
        rendered, in_thread = composed
        content: dict[str, Any] = rendered.content()
        content["m.relates_to"] = reply_relation(message.content, message.event_id, in_thread)
        # Quoted library text never pings anyone: only the asker is mentioned.
        content["m.mentions"] = {"user_ids": [message.sender]}
        # Claimed and queued in one transaction: a crash before it leaves the event to be
        # answered after the restart, a crash after it leaves the reply to be sent.
        if not await self._outlet.reply(message.room_id, message.event_id, content):
            log.info("event %s was already handled; not answering again", message.event_id)
            return False
        return True

    async def _revise(self, edit: Incoming, question_id: str) -> bool:
        """Answer an edited question by editing the reply to it.

        Only the asker's own edits count, and only of a question the bot replied to: an
        edit of anything else is not a new question.
        """
        request = self.request_of(edit)
        if (
            request is None
            or await self._outlet.handled(edit.event_id)
            or not await self._outlet.replied(question_id)
        ):
            return False
        if await self._outlet.sender_of(edit.room_id, question_id) != edit.sender:
            log.info("ignoring an edit of %s by someone other than its sender", question_id)
            return False
        composed = await self._compose(edit, request, revising=True)
        if composed is None:
            return False
        rendered, _ = composed
        new_content: dict[str, Any] = rendered.content()
        new_content["m.mentions"] = {"user_ids": [edit.sender]}
        content: dict[str, Any] = {
            **rendered.replacement().content(),
            "m.new_content": new_content,
            # Filled in with the reply's id when it is sent: it may still be on its way.
            "m.relates_to": {"rel_type": "m.replace", "event_id": ""},
            # The asker was mentioned by the reply already: an edit does not ping again.
            "m.mentions": {},
        }
        return await self._outlet.revise(edit.room_id, edit.event_id, question_id, content)

    async def _compose(
        self, message: Incoming, request: Typed, *, revising: bool
    ) -> tuple[Rendered, bool] | None:
        """The rendered reply and whether it opens a thread; None for silence."""
        where = Where(matrix_place(message.room_id))
        authority = self._authority_of(message.room_id)
        caller = Caller(
            user_id=message.sender,
            is_admin=is_admin(message.sender, authority, self._bot_admins),
        )
        typing = False

        async def working(private: bool) -> None:
            nonlocal typing
            typing = True
            await self._outlet.set_typing(message.room_id, True)

        try:
            reply: Reply | None = await self._core.handle(
                request, caller, where, working, revising=revising
            )
            if reply is None:
                return None
            return render(reply), reply.in_thread
        except Exception:
            log.exception("command failed in %s (event %s)", message.room_id, message.event_id)
            return render_notice(APOLOGY), False
        finally:
            if typing:
                await self._outlet.set_typing(message.room_id, False)
