"""Reading a typed line (the terminal's, or a Matrix message after its prefix) as a request.

Only the command word is cleaned before the arguments' length is known: an admin command
longer than any honest one comes back `Unusable`, unread, so the core refuses it (a
non-admin for their rights first) without cleaning or splitting a pasted page.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import replace

from bot.answers.shelves import DocumentFields
from bot.core import present as words
from bot.core.requests import (
    COMMAND_WORDS,
    NAMESPACE,
    About,
    Ask,
    ChannelAction,
    Channels,
    ForgetMe,
    ForgetPlace,
    Help,
    Library,
    LibraryAdd,
    LibraryList,
    LibraryReindex,
    LibraryRemove,
    LibraryShow,
    Mention,
    Request,
    Search,
    SettingsReset,
    SettingsSet,
    SettingsShow,
    Source,
    Typed,
    Unanswered,
    Unusable,
)
from bot.core.settings import SETTABLE
from bot.core.text import normalize_input

# The longest arguments an admin command takes: a setting's name and value, or a channel's
# name, with room to spare. A longer one is refused before it is cleaned, split or echoed.
MAX_ADMIN_ARGUMENTS = 200

# `library add <path> title="…" author="…" …` carries a path and a catalogue entry.
MAX_LIBRARY_ARGUMENTS = 1000
_LIBRARY_FIELDS = ("title", "author", "year", "source")
_LIBRARY_VERBS = frozenset({"add", "remove", "list", "show", "reindex", "publish", "unpublish"})
LIBRARY_USAGE = (
    "Usage: library | library add <file> [title=… author=… year=… source=…] | "
    "library remove <id> | library list | library show <id> | library reindex"
)

# The first word of a typed line names the command; none is longer than this.
_COMMAND_WORD = re.compile(r"\s*(\S{1,16})(?:\s+|$)")
_ADMIN_WORDS = frozenset({"settings", "channels", "unanswered"})
_CHANNEL_ACTIONS: dict[str, ChannelAction] = {"allow": "allow", "deny": "deny", "clear": "clear"}

SETTINGS_USAGE = f"{words.SETTINGS_USAGE} Settings: {', '.join(SETTABLE)}."


def parse(line: str) -> Request:
    """The request a typed line makes; a line that names no command is a question."""
    command, rest = _split_command(line)
    if command == NAMESPACE:  # `samizdat settings show`, as Matrix rooms type it
        if _blank(rest):
            return Help()
        return parse(rest)
    return _command(command, rest) or Ask(line)


def parse_prefixed(text: str) -> Request | None:
    """The request of a message typed after a chat prefix, or None when it is not ours.

    In a room shared with other bots, `!ban` or `!settings` may be theirs: only our
    commands' words and the `samizdat` namespace count.
    """
    command, rest = _split_command(text)
    if command == NAMESPACE:
        return Help() if _blank(rest) else parse(rest)
    if command not in COMMAND_WORDS or command in _ADMIN_WORDS:
        return None
    return _command(command, rest) or Ask(text)


def read_typed(message: Typed, prefix: str) -> Request | None:
    """A chat message as a request: a prefixed command of ours, a mention, or nothing."""
    if message.text.startswith(prefix):
        command = parse_prefixed(message.text[len(prefix) :])
        if isinstance(command, LibraryAdd) and message.attachment is not None:
            return replace(command, fetch=message.attachment)
        if command is not None:
            return command
    if message.mention is not None:
        return Mention(message.mention)
    return None


def _command(command: str, rest: str) -> Request | None:
    if command in {"ask", "?"}:
        return Ask(rest)
    if command == "search":
        return Search(rest)
    if command == "source":
        return Source(rest)
    if command == "library":
        return Library() if _blank(rest) else _library(rest)
    if command == "help" and _blank(rest):
        return Help()
    if command == "about" and _blank(rest):
        return About()
    if command == "forget" and len(rest) <= 64:
        target = normalize_input(rest).lower()
        if target == "me":
            return ForgetMe()
        if target == "place":
            return ForgetPlace()
        return None
    if command not in _ADMIN_WORDS:
        return None
    if len(rest) > MAX_ADMIN_ARGUMENTS:
        return Unusable(command, length=len(rest))
    arguments = normalize_input(rest)
    if command == "settings":
        return _settings(arguments)
    if command == "channels":
        action, _, channel = arguments.partition(" ")
        verb = _CHANNEL_ACTIONS.get(action.lower())
        if verb is None:
            return Unusable(command, usage=words.CHANNELS_USAGE)
        return Channels(verb, channel.strip() or None)
    return Unanswered(show_askers=arguments.lower() == "askers")


def _library(rest: str) -> Request:
    """`library <verb> …`: the shelf's admin commands. A line too long for any honest one
    comes back unread, so a non-admin's paste is refused for their rights first."""
    verb_match = _COMMAND_WORD.match(rest)
    verb = normalize_input(verb_match.group(1)).lower() if verb_match else ""
    name = f"library {verb}" if verb in _LIBRARY_VERBS else ""
    if not name:
        return Unusable("library", usage=LIBRARY_USAGE)
    if len(rest) > MAX_LIBRARY_ARGUMENTS:
        return Unusable(name, length=len(rest))
    arguments = normalize_input(rest[verb_match.end() if verb_match else 0 :])
    try:
        parts = shlex.split(arguments)
    except ValueError:
        return Unusable(name, usage=LIBRARY_USAGE)
    if verb == "list" and not parts:
        return LibraryList()
    if verb == "reindex" and not parts:
        return LibraryReindex()
    if verb in {"remove", "unpublish"} and len(parts) == 1:
        return LibraryRemove(parts[0], shared=verb == "unpublish")
    if verb == "show" and len(parts) == 1:
        return LibraryShow(parts[0])
    if verb in {"add", "publish"}:
        adding = _library_add(parts)
        if adding is None:
            return Unusable(name, usage=LIBRARY_USAGE)
        return replace(adding, shared=verb == "publish")
    return Unusable(name, usage=LIBRARY_USAGE)


def _library_add(parts: list[str]) -> LibraryAdd | None:
    """`library add [<file>] [title=…] [author=…] [year=…] [source=…]`; None if malformed."""
    reference = ""
    fields: dict[str, str] = {}
    for part in parts:
        key, equals, value = part.partition("=")
        if equals and key.lower() in _LIBRARY_FIELDS:
            fields[key.lower()] = value.strip()
        elif not reference:
            reference = part
        else:
            return None
    year = fields.get("year")
    if year is not None and not (year.isdigit() and 0 < int(year) < 10_000):
        return None
    return LibraryAdd(
        upload=None,
        fields=DocumentFields(
            title=fields.get("title") or None,
            author=fields.get("author") or None,
            year=int(year) if year else None,
            source=fields.get("source") or None,
        ),
        reference=reference,
    )


def _settings(arguments: str) -> Request:
    try:
        parts = shlex.split(arguments)
    except ValueError:
        parts = arguments.split()
    verb = parts[0].lower() if parts else "show"
    if verb == "show":
        return SettingsShow()
    if verb == "set" and len(parts) >= 3:
        return SettingsSet(parts[1], " ".join(parts[2:]))
    if verb == "reset" and len(parts) <= 2:
        return SettingsReset(parts[1] if len(parts) == 2 else None)
    return Unusable("settings", usage=SETTINGS_USAGE)


def _split_command(line: str) -> tuple[str, str]:
    """(command word, the rest as typed); only the short first word is cleaned."""
    match = _COMMAND_WORD.match(line)
    if match is None:
        return "", line
    return normalize_input(match.group(1)).lower(), line[match.end() :]


def _blank(text: str) -> bool:
    """True when nothing but spaces and invisible characters follows a command."""
    return not text.strip() or (len(text) <= 64 and not normalize_input(text))
